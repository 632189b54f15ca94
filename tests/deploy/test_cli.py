"""``lensguard deploy render``: targets, --out, errors, help, and ``turn config`` as an alias."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lensguard as lensguard_package
from lensguard.cli.main import app
from lensguard.deploy.targets import names
from tests.cli.test_cli import lensguard
from tests.deploy.conftest import render, write_config
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # one test runs lensguard as a child process


def test_an_unknown_target_exits_2_listing_the_valid_ones(tmp_path: Path) -> None:
    code, out, err = render(write_config(tmp_path), "apache")
    assert code == 2 and out == ""
    assert "unknown target 'apache'" in err
    assert (
        "coturn, dockerfile, fail2ban-filter, fail2ban-jail, kubernetes, nftables, nginx, "
        "systemd, ufw"
    ) in err


def test_out_writes_0644_whatever_the_umask_and_stdout_is_the_default(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, printed, err = render(config, "nftables")
    assert code == 0, err
    out = tmp_path / "lensguard.nft"
    out.write_text("old, longer content than nothing\n" * 100)
    out.chmod(0o600)
    previous = os.umask(0o077)
    try:
        code, nothing, err = render(config, "nftables", "--out", str(out))
    finally:
        os.umask(previous)
    assert code == 0 and nothing == "" and f"wrote {out}" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert out.read_text() == printed


def test_help_explains_every_target(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "render", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in names():
        assert f"{name}:" in result.stdout
    assert "docs/secure.md" in result.stdout


def test_coturn_is_the_same_file_as_turn_config_and_stays_private(tmp_path: Path) -> None:
    turn = {
        "enabled": True,
        "static_auth_secret": strong_secret(),
        "realm": "video.example.org",
        "urls": ["turn:turn.example.org:3478"],
    }
    config = write_config(tmp_path, turn=turn)
    code, deployed, err = render(config, "coturn")
    assert code == 0, err
    alias = CliRunner().invoke(app, ["-c", str(config), "turn", "config"])
    assert alias.exit_code == 0, alias.stderr
    assert deployed == alias.stdout
    assert "realm=video.example.org" in deployed and "use-auth-secret" in deployed
    out = tmp_path / "turnserver.conf"
    assert render(config, "coturn", "--out", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the TURN secret


def test_coturn_ports_follow_turn_urls(tmp_path: Path) -> None:
    urls = ["turn:turn.example.org:3480", "turns:turn.example.org:5350?transport=tcp"]
    turn = {"enabled": True, "static_auth_secret": strong_secret(), "urls": urls}
    code, text, err = render(
        write_config(tmp_path, turn=turn), "coturn", "--turn-relay-ports", "50000-50999"
    )
    assert code == 0, err
    lines = set(text.splitlines())
    assert {"listening-port=3480", "min-port=50000", "max-port=50999"} <= lines
    assert "tls-listening-port=5350" not in lines  # no certificate given: plain TURN only
    assert "no-tls" in lines


def test_the_systemd_unit_starts_the_installed_program(tmp_path: Path) -> None:
    source = str(Path(lensguard_package.__file__).parents[1])  # this checkout's code
    done = lensguard(tmp_path, "deploy", "render", "systemd", env={"PYTHONPATH": source})
    assert done.returncode == 0, done.stderr
    program = Path(sys.executable).parent / "lensguard"
    config = tmp_path / "lensguard.yaml"
    assert f"ExecStart={program} --config {config} serve" in done.stdout.splitlines()
