"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps) with replay refusal."""

from __future__ import annotations

import hmac
import re
import time

import pyotp

from lensguard.protect.wrap import unwrap, wrap

DIGITS = 6
STEP_SECONDS = 30
# One step either side tolerates a phone clock up to ~30 s off and a code typed late.
DRIFT_STEPS = 1
# 32 base32 characters carry 160 bits, the RFC 4226 recommended seed length.
SECRET_CHARS = 32

_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")


def new_secret() -> str:
    """A random 160-bit TOTP seed, base32-encoded."""
    return pyotp.random_base32(length=SECRET_CHARS)


def provisioning_uri(secret: str, *, username: str, issuer: str = "lensguard") -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def verify_code(
    secret: str, code: str, *, at: float | None = None, last_used_step: int | None = None
) -> int | None:
    """The time step ``code`` is valid for (±1 step, after ``last_used_step``), or None."""
    # Apps show codes as "123 456"; anything else that is not six ASCII digits is refused
    # here rather than handed to pyotp.
    code = code.replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    now = time.time() if at is None else at
    current = int(now // STEP_SECONDS)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    accepted = None
    # Every candidate step is computed and compared, so timing does not say which matched;
    # the latest match wins so a replay window never reopens.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step < 0 or (last_used_step is not None and step <= last_used_step):
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            accepted = step
    return accepted


def _aad(user_id: str) -> bytes:
    return f"totp:{user_id}".encode()


def wrap_aad(user_id: str) -> bytes:
    """What a wrapped seed in ``user_id``'s row is bound to (for re-wrapping it)."""
    return _aad(user_id)


def wrap_secret(wrap_key: bytes, user_id: str, secret: str) -> bytes:
    """Encrypt a TOTP seed for storage in ``user_id``'s row."""
    return wrap(wrap_key, secret.encode("ascii"), aad=_aad(user_id))


def unwrap_secret(wrap_key: bytes, user_id: str, wrapped: bytes) -> str:
    """Decrypt a seed made by ``wrap_secret``; raises ``UnwrapError`` on any mismatch."""
    return unwrap(wrap_key, wrapped, aad=_aad(user_id)).decode("ascii")
