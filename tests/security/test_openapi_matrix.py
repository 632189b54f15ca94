"""Every operation of /openapi.json x every kind of caller, expectations from the policy.

Anonymous callers get 401 on every non-public operation; a caller whose permissions
lack the declared action gets 403; a caller that holds it is never refused (401/403),
whatever else a placeholder id or an empty body earns it. Nothing answers 5xx, every
error is problem+json without internals, and person-only actions refuse API keys and
devices even when their scopes carry the permission.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from lensguard.access.can import PERSON_ONLY
from lensguard.access.declare import IN_BAND, PUBLIC, declared_action
from lensguard.access.principal import PrincipalKind
from lensguard.identity.authn import authenticate_bearer
from tests.api.conftest import Api
from tests.security.callers import (
    ALTERNATIVE_ACTIONS,
    CALLER_NAMES,
    Caller,
    allowed,
    ensure_valid,
    post_key,
)
from tests.security.operations import Operation, fetch_document, response_faults, send

KNOWN = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users"),
    ("DELETE", "/api/v1/sessions/{session_id}"),
    ("POST", "/api/v1/api-keys"),
    ("GET", "/api/v1/devices/{device_id}"),
    ("POST", "/api/v1/devices/{device_id}/credential"),
    ("POST", "/api/v1/streams/{device_id}/break-glass"),
    ("DELETE", "/api/v1/security/blocklist/{address}"),
    ("GET", "/api/v1/audit"),
}


def expectation_fault(caller: Caller, operation: Operation, status: int) -> str | None:
    """Why ``status`` is wrong for this caller and operation, or None."""
    if caller.model is None and not operation.public:
        return None if status == 401 else f"anonymous got {status}, expected 401"
    if allowed(caller, operation):
        return f"refused with {status} though allowed" if status in (401, 403) else None
    return None if status == 403 else f"got {status}, expected 403"


async def walk(api: Api, caller: Caller, operations: list[Operation]) -> list[str]:
    """Call every operation as ``caller``; the list of everything that was wrong."""
    faults: list[str] = []
    for operation in operations:
        # An earlier operation (logout, a rotation) may have ended the credential.
        await ensure_valid(api, caller)
        response = await send(api.http, operation, caller.credential)
        found = response_faults(response)
        expected = expectation_fault(caller, operation, response.status_code)
        if expected is not None:
            found.append(expected)
        faults.extend(f"{caller.name}: {operation}: {fault}" for fault in found)
    return faults


async def test_openapi_document_lists_every_known_operation(operations: list[Operation]) -> None:
    keys = {operation.key for operation in operations}
    assert len(operations) >= 40
    assert keys >= KNOWN, KNOWN - keys
    assert len(keys) == len(operations)
    assert {o.action for o in operations} >= {PUBLIC, "account_self", "redaction_override"}


async def test_routes_left_out_of_the_document_are_public(
    api: Api, operations: list[Operation]
) -> None:
    documented = {operation.key for operation in operations}
    for route in api.app.routes:
        if isinstance(route, APIWebSocketRoute):
            # Authenticated by its first message; every message is checked (tests/signaling).
            assert declared_action(route) == IN_BAND, route.path
            continue
        assert isinstance(route, APIRoute), route
        for method in route.methods:
            if (method, route.path_format) not in documented:
                assert declared_action(route) == PUBLIC, (method, route.path)


async def test_document_says_which_operations_need_credentials(
    api: Api, operations: list[Operation]
) -> None:
    doc = await fetch_document(api.http)
    for operation in operations:
        security = doc["paths"][operation.path][operation.method.lower()].get("security")
        if operation.public:
            assert security == [], operation
        else:
            assert security != [], operation


async def test_alternative_actions_are_documented_operations(
    operations: list[Operation],
) -> None:
    keys = {operation.key for operation in operations}
    assert set(ALTERNATIVE_ACTIONS) <= keys


async def test_each_caller_model_is_what_the_server_sees(
    api: Api, callers: dict[str, Caller]
) -> None:
    assert tuple(callers) == CALLER_NAMES
    for caller in callers.values():
        if caller.model is None or caller.credential is None:
            continue
        await ensure_valid(api, caller)
        seen = await authenticate_bearer(api.identity, caller.credential)
        model = caller.model
        assert (seen.kind, seen.id, seen.role) == (model.kind, model.id, model.role), caller.name
        assert seen.permissions == model.permissions, caller.name
        assert (seen.sites, seen.devices) == (model.sites, model.devices), caller.name


@pytest.mark.parametrize("name", CALLER_NAMES)
async def test_each_caller_gets_exactly_what_the_policy_grants(
    api: Api, operations: list[Operation], callers: dict[str, Caller], name: str
) -> None:
    faults = await walk(api, callers[name], operations)
    assert not faults, "\n".join(faults)


async def test_person_only_actions_refuse_api_keys_and_devices(
    api: Api, operations: list[Operation], callers: dict[str, Caller]
) -> None:
    person_only = [o for o in operations if o.action in PERSON_ONLY]
    assert person_only, "no operation declares a person-only action"
    machines = [
        c for c in callers.values() if c.kind in (PrincipalKind.API_KEY, PrincipalKind.DEVICE)
    ]
    owners = [callers["admin"], callers["investigator"]]
    faults = []
    for operation in person_only:
        # A key that holds the permission itself is refused for what it is, not for
        # lack of scope; where no key could be given the permission, that is checked.
        action = operation.action
        holders = [c for c in machines if c.model and action in c.model.permissions]
        owner = next((c for c in owners if c.model and action in c.model.permissions), None)
        if not holders and owner is not None and owner.credential is not None:
            await ensure_valid(api, owner)
            refused = await post_key(api, owner.credential, [action])
            assert refused.status_code == 422, f"a key may hold {action}, but none does"
        for caller in machines:
            await ensure_valid(api, caller)
            response = await send(api.http, operation, caller.credential)
            if response.status_code != 403:
                faults.append(f"{caller.name}: {operation}: got {response.status_code}")
    assert not faults, "\n".join(faults)
