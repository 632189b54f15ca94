"""Password hashing with argon2id at or above the OWASP floor."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP: m >= 19 MiB, t >= 2, p = 1. We go a little above on memory.
TIME_COST = 2
MEMORY_KIB = 19 * 1024 + 1024
PARALLELISM = 1


def make_hasher(*, time_cost: int = TIME_COST, memory_kib: int = MEMORY_KIB) -> PasswordHasher:
    """An argon2id hasher; raising the costs makes old hashes ask for a rehash."""
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=PARALLELISM, hash_len=32
    )


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The argon2id hash of ``password`` (salted, encoded with its parameters)."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; False on mismatch or a malformed hash."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A random password for a new account, to be changed at first sign-in."""
    return secrets.token_urlsafe(18)
