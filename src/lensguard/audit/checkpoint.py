"""Signed checkpoints: Ed25519 over ``{seq, entry_hash, ts}``, exportable as JSON.

A checkpoint copied off the machine (file, syslog, webhook) is what proves, later,
that entries up to ``seq`` existed with that hash: an attacker who can rewrite the
database can truncate the tail and fix the head row, but cannot make the chain
reach a hash somebody else already holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lensguard.audit.chain import iso_ts

STATEMENT_TYPE = "lensguard-audit-checkpoint/1"
DOCUMENT_FIELDS = ("seq", "entry_hash", "ts", "signature")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that entry ``seq`` had ``entry_hash``, made at ``ts``."""

    seq: int
    entry_hash: str
    ts: datetime
    signature: str
    """Ed25519 signature over ``statement(...)``, hex."""
    key_id: str


def statement(*, seq: int, entry_hash: str, ts: datetime) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    body = {"type": STATEMENT_TYPE, "seq": seq, "entry_hash": entry_hash, "ts": iso_ts(ts)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a checkpoint key: SHA-256 of the raw key, 16 hex digits."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def sign_checkpoint(
    private_key: Ed25519PrivateKey, *, seq: int, entry_hash: str, ts: datetime
) -> Checkpoint:
    """Sign the statement for entry ``seq``."""
    signature = private_key.sign(statement(seq=seq, entry_hash=entry_hash, ts=ts)).hex()
    return Checkpoint(seq, entry_hash, ts, signature, key_id(private_key.public_key()))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def export_checkpoint(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """A self-describing JSON document for a file, syslog or webhook."""
    raw = raw_public(public_key)
    return {
        "type": STATEMENT_TYPE,
        "seq": checkpoint.seq,
        "entry_hash": checkpoint.entry_hash,
        "ts": iso_ts(checkpoint.ts),
        "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
        "public_key": base64.b64encode(raw).decode("ascii"),
        "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": checkpoint.key_id},
    }


def parse_checkpoint(document: Mapping[str, Any]) -> Checkpoint:
    """A ``Checkpoint`` from an exported document; ValueError naming what is wrong."""
    if document.get("type") != STATEMENT_TYPE:
        raise ValueError(f"not a lensguard audit checkpoint (type must be {STATEMENT_TYPE!r})")
    missing = [name for name in DOCUMENT_FIELDS if name not in document]
    if missing:
        raise ValueError(f"checkpoint lacks {', '.join(missing)}")
    seq, entry_hash, ts, signature = (document[name] for name in DOCUMENT_FIELDS)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("checkpoint seq must be a non-negative integer")
    for name, value, length in (("entry_hash", entry_hash, 32), ("signature", signature, 64)):
        if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{2 * length}}}", value):
            raise ValueError(f"checkpoint {name} must be {2 * length} lower-case hex digits")
    if not isinstance(ts, str):
        raise ValueError("checkpoint ts must be an ISO 8601 text")
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        raise ValueError("checkpoint ts must be an ISO 8601 text") from None
    if when.tzinfo is None:
        raise ValueError("checkpoint ts must carry a time zone")
    return Checkpoint(seq, entry_hash, when, signature, str(document.get("key_id", "")))


def verify_checkpoint_signature(
    checkpoint: Checkpoint | Mapping[str, Any], public_key: Ed25519PublicKey
) -> bool:
    """True when ``public_key`` (a trusted one, never the document's own) signed it."""
    if not isinstance(checkpoint, Checkpoint):
        try:
            checkpoint = parse_checkpoint(checkpoint)
        except ValueError:
            return False
    try:
        signature = bytes.fromhex(checkpoint.signature)
        message = statement(seq=checkpoint.seq, entry_hash=checkpoint.entry_hash, ts=checkpoint.ts)
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
