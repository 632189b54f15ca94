"""``deploy render fail2ban-filter`` and ``fail2ban-jail`` against the server's real log lines."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lensguard.logs import configure_logging
from tests.api.conftest import PASSWORD, build_api
from tests.deploy.conftest import render, run, tool, write_config

pytestmark = pytest.mark.process  # runs fail2ban-regex and fail2ban-client as child processes

ATTACKER = "203.0.113.9"
FRIEND = "198.51.100.20"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())  # never a captured, closed stderr


async def sign_in(
    settings: Any, address: str, username: str, password: str, *, first: bool = False
) -> int:
    """Status of one sign-in from ``address``; the ``first`` creates ``ada`` (``PASSWORD``)."""
    status = 0
    async for api in build_api(settings, address):
        if first:
            await api.add_user("ada", "admin")
        response = await api.http.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        status = response.status_code
    return status


def journal_backend() -> bool:
    """Whether fail2ban's own Python can read the journal (python3-systemd)."""
    shebang = Path(tool("fail2ban-client")).read_text().splitlines()[0]
    return run(shebang.removeprefix("#!").strip(), "-c", "import systemd.journal").returncode == 0


def filter_file(tmp_path: Path) -> Path:
    code, out, err = render(write_config(tmp_path), "fail2ban-filter")
    assert code == 0, err
    path = tmp_path / "lensguard-filter.conf"
    path.write_text(out)
    return path


def addresses(log_file: Path, filter_path: Path) -> list[str]:
    """The addresses fail2ban-regex extracts from ``log_file``, one per matched line."""
    checked = run(tool("fail2ban-regex"), "-o", "ip", str(log_file), str(filter_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return checked.stdout.split()


async def test_failed_sign_ins_are_matched_and_the_address_extracted(
    tmp_path: Path, make_settings: Any, sqlite_url: str, log: io.StringIO
) -> None:
    settings = make_settings(database={"url": sqlite_url}, var_dir=str(tmp_path / "var"))
    # A username that tries to plant a second address in the line: JSON escapes it.
    forged = 'mallory", "client": "192.0.2.66'
    assert await sign_in(settings, ATTACKER, forged, "wrong password 1", first=True) == 401
    failed = log.getvalue()
    assert await sign_in(settings, FRIEND, "ada", PASSWORD) == 200
    succeeded = log.getvalue()[len(failed) :]
    assert '"event": "auth.login_failed"' in failed and forged.split('"', maxsplit=1)[0] in failed
    assert '"event": "auth.login_succeeded"' in succeeded

    rules = filter_file(tmp_path)
    (tmp_path / "failed.log").write_text(failed)
    (tmp_path / "succeeded.log").write_text(succeeded)
    assert addresses(tmp_path / "failed.log", rules) == [ATTACKER]
    assert addresses(tmp_path / "succeeded.log", rules) == []
    # Through the journal each line has a "host unit[pid]: " prefix; still one match.
    journal = "".join(f"robot lensguard[4242]: {line}\n" for line in failed.splitlines())
    (tmp_path / "journal.log").write_text(journal)
    assert addresses(tmp_path / "journal.log", rules) == [ATTACKER]


def test_a_broken_filter_matches_nothing(tmp_path: Path) -> None:
    line = (
        '{"security_event": true, "severity": "medium", "client": "203.0.113.9", '
        '"username": "x", "event": "auth.login_failed", "level": "warning", '
        '"logger": "lensguard.security", "timestamp": "2026-01-01T00:00:00.000001Z"}\n'
    )
    (tmp_path / "one.log").write_text(line)
    rules = filter_file(tmp_path)
    assert addresses(tmp_path / "one.log", rules) == [ATTACKER]
    rules.write_text(rules.read_text().replace('"client": ', '"address": '))
    assert addresses(tmp_path / "one.log", rules) == []


@pytest.mark.parametrize("log_file", [True, False], ids=["file", "journal"])
def test_the_jail_passes_fail2ban_client_t(tmp_path: Path, log_file: bool) -> None:
    if not log_file and not journal_backend():
        pytest.skip("python3-systemd is not installed: fail2ban cannot read the journal")
    config = write_config(tmp_path)
    args = ["--log-file", str(tmp_path / "lensguard.log")] if log_file else []
    (tmp_path / "lensguard.log").write_text("")
    code, jail, err = render(config, "fail2ban-jail", *args)
    assert code == 0, err
    assert {"maxretry = 5", "findtime = 600", "bantime = 3600"} <= set(jail.splitlines())
    etc = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", etc)
    for old in (etc / "jail.d").iterdir():
        old.unlink()
    (etc / "jail.d" / "lensguard.local").write_text(jail)
    shutil.copy(filter_file(tmp_path), etc / "filter.d" / "lensguard.conf")
    checked = run(tool("fail2ban-client"), "-c", str(etc), "-t")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (etc / "filter.d" / "lensguard.conf").unlink()  # the jail names a filter that must exist
    assert run(tool("fail2ban-client"), "-c", str(etc), "-t").returncode != 0
