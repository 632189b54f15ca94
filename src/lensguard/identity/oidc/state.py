"""The cookie that binds a started sign-in to the browser that started it.

It carries the provider, ``state``, ``nonce``, the PKCE verifier, the ``next`` path and
an expiry, sealed with AES-256-GCM under a key derived from the master secret: the
browser can neither read (the verifier stays secret) nor change it. HttpOnly, Secure,
SameSite=Lax (the provider's redirect back is a top-level GET), scoped to the OIDC
paths, and it lives only as long as a sign-in may take.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "lg_oidc"
COOKIE_PATH = "/api/v1/auth/oidc/"
MAX_COOKIE_CHARS = 2048
_AAD = b"lensguard-oidc-state-v1"


@dataclass(frozen=True)
class FlowState:
    """What the callback must match."""

    provider: str
    state: str
    nonce: str
    verifier: str
    next_path: str
    expires: float


def seal(key: bytes, flow: FlowState) -> str:
    """The cookie value for ``flow``."""
    body = json.dumps(
        {
            "p": flow.provider,
            "s": flow.state,
            "n": flow.nonce,
            "v": flow.verifier,
            "x": flow.next_path,
            "e": flow.expires,
        },
        separators=(",", ":"),
    ).encode()
    nonce = secrets.token_bytes(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, body, _AAD)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(key: bytes, value: str | None, *, now: float) -> FlowState | None:
    """The flow in ``value``, or None when it is absent, forged, damaged or expired."""
    if not value or len(value) > MAX_COOKIE_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        body = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _AAD))
        flow = FlowState(
            provider=str(body["p"]),
            state=str(body["s"]),
            nonce=str(body["n"]),
            verifier=str(body["v"]),
            next_path=str(body["x"]),
            expires=float(body["e"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
        return None
    return flow if flow.expires > now else None
