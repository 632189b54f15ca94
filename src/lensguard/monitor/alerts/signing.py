"""Webhook signatures, Stripe style: ``t=<unix ts>,v1=<hex HMAC-SHA256(secret, "t.body")>``.

The timestamp is inside the MAC, so a receiver that rejects old timestamps rejects
replays of a captured request; ``verify`` does that for receivers written in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Lensguard-Signature"
MIN_SECRET_BYTES = 32
DEFAULT_TOLERANCE = 300


def check_secret(secret: bytes) -> bytes:
    """``secret`` if it is long enough to sign with; raises ValueError otherwise."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret needs at least {MIN_SECRET_BYTES} bytes")
    return secret


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (now by default)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(
    secret: bytes,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` s old."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    # Several v1 entries are allowed so a sender can sign with old and new secret while rotating.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
