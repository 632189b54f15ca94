"""Forged, altered and misused credentials are refused with 401 on the served operations.

tests/identity/test_forged_tokens.py pins each rule of the token verifier; this walks
the routes of /openapi.json so no route can authenticate some other way. Tokens that
test a claim or header rule are re-signed with our real key, and the same builder with
no change is accepted (the control), so each 401 comes from the one thing altered.
Every forgery is tried on one operation per declared action; the two that matter most
(``alg: none`` and a tampered payload) on every non-public operation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lensguard.identity.signing_keys import active_signing_key, private_key_of
from lensguard.identity.tokens import LEEWAY, MAX_TOKEN_BYTES
from tests.api.conftest import Api, bearer
from tests.identity.token_support import forge, segment, split
from tests.security.callers import create_key, module_api
from tests.security.operations import Operation, fetch_document, parse_operations, response_faults
from tests.security.operations import send as send_operation

LIFETIME = 900


@dataclass
class Forger:
    """What an attacker could know or hold, and our real key to isolate one defect."""

    token: str
    """The admin's genuine access token."""
    header: dict[str, Any]
    claims: dict[str, Any]
    device_claims: dict[str, Any]
    ours: Ed25519PrivateKey
    kid: str
    published_jwk: dict[str, Any]
    viewer_token: str
    refresh_token: str
    ended_token: str
    user_key_id: str
    secret_key: str
    stranger: Ed25519PrivateKey

    def signed(
        self,
        header: dict[str, Any] | None = None,
        base: dict[str, Any] | None = None,
        **changes: Any,
    ) -> str:
        """Genuine claims (``base``, else the admin's) with ``changes``, signed by our key."""
        claims = {**(base or self.claims), "jti": secrets.token_urlsafe(16), **changes}
        return forge({**self.header, **(header or {})}, claims, self.ours.sign)

    def hmac_signed(self, secret: bytes) -> str:
        """HS256 over genuine claims: algorithm confusion, should the header be believed."""
        return forge(
            {**self.header, "alg": "HS256"},
            self.claims,
            lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
        )

    def public_key(self, encoding: Encoding, fmt: PublicFormat) -> bytes:
        return self.ours.public_key().public_bytes(encoding, fmt)


def _now() -> int:
    # The app's token service runs on the wall clock.
    return int(time.time())


def tampered(f: Forger) -> str:
    """The viewer's token claiming to be the admin, with the viewer's signature."""
    header, _, signature = f.viewer_token.split(".")
    _, claims, _ = split(f.viewer_token)
    claims.update(role="admin", sub=f.claims["sub"])
    return f"{header}.{segment(claims)}.{signature}"


def spliced(f: Forger) -> str:
    """The viewer's header and claims under the admin's (valid, but not theirs) signature."""
    viewer_head, _, _ = f.viewer_token.rpartition(".")
    return f"{viewer_head}.{f.token.rpartition('.')[2]}"


def expired(f: Forger) -> str:
    exp = _now() - LEEWAY - 60
    return f.signed(iat=exp - LIFETIME, nbf=exp - LIFETIME, exp=exp)


def not_yet_valid(f: Forger) -> str:
    nbf = _now() + 3600
    return f.signed(nbf=nbf, exp=nbf + LIFETIME)


def issued_in_future(f: Forger) -> str:
    iat = _now() + 3600
    return f.signed(iat=iat, nbf=_now(), exp=iat + LIFETIME)


FORGERIES: dict[str, Callable[[Forger], str]] = {
    "alg none": lambda f: forge({**f.header, "alg": "none"}, f.claims, b""),
    "HS256 with our public key (PEM)": lambda f: f.hmac_signed(
        f.public_key(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    ),
    "HS256 with our public key (raw)": lambda f: f.hmac_signed(
        f.public_key(Encoding.Raw, PublicFormat.Raw)
    ),
    "HS256 with our published JWK": lambda f: f.hmac_signed(json.dumps(f.published_jwk).encode()),
    "HS256 with a guessed secret": lambda f: f.hmac_signed(b"secret"),
    "HS256 with the server's secret key": lambda f: f.hmac_signed(f.secret_key.encode()),
    "a stranger's key under our kid": lambda f: forge(f.header, f.claims, f.stranger.sign),
    "a stranger's key under its own kid": lambda f: forge(
        {**f.header, "kid": secrets.token_urlsafe(12)}, f.claims, f.stranger.sign
    ),
    "our key under an unknown kid": lambda f: f.signed({"kid": secrets.token_urlsafe(12)}),
    "expired": expired,
    "not yet valid": not_yet_valid,
    "issued in the future": issued_in_future,
    "wrong audience": lambda f: f.signed(aud="lensguard-admin"),
    "wrong issuer": lambda f: f.signed(iss="https://attacker.example"),
    "typ claim of another token type": lambda f: f.signed(typ="refresh"),
    "plain JWT header typ": lambda f: f.signed({"typ": "JWT"}),
    "a refresh token as the bearer": lambda f: f.refresh_token,
    "a user's token claiming the device kind": lambda f: f.signed(knd="device"),
    "a device token claiming the user kind": lambda f: f.signed(base=f.device_claims, knd="user"),
    "a device token minted on a user's API key": lambda f: f.signed(
        base=f.device_claims, akid=f.user_key_id
    ),
    "tampered payload (role admin)": tampered,
    "another token's signature": spliced,
    "signature with == padding": lambda f: f"{f.token}==",
    "over-long": lambda f: f.signed(pad="x" * MAX_TOKEN_BYTES),
    "a signed-out session's token": lambda f: f.ended_token,
}
FULL_WALK = ("alg none", "tampered payload (role admin)")


def forgery_params() -> list[Any]:
    return [pytest.param(name, id=name) for name in FORGERIES]


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async for value in module_api(tmp_path_factory.mktemp("forged")):
        yield value


@pytest.fixture(scope="module")
async def operations(api: Api) -> list[Operation]:
    found = parse_operations(await fetch_document(api.http), api.app)
    return [operation for operation in found if not operation.public]


@pytest.fixture(scope="module")
def sample(operations: list[Operation]) -> list[Operation]:
    """One operation per declared action, a GET where there is one."""
    chosen: dict[str, Operation] = {}
    for operation in operations:
        current = chosen.get(operation.action)
        if current is None or (current.method != "GET" and operation.method == "GET"):
            chosen[operation.action] = operation
    return list(chosen.values())


@pytest.fixture(scope="module")
async def forger(api: Api) -> Forger:
    ctx = api.identity
    await api.add_user("root", "admin")
    await api.add_user("ada", "viewer")
    signed_in = await api.login("root")
    token = signed_in["access_token"]
    ended = (await api.login("root"))["access_token"]
    assert (await api.http.post("/api/v1/auth/logout", headers=bearer(ended))).status_code == 204
    key = await create_key(api, token, ["camera_view"])
    body = {"name": "forged-rover", "site": "siteA", "kind": "robot"}
    device = await api.http.post("/api/v1/devices", headers=bearer(token), json=body)
    exchanged = await api.http.post(
        "/api/v1/auth/device-token", headers=bearer(device.json()["credential"])
    )
    async with ctx.db.sessions() as session:
        row = await active_signing_key(session)
    assert row is not None
    header, claims, _ = split(token)
    _, device_claims, _ = split(exchanged.json()["access_token"])
    jwks = (await api.http.get("/.well-known/jwks.json")).json()["keys"]
    secret = ctx.settings.secret_key
    assert secret is not None
    return Forger(
        token=token,
        header=header,
        claims=claims,
        device_claims=device_claims,
        ours=private_key_of(row, wrap_key=ctx.wrap_key),
        kid=row.kid,
        published_jwk=next(k for k in jwks if k["kid"] == row.kid),
        viewer_token=(await api.login("ada"))["access_token"],
        refresh_token=signed_in["refresh_token"],
        ended_token=ended,
        user_key_id=key["id"],
        secret_key=secret.get_secret_value(),
        stranger=Ed25519PrivateKey.generate(),
    )


async def refusals(api: Api, operations: list[Operation], credential: str) -> list[str]:
    """Every operation that did not refuse ``credential`` with a clean 401."""
    faults: list[str] = []
    for operation in operations:
        response = await send_operation(api.http, operation, credential)
        found = response_faults(response)
        if response.status_code != 401:
            found.append(f"got {response.status_code}")
        faults.extend(f"{operation}: {fault}" for fault in found)
    return faults


async def test_sample_covers_every_declared_action(
    sample: list[Operation], operations: list[Operation]
) -> None:
    assert {o.action for o in sample} == {o.action for o in operations}
    assert len(sample) >= 8


@pytest.mark.parametrize("base", ["admin", "device"])
async def test_control_tokens_signed_like_the_forgeries_are_accepted(
    api: Api, sample: list[Operation], forger: Forger, base: str
) -> None:
    claims = forger.claims if base == "admin" else forger.device_claims
    credential = forger.signed(base=claims)
    for operation in sample:
        response = await send_operation(api.http, operation, credential)
        assert response.status_code != 401, (operation, response.text)
    assert forger.kid == forger.header["kid"]


@pytest.mark.parametrize("name", forgery_params())
async def test_forged_token_is_refused_on_sample_operations(
    api: Api, sample: list[Operation], forger: Forger, name: str
) -> None:
    faults = await refusals(api, sample, FORGERIES[name](forger))
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("name", FULL_WALK)
async def test_forged_token_is_refused_on_every_operation(
    api: Api, operations: list[Operation], forger: Forger, name: str
) -> None:
    faults = await refusals(api, operations, FORGERIES[name](forger))
    assert not faults, "\n".join(faults)


async def test_forgeries_are_refused_alike(
    api: Api, sample: list[Operation], forger: Forger
) -> None:
    # One answer for every defect: the response is no oracle for which check failed.
    # A signed-out session says so (a client should sign in again, not retry).
    operation = sample[0]
    details = set()
    for name, build in FORGERIES.items():
        if name == "a signed-out session's token":
            continue
        response = await send_operation(api.http, operation, build(forger))
        details.add(response.json()["detail"])
    assert details == {"invalid or expired access token"}


async def test_forgeries_are_told_apart_from_the_genuine_token(forger: Forger) -> None:
    # Guards the builders: a forgery identical to the genuine token would prove nothing.
    built = {name: build(forger) for name, build in FORGERIES.items()}
    assert forger.token not in built.values()
    assert len(set(built.values())) == len(built)
