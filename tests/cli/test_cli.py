"""The CLI as a user runs it: real processes, real database."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lensguard.cli.context import console, errors
from tests.harness.server import strong_secret

pytestmark = pytest.mark.process  # runs lensguard as a child process


def lensguard(
    tmp_path: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "lensguard.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump({"mode": "dev", "var_dir": str(tmp_path / "var")}))
    return subprocess.run(
        [sys.executable, "-m", "lensguard", "-c", str(config), *args],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_db_upgrade_is_repeatable(tmp_path: Path) -> None:
    first = lensguard(tmp_path, "db", "upgrade")
    second = lensguard(tmp_path, "db", "upgrade")
    assert first.returncode == second.returncode == 0, first.stderr
    assert "database is at revision" in second.stdout
    assert (tmp_path / "var" / "lensguard.db").exists()


def test_admin_create_from_stdin_then_duplicate_is_a_clear_error(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    created = lensguard(
        tmp_path, "admin", "create", "ada", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert created.returncode == 0, created.stderr
    assert "created admin 'ada'" in created.stdout
    again = lensguard(
        tmp_path, "admin", "create", "ada", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_admin_create_applies_the_password_policy_and_knows_the_roles(tmp_path: Path) -> None:
    for password, message in (
        ("short", "at least 12 characters"),
        ("password1234", "most commonly used passwords"),
        ("bob-is-my-own-name", "must not contain the username"),
    ):
        result = lensguard(
            tmp_path, "admin", "create", "bob", "--password-stdin", stdin=f"{password}\n"
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr
    wrong = lensguard(
        tmp_path,
        "admin",
        "create",
        "bob",
        "--role",
        "overlord",
        "--password-stdin",
        stdin="a-long-passphrase-42\n",
    )
    assert wrong.returncode == 2 and "role must be one of: admin" in wrong.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    secret = strong_secret()
    result = lensguard(
        tmp_path,
        "config",
        "show",
        env={
            "LENSGUARD_SECRET_KEY": secret,
            "LENSGUARD_REDIS__URL": "redis://:redispw@127.0.0.1:6379/0",
            "LENSGUARD_DATABASE__URL": "postgresql+asyncpg://lg:dbpassword@127.0.0.1/lg",
        },
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["secret_key"] == "**********"
    assert shown["redis"]["url"] == "**********"
    assert "dbpassword" not in result.stdout
    assert "127.0.0.1/lg" in shown["database"]["url"]
    assert secret not in result.stdout


def test_config_errors_are_one_readable_line(tmp_path: Path) -> None:
    (tmp_path / "lensguard.yaml").write_text("server:\n  port: not-a-port\n")
    result = lensguard(tmp_path, "config", "show")
    assert result.returncode == 2
    assert "server.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_prints_fingerprints_as_written() -> None:
    fingerprint = "94:8D:27:CD:46:AB:0B"  # ":CD:" is also an emoji code
    for out in (console, errors):
        with out.capture() as captured:
            out.print(f"SHA-256 fingerprint: {fingerprint}")
        assert captured.get().strip() == f"SHA-256 fingerprint: {fingerprint}"


def test_serve_names_a_port_in_use_before_claiming_to_serve(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = lensguard(tmp_path, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "serving" not in result.stdout
