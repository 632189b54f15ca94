"""``lensguard keys`` driven in-process through a tiny Typer app, against real databases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import structlog
import typer
import yaml
from typer.testing import CliRunner, Result

from lensguard.cli import keys
from lensguard.identity.tokens import TokenService, publication_window
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.db import Database
from tests.harness.server import strong_secret
from tests.identity.token_support import AUDIENCE, ISSUER, split


def build_cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(
        ctx: typer.Context,
        config: Annotated[Path, typer.Option("--config", "-c")],
    ) -> None:
        ctx.obj = {"config": config}

    app.add_typer(keys.app, name="keys")
    return app


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


def write_config(tmp_path: Path, url: str, **overrides: Any) -> tuple[Path, str]:
    secret = strong_secret()
    data: dict[str, Any] = {
        "mode": "production",
        "var_dir": str(tmp_path / "var"),
        "secret_key": secret,
    }
    data["database"] = {"url": url}
    data.update(overrides)
    path = tmp_path / "lensguard.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, secret


async def invoke(config: Path, *args: str) -> Result:
    # In a thread: the command runs its own event loop with asyncio.run.
    return await asyncio.to_thread(
        lambda: CliRunner().invoke(build_cli(), ["-c", str(config), *args])
    )


def flat(text: str) -> str:
    """Text with the terminal's line wrapping undone."""
    return " ".join(text.split())


def listed(result: Result) -> dict[str, list[str]]:
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KID", "CREATED", "RETIRED", "PUBLISHED"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


async def test_rotate_prints_the_new_kid_which_services_then_sign_with(
    db: Database, tmp_path: Path
) -> None:
    config, secret = write_config(tmp_path, db.url)
    service = TokenService(
        db, wrap_key=derive(secret, Purpose.WRAP), issuer=ISSUER, audience=AUDIENCE, lifetime=900
    )
    before = await service.issue_access(subject="u", session_id="s", principal_kind="user")
    old_kid = split(before.token)[0]["kid"]

    rotated = await invoke(config, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    new_kid = rotated.stdout.strip()
    assert new_kid and new_kid != old_kid
    assert f"stays published for {publication_window(900)} s" in flat(rotated.stderr)

    # A node starting now signs with the new key; the old token keeps verifying.
    other_node = TokenService(
        db, wrap_key=derive(secret, Purpose.WRAP), issuer=ISSUER, audience=AUDIENCE, lifetime=900
    )
    after = await other_node.issue_access(subject="u", session_id="s", principal_kind="user")
    assert (await other_node.verify_access(after.token)).kid == new_kid
    assert (await other_node.verify_access(before.token)).kid == old_kid

    shown = await invoke(config, "keys", "list")
    assert shown.exit_code == 0, shown.output
    rows = listed(shown)
    assert list(rows) == [new_kid, old_kid]
    assert rows[new_kid][1:] == ["-", "yes"]
    assert rows[old_kid][1] != "-" and rows[old_kid][2] == "yes"


async def test_list_on_an_empty_table_prints_only_the_heading(db: Database, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, db.url)
    shown = await invoke(config, "keys", "list")
    assert shown.exit_code == 0, shown.output
    assert listed(shown) == {}


async def test_rotate_under_another_secret_is_refused_readably(
    db: Database, tmp_path: Path
) -> None:
    config, _ = write_config(tmp_path, db.url)
    assert (await invoke(config, "keys", "rotate")).exit_code == 0
    config, _ = write_config(tmp_path, db.url)  # a fresh secret, as on a misconfigured host
    refused = await invoke(config, "keys", "rotate")
    assert refused.exit_code == 2
    expected = "secret_key differs from the one that wrapped the active signing key"
    assert expected in flat(refused.stderr)
    assert "Traceback" not in refused.output


async def test_rotate_refuses_a_weak_secret_in_production(db: Database, tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, db.url, secret_key="changeme")
    refused = await invoke(config, "keys", "rotate")
    assert refused.exit_code == 2
    assert "well-known default value" in flat(refused.stderr)


async def test_an_unmigrated_database_is_one_readable_line(tmp_path: Path) -> None:
    config, _ = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    for command in ("list", "rotate"):
        refused = await invoke(config, "keys", command)
        assert refused.exit_code == 2
        assert "lensguard db upgrade" in flat(refused.stderr)
        assert "Traceback" not in refused.output and "SELECT" not in refused.output
