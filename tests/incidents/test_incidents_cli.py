"""``lensguard incidents``: open by hand, move along the flow, read the timeline."""

from __future__ import annotations

import hashlib
import stat
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


def test_evidence_files_are_attached_listed_and_fetched_from_the_shell(tmp_path: Path) -> None:
    wide = {"COLUMNS": "250"}
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    opened = lensguard(tmp_path, "incidents", "open", "unclassified", "Odd traffic")
    incident_id = opened.stdout.split()[-1]
    log = tmp_path / "gate.log"
    log.write_bytes(b"10:02 sign-in refused from 203.0.113.9\n" * 50)
    image = tmp_path / "door.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)

    kept = lensguard(tmp_path, "incidents", "attach", incident_id, str(log), str(image), env=wide)
    assert kept.returncode == 0, kept.stderr
    lines = kept.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["gate.log", "text/plain"],
        ["door.png", "image/png"],
    ]
    assert lines[0].split()[-1] == hashlib.sha256(log.read_bytes()).hexdigest()

    program = tmp_path / "dropper"
    program.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(64))
    refused = lensguard(tmp_path, "incidents", "attach", incident_id, str(log), str(program))
    assert refused.returncode == 2 and "an ELF executable" in refused.stderr
    listed = lensguard(tmp_path, "incidents", "files", incident_id, env=wide)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("gate.log") == 1 and "dropper" not in listed.stdout

    attachment_id = lines[1].split()[0]
    out = tmp_path / "out" / "door-copy.png"
    out.parent.mkdir()
    fetched = lensguard(tmp_path, "incidents", "fetch", incident_id, attachment_id, "-o", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert out.read_bytes() == image.read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = lensguard(tmp_path, "incidents", "fetch", incident_id, attachment_id, "-o", str(out))
    assert again.returncode == 2 and "exists already" in again.stderr
    other = lensguard(tmp_path, "incidents", "fetch", "nope", attachment_id, "-o", str(out) + "2")
    assert other.returncode == 2 and "no such attachment" in other.stderr
    shown = lensguard(tmp_path, "incidents", "show", incident_id, env=wide)
    assert shown.stdout.count("attachment") >= 2
