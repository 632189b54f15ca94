"""``lensguard incidents``: open by hand, move along the flow, read the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def test_open_move_and_show_an_incident(tmp_path: Path) -> None:
    wide = {"COLUMNS": "200"}
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    opened = lensguard(
        tmp_path,
        "incidents",
        "open",
        "data_breach",
        "Laptop with exports stolen",
        "--severity",
        "critical",
    )
    assert opened.returncode == 0, opened.stderr
    incident_id = opened.stdout.split()[-1]
    moved = lensguard(tmp_path, "incidents", "move", incident_id, "contained", "--note", "wiped")
    assert moved.returncode == 0 and "is now contained" in moved.stdout
    backwards = lensguard(tmp_path, "incidents", "move", incident_id, "triaged")
    assert backwards.returncode == 2
    assert "an incident that is contained can become" in backwards.stderr
    shown = lensguard(tmp_path, "incidents", "show", incident_id, env=wide)
    assert shown.returncode == 0, shown.stderr
    assert "Laptop with exports stolen [data_breach, critical, contained]" in shown.stdout
    assert "notify by" in shown.stdout
    assert "opened" in shown.stdout and "'note': 'wiped'" in shown.stdout
    listed = lensguard(tmp_path, "incidents", "list", env=wide)
    assert incident_id in listed.stdout
    unknown = lensguard(tmp_path, "incidents", "open", "alien_invasion", "x")
    assert unknown.returncode == 2 and "no playbook for 'alien_invasion'" in unknown.stderr
    missing = lensguard(tmp_path, "incidents", "show", "nope")
    assert missing.returncode == 2 and "no such incident" in missing.stderr
