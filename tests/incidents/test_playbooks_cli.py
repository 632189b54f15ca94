"""``lensguard threats playbooks``: lists the playbooks, or names a bad one's file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def test_playbooks_are_listed_and_a_bad_one_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    wide = {"COLUMNS": "200"}  # one table row per line
    listed = lensguard(tmp_path, "threats", "playbooks", "--dir", str(folder), env=wide)
    assert listed.returncode == 0, listed.stderr
    assert "Playbooks (7)" in listed.stdout and "data_breach" in listed.stdout
    (folder / "ours.yaml").write_text(
        "kind: ours\ntitle: Ours\nseverity: high\nsteps:\n"
        "  - {id: a, phase: detect, check: look}\n"
        "  - {id: b, phase: contain, action: format_disks}\n"
    )
    refused = lensguard(tmp_path, "threats", "playbooks", "--dir", str(folder))
    assert refused.returncode == 2
    assert f"{folder / 'ours.yaml'}:6: unknown step 'format_disks'" in refused.stderr
