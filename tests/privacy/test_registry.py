"""Every column of every table is classified; personal ones are encrypted or listed."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String
from sqlalchemy import Table as SaTable

from lensguard.privacy.classes import Column as Spec
from lensguard.privacy.classes import DataClass, Table, all_metadata, problems
from lensguard.privacy.registry import NOT_YET_ENCRYPTED, REGISTRY


def test_every_column_is_classified_and_personal_ones_are_encrypted_or_listed() -> None:
    found = problems(all_metadata(), REGISTRY, NOT_YET_ENCRYPTED)
    assert not found, "data classification is out of step with the schema:\n" + "\n".join(found)


def test_every_models_module_is_walked() -> None:
    tables = set(all_metadata().tables)
    assert {"users", "audit_log", "signing_keys", "legal_holds", "recording_exports"} <= tables
    assert set(REGISTRY) == tables


def _schema() -> MetaData:
    md = MetaData()
    SaTable("people", md, Column("id", Integer, primary_key=True), Column("email", String))
    return md


def test_an_unclassified_column_is_named_with_what_to_do() -> None:
    registry = {"people": Table("p", "r", {"id": Spec(DataClass.PUBLIC, "id")})}
    (line,) = problems(_schema(), registry, frozenset())
    assert line.startswith("people.email is not classified: add it to REGISTRY")


def test_a_classified_column_that_is_gone_is_named() -> None:
    registry = {
        "people": Table(
            "p",
            "r",
            {
                "id": Spec(DataClass.PUBLIC, "id"),
                "email": Spec(DataClass.PUBLIC, "e"),
                "phone": Spec(DataClass.PUBLIC, "p"),
            },
        )
    }
    (line,) = problems(_schema(), registry, frozenset())
    assert line.startswith("people.phone is classified but no such column exists")


def test_an_unencrypted_personal_column_needs_the_allowlist() -> None:
    cols = {"id": Spec(DataClass.PUBLIC, "id"), "email": Spec(DataClass.PERSONAL, "contact")}
    registry = {"people": Table("p", "r", cols)}
    (line,) = problems(_schema(), registry, frozenset())
    assert line.startswith("people.email is personal and not encrypted at rest")
    assert "NOT_YET_ENCRYPTED" in line
    assert problems(_schema(), registry, frozenset({"people.email"})) == []


def test_an_encrypted_personal_column_passes_and_a_stale_allowlist_entry_fails() -> None:
    email = Spec(DataClass.PERSONAL, "contact", encrypted=True)
    registry = {"people": Table("p", "r", {"id": Spec(DataClass.PUBLIC, "id"), "email": email})}
    assert problems(_schema(), registry, frozenset()) == []
    (line,) = problems(_schema(), registry, frozenset({"people.email"}))
    assert line.startswith("people.email is in NOT_YET_ENCRYPTED but is not")
