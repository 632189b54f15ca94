"""``lensguard privacy erase`` in-process (typer's runner) against real databases."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from typer.testing import CliRunner, Result

from lensguard.bootstrap import resolve_secrets
from lensguard.cli.main import app
from lensguard.identity import accounts
from lensguard.services import Services
from lensguard.settings import load_settings
from lensguard.store.models import Device
from tests.harness.server import strong_secret
from tests.recordings.retention_support import SECONDS, record

PASSWORD = "correct horse battery staple 42"
REASON = "filmed person asked, ticket 2026-311"


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The commands configure logging for a terminal; put the test process's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def write_config(tmp_path: Path, url: str, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "mode": "production",
        "var_dir": str(tmp_path / "var"),
        "secret_key": strong_secret(),
        "database": {"url": url},
        **overrides,
    }
    path = tmp_path / "lensguard.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def invoke(config: Path, *args: str) -> Result:
    # In a thread: the command runs its own event loop with asyncio.run.
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, ["-c", str(config), *args]))


def flat(text: str) -> str:
    return " ".join(text.split())


async def seed(config: Path) -> list[Any]:
    """Officers root and olga, an operator otto, a viewer vera, and one recorded device."""
    services = Services.build(resolve_secrets(load_settings(config)))
    try:
        people = (("root", "admin"), ("olga", "admin"), ("otto", "operator"), ("vera", "viewer"))
        for name, role in people:
            await accounts.create_account(
                services,
                username=name,
                password=PASSWORD,
                role=role,
                sites=None,
                devices=None,
                by=None,
            )
        async with services.db.transaction() as session:
            session.add(
                Device(id="gate01", name="gate", site="dock", kind="camera", capabilities=[])
            )
        vault = services.recordings
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        starts = [start + timedelta(seconds=SECONDS * i) for i in range(6)]
        _, rows = await record(
            vault.db, vault.store, vault.ring, vault.audit, device_id="gate01", starts=starts
        )
        return rows
    finally:
        await services.close()


async def test_request_approve_show_list_and_verify(db_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, db_url)
    rows = await seed(config)
    first, last = rows[1].started_at.isoformat(), rows[3].ended_at.isoformat()

    asked = await invoke(
        config,
        *("privacy", "erase", "request", "--by", "root", "--reason", REASON),
        *("--device", "gate01", "--from", first, "--to", last, "--format", "json"),
    )
    assert asked.exit_code == 0, asked.output
    request = json.loads(asked.stdout)
    assert request["kind"] == "recordings" and request["state"] == "pending"

    own = await invoke(config, "privacy", "erase", "approve", request["id"], "--by", "root")
    assert own.exit_code == 2 and "four eyes" in flat(own.stderr)
    assert "Traceback" not in own.output
    done = await invoke(config, "privacy", "erase", "approve", request["id"], "--by", "olga")
    assert done.exit_code == 0, done.output
    assert f"erasure {request['id']}: done" in done.stdout
    assert "segments shredded: 3" in done.stdout

    shown = await invoke(config, "privacy", "erase", "show", request["id"], "--format", "json")
    assert shown.exit_code == 0, shown.output
    certificate = json.loads(shown.stdout)["certificate"]
    assert certificate["erased"]["segments"] == 3 and certificate["signature"]

    verified = await invoke(config, "recordings", "verify")
    assert verified.exit_code == 0, verified.output
    assert "OK: 1 recordings, 3 segments checked" in verified.stdout
    trail = await invoke(config, "audit", "verify")
    assert trail.exit_code == 0, trail.output

    # An account erasure through the same commands.
    account = await invoke(
        config,
        *("privacy", "erase", "request", "--by", "root", "--reason", REASON, "--user", "vera"),
    )
    assert account.exit_code == 0, account.output
    assert "lensguard privacy erase approve" in account.stdout
    account_id = account.stdout.split()[1].rstrip(":")
    erased = await invoke(
        config, "privacy", "erase", "approve", account_id, "--by", "olga", "--format", "json"
    )
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout)["certificate"]["erased"]["sessions"] == 0

    listed = await invoke(config, "privacy", "erase", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    kinds = {(r["id"], r["kind"], r["state"]) for r in json.loads(listed.stdout)}
    assert kinds == {(request["id"], "recordings", "done"), (account_id, "account", "done")}
    pending = await invoke(config, "privacy", "erase", "list", "--state", "pending")
    assert pending.exit_code == 0 and request["id"] not in pending.stdout
    table = await invoke(config, "privacy", "erase", "list")
    assert table.exit_code == 0 and "recordings" in table.stdout and "account" in table.stdout


async def test_refusals_are_one_readable_line(sqlite_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url)
    await seed(config)
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    ask = ("privacy", "erase", "request", "--reason", REASON)
    cases: list[tuple[tuple[str, ...], str]] = [
        (
            (
                *ask,
                "--by",
                "root",
                "--device",
                "nope",
                "--from",
                (now - hour).isoformat(),
                "--to",
                now.isoformat(),
            ),
            "no such device",
        ),
        (
            (
                *ask,
                "--by",
                "otto",
                "--device",
                "gate01",
                "--from",
                (now - hour).isoformat(),
                "--to",
                now.isoformat(),
            ),
            "otto may not erase",
        ),
        (
            (*ask, "--by", "nobody", "--user", "vera"),
            "no such account",
        ),
        (
            (
                *ask,
                "--by",
                "root",
                "--device",
                "gate01",
                "--from",
                now.isoformat(),
                "--to",
                (now - hour).isoformat(),
            ),
            "from must be before to",
        ),
        (
            (
                *ask,
                "--by",
                "root",
                "--device",
                "gate01",
                "--from",
                "yesterday",
                "--to",
                now.isoformat(),
            ),
            "is not an ISO 8601 time",
        ),
        (
            (
                *ask,
                "--by",
                "root",
                "--device",
                "gate01",
                "--from",
                "2026-01-01T10:00:00",
                "--to",
                now.isoformat(),
            ),
            "carries no time zone",
        ),
        ((*ask, "--by", "root", "--device", "gate01"), "needs --from and --to"),
        ((*ask, "--by", "root", "--user", "vera", "--site", "dock"), "exactly one of"),
        (("privacy", "erase", "show", "missing"), "no such erasure request"),
        (("privacy", "erase", "approve", "missing", "--by", "olga"), "no such erasure request"),
    ]
    for args, words in cases:
        result = await invoke(config, *args)
        assert result.exit_code == 2, (args, result.output)
        assert words in flat(result.stderr), (args, result.stderr)
        assert "Traceback" not in result.output
    helped = await invoke(config, "privacy", "erase", "--help")
    assert helped.exit_code == 0
    assert "second approves" in flat(helped.stdout)
