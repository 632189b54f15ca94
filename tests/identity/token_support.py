"""Shared helpers for the access-token tests: a fake clock and a hand-rolled JWS forger."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from lensguard.identity.tokens import TokenService
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.db import Database

WRAP_KEY = derive("a test master secret that is long enough, really", Purpose.WRAP)
OTHER_WRAP_KEY = derive("another master secret that is just as long!!!", Purpose.WRAP)
ISSUER = "https://lensguard.test"
AUDIENCE = "lensguard-api"
LIFETIME = 900
START = 1_900_000_000.0


class FakeClock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_service(db: Database, clock: FakeClock, *, lifetime: int = LIFETIME) -> TokenService:
    """A token service with the test issuer, audience and wrap key."""
    return TokenService(
        db, wrap_key=WRAP_KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=lifetime, clock=clock
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes] | bytes
) -> str:
    """A compact JWS built by hand, so any header, payload and signature can be produced."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = sign if isinstance(sign, bytes) else sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Header, payload and signature of a compact JWS, unverified."""
    header, payload, signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(payload)),
        b64url_decode(signature),
    )
