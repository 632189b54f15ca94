"""``deploy render nftables`` and ``ufw``: one list of openings, everything else dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lensguard.deploy.options import DeployOptions, PortRange
from lensguard.deploy.ports import openings
from lensguard.settings import load_settings
from tests.deploy.conftest import render, run, tool, write_config
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # runs nft -c as a child process

TURN = {
    "enabled": True,
    "static_auth_secret": strong_secret(),
    "urls": ["turns:turn.example.org:5349?transport=tcp", "turn:turn.example.org:3479"],
}


def nft_check(path: Path) -> tuple[int, str]:
    checked = run(tool("nft"), "-c", "-f", str(path))
    return checked.returncode, checked.stderr


def rendered(tmp_path: Path, target: str, *args: str, **overrides: object) -> str:
    code, out, err = render(write_config(tmp_path, **overrides), target, *args)
    assert code == 0, err
    return out


def nft_accepts(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"(tcp|udp) dport (\d+(?:-\d+)?) ct state new accept", text))


def ufw_accepts(text: str) -> set[tuple[str, str]]:
    found = re.findall(r"^ufw allow proto (tcp|udp) to any port (\d+(?::\d+)?)", text, re.M)
    return {(protocol, ports.replace(":", "-")) for protocol, ports in found}


def test_the_ruleset_passes_nft_check_and_a_broken_one_does_not(tmp_path: Path) -> None:
    text = rendered(tmp_path, "nftables", turn=TURN)
    good = tmp_path / "lensguard.nft"
    good.write_text(text)
    code, err = nft_check(good)
    if code != 0 and "Operation not permitted" in err:
        pytest.skip(f"nft -c cannot open a netlink socket here: {err.strip()}")
    assert code == 0, err
    broken = tmp_path / "broken.nft"
    broken.write_text(text.replace("udp dport 3479", "udp dport 70000"))
    code, err = nft_check(broken)
    assert code != 0 and "70000" in err


def test_drop_by_default_with_loopback_and_established_allowed(tmp_path: Path) -> None:
    text = rendered(tmp_path, "nftables")
    assert "type filter hook input priority filter; policy drop;" in text
    assert 'iif "lo" accept' in text
    assert "ct state established,related accept" in text
    assert "ct state invalid drop" in text


def test_the_ports_come_from_the_settings(tmp_path: Path) -> None:
    text = rendered(
        tmp_path,
        "nftables",
        "--media-ports",
        "40000-40100",
        "--ssh-port",
        "2222",
        server={"host": "0.0.0.0", "port": 8443},
        turn=TURN,
    )
    assert nft_accepts(text) == {
        ("tcp", "2222"),
        ("tcp", "443"),
        ("tcp", "8443"),  # the server listens beyond loopback
        ("udp", "40000-40100"),
        ("tcp", "5349"),
        ("udp", "3479"),
        ("tcp", "3479"),
        ("udp", "49152-65535"),
    }
    closed = rendered(tmp_path, "nftables", "--ssh-port", "0")
    assert nft_accepts(closed) == {("tcp", "443"), ("udp", "32768-60999")}


def test_ufw_opens_exactly_what_nftables_opens(tmp_path: Path) -> None:
    overrides: dict[str, object] = {"turn": TURN, "server": {"host": "::", "port": 9000}}
    nft = rendered(tmp_path, "nftables", **overrides)
    ufw = rendered(tmp_path, "ufw", **overrides)
    assert ufw_accepts(ufw) == nft_accepts(nft)
    assert len(ufw_accepts(ufw)) == 8
    assert "ufw default deny incoming" in ufw
    settings = load_settings(write_config(tmp_path, **overrides))
    listed = openings(settings, DeployOptions())
    assert {(o.protocol, o.ports.nft()) for o in listed} == nft_accepts(nft)


def test_a_bad_port_range_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = render(write_config(tmp_path), "nftables", "--media-ports", "9-3")
    assert code == 2 and "9-3 is not a port range" in err
    assert PortRange.parse("3478") == PortRange(3478, 3478)
