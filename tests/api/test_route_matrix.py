"""Every route x every role (and anonymous), generated from the app's route table.

Deny by default: anonymous callers get 401 on every non-public route; a role gets
403 unless the policy grants the route's declared action, and then never 401/403.
A route without a declared action cannot even start (create_app refuses).
"""

import re
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute

from lensguard.access.declare import IN_BAND, PUBLIC, declared_action
from tests.api.conftest import Api, bearer

ROLES = ["admin", "operator", "viewer", "device"]
PLACEHOLDER_ID = "0123456789abcdef0123456789abcdef"


def operations(api: Api) -> list[tuple[str, str, str, bool]]:
    ops = []
    for route in api.app.routes:
        if isinstance(route, APIWebSocketRoute):
            # Authenticated in-band; every message is checked (tests/signaling).
            assert declared_action(route) == IN_BAND, route.path
            continue
        assert isinstance(route, APIRoute), route
        action = declared_action(route)
        assert action is not None, f"{route.path} declares no action"
        for method in sorted(route.methods):
            ops.append((method, route.path, action, route.body_field is not None))
    return ops


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", PLACEHOLDER_ID, path)


async def call(api: Api, method: str, path: str, has_body: bool, token: str | None) -> int:
    headers = bearer(token) if token else {}
    kwargs: dict[str, Any] = {"json": {}} if has_body else {}
    response = await api.http.request(method, concrete(path), headers=headers, **kwargs)
    assert response.status_code < 500, (method, path, response.text)
    return response.status_code


async def test_route_table_is_covered(api: Api) -> None:
    ops = operations(api)
    paths = {path for _, path, _, _ in ops}
    assert {"/api/v1/users", "/api/v1/auth/login", "/api/v1/sessions", "/api/v1/api-keys"} <= paths


async def test_anonymous_is_refused_everywhere_but_public_routes(api: Api) -> None:
    for method, path, action, has_body in operations(api):
        status = await call(api, method, path, has_body, None)
        if action == PUBLIC:
            assert status not in (401, 403), (method, path, status)
        else:
            assert status == 401, (method, path, status)


async def test_each_role_gets_exactly_what_the_policy_grants(api: Api) -> None:
    policy = api.identity.policy
    for role in ROLES:
        await api.add_user(f"user-{role}", role)
    for method, path, action, has_body in operations(api):
        if action == PUBLIC:
            continue
        for role in ROLES:
            # A fresh session per call: some operations (logout) end the caller's session.
            token = (await api.login(f"user-{role}"))["access_token"]
            status = await call(api, method, path, has_body, token)
            if action in policy.grants(role):
                assert status not in (401, 403), (role, method, path, status)
            else:
                assert status == 403, (role, method, path, status)


async def test_garbage_credentials_are_refused_everywhere(api: Api) -> None:
    for method, path, action, has_body in operations(api):
        if action == PUBLIC:
            continue
        for junk in ("not-a-token", "lg_abc_def", "Bearer", "eyJhbGciOiJub25lIn0.e30."):
            assert await call(api, method, path, has_body, junk) == 401, (method, path, junk)
