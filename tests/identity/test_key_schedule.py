"""Scheduled signing-key rotation on the app's clock: monthly, once across nodes, audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import jwt
import pytest
from sqlalchemy import select, text

from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.identity.key_schedule import KeyRotationLoop
from lensguard.monitor.event import SecurityEvent
from lensguard.store.models import SigningKey
from tests.api.conftest import Api, bearer, build_api

DAY = 86_400.0


def settings_for(make_settings: Any, url: str, **auth: Any) -> Any:
    return make_settings(
        database={"url": url},
        limits={"requests_per_minute": 100_000},
        security={
            "authentication": {
                "signing_key_rotation_days": 30,
                "signing_key_check_seconds": 86_400,
                **auth,
            }
        },
        recordings={"retention": {"enabled": False}},
        privacy={"retention": {"enabled": False}},
        # The clock moves days: every other schedule's turn on the way would run too.
        audit={"denial_window_seconds": 3_600, "checkpoint_seconds": 86_400},
        incidents={"escalation_check_seconds": 3_600},
    )


async def checked(loop: KeyRotationLoop, checks: int) -> None:
    async def wait() -> None:
        while loop.checks < checks:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout=10)


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


@pytest.fixture
async def two_nodes(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[tuple[Api, Api]]:
    async with AsyncExitStack() as stack:
        nodes = []
        # One secret, as nodes share it; three days stand in for the monthly default.
        settings = settings_for(make_settings, db_url, signing_key_rotation_days=3)
        for _ in range(2):
            apps = build_api(settings, clock=manual_clock)
            nodes.append(await stack.enter_async_context(_entered(apps)))
        yield nodes[0], nodes[1]


class _entered:
    def __init__(self, apps: AsyncIterator[Api]) -> None:
        self.apps = apps

    async def __aenter__(self) -> Api:
        return await anext(self.apps)

    async def __aexit__(self, *_: object) -> None:
        with pytest.raises(StopAsyncIteration):
            await anext(self.apps)


async def test_the_key_rotates_monthly_once_across_nodes_and_old_tokens_keep_working(
    two_nodes: tuple[Api, Api], manual_clock: ManualClock
) -> None:
    first, second = two_nodes
    seen: list[SecurityEvent] = []
    first.identity.events.subscribe(seen.append, name="test")
    loops: list[KeyRotationLoop] = [node.app.state.key_rotation for node in (first, second)]
    await first.token_for("root", "admin")
    for day in range(1, 3):  # the key is younger than 3 days: nothing happens
        await manual_clock.advance(DAY)
        for loop in loops:
            await checked(loop, day)
    assert sum(loop.rotations for loop in loops) == 0
    # A token signed five minutes before the third check, still valid after it.
    await manual_clock.advance(DAY - 300)
    before = (await first.login("root"))["access_token"]
    await manual_clock.advance(300)
    for loop in loops:
        await checked(loop, 3)
    assert sum(loop.rotations for loop in loops) == 1
    assert sum(loop.failures for loop in loops) == 0
    after = (await second.login("root"))["access_token"]
    assert kid_of(after) != kid_of(before)
    # The retired key stays published: a token it signed still works on both nodes.
    for node in (first, second):
        me = await node.http.get("/api/v1/users/me", headers=bearer(before))
        assert me.status_code == 200, me.text
    async with first.identity.db.sessions() as session:
        keys = (await session.scalars(select(SigningKey).order_by(SigningKey.created_at))).all()
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "keys.rotate"))
        ).all()
    assert [k.retired_at is None for k in keys] == [False, True]
    (entry,) = entries
    assert entry.actor_name == "key-schedule" and entry.resource_id == kid_of(after)
    rotated = [e for e in seen if e.type == "signing_key.rotated"]
    assert len(rotated) <= 1  # emitted on the node that rotated


async def test_a_failed_rotation_raises_an_alert_and_is_tried_again(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = settings_for(make_settings, sqlite_url, signing_key_rotation_days=1)
    async for api in build_api(settings, clock=manual_clock):
        seen: list[SecurityEvent] = []
        api.identity.events.subscribe(seen.append, name="test")
        await api.token_for("root", "admin")
        loop: KeyRotationLoop = api.app.state.key_rotation
        db = api.identity.db
        async with db.transaction() as session:  # the database refuses the rotation
            await session.execute(text("ALTER TABLE signing_keys RENAME TO signing_keys_away"))
        await manual_clock.advance(DAY)
        await checked(loop, 1)
        assert (loop.failures, loop.rotations) == (1, 0)
        (failed,) = [e for e in seen if e.type == "signing_key.rotation_failed"]
        assert failed.severity.name == "HIGH"
        async with db.transaction() as session:
            await session.execute(text("ALTER TABLE signing_keys_away RENAME TO signing_keys"))
        await manual_clock.advance(DAY)
        await checked(loop, 2)
        assert (loop.failures, loop.rotations) == (1, 1)


def test_the_default_is_monthly(make_settings: Any, sqlite_url: str) -> None:
    auth = make_settings(database={"url": sqlite_url}).security.authentication
    assert (auth.signing_key_rotation_days, auth.signing_key_check_seconds) == (30, 3_600)


async def test_rotation_can_be_turned_off(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = settings_for(make_settings, sqlite_url, signing_key_rotation_days=None)
    async for api in build_api(settings, clock=manual_clock):
        assert api.app.state.key_rotation is None
