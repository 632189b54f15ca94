"""Purpose-bound keys derived from the master secret (HKDF-SHA256).

One master secret, never used directly: each purpose (wrapping stored secrets,
the API-key pepper, the audit chain) gets its own 256-bit key, so a key leaked or
misused for one purpose says nothing about another.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"lensguard/v1"


class Purpose(StrEnum):
    """What a derived key is for; the value is the HKDF ``info`` label."""

    WRAP = "wrap-stored-secrets"
    API_KEY_PEPPER = "api-key-pepper"
    AUDIT_CHAIN = "audit-chain"
    AUDIT_CHECKPOINT = "audit-checkpoint-signing"
    AUDIT_PSEUDONYM = "audit-pseudonym"
    REFRESH_TOKEN = "refresh-token-hash"  # noqa: S105 - a label, not a secret
    RECOVERY_CODE = "mfa-recovery-code-hash"
    RECORDING_KEK = "recording-key-encryption"
    RECORDING_RAW_KEK = "recording-raw-key-encryption"
    """The unredacted stream's own KEKs: a processed-stream key never opens raw video."""
    KEPT_KEYS = "kept-purpose-keys"
    """Wraps the keys of the purposes below, stored once a secret has been rotated."""
    FINGERPRINT = "secret-fingerprint"
    """A one-way name for a master secret, so the database can say which one it needs."""
    THREAT_MODEL = "threat-model-signing"
    """Signs the anomaly model file: the server unpickles only what it wrote itself."""
    OIDC_STATE = "oidc-state-cookie"
    """Seals the short-lived cookie binding a single sign-on's state, nonce and verifier."""


KEPT_PURPOSES = (
    Purpose.API_KEY_PEPPER,
    Purpose.REFRESH_TOKEN,
    Purpose.RECOVERY_CODE,
    Purpose.AUDIT_CHAIN,
    Purpose.AUDIT_PSEUDONYM,
    Purpose.AUDIT_CHECKPOINT,
)
"""Purposes whose keys make one-way hashes, chain HMACs and signatures: their data
cannot be re-wrapped, so a rotation keeps their keys (stored wrapped) instead of
deriving new ones (docs/secrets.md)."""


def derive(master: str, purpose: Purpose, *, version: int | None = None) -> bytes:
    """A 32-byte key for ``purpose`` from the master secret.

    ``version`` gives one purpose a series of keys (key-encryption keys that rotate):
    version ``n`` is its own HKDF label, so every version is independent of the others.
    Without it the label is the purpose alone, as it always was.
    """
    info = purpose.value if version is None else f"{purpose.value}/v{version}"
    if version is not None and version < 1:
        raise ValueError("key versions start at 1")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info.encode())
    return hkdf.derive(master.encode("utf-8"))
