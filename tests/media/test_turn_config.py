"""``lensguard turn config``: a hardened turnserver.conf that real coturn accepts."""

import ipaddress
import stat
from pathlib import Path
from typing import Annotated

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lensguard.cli import turn
from lensguard.media.addresses import RESERVED_RANGES
from tests.harness.coturn import relay_port_range, run_config
from tests.harness.ports import free_port
from tests.harness.server import strong_secret

# Written out independently of the implementation: the ranges a TURN server must refuse.
MUST_DENY = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]


def cli() -> typer.Typer:
    """The sub-app mounted as ``turn`` under a root that passes --config, like cli/main.py."""
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context, config: Annotated[Path, typer.Option("--config")]) -> None:
        ctx.obj = {"config": config}

    root.add_typer(turn.app, name="turn")
    return root


def run(
    tmp_path: Path,
    *args: str,
    settings: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    config = tmp_path / "lensguard.yaml"
    config.write_text(
        yaml.safe_dump(settings or {"mode": "production", "var_dir": str(tmp_path / "var")})
    )
    result = CliRunner().invoke(cli(), ["--config", str(config), "turn", "config", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def production(tmp_path: Path, secret: str) -> dict[str, object]:
    return {
        "mode": "production",
        "var_dir": str(tmp_path / "var"),
        "turn": {
            "enabled": True,
            "urls": ["turn:turn.example.org:3478"],
            "static_auth_secret": secret,
            "realm": "video.example.org",
        },
    }


def lines(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def span(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    first, last = net.network_address, net.broadcast_address
    return str(first) if first == last else f"{first}-{last}"


def test_every_reserved_range_is_denied_and_loopback_never_allowed(tmp_path: Path) -> None:
    secret = strong_secret()
    code, out, err = run(tmp_path, settings=production(tmp_path, secret))
    assert code == 0, err
    rendered = lines(out)
    for cidr in MUST_DENY:
        assert f"denied-peer-ip={span(cidr)}" in rendered, cidr
    assert not any("allow-loopback-peers" in line for line in rendered)
    assert not any(line.startswith("allowed-peer-ip") for line in rendered)
    expected = {
        "use-auth-secret",
        f"static-auth-secret={secret}",
        "realm=video.example.org",
        "fingerprint",
        "no-cli",
        "no-multicast-peers",
        "stale-nonce=600",
        "user-quota=12",
        "total-quota=1200",
        "max-bps=500000",
        "no-tls",
        "no-dtls",
    }
    assert expected <= rendered


def test_coturn_starts_on_the_rendered_config(tmp_path: Path) -> None:
    port = free_port()
    low, high = relay_port_range()
    conf = tmp_path / "turnserver.conf"
    code, _, err = run(
        tmp_path,
        *("--out", str(conf), "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"),
        *("--listening-port", str(port), "--min-port", str(low), "--max-port", str(high)),
        "--no-tcp-relay",
        settings=production(tmp_path, strong_secret()),
    )
    assert code == 0, err
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    output = run_config(tmp_path / "coturn", conf, port)
    assert "ERROR" not in output, output
    assert output.count("Black listing:") == len(RESERVED_RANGES), output
    assert "allow_loopback_peers" not in output


def test_tls_and_exceptions_are_rendered_when_asked(tmp_path: Path) -> None:
    code, out, err = run(
        tmp_path,
        *("--cert", "/etc/turn/fullchain.pem", "--pkey", "/etc/turn/privkey.pem"),
        *("--allow-peer", "10.20.0.0/24", "--external-ip", "203.0.113.9"),
        settings=production(tmp_path, strong_secret()),
    )
    assert code == 0, err
    rendered = lines(out)
    assert {
        "cert=/etc/turn/fullchain.pem",
        "pkey=/etc/turn/privkey.pem",
        "tls-listening-port=5349",
        "allowed-peer-ip=10.20.0.0-10.20.0.255",
        "external-ip=203.0.113.9",
    } <= rendered
    assert "no-tls" not in rendered


def test_secret_from_environment_replaces_the_configured_one(tmp_path: Path) -> None:
    from_env = strong_secret()
    code, out, err = run(
        tmp_path,
        *("--secret-from-env", "COTURN_SECRET"),
        settings=production(tmp_path, strong_secret()),
        env={"COTURN_SECRET": from_env},
    )
    assert code == 0, err
    assert f"static-auth-secret={from_env}" in lines(out)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--secret-from-env", "COTURN_SECRET"), {"COTURN_SECRET": "changeme"}, "well-known"),
        (("--secret-from-env", "UNSET_VAR_FOR_TEST"), {}, "it is empty"),
        (
            ("--secret-from-env", "COTURN_SECRET"),
            {"COTURN_SECRET": "Kq3 vX9#mZ2 pL7 wR4 tY8 nB6 hJ1 cF5 dG0"},
            "must not contain spaces",
        ),
        (("--cert", "/etc/turn/cert.pem"), {}, "both --cert and --pkey"),
        (("--relay-ip", "not-an-ip"), {}, "not an IP address"),
        (("--allow-peer", "10.0.0.1/8"), {}, "not an IP network"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    code, out, err = run(tmp_path, *args, settings=production(tmp_path, strong_secret()), env=env)
    assert code == 2
    assert message in err
    assert "static-auth-secret" not in out


def test_production_without_a_secret_says_how_to_fix_it(tmp_path: Path) -> None:
    settings = production(tmp_path, strong_secret())
    settings["turn"] = {"enabled": True, "urls": ["turn:turn.example.org"]}
    code, _, err = run(tmp_path, settings=settings)
    assert code == 2
    assert "turn.static_auth_secret is not set" in err
    assert "lensguard secret generate" in err
