"""API keys ``lg_<key-id>_<secret>``: format, keyed hash and verification.

Only ``HMAC-SHA256(pepper, key_id ":" secret)`` is stored. The secret is 256 random
bits, so a slow password hash would add nothing but latency; the pepper (derived
from the master secret, ``Purpose.API_KEY_PEPPER``) means a stolen database alone
cannot be used to test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Unauthenticated
from lensguard.store.api_keys import get_api_key
from lensguard.store.models import ApiKey

PREFIX = "lg"
KEY_ID_LENGTH = 12
KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32
# base64url without padding: 32 bytes make 43 characters.
SECRET_MIN_CHARS = 43
MAX_PRESENTED_CHARS = 200
MIN_PEPPER_BYTES = 32

INVALID_API_KEY = "invalid API key"

_KEY_ID = re.compile(rf"[a-z0-9]{{{KEY_ID_LENGTH}}}")
_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{SECRET_MIN_CHARS},}}")
# Compared against when the key id is unknown, so that path costs the same HMAC and
# compare as a real key and response time does not reveal which key ids exist.
_DUMMY_HASH = "0" * 64


class MalformedApiKey(ValueError):
    """Raised by ``parse`` when a presented string is not shaped like one of our keys."""


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key; ``presented`` is shown to its owner once and never stored."""

    key_id: str
    secret: str = field(repr=False)
    presented: str = field(repr=False)


def generate() -> NewKey:
    """A new random key id and secret, and the string the client will present."""
    key_id = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewKey(key_id=key_id, secret=secret, presented=f"{PREFIX}_{key_id}_{secret}")


def parse(presented: str) -> tuple[str, str]:
    """Split a presented key into ``(key_id, secret)``; raises ``MalformedApiKey``."""
    # Messages never include the input: it may be a real secret with a typo.
    if len(presented) > MAX_PRESENTED_CHARS:
        raise MalformedApiKey("API key is too long")
    # The secret is base64url and may itself contain '_': split on the first two only.
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise MalformedApiKey("API key is not of the form lg_<id>_<secret>")
    _, key_id, secret = parts
    if not _KEY_ID.fullmatch(key_id):
        raise MalformedApiKey(f"API key id must be {KEY_ID_LENGTH} lowercase letters or digits")
    if not _SECRET.fullmatch(secret):
        raise MalformedApiKey("API key secret is too short or not base64url")
    return key_id, secret


def hash_secret(pepper: bytes, key_id: str, secret: str) -> str:
    """The hex HMAC-SHA256 of ``key_id:secret`` under ``pepper``, as stored."""
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"the API-key pepper must be at least {MIN_PEPPER_BYTES} bytes")
    # Binding the key id means a hash copied to another row does not match there.
    message = f"{key_id}:{secret}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def secret_matches(pepper: bytes, key_id: str, secret: str, stored_hash: str) -> bool:
    """True when ``secret`` hashes to ``stored_hash``; compared in constant time."""
    return hmac.compare_digest(hash_secret(pepper, key_id, secret), stored_hash)


async def verify_api_key(
    session: AsyncSession, *, pepper: bytes, presented: str, now: datetime
) -> ApiKey:
    """The live key row for ``presented``; raises ``Unauthenticated`` otherwise."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        key_id, secret = parse(presented)
    except MalformedApiKey:
        # One message for every failure: the caller learns nothing about why.
        raise Unauthenticated(INVALID_API_KEY) from None
    row = await get_api_key(session, key_id=key_id)
    stored_hash = row.secret_hash if row is not None else _DUMMY_HASH
    matches = secret_matches(pepper, key_id, secret, stored_hash)
    if row is None or not matches:
        raise Unauthenticated(INVALID_API_KEY)
    if row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated(INVALID_API_KEY)
    return row
