"""``deploy render systemd``: a unit that verifies and scores 2.0 or less."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import render, run, tool, write_config

pytestmark = pytest.mark.process  # runs systemd-analyze as a child process

LENSGUARD = Path(sys.executable).parent / "lensguard"


def unit(tmp_path: Path, *args: str, **overrides: object) -> Path:
    config = write_config(tmp_path, **overrides)
    code, out, err = render(config, "systemd", "--executable", str(LENSGUARD), *args)
    assert code == 0, err
    path = tmp_path / "lensguard.service"
    path.write_text(out)
    return path


def verify(path: Path) -> str:
    """What ``systemd-analyze verify`` has to say (nothing when the unit is clean)."""
    checked = run(tool("systemd-analyze"), "verify", str(path))
    return f"rc={checked.returncode} {checked.stdout}{checked.stderr}".strip()


def exposure(path: Path) -> float:
    checked = run(tool("systemd-analyze"), "security", "--offline=true", str(path))
    if "--offline" in checked.stderr and "unrecognized" in checked.stderr:
        pytest.skip(f"this systemd-analyze has no --offline: {checked.stderr.strip()}")
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", checked.stdout)
    assert found is not None, checked.stdout + checked.stderr
    return float(found.group(1))


def test_the_unit_verifies_and_a_broken_one_does_not(tmp_path: Path) -> None:
    path = unit(tmp_path)
    assert verify(path) == "rc=0"
    text = path.read_text()
    path.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=bogus"))
    assert "Failed to parse protect system value" in verify(path)
    path.write_text(text.replace(str(LENSGUARD), "/nonexistent/lensguard"))
    assert verify(path).startswith("rc=1")


def test_exposure_is_at_most_two(tmp_path: Path) -> None:
    path = unit(tmp_path)
    assert exposure(path) <= 2.0
    # The score really reads the file: without the sandbox it is far worse.
    loose = "\n".join(
        line
        for line in path.read_text().splitlines()
        if line.startswith(("[", "Description", "ExecStart", "User", "Group", "Type"))
    )
    path.write_text(loose + "\n")
    assert exposure(path) > 5.0


def test_a_low_port_keeps_only_the_bind_capability(tmp_path: Path) -> None:
    path = unit(tmp_path, server={"port": 443})
    text = path.read_text()
    assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in text
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" in text
    assert "PrivateUsers=yes" not in text  # capabilities in a user namespace bind nothing
    assert verify(path) == "rc=0"
    assert exposure(path) <= 2.0


def test_the_sandbox_lines_and_the_paths_from_the_settings(tmp_path: Path) -> None:
    path = unit(tmp_path, "--user", "dynamic", var_dir=str(tmp_path / "state"))
    lines = set(path.read_text().splitlines())
    assert {
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
        "DynamicUser=yes",
        f"ReadWritePaths={(tmp_path / 'state').resolve()}",
    } <= lines
    assert f"ExecStart={LENSGUARD} --config {tmp_path / 'lensguard.yaml'} serve" in lines
    assert verify(path) == "rc=0"
