"""``lensguard admin create``: folded names, and a password to be changed at first sign-in."""

from pathlib import Path

import pytest

from lensguard.store.db import Database
from lensguard.store.users import get_user_by_username
from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


async def test_cli_created_account_is_folded_and_must_change_its_password(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    created = lensguard(
        tmp_path, "admin", "create", "Ada", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert created.returncode == 0, created.stderr
    assert "created admin 'ada'" in created.stdout
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'lensguard.db'}")
    try:
        async with database.sessions() as session:
            user = await get_user_by_username(session, username="ADA")
        assert user is not None and user.username == "ada"
        assert user.must_change_password is True
    finally:
        await database.dispose()
    lookalike = lensguard(
        tmp_path, "admin", "create", "\u0430da", "--password-stdin", stdin="a-long-passphrase-42\n"
    )
    assert lookalike.returncode == 2
    assert "usernames are ASCII letters" in lookalike.stderr
