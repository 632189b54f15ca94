"""Hostile actor names are stored verbatim and can never forge lines in any output."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from lensguard.audit import AuditEvent, AuditLog, printable, query
from lensguard.store import migrate
from lensguard.store.db import Database
from tests.audit.support import lensguard_cli, make_log
from tests.harness.server import strong_secret

HOSTILE = [
    "alice\n2026-01-01T00:00:00Z auth.login success admin",
    "bob\r\nINJECTED: root logged in",
    "\x1b[31mred\x1b[0m\x1b[2J\x1b]0;title\x07",
    "%s%n%x{0}{user.__class__}",
    "carriage\rreturn",
    "line\u2028separator\u2029paragraph\x85next",
    "right-to-left \u202eoverride\u2066",
    "back\\slash\\n",
    "tab\there\x0bvt\x0cff\x7fdel",
]


def no_raw_controls(text: str) -> bool:
    return all(char.isprintable() for char in text)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[31m", "\\x1b[31m"),
        ("%s%n{0}", "%s%n{0}"),
        ("back\\slash", "back\\\\slash"),
        ("\u2028", "\\u2028"),
        ("\x85", "\\x85"),
        ("\u202e", "\\u202e"),
        ("\U000e0001", "\\U000e0001"),
        ("plain ascii and ünïcödé", "plain ascii and ünïcödé"),
    ],
)
def test_printable_escapes_exactly_the_dangerous_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("name", HOSTILE)
def test_printable_output_is_one_line_without_controls(name: str) -> None:
    shown = printable(name)
    assert no_raw_controls(shown)
    assert len(shown.splitlines()) == 1


async def test_hostile_names_are_stored_verbatim_and_the_chain_verifies(db: Database) -> None:
    log = make_log()
    async with db.transaction() as session:
        for name in HOSTILE:
            await log.append(
                session,
                AuditEvent(
                    action="auth.login",
                    outcome="failure",
                    actor_type="anonymous",
                    actor_name=name,
                    resource_id=name,
                    details={"username": name},
                ),
            )
    async with db.transaction() as session:
        rows = await query(session, limit=100)
    assert [r.actor_name for r in rows] == HOSTILE
    assert [r.resource_id for r in rows] == HOSTILE
    assert [r.details["username"] for r in rows] == HOSTILE
    assert (await log.verify(db)).ok
    for name in HOSTILE:
        async with db.transaction() as session:
            assert [r.actor_name for r in await query(session, actor=name)] == [name]


@pytest.mark.process
async def test_cli_export_of_hostile_names_is_one_clean_line_per_entry(tmp_path: Path) -> None:
    secret = strong_secret()
    url = f"sqlite+aiosqlite:///{tmp_path / 'lensguard.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    log = AuditLog.from_secret(secret)
    try:
        async with db.transaction() as session:
            for name in HOSTILE:
                event = AuditEvent(
                    action="auth.login",
                    outcome="failure",
                    actor_type="user",
                    actor_id=name,
                    actor_name=name,
                )
                await log.append(session, event)
    finally:
        await db.dispose()
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump({"var_dir": str(tmp_path / "var"), "database": {"url": url}}))
    result = await asyncio.to_thread(
        lensguard_cli, config, "audit", "export", env={"LENSGUARD_SECRET_KEY": secret}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == len(HOSTILE)
    assert all(no_raw_controls(line) for line in lines)
    assert [json.loads(line)["actor_name"] for line in lines[:-1]] == HOSTILE
    assert no_raw_controls(result.stderr.replace("\n", ""))
