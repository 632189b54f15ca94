"""Sealing an entry's personal fields under its subject's key, and opening them again.

``actor_name`` and ``source_address`` of an entry whose actor has an id (so a subject,
``actor_ref``) are stored as AES-256-GCM ciphertext (``protect.wrap`` format) under that
subject's key (``audit.subject_keys``), the associated data binding each to its table,
column, sequence number and subject: a sealed value moved to another entry or column
does not open. ``actor_id`` stays in clear: it is an opaque account or key id that
queries and access reports filter on, and erasure blanks it. A sealed name is found by
a keyed blind index instead (``name_index``), blanked on erasure as well.

Personal values inside ``details`` (top-level keys named by ``audit.personal_details``:
addresses, browsers, e-mail addresses, phones, names) are taken out of the stored
``details`` and sealed together as one JSON object under the key of the entry's *details
subject*: the user the entry is about (``resource_type`` "user"), else its actor. So an
administrator's entry about Bob seals Bob's values under Bob's key, and erasing Bob
shreds them while the administrator's own fields stay. An entry with neither (a system
entry about an address, an anonymous caller) keeps its details whole and in clear.

An ``Opener`` reads entries: it loads the keys of the subjects in a batch once, then
opens their fields; a field whose key is gone (shredded) reads as None, like an erased
one, and sealed details read as the stored details alone.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from lensguard.audit import chain, subject_keys
from lensguard.audit.models import AuditEntry
from lensguard.protect.wrap import UnwrapError, unwrap, wrap

SEAL_LABEL = "lensguard-audit-seal/1"
NAME_INDEX_LABEL = b"lensguard-audit-name/1\x00"
SEALED_COLUMNS = ("actor_name", "source_address")
DETAILS_COLUMN = "details"


def split_details(
    details: Mapping[str, Any], personal: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``details`` split into what stays in clear and the personal values to seal."""
    kept: dict[str, Any] = {}
    taken: dict[str, Any] = {}
    for name, value in details.items():
        (taken if name in personal and value is not None else kept)[name] = value
    return kept, taken


def details_subject(
    pseudonym_key: bytes,
    *,
    actor_type: str,
    actor_id: str | None,
    resource_type: str | None,
    resource_id: str | None,
) -> str | None:
    """Whose key seals an entry's personal details: the user it is about, else its actor."""
    if resource_type == "user" and resource_id:
        return chain.actor_ref(pseudonym_key, "user", resource_id)
    return chain.actor_ref(pseudonym_key, actor_type, actor_id)


def seal_aad(column: str, seq: int, subject: str) -> bytes:
    """What one sealed field is bound to."""
    return f"{SEAL_LABEL}|audit_log|{column}|{seq}|{subject}".encode()


def seal(key: bytes, value: str | None, *, column: str, seq: int, subject: str) -> bytes | None:
    """``value`` sealed under the subject's ``key``; None stays None."""
    if value is None:
        return None
    return wrap(key, value.encode("utf-8"), aad=seal_aad(column, seq, subject))


def name_index(pseudonym_key: bytes, name: str) -> str:
    """The blind index of an actor name (hex): equal names, equal index; nothing else."""
    return hmac.digest(pseudonym_key, NAME_INDEX_LABEL + name.encode("utf-8"), "sha256").hex()


class Opener:
    """Opens the sealed fields of entries; one per read, so a shredded key is never cached."""

    def __init__(self, wrap_key: bytes, pseudonym_key: bytes) -> None:
        self._wrap_key = wrap_key
        self._pseudonym_key = pseudonym_key
        self._keys: dict[str, bytes | None] = {}

    def name_index(self, name: str) -> str:
        """The blind index a sealed ``name`` was stored with."""
        return name_index(self._pseudonym_key, name)

    async def load(
        self, conn: AsyncSession | AsyncConnection, subjects: Iterable[str | None]
    ) -> None:
        """Fetch the keys of ``subjects`` not loaded yet."""
        wanted = {s for s in subjects if s is not None and s not in self._keys}
        if wanted:
            self._keys.update(await subject_keys.load(conn, self._wrap_key, wanted))

    async def load_entries(
        self, conn: AsyncSession | AsyncConnection, entries: Iterable[AuditEntry]
    ) -> None:
        """Fetch the keys the sealed ones among ``entries`` need."""
        wanted: set[str | None] = set()
        for entry in entries:
            if is_sealed(entry):
                wanted.add(entry.actor_ref)
            if entry.details_sealed is not None:
                wanted.add(entry.details_ref)
        await self.load(conn, wanted)

    def open(self, subject: str | None, column: str, seq: int, blob: bytes | None) -> str | None:
        """The plaintext of one sealed field; None when absent, shredded or unreadable."""
        if blob is None or subject is None:
            return None
        key = self._keys.get(subject)
        if key is None:
            return None
        try:
            return unwrap(key, bytes(blob), aad=seal_aad(column, seq, subject)).decode("utf-8")
        except (UnwrapError, UnicodeDecodeError):
            return None

    def personal(self, entry: AuditEntry) -> tuple[str | None, str | None]:
        """``(actor_name, source_address)`` of a loaded entry, sealed or legacy clear."""
        if not is_sealed(entry):
            return entry.actor_name, entry.source_address
        ref, seq = entry.actor_ref, entry.seq
        return (
            self.open(ref, "actor_name", seq, entry.actor_name_sealed),
            self.open(ref, "source_address", seq, entry.source_address_sealed),
        )

    def open_details(
        self, subject: str | None, seq: int, blob: bytes | None
    ) -> dict[str, Any] | None:
        """The sealed personal details of one entry; None when absent or shredded."""
        text = self.open(subject, DETAILS_COLUMN, seq, blob)
        if text is None:
            return None
        value = json.loads(text)
        return value if isinstance(value, dict) else None

    def details(self, entry: AuditEntry) -> dict[str, Any]:
        """The details of a loaded entry with its sealed personal values put back."""
        return merged_details(
            entry.details, self.open_details(entry.details_ref, entry.seq, entry.details_sealed)
        )

    def details_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``details`` of a row read as a mapping of ``audit_log`` columns."""
        opened = self.open_details(row["details_ref"], row["seq"], row["details_sealed"])
        return merged_details(row["details"], opened)

    def personal_of(self, row: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """``personal`` of a row read as a mapping of ``audit_log`` columns."""
        sealed_name, sealed_address = row["actor_name_sealed"], row["source_address_sealed"]
        if sealed_name is None and sealed_address is None:
            return row["actor_name"], row["source_address"]
        ref, seq = row["actor_ref"], row["seq"]
        return (
            self.open(ref, "actor_name", seq, sealed_name),
            self.open(ref, "source_address", seq, sealed_address),
        )


def merged_details(stored: str, opened: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored details text as a mapping, with the opened personal values (if any)."""
    details: dict[str, Any] = json.loads(stored)
    if opened:
        details.update(opened)
    return details


def is_sealed(entry: AuditEntry) -> bool:
    """Whether ``entry`` holds sealed fields (else its personal columns are in clear)."""
    return entry.actor_name_sealed is not None or entry.source_address_sealed is not None
