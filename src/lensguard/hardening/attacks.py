"""``lensguard security test``: attacks on a running server, from what anyone can see.

Forged tokens are built from the public JWKS alone (``alg: none``, HS256 keyed with the
public key, a stranger's Ed25519 key under a real kid, an unknown kid, garbage, and,
given a genuine token, a tampered payload); each must get 401. Given a credential of a
low-privilege account, every GET route whose declared action (``x-lensguard-action`` in
/openapi.json) that account lacks must answer 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lensguard.hardening.findings import Check, Finding
from lensguard.hardening.http_checks import SHOWN, protected_paths
from lensguard.severity import Severity

ACTION_KEY = "x-lensguard-action"
ROUTES_PER_FORGERY = 5
UNCHECKED = frozenset({"public", "in_band", None})
FORGERY_FIX = "report it: the token verifier must refuse this (docs/identity.md)"


def _forgery(suffix: str, title: str, asvs: str) -> Check:
    return Check(f"ATK-{suffix}", title, Severity.CRITICAL, FORGERY_FIX, asvs)


NONE = _forgery("ALG-NONE", "alg: none refused", "V9.1.2")
HS_PUBLIC = _forgery("HS-PUBKEY", "HS256 keyed with the public key refused", "V9.1.2")
STRANGER = _forgery("WRONG-KEY", "A stranger's signature under a real kid refused", "V9.1.1")
UNKNOWN_KID = _forgery("UNKNOWN-KID", "An unknown kid refused", "V9.1.3")
GARBAGE = _forgery("GARBAGE", "A malformed bearer refused", "V9.1.1")
TAMPERED = _forgery("TAMPERED", "A genuine token with a changed payload refused", "V9.1.1")
AUTHZ = Check(
    "ATK-AUTHZ",
    "Routes refuse a credential without their permission (403)",
    Severity.CRITICAL,
    "report it: the route's declared action must be checked before anything else",
    "V8.2.1",
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def _claims(issuer: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "forged",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": secrets.token_hex(8),
    }


def forgeries(jwks: dict[str, Any], issuer: str, genuine: str | None) -> dict[Check, str]:
    """One forged bearer per check, from the published keys (and a genuine token)."""
    keys = [k for k in jwks.get("keys", []) if k.get("kty") == "OKP"]
    kid = str(keys[0]["kid"]) if keys else "k1"
    public = unb64(str(keys[0]["x"])) if keys else secrets.token_bytes(32)
    claims = _claims(issuer)
    stranger = Ed25519PrivateKey.generate()
    made = {
        NONE: _compact({"alg": "none", "typ": "JWT", "kid": kid}, claims, lambda _: b""),
        HS_PUBLIC: _compact(
            {"alg": "HS256", "typ": "JWT", "kid": kid},
            claims,
            lambda data: hmac.new(public, data, hashlib.sha256).digest(),
        ),
        STRANGER: _compact({"alg": "EdDSA", "typ": "JWT", "kid": kid}, claims, stranger.sign),
        UNKNOWN_KID: _compact(
            {"alg": "EdDSA", "typ": "JWT", "kid": "unknown-" + secrets.token_hex(4)},
            claims,
            stranger.sign,
        ),
        GARBAGE: "not.a.token",
    }
    parts = genuine.split(".") if genuine else []
    if len(parts) == 3:
        try:
            payload = json.loads(unb64(parts[1]))
            payload["role"] = "admin"
            payload["sub"] = payload.get("sub", "") + "x"
            made[TAMPERED] = f"{parts[0]}.{b64(json.dumps(payload).encode())}.{parts[2]}"
        except ValueError:
            pass
    return made


def check_forgeries(
    client: httpx.Client, spec: dict[str, Any], genuine: str | None
) -> list[Finding]:
    """Each forgery against a few protected GET routes; each must answer 401."""
    paths = protected_paths(spec, ROUTES_PER_FORGERY)
    jwks = client.get("/.well-known/jwks.json")
    keys = jwks.json() if jwks.status_code == 200 else {}
    found = []
    made = forgeries(keys, str(client.base_url).rstrip("/"), genuine)
    for check, bearer in made.items():
        wrong = []
        for path in paths:
            status = client.get(path, headers={"Authorization": f"Bearer {bearer}"}).status_code
            if status != 401:
                wrong.append(f"GET {path} -> {status}")
        seen = ", ".join(wrong[:SHOWN]) or f"401 on all {len(paths)} routes tried"
        found.append(check.verdict(not wrong and bool(paths), seen))
    if TAMPERED not in made:
        found.append(TAMPERED.skipped("no genuine token given (--token-file)"))
    return found


def lacking(spec: dict[str, Any], permissions: set[str]) -> list[tuple[str, str]]:
    """(path, action) of GET routes whose declared action is not in ``permissions``."""
    found = []
    for path, operations in sorted(spec.get("paths", {}).items()):
        operation = operations.get("get")
        if operation is None:
            continue
        action = operation.get(ACTION_KEY)
        if action in UNCHECKED or action in permissions:
            continue
        found.append((re.sub(r"\{[^}]+\}", "0", path), str(action)))
    return found


def check_authorization(client: httpx.Client, spec: dict[str, Any], credential: str) -> Finding:
    """Walk the routes the credential may not use; each must answer 403."""
    auth = {"Authorization": f"Bearer {credential}"}
    me = client.get("/api/v1/users/me", headers=auth)
    if me.status_code != 200:
        return AUTHZ.skipped(f"the credential was refused ({me.status_code} from /users/me)")
    permissions = set(me.json().get("permissions", []))
    targets = lacking(spec, permissions)
    if not targets:
        return AUTHZ.skipped("the credential holds every permission a GET route declares")
    wrong = []
    for path, action in targets:
        status = client.get(path, headers=auth).status_code
        if status != 403:
            wrong.append(f"GET {path} ({action}) -> {status}")
    if wrong:
        more = f" and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
        return AUTHZ.verdict(False, ", ".join(wrong[:SHOWN]) + more)
    actions = len({a for _, a in targets})
    return AUTHZ.verdict(True, f"{len(targets)} routes of {actions} actions all answered 403")
