"""The classes a stored column may have, and the checks the registry must pass.

``personal``: relates to an identifiable person (an operator, a viewer, someone on camera).
``sensitive``: a secret or key material whose leak breaks the system's security.
``public``: neither; configuration, counters, timestamps and ids that name no person.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import MetaData


class DataClass(StrEnum):
    PERSONAL = "personal"
    SENSITIVE = "sensitive"
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Column:
    """One column's classification."""

    cls: DataClass
    why: str
    encrypted: bool = False
    """True when the value is encrypted (wrapped) at rest, not just on disk."""
    retention: str | None = None
    """Overrides the table's retention when this column is kept differently."""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """One table: why it exists, where it lives, how long its rows are kept."""

    purpose: str
    retention: str
    columns: dict[str, Column]
    where: tuple[str, ...] = ("database",)
    """Storage places: ``database`` plus ``segment_store``, ``audit_checkpoints``, ``var_dir``."""


MODEL_MODULES = (
    "lensguard.store.models",
    "lensguard.recordings.models",
    "lensguard.recordings.hold_models",
    "lensguard.recordings.access_models",
    "lensguard.recordings.export_models",
    "lensguard.keyring.models",
    "lensguard.pki.models",
    "lensguard.audit.models",
    "lensguard.audit.anchors",
    "lensguard.incidents.models",
    "lensguard.privacy.erasure_models",
)
"""Every module that declares tables; importing them fills ``Base.metadata``."""


def all_metadata() -> MetaData:
    """``Base.metadata`` after importing every models module."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from lensguard.store.models import Base

    return Base.metadata


def problems(
    metadata: MetaData, registry: dict[str, Table], not_yet_encrypted: frozenset[str]
) -> list[str]:
    """What is wrong between the schema and the registry, one line each (empty: all good)."""
    out: list[str] = []
    live: set[str] = set()
    where = "src/lensguard/privacy/registry.py"
    for table in metadata.sorted_tables:
        entry = registry.get(table.name)
        for col in table.columns:
            key = f"{table.name}.{col.name}"
            live.add(key)
            if entry is None or col.name not in entry.columns:
                out.append(
                    f"{key} is not classified: add it to REGISTRY in {where} with its class "
                    "(personal, sensitive or public), why it is kept and its retention"
                )
                continue
            spec = entry.columns[col.name]
            if (
                spec.cls is DataClass.PERSONAL
                and not spec.encrypted
                and key not in not_yet_encrypted
            ):
                out.append(
                    f"{key} is personal and not encrypted at rest: encrypt the field, or list "
                    f"it in NOT_YET_ENCRYPTED in {where} with a reason"
                )
    for name, entry in registry.items():
        for col_name in entry.columns:
            key = f"{name}.{col_name}"
            if key not in live:
                out.append(
                    f"{key} is classified but no such column exists: remove it from REGISTRY "
                    f"in {where} (or fix its name)"
                )
    for key in sorted(not_yet_encrypted):
        table_name, _, col_name = key.partition(".")
        listed = registry.get(table_name)
        found = listed.columns.get(col_name) if listed else None
        if found is None or found.cls is not DataClass.PERSONAL or found.encrypted:
            out.append(
                f"{key} is in NOT_YET_ENCRYPTED but is not an unencrypted personal column: "
                f"remove it from NOT_YET_ENCRYPTED in {where}"
            )
    return out


HASHED = "stored only as a one-way hash"
SEALED = "sealed field by field, AES-256-GCM under a field data key (keyring/fields.py)"


def personal(why: str, note: str = "", retention: str | None = None) -> Column:
    """A personal column (in clear unless listed otherwise)."""
    return Column(DataClass.PERSONAL, why, note=note, retention=retention)


def sealed_field(why: str) -> Column:
    """A personal column sealed field by field (``keyring.fields``)."""
    return Column(DataClass.PERSONAL, why, encrypted=True, note=SEALED)


def sensitive(why: str, encrypted: bool = False, note: str = "") -> Column:
    """A secret or key material."""
    return Column(DataClass.SENSITIVE, why, encrypted=encrypted, note=note)


def public(why: str) -> Column:
    """Neither personal nor secret."""
    return Column(DataClass.PUBLIC, why)


def shreddable(why: str) -> Column:
    """A personal audit value sealed under its subject's key, shredded on erasure."""
    return Column(
        DataClass.PERSONAL,
        why,
        encrypted=True,
        retention="unreadable once erased: erasure shreds the subject key",
        note="sealed under the subject's key (AES-256-GCM)",
    )
