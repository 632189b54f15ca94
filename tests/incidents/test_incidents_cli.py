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


def test_comment_own_and_tick_steps_in_order(tmp_path: Path) -> None:
    wide = {"COLUMNS": "200"}
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    created = lensguard(
        tmp_path, "admin", "create", "ada", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert created.returncode == 0, created.stderr
    opened = lensguard(tmp_path, "incidents", "open", "brute_force", "Guessing at sign-in")
    incident_id = opened.stdout.split()[-1]

    said = lensguard(tmp_path, "incidents", "comment", incident_id, "from one /24")
    assert said.returncode == 0 and "entry 1 added" in said.stdout, said.stderr
    owned = lensguard(tmp_path, "incidents", "own", incident_id, "--user", "ada")
    assert owned.returncode == 0 and "is owned by" in owned.stdout, owned.stderr
    ghost = lensguard(tmp_path, "incidents", "own", incident_id, "--user", "nobody-here")
    assert ghost.returncode == 2 and "no account 'nobody-here'" in ghost.stderr
    neither = lensguard(tmp_path, "incidents", "own", incident_id)
    assert neither.returncode == 2 and "--user NAME or --nobody" in neither.stderr

    early = lensguard(tmp_path, "incidents", "step", incident_id, "accounts")
    assert early.returncode == 2 and "comes after confirm" in early.stderr
    automatic = lensguard(tmp_path, "incidents", "step", incident_id, "block")
    assert automatic.returncode == 2 and "through the API" in automatic.stderr
    ticked = lensguard(tmp_path, "incidents", "step", incident_id, "confirm", "--note", "seen")
    assert ticked.returncode == 0 and "confirm done" in ticked.stdout, ticked.stderr
    then = lensguard(tmp_path, "incidents", "step", incident_id, "accounts")
    assert then.returncode == 0, then.stderr

    shown = lensguard(tmp_path, "incidents", "show", incident_id, env=wide)
    assert shown.returncode == 0, shown.stderr
    assert "[x] detect      confirm:" in shown.stdout
    assert "[ ] contain     block: action block_ip" in shown.stdout
    assert "(after accounts)" not in shown.stdout and "(after users)" in shown.stdout
    assert "owner " in shown.stdout and "'text': 'from one /24'" in shown.stdout
