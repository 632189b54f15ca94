import pytest

from lensguard.errors import Conflict
from lensguard.store.db import Database
from lensguard.store.users import (
    count_users,
    create_user,
    get_user,
    get_user_by_username,
    list_users,
)


async def test_create_and_read_back(db: Database) -> None:
    async with db.transaction() as session:
        user = await create_user(session, username="ada", password_hash="h", role="operator")
    async with db.transaction() as session:
        by_id = await get_user(session, user_id=user.id)
        by_name = await get_user_by_username(session, username="ada")
    assert by_id is not None and by_name is not None
    assert by_id.id == by_name.id == user.id
    assert by_name.role == "operator"
    assert by_name.disabled is False
    assert by_name.created_at.tzinfo is not None


async def test_duplicate_username_is_a_conflict_and_keeps_the_transaction(db: Database) -> None:
    async with db.transaction() as session:
        await create_user(session, username="ada", password_hash="h", role="viewer")
    async with db.transaction() as session:
        with pytest.raises(Conflict, match=r"^a user with this username already exists$"):
            await create_user(session, username="ada", password_hash="h2", role="admin")
        # The savepoint rolled back only the failed insert.
        await create_user(session, username="grace", password_hash="h", role="viewer")
    async with db.transaction() as session:
        assert await count_users(session) == 2
        names = [u.username for u in await list_users(session)]
    assert names == ["ada", "grace"]


async def test_rollback_on_error_keeps_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await create_user(session, username="tmp", password_hash="h", role="viewer")
            raise RuntimeError("boom")
    async with db.transaction() as session:
        assert await get_user_by_username(session, username="tmp") is None


async def test_query_values_are_parameters_not_sql(db: Database) -> None:
    hostile = "x' or '1'='1"  # lower case: names are stored folded
    async with db.transaction() as session:
        await create_user(session, username="ada", password_hash="h", role="viewer")
        assert await get_user_by_username(session, username=hostile) is None
        await create_user(session, username=hostile, password_hash="h", role="viewer")
        found = await get_user_by_username(session, username=hostile)
    assert found is not None and found.username == hostile


async def test_list_pagination(db: Database) -> None:
    async with db.transaction() as session:
        for i in range(5):
            await create_user(session, username=f"user{i}", password_hash="h", role="viewer")
    async with db.transaction() as session:
        page = await list_users(session, limit=2, offset=2)
    assert [u.username for u in page] == ["user2", "user3"]


async def test_ping(db: Database) -> None:
    await db.ping()
