"""Property-based conformance of every operation against a real server.

Schemathesis generates requests from the OpenAPI document and checks that no
response is a 5xx, that statuses, content types, headers and bodies match the
document, and that operations declaring bearer security refuse anonymous calls.
"""

import re
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.harness.server import LiveServer, start_server

pytestmark = pytest.mark.slow
NEW_PASSWORD = "schemathesis passphrase 2026"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("schemathesis"),
        {"limits": {"requests_per_minute": 1_000_000}},
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin_key(live: LiveServer) -> str:
    """An API key with every admin permission (logout cannot end it mid-run)."""
    match = re.search(r"Username: (\S+)\s+one-time password: (\S+)", live.output())
    assert match is not None
    username, password = match.groups()
    with live.client() as client:
        tokens = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        ).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        client.post(
            "/api/v1/auth/password",
            headers=auth,
            json={"current_password": password, "new_password": NEW_PASSWORD},
        ).raise_for_status()
        permissions = client.get("/api/v1/users/me", headers=auth).json()["permissions"]
        created = client.post(
            "/api/v1/api-keys",
            headers=auth,
            json={"name": "fuzz", "scopes": permissions, "rate_limit_per_minute": 100_000},
        )
        created.raise_for_status()
        return str(created.json()["key"])


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> Any:
    with live.client() as client:
        document = client.get("/openapi.json").json()
    return schemathesis.openapi.from_dict(document)


def _verify(live: LiveServer) -> str:
    assert live.cert_path is not None
    return str(live.cert_path)


def test_operations_conform(api_schema: Any, live: LiveServer, admin_key: str) -> None:
    # Driven by hand: schemathesis' pytest plugin does not load under this pytest.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=live.base_url,
                headers={"Authorization": f"Bearer {admin_key}"},
                verify=_verify(live),
                timeout=15,
                # Business rules (password policy, scopes ⊆ permissions) are stricter than
                # any schema can say, so schema-valid input may rightly get a 422.
                excluded_checks=[positive_data_acceptance],
            )

        check()


def test_every_protected_operation_refuses_anonymous_calls(live: LiveServer) -> None:
    with live.client() as client:
        document = client.get("/openapi.json").json()
        checked = 0
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if operation.get("security") == []:
                    continue
                concrete = re.sub(r"\{[^}]+\}", "x", path)
                response = client.request(method.upper(), concrete, json={})
                assert response.status_code == 401, (method, path, response.status_code)
                checked += 1
    assert checked >= 15


def test_transport_is_tls_only(live: LiveServer) -> None:
    plain = live.base_url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError), httpx.Client() as client:
        client.get(f"{plain}/healthz", timeout=5)
    ctx = ssl.create_default_context(cafile=_verify(live))
    with httpx.Client(verify=ctx) as client:
        assert client.get(f"{live.base_url}/healthz").status_code == 200
