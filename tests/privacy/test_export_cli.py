"""``lensguard privacy export``: a private zip from the shell, audited, refused clearly."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def test_export_writes_a_private_zip_and_refuses_clearly(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    created = lensguard(
        tmp_path, "admin", "create", "ada", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert created.returncode == 0, created.stderr
    out = tmp_path / "ada.zip"
    done = lensguard(tmp_path, "privacy", "export", "ada", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "rows about ada" in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        audit = archive.read("audit.jsonl").decode().splitlines()
    assert manifest["subject"]["username"] == "ada"
    assert manifest["requested_by"] == "lensguard-cli"
    assert any(json.loads(line)["action"] == "user.create" for line in audit)

    again = lensguard(tmp_path, "privacy", "export", "ada", "--out", str(out))
    assert again.returncode == 2 and "pass --force" in again.stderr
    missing = tmp_path / "nobody.zip"
    unknown = lensguard(tmp_path, "privacy", "export", "nobody", "--out", str(missing))
    assert unknown.returncode == 2 and "no such account" in unknown.stderr
    assert not missing.exists()
    small = lensguard(
        tmp_path, "privacy", "export", "ada", "--out", str(out), "--force", "--max-bytes", "10"
    )
    assert small.returncode == 2 and "export bound of 10 bytes" in small.stderr
    assert not out.exists()
    trail = lensguard(tmp_path, "audit", "verify")
    assert trail.returncode == 0, trail.stdout + trail.stderr
