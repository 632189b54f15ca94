"""The callers the authorisation matrix walks with, and what the policy says each may do.

Each caller carries a real credential (a user's access token, an API key, a device's
credential or device token) and a *model*: the ``Principal`` the policy should see,
built here from the policy file and the caller's own setup (role, sites, key scopes),
never read back from the server. The matrix asks ``can(model, action)`` what to
expect, so a policy or ``can()`` change moves the expectations with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lensguard.access.can import PERSON_ONLY, can
from lensguard.access.principal import ALL, Principal, PrincipalKind
from lensguard.errors import Unauthenticated
from lensguard.identity.authn import authenticate_bearer
from lensguard.settings import load_settings
from lensguard.store import migrate
from tests.api.conftest import Api, bearer, build_api
from tests.harness.server import strong_secret
from tests.security.operations import Operation

SCOPED_SITE = "siteA"
CALLER_NAMES = (
    "anonymous",
    "viewer",
    "operator",
    "scoped admin",
    "admin",
    "investigator",
    "narrow api key",
    "admin api key",
    "investigator api key",
    "device credential",
    "device token",
)
KEY_RATE_LIMIT = 100_000

ALTERNATIVE_ACTIONS: dict[tuple[str, str], dict[PrincipalKind, str]] = {
    # TURN credentials are declared camera_view (what every user and API key needs);
    # a device holds no camera_view but must relay its own stream, so the route's
    # dependency lets a *device* in on stream_publish instead (api/turn.py).
    ("GET", "/api/v1/turn-credentials"): {PrincipalKind.DEVICE: "stream_publish"},
}
"""Operations where one kind of principal is let in on another action than the declared
one. Every entry is a deliberate, reviewed exception; the matrix fails on any other."""

WHOLE_SCOPE: frozenset[tuple[str, str]] = frozenset(
    {
        # The access review reads every account and device, so the route also asks
        # can() for a resource holding every site and device (api/compliance.py).
        # (Its POST .../disable-stale checks the same after the body, which the matrix's
        # placeholder body never passes.)
        ("GET", "/api/v1/compliance/access-review"),
        # Erasure reaches an account's rows everywhere (api/privacy.py); the POSTs with
        # a body (exports, erasure requests) check the same after the body.
        ("GET", "/api/v1/privacy/erasures/{request_id}"),
        ("POST", "/api/v1/privacy/erasures/{request_id}/approve"),
    }
)
"""Operations that also need a caller scoped to every site and device."""


@dataclass
class Caller:
    """A credential, the principal the policy should see behind it, and how to get a new one."""

    name: str
    model: Principal | None
    credential: str | None
    renew: Callable[[], Awaitable[str]] | None = None

    @property
    def kind(self) -> PrincipalKind | None:
        return self.model.kind if self.model is not None else None


def _unscoped(caller: Caller) -> bool:
    model = caller.model
    return model is not None and ALL in model.sites and ALL in model.devices


def allowed(caller: Caller, operation: Operation) -> bool:
    """Whether the policy lets ``caller`` past the operation's route-level check."""
    if operation.public:
        return True
    if caller.model is None:
        return False
    if operation.key in WHOLE_SCOPE and not _unscoped(caller):
        return False
    if can(caller.model, operation.action):
        return True
    alternative = ALTERNATIVE_ACTIONS.get(operation.key, {}).get(caller.model.kind)
    return alternative is not None and can(caller.model, alternative)


async def still_valid(api: Api, caller: Caller) -> bool:
    """Whether the caller's credential still authenticates (checked in-process)."""
    if caller.credential is None:
        return True
    try:
        await authenticate_bearer(api.identity, caller.credential)
    except Unauthenticated:
        return False
    return True


async def ensure_valid(api: Api, caller: Caller) -> bool:
    """Renew the caller's credential when an earlier operation ended it; True if renewed."""
    if await still_valid(api, caller) or caller.renew is None:
        return False
    caller.credential = await caller.renew()
    return True


async def module_api(root: Path) -> AsyncIterator[Api]:
    """An in-process app on a fresh SQLite database under ``root``."""
    url = f"sqlite+aiosqlite:///{root / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = load_settings(
        None,
        mode="production",
        var_dir=str(root / "var"),
        secret_key=strong_secret(),
        database={"url": url},
        limits={"requests_per_minute": 100_000},
        # Walking every route as every caller is one long escalation attempt: the
        # responses watch only (as in tests/conftest.make_settings).
        threats={"responses": {"monitor_only": True}},
    )
    async for api in build_api(settings):
        yield api


def user_model(
    api: Api, user_id: str, username: str, role: str, sites: list[str] | None
) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        id=user_id,
        name=username,
        role=role,
        permissions=api.identity.policy.grants(role),
        sites=frozenset(sites or [ALL]),
    )


async def add_user_caller(api: Api, name: str, role: str, sites: list[str] | None = None) -> Caller:
    """A signed-in user (one login: password hashing is slow)."""
    username = name.replace(" ", "-")
    user_id = await api.add_user(username, role, sites=sites)

    async def login() -> str:
        return str((await api.login(username))["access_token"])

    model = user_model(api, user_id, username, role, sites)
    return Caller(name, model, await login(), login)


async def post_key(api: Api, token: str, scopes: list[str]) -> httpx.Response:
    body = {"name": "matrix", "scopes": scopes, "rate_limit_per_minute": KEY_RATE_LIMIT}
    return await api.http.post("/api/v1/api-keys", headers=bearer(token), json=body)


async def create_key(api: Api, token: str, scopes: list[str]) -> dict[str, Any]:
    """A new API key with ``scopes``: its id, stored scopes and the key itself."""
    response = await post_key(api, token, scopes)
    if response.status_code != 201:
        raise RuntimeError(f"creating an API key answered {response.status_code}")
    created: dict[str, Any] = response.json()
    return created


async def broadest_key(api: Api, token: str, scopes: list[str]) -> dict[str, Any]:
    """A key with ``scopes``, or without the person-only ones if keys may not carry them."""
    response = await post_key(api, token, scopes)
    if response.status_code == 422:
        return await create_key(api, token, sorted(set(scopes) - PERSON_ONLY))
    if response.status_code != 201:
        raise RuntimeError(f"creating an API key answered {response.status_code}")
    created: dict[str, Any] = response.json()
    return created


def key_caller(api: Api, name: str, owner: Caller, scopes: list[str], key: str) -> Caller:
    """An API key of ``owner``: the owner's permissions, narrowed to ``scopes``."""
    if owner.model is None or owner.renew is None:
        raise ValueError("an API key needs a signed-in owner")
    base = owner.model
    renew_owner = owner.renew

    async def renew() -> str:
        return str((await create_key(api, await renew_owner(), scopes))["key"])

    model = Principal(
        kind=PrincipalKind.API_KEY,
        id=base.id,
        name=base.name,
        role=base.role,
        permissions=frozenset(scopes) & base.permissions,
        sites=base.sites,
        devices=base.devices,
    )
    return Caller(name, model, key, renew)


async def device_callers(api: Api, admin: Caller) -> tuple[Caller, Caller]:
    """A device registered in the scoped site: its credential, and a device token."""
    if admin.credential is None or admin.renew is None:
        raise ValueError("registering a device needs a signed-in admin")
    body = {"name": "matrix-rover", "site": SCOPED_SITE, "kind": "robot"}
    response = await api.http.post("/api/v1/devices", headers=bearer(admin.credential), json=body)
    if response.status_code != 201:
        raise RuntimeError(f"registering a device answered {response.status_code}")
    created = response.json()
    device_id = created["device"]["id"]
    grants = api.identity.policy.grants("device")
    model = Principal(
        kind=PrincipalKind.DEVICE,
        id=device_id,
        name=created["device"]["name"],
        role="device",
        permissions=grants,
        sites=frozenset({SCOPED_SITE}),
        devices=frozenset({device_id}),
    )
    renew_admin = admin.renew

    async def new_credential() -> str:
        url = f"/api/v1/devices/{device_id}/credential"
        rotated = await api.http.post(url, headers=bearer(await renew_admin()))
        return str(rotated.json()["credential"])

    credential = Caller("device credential", model, created["credential"], new_credential)

    async def exchange() -> str:
        await ensure_valid(api, credential)
        if credential.credential is None:
            raise RuntimeError("the device has no credential")
        url = "/api/v1/auth/device-token"
        exchanged = await api.http.post(url, headers=bearer(credential.credential))
        return str(exchanged.json()["access_token"])

    token = Caller("device token", model, await exchange(), exchange)
    return credential, token


async def all_callers(api: Api) -> list[Caller]:
    """Anonymous, each kind of user, API keys narrow and broad, and a device two ways."""
    policy = api.identity.policy
    callers = [Caller("anonymous", None, None)]
    for name, role, sites in (
        ("viewer", "viewer", None),
        ("operator", "operator", None),
        ("scoped admin", "admin", [SCOPED_SITE]),
        ("admin", "admin", None),
        ("investigator", "investigator", None),
    ):
        callers.append(await add_user_caller(api, name, role, sites))
    by_name = {c.name: c for c in callers}
    admin, investigator = by_name["admin"], by_name["investigator"]
    for name, owner, scopes in (
        ("narrow api key", admin, ["camera_view"]),
        # Keys holding everything their owner holds: person-only actions included,
        # so "refused because it is a key" is tested, not "refused for lack of scope".
        ("admin api key", admin, sorted(policy.grants("admin"))),
        ("investigator api key", investigator, sorted(policy.grants("investigator"))),
    ):
        if owner.credential is None:
            raise RuntimeError(f"{owner.name} is not signed in")
        created = await broadest_key(api, owner.credential, scopes)
        callers.append(key_caller(api, name, owner, created["scopes"], created["key"]))
    callers.extend(await device_callers(api, admin))
    return callers
