"""AES-256-GCM wrapping of small stored secrets (signing keys, TOTP seeds).

Format: ``version (1 byte) || nonce (12) || ciphertext+tag``. The associated data
binds a ciphertext to its row (e.g. the key id), so a wrapped value copied into
another row does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class UnwrapError(ValueError):
    """Raised when a wrapped value is malformed, tampered with, or under another key."""


def wrap(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key`` bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unwrap(key: bytes, wrapped: bytes, *, aad: bytes) -> bytes:
    """Decrypt a value made by ``wrap``; raises ``UnwrapError`` on any mismatch."""
    if len(wrapped) < 1 + NONCE_BYTES + 16 or wrapped[:1] != VERSION:
        raise UnwrapError("wrapped value is malformed or of an unknown version")
    nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise UnwrapError("wrapped value does not authenticate") from exc
