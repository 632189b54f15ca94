"""docs/signaling.md shows the protocol's tables: they must say what the code says."""

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from lensguard.wire.client import CLIENT_MESSAGES
from lensguard.wire.closes import Close
from lensguard.wire.pairing import Join, Joined
from lensguard.wire.server import SERVER_MESSAGES, ErrorCode

PAGE = Path(__file__).parents[2] / "docs" / "signaling.md"


def section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def rows(text: str) -> list[list[str]]:
    """The body rows of every table in ``text``, cells stripped."""
    found = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            found.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return found


def test_the_close_code_table_is_the_code_table() -> None:
    table = rows(section("Limits and close codes"))
    assert table[0] == ["code", "name", "sent by", "meaning"]
    expected = [[str(c.value), f"`{c.label}`", c.sender, c.meaning] for c in Close]
    assert table[1:] == expected


def catalogue(heading: str) -> dict[str, str]:
    """type -> fields cell of the catalogue table that follows ``heading``."""
    text = section("Message catalogue")
    start = text.index(heading)
    end = text.find("\n\n", text.index("| ---", start))
    return {row[0].strip("`"): row[1] for row in rows(text[start:end])[1:]}


def field_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items() if name != "type"}


def type_of(model: type[BaseModel]) -> str:
    annotation = model.model_fields["type"].annotation
    return str(annotation.__args__[0])  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("heading", "models"),
    [
        ("Client to server", CLIENT_MESSAGES),
        ("Server to client", SERVER_MESSAGES),
        ("Between server parts", (Join, Joined)),
    ],
)
def test_the_catalogue_lists_every_type_and_field(
    heading: str, models: tuple[type[BaseModel], ...]
) -> None:
    documented = catalogue(heading)
    assert set(documented) == {type_of(m) for m in models}
    for model in models:
        cell = documented[type_of(model)]
        named = set(re.findall(r"`([a-z_]+)`", cell))
        assert field_names(model) <= named, f"{type_of(model)}: {cell}"


def test_every_error_code_is_documented() -> None:
    text = section("Messages")
    assert {code.value for code in ErrorCode} <= set(re.findall(r"`([a-z_]+)`", text))
