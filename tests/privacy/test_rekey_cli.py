"""``lensguard privacy rekey`` and ``admin create --email`` from the shell."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process

PASSWORD = "a-long-passphrase-42\n"


def test_rekey_moves_the_fields_and_says_so(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    made = lensguard(
        tmp_path,
        "admin",
        "create",
        "ada",
        "--password-stdin",
        "--email",
        "Ada@Example.org",
        "--display-name",
        "Ada Lovelace",
        stdin=PASSWORD,
    )
    assert made.returncode == 0, made.stderr
    bad = lensguard(
        tmp_path, "admin", "create", "bea", "--password-stdin", "--email", "bea", stdin=PASSWORD
    )
    assert bad.returncode == 2 and "email must be an address" in bad.stderr
    database = tmp_path / "var" / "lensguard.db"
    with sqlite3.connect(database) as conn:
        (sealed, version) = conn.execute(
            "SELECT email_sealed, fields_version FROM users WHERE username = 'ada'"
        ).fetchone()
    assert b"example.org" not in sealed and version == 1

    before = lensguard(tmp_path, "privacy", "rekey", "--status", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == {"live_versions": [1], "current": 1, "rows_behind": 0}
    moved = lensguard(tmp_path, "privacy", "rekey", "--json")
    assert moved.returncode == 0, moved.stderr
    outcome = json.loads(moved.stdout)
    assert (outcome["version"], outcome["started"], outcome["retired"]) == (2, True, [1])
    assert outcome["resealed"] == {"users": 1}
    text = lensguard(tmp_path, "privacy", "rekey")
    assert text.returncode == 0, text.stderr
    assert "moved to field data key v3: 1 rows re-sealed; retired: [2]" in text.stdout
    with sqlite3.connect(database) as conn:
        keys = conn.execute(
            "SELECT version, wrapped IS NULL FROM field_keys WHERE purpose = 'data'"
        )
        assert sorted(keys.fetchall()) == [(1, 1), (2, 1), (3, 0)]
        assert conn.execute("SELECT fields_version FROM users").fetchall() == [(3,)]
    export = tmp_path / "ada.zip"
    assert lensguard(tmp_path, "privacy", "export", "ada", "--out", str(export)).returncode == 0
    with zipfile.ZipFile(export) as archive:
        (user,) = [json.loads(x) for x in archive.read("tables/users.jsonl").splitlines()]
    assert (user["email"], user["display_name"]) == ("ada@example.org", "Ada Lovelace")
    assert "email_sealed" not in user and "email_index" not in user
    trail = lensguard(tmp_path, "audit", "verify")
    assert trail.returncode == 0, trail.stdout + trail.stderr
    helped = lensguard(tmp_path, "privacy", "rekey", "--help")
    assert "kill -9" in helped.stdout
