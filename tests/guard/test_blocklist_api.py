"""``/api/v1/security/blocklist`` on the real app: admins block and unblock, others may not."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, bearer, build_api

URL = "/api/v1/security/blocklist"
ADMIN_ADDRESS = "198.51.100.10"


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        server={"trusted_proxies": ["10.0.0.0/8"]},
    )
    async for value in build_api(settings, address=ADMIN_ADDRESS):
        yield value


@pytest.fixture
async def admin(api: Api) -> dict[str, str]:
    return bearer(await api.token_for("root", "admin"))


async def test_block_list_and_unblock(api: Api, admin: dict[str, str]) -> None:
    created = await api.http.post(
        URL, headers=admin, json={"address": "203.0.113.7", "ttl_seconds": 600, "reason": "scan"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["address"], body["reason"]) == ("203.0.113.7", "scan")
    assert body["expires_at"] is not None
    forever = await api.http.post(
        URL, headers=admin, json={"address": "2001:DB8::/48", "ttl_seconds": None, "reason": "x"}
    )
    assert forever.status_code == 201
    assert (forever.json()["address"], forever.json()["expires_at"]) == ("2001:db8::/48", None)

    listed = await api.http.get(URL, headers=admin)
    assert [e["address"] for e in listed.json()] == ["203.0.113.7", "2001:db8::/48"]

    assert (await api.http.delete(f"{URL}/203.0.113.7", headers=admin)).status_code == 204
    assert (await api.http.delete(f"{URL}/2001:db8::/48", headers=admin)).status_code == 204
    assert (await api.http.get(URL, headers=admin)).json() == []
    missing = await api.http.delete(f"{URL}/203.0.113.7", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no such block"


async def test_a_block_applies_to_the_next_request_of_that_address(
    api: Api, admin: dict[str, str]
) -> None:
    await api.http.post(
        URL, headers=admin, json={"address": "203.0.113.0/24", "ttl_seconds": 60, "reason": "x"}
    )
    # The same app, seen from an address inside the blocked range.
    transport = httpx.ASGITransport(app=api.app, client=("203.0.113.99", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        response = await other.get("/healthz")
    assert response.status_code == 403
    assert response.json()["type"] == "urn:lensguard:problem:blocked"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "not-an-ip", "ttl_seconds": 60, "reason": "x"}, "body.address"),
        ({"address": "203.0.113.7/24", "ttl_seconds": 60, "reason": "x"}, "body.address"),
        ({"address": "0.0.0.0/0", "ttl_seconds": 60, "reason": "x"}, "body.address"),
        ({"address": "2001:db8::/16", "ttl_seconds": 60, "reason": "x"}, "body.address"),
        ({"address": "203.0.113.7", "ttl_seconds": 0, "reason": "x"}, "body.ttl_seconds"),
        (
            {"address": "203.0.113.7", "ttl_seconds": 30 * 86_400 + 1, "reason": "x"},
            "body.ttl_seconds",
        ),
        ({"address": "203.0.113.7", "reason": "x"}, "body.ttl_seconds"),
        ({"address": "203.0.113.7", "ttl_seconds": 60, "reason": ""}, "body.reason"),
        ({"address": "203.0.113.7", "ttl_seconds": 60, "reason": "a\nb"}, "body.reason"),
        ({"address": "203.0.113.7", "ttl_seconds": 60, "reason": "x", "extra": 1}, "body.extra"),
    ],
)
async def test_invalid_blocks_are_refused(
    api: Api, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await api.http.post(URL, headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await api.http.get(URL, headers=admin)).json() == []


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("10.0.0.0/16", "10.0.0.0/16 would block trusted proxy 10.0.0.0/8"),
        ("10.9.9.9", "10.9.9.9 would block trusted proxy 10.0.0.0/8"),
        (ADMIN_ADDRESS, "this block would cover your own address"),
        ("198.51.100.0/24", "this block would cover your own address"),
    ],
)
async def test_blocks_that_would_lock_out_proxies_or_the_caller_are_refused(
    api: Api, admin: dict[str, str], address: str, message: str
) -> None:
    response = await api.http.post(
        URL, headers=admin, json={"address": address, "ttl_seconds": 60, "reason": "x"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == message
    assert response.json()["errors"][0]["field"] == "body.address"


async def test_unblock_with_a_junk_address_is_a_validation_error(
    api: Api, admin: dict[str, str]
) -> None:
    response = await api.http.delete(f"{URL}/not-an-ip", headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "path.address",
            "message": "must be an IP address or a CIDR range without host bits set",
            "type": "value_error",
        }
    ]
    assert "not-an-ip" not in response.json()["detail"]


async def test_rejected_addresses_are_not_echoed(api: Api, admin: dict[str, str]) -> None:
    body = {"address": "<evil>", "ttl_seconds": 60, "reason": "x"}
    response = await api.http.post(URL, headers=admin, json=body)
    assert response.status_code == 422
    assert "<evil>" not in response.text
    assert "without host bits set" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("role", ["operator", "viewer"])
async def test_roles_without_security_manage_are_denied(api: Api, role: str) -> None:
    headers = bearer(await api.token_for(f"user-{role}", role))
    block = {"address": "203.0.113.7", "ttl_seconds": 60, "reason": "x"}
    assert (await api.http.get(URL, headers=headers)).status_code == 403
    assert (await api.http.post(URL, headers=headers, json=block)).status_code == 403
    assert (await api.http.delete(f"{URL}/203.0.113.7", headers=headers)).status_code == 403
    assert (await api.http.get(URL)).status_code == 401
