"""The chain's canonical encoding and keyed hashes: one definition for writer and verifier.

``entry_hash = HMAC-SHA256(chain_key, prev_hash (32 raw bytes) || canonical(entry))``.
The canonical form is a compact JSON array in a fixed order with every string
ASCII-escaped, so no two different entries share an encoding. The personal columns
enter only through ``personal_digest``, which lets erasure blank them later without
breaking the chain. Personal values taken out of ``details`` (``audit.seal``) enter the
same way, through ``details_digest``, which ``hashed_details`` joins to the rest of the
details; an entry without them hashes its details text alone, as entries always have.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ENTRY_LABEL = "lensguard-audit-entry/1"
PERSONAL_LABEL = "lensguard-audit-personal/1"
DETAILS_LABEL = "lensguard-audit-details/1"
MAX_DETAILS_CHARS = 16_384

_dumps = json.JSONEncoder(
    ensure_ascii=True, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def canonical_details(details: Mapping[str, Any]) -> str:
    """``details`` as canonical JSON text (sorted keys, ASCII); ValueError if unfit."""
    try:
        text = _dumps(dict(details))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details must be JSON-serialisable: {exc}") from None
    if len(text) > MAX_DETAILS_CHARS:
        raise ValueError(f"details exceed {MAX_DETAILS_CHARS} characters as JSON")
    return text


def iso_ts(ts: datetime) -> str:
    """``ts`` in UTC, ISO 8601 with microseconds: the form the hash covers."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def actor_ref(pseudonym_key: bytes, actor_type: str, actor_id: str | None) -> str | None:
    """Keyed pseudonym of an actor (hex), stable across entries; None without an id."""
    if actor_id is None:
        return None
    message = f"{actor_type}:{actor_id}".encode()
    return hmac.digest(pseudonym_key, message, "sha256").hex()


def personal_digest(
    chain_key: bytes, actor_id: str | None, actor_name: str | None, source_address: str | None
) -> str:
    """HMAC over the personal columns (hex); stands in for them in the entry hash."""
    message = _dumps([PERSONAL_LABEL, actor_id, actor_name, source_address]).encode()
    return hmac.digest(chain_key, message, "sha256").hex()


def details_digest(chain_key: bytes, subject: str, personal: str) -> str:
    """HMAC over the personal part of ``details`` (canonical text) and its subject (hex)."""
    message = _dumps([DETAILS_LABEL, subject, personal]).encode()
    return hmac.digest(chain_key, message, "sha256").hex()


def hashed_details(details: str, digest: str | None) -> str:
    """What the entry hash covers for ``details``: the text, joined to the digest of the
    personal values taken out of it when there were any. A details text is a JSON object
    and the joined form a JSON array, so the two never share an encoding."""
    if digest is None:
        return details
    return _dumps([DETAILS_LABEL, details, digest])


def entry_hash(
    chain_key: bytes,
    prev_hash: str,
    *,
    seq: int,
    ts: str,
    actor_type: str,
    actor_ref: str | None,
    personal_digest: str,
    action: str,
    resource_type: str | None,
    resource_id: str | None,
    outcome: str,
    details: str,
) -> str:
    """The entry's chained hash (hex); ``ts`` is ``iso_ts`` text, ``details`` what
    ``hashed_details`` gives.

    Raises ValueError when ``prev_hash`` is not 64 hex digits.
    """
    prev = bytes.fromhex(prev_hash)
    if len(prev) != 32:
        raise ValueError("prev_hash must be 32 bytes")
    body = _dumps(
        [
            ENTRY_LABEL,
            seq,
            ts,
            actor_type,
            actor_ref,
            personal_digest,
            action,
            resource_type,
            resource_id,
            outcome,
            details,
        ]
    )
    return hmac.digest(chain_key, prev + body.encode(), "sha256").hex()
