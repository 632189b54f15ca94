"""MFA recovery codes: one-time codes for when the authenticator is lost.

A set of ``COUNT`` codes is made each time MFA is confirmed and shown once. Each
code is 10 characters of Crockford base32 (50 random bits), shown as
``xxxxx-xxxxx``. Only ``HMAC-SHA256(key, user_id ":" code)`` is stored, under a key
derived from the master secret (``Purpose.RECOVERY_CODE``): a stolen database alone
cannot test guesses, and a hash copied to another user's row does not match there.
Guessing online is throttled like every other code check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COUNT = 10
GROUP = 5
LENGTH = 2 * GROUP
# Crockford's base32: no I, L, O or U, so what is read aloud or retyped survives.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_READ_AS = str.maketrans({"i": "1", "l": "1", "o": "0"})
MIN_KEY_BYTES = 32


def new_set(key: bytes, user_id: str, count: int = COUNT) -> tuple[list[str], list[str]]:
    """``count`` new random codes for display, and the hashes to store for them."""
    shown, stored = [], []
    for _ in range(count):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        shown.append(f"{raw[:GROUP]}-{raw[GROUP:]}")
        stored.append(_digest(key, user_id, raw))
    return shown, stored


def normalize(code: str) -> str | None:
    """The canonical form of a typed code (case, spaces, hyphens, look-alikes), or None."""
    cleaned = code.strip().lower().replace("-", "").replace(" ", "").translate(_READ_AS)
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def _digest(key: bytes, user_id: str, canonical: str) -> str:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the recovery-code key must be at least {MIN_KEY_BYTES} bytes")
    return hmac.new(key, f"{user_id}:{canonical}".encode(), hashlib.sha256).hexdigest()


def hash_code(key: bytes, user_id: str, code: str) -> str | None:
    """The stored form of a typed ``code`` for ``user_id``; None when it is not shaped like one."""
    canonical = normalize(code)
    return None if canonical is None else _digest(key, user_id, canonical)
