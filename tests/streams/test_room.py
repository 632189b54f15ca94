"""The streams room: stream policy and break-glass applied, audited, announced, observed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.audit.models import AuditEntry
from lensguard.bus.channels import OVERRIDES, STREAM_CONFIG
from lensguard.clock import ManualClock
from lensguard.errors import Conflict, NotFound, ValidationFailed
from lensguard.identity import accounts
from lensguard.services import Services
from lensguard.store.devices import create_device
from lensguard.streams.changes import StreamChange
from lensguard.streams.room import SiteRules, StreamConfig, StreamsRoom

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
async def services(make_settings: Any, sqlite_url: str) -> AsyncIterator[Services]:
    built = Services.build(make_settings(database={"url": sqlite_url}), clock=ManualClock())
    await built.streams.start()
    try:
        yield built
    finally:
        await built.close()


async def user(services: Services, name: str) -> Principal:
    row = await accounts.create_account(
        services,
        username=name,
        password=PASSWORD,
        role="investigator",
        sites=["*"],
        devices=["*"],
        by=None,
    )
    return Principal(
        kind=PrincipalKind.USER,
        id=row.id,
        name=name,
        role="investigator",
        permissions=services.policy.grants("investigator"),
    )


async def device(services: Services, site: str = "yard") -> str:
    async with services.db.transaction() as session:
        return (
            await create_device(session, name="cam", site=site, kind="camera", capabilities=[])
        ).id


async def actions(services: Services) -> list[str]:
    async with services.db.sessions() as session:
        return list(
            (await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars()
        )


class Seen:
    """An observer that collects changes and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.changes: list[StreamChange] = []
        self._arrived = asyncio.Condition()
        self._loop = asyncio.get_running_loop()

    def __call__(self, change: StreamChange) -> None:
        self.changes.append(change)
        self._loop.create_task(self._wake())

    async def _wake(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    async def wait_for(self, count: int) -> list[StreamChange]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.changes) >= count), 5)
        return self.changes


async def heard(subscription: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    iterator = aiter(subscription)
    for _ in range(count):
        found.append(await asyncio.wait_for(anext(iterator), 5))
    return found


async def test_a_change_is_audited_announced_and_observed(services: Services) -> None:
    room: StreamsRoom = services.streams
    ada = await user(services, "ada")
    cam = await device(services)
    seen = Seen()
    room.observe(seen)
    bus = await services.bus.subscribe(STREAM_CONFIG, f"device:{cam}")
    try:
        changed = await room.configure(
            cam, StreamConfig(redact_faces=True, bitrate=800_000), by=ada, address="127.0.0.1"
        )
        messages = await heard(bus, 2)
    finally:
        await bus.close()
    assert changed.policy is not None
    assert (changed.policy.redact_faces, changed.policy.redaction_from) == (True, "device")
    assert changed.config.bitrate == 800_000
    assert messages[0] == {"device_id": cam}
    assert messages[1]["type"] == "settings"
    assert await seen.wait_for(1) == [StreamChange("stream", device_id=cam)]
    assert await actions(services) == ["user.create", "stream.configure"]


async def test_unknown_processors_change_nothing(services: Services) -> None:
    ada = await user(services, "ada")
    cam = await device(services)
    with pytest.raises(ValidationFailed) as raised:
        await services.streams.configure(
            cam, StreamConfig(ai_models=["mind_reader"]), by=ada, address=None
        )
    assert raised.value.detail.startswith("ai_models must be among: ")
    assert "mind_reader" not in raised.value.detail
    assert await services.streams.settings(cam) is None


async def test_a_site_floor_redacts_every_device_and_a_broken_observer_is_skipped(
    services: Services,
) -> None:
    ada = await user(services, "ada")
    cam = await device(services, site="yard")
    seen = Seen()

    def broken(change: StreamChange) -> None:
        raise RuntimeError("observer bug")

    services.streams.observe(broken)
    services.streams.observe(seen)
    found = await services.streams.configure_site(
        "yard", SiteRules(redact_faces=True), by=ada, address=None
    )
    assert (found.devices, found.rules.redact_faces) == (1, True)
    policy = await services.streams.policy(cam)
    assert policy is not None and policy.redaction_from == "site"
    assert await seen.wait_for(1) == [StreamChange("site", site="yard")]


async def test_break_glass_needs_a_redacted_stream(services: Services) -> None:
    ada = await user(services, "ada")
    cam = await device(services)
    with pytest.raises(Conflict):
        await services.streams.grant(
            cam, by=ada, reason="looking for the intruder", minutes=5, address=None
        )


async def test_a_grant_expires_on_the_app_clock(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    ada = await user(services, "ada")
    cam = await device(services)
    await services.streams.configure(cam, StreamConfig(redact_faces=True), by=ada, address=None)
    grant = await services.streams.grant(
        cam, by=ada, reason="looking for the intruder", minutes=5, address="127.0.0.1"
    )
    assert grant.granted_at == clock.now()
    assert (grant.expires_at - grant.granted_at).total_seconds() == 300
    assert [g.id for g in await services.streams.open_grants(cam, ada.id)] == [grant.id]
    assert (await services.streams.active_grant(ada.id, cam)) is not None
    await clock.advance(301)
    assert await services.streams.open_grants(cam, ada.id) == []
    assert await services.streams.active_grant(ada.id, cam) is None


async def test_ending_a_grant_is_audited_once_and_announced(services: Services) -> None:
    ada = await user(services, "ada")
    bob = await user(services, "bob")
    cam = await device(services)
    await services.streams.configure(cam, StreamConfig(redact_faces=True), by=ada, address=None)
    grant = await services.streams.grant(
        cam, by=ada, reason="looking for the intruder", minutes=5, address=None
    )
    with pytest.raises(NotFound):
        await services.streams.end_grant(cam, grant.id, by=bob, address=None)
    bus = await services.bus.subscribe(OVERRIDES)
    try:
        await services.streams.end_grant(cam, grant.id, by=ada, address=None)
        await services.streams.end_grant(cam, grant.id, by=ada, address=None)
        messages = await heard(bus, 2)
    finally:
        await bus.close()
    assert messages == [{"device_id": cam, "grant_id": grant.id, "reason": "ended"}] * 2
    assert await services.streams.open_grants(cam, ada.id) == []
    ended = [a for a in await actions(services) if a.startswith("redaction.")]
    assert ended == ["redaction.override.grant", "redaction.override.end"]


async def test_observers_on_another_node_hear_the_change(services: Services) -> None:
    # A second node: its own room over the same database and bus.
    other = StreamsRoom(services.db, services.audit, services.bus, services.clock)
    await other.start()
    try:
        seen = Seen()
        other.observe(seen)
        ada = await user(services, "ada")
        cam = await device(services)
        await services.streams.configure(cam, StreamConfig(redact_faces=True), by=ada, address=None)
        grant = await services.streams.grant(
            cam, by=ada, reason="looking for the intruder", minutes=5, address=None
        )
        await services.streams.end_grant(cam, grant.id, by=ada, address=None)
        assert await seen.wait_for(2) == [
            StreamChange("stream", device_id=cam),
            StreamChange("grant_ended", device_id=cam, grant_id=grant.id),
        ]
    finally:
        await other.stop()
