"""Refusals over HTTP reach the audit chain: the first at once, repeats as one counted entry.

The app's ``DenialRecorder`` clock is turned by hand (``services.denials.clock``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import select

from lensguard.audit import AuditRow
from lensguard.audit.models import AuditEntry
from lensguard.audit.query import to_row
from lensguard.clock import ManualClock
from lensguard.identity.tokens import LEEWAY
from lensguard.services import Services
from lensguard.store.db import Database
from tests.api.conftest import Api, bearer, build_api

ADDRESS = "198.51.100.10"
"""The harness's client address (tests/api/conftest.py)."""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def services_of(api: Api) -> Services:
    services: Services = api.app.state.services
    return services


def turn_clock(api: Api) -> Clock:
    """Give the app's recorder a clock the test sets."""
    clock = Clock(1_700_000_000.0)
    services_of(api).denials.clock = clock
    return clock


async def stored(api: Api, action: str) -> list[AuditRow]:
    """Entries of ``action`` as the database holds them now."""
    async with services_of(api).db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        entries = list(rows.scalars())
        opener = services_of(api).audit.opener()
        assert opener is not None
        await opener.load_entries(session, entries)
        return [to_row(row, opener) for row in entries]


async def listed(api: Api, token: str, action: str) -> list[dict[str, Any]]:
    page = await api.http.get(f"/api/v1/audit?action={action}&limit=500", headers=bearer(token))
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def assert_chain_verifies(api: Api, token: str) -> None:
    verified = (await api.http.get("/api/v1/audit/verify", headers=bearer(token))).json()
    assert verified["ok"] is True, verified


async def test_forbidden_route_is_one_entry_at_once_then_one_counted_entry(api: Api) -> None:
    clock = turn_clock(api)
    window = services_of(api).denials.window
    admin = await api.token_for("root", "admin")
    viewer_id = await api.add_user("vic", "viewer")
    viewer = (await api.login("vic"))["access_token"]
    refusals = 25

    first = await api.http.get("/api/v1/users", headers=bearer(viewer))
    assert first.status_code == 403
    # Written by the time the response is out, not by the periodic flush.
    [entry] = await stored(api, "access.denied")
    assert (entry.outcome, entry.actor_type, entry.actor_id) == ("denied", "user", viewer_id)
    assert (entry.actor_name, entry.source_address) == ("vic", ADDRESS)
    assert entry.details["action"] == "user_management"
    assert entry.details["count"] == 1
    assert "user_management" in entry.details["reason"]

    for _ in range(refusals - 1):
        clock.now += 0.25
        again = await api.http.get("/api/v1/users", headers=bearer(viewer))
        assert again.status_code == 403
    assert len(await stored(api, "access.denied")) == 1

    clock.now += window
    await services_of(api).denials.flush_due()
    denied = await listed(api, admin, "access.denied")
    assert [e["details"]["count"] for e in denied] == [1, refusals - 1]
    summary = denied[1]
    assert (summary["actor_id"], summary["source_address"]) == (viewer_id, ADDRESS)
    assert summary["details"]["action"] == "user_management"
    assert summary["details"]["window_seconds"] == window
    assert summary["details"]["first_at"] < summary["details"]["last_at"]
    await assert_chain_verifies(api, admin)


async def test_out_of_scope_device_is_a_denial_though_it_reads_as_absent(api: Api) -> None:
    turn_clock(api)
    admin = await api.token_for("root", "admin")
    created = await api.http.post(
        "/api/v1/devices",
        headers=bearer(admin),
        json={"name": "far-cam", "site": "site-b", "kind": "camera", "capabilities": ["video"]},
    )
    assert created.status_code == 201, created.text
    device_id = created.json()["device"]["id"]
    viewer = await api.token_for("ada", "viewer", sites=["site-a"])
    hidden = await api.http.get(f"/api/v1/devices/{device_id}", headers=bearer(viewer))
    assert hidden.status_code == 404
    [entry] = await stored(api, "access.denied")
    assert (entry.actor_name, entry.resource_type, entry.resource_id) == (
        "ada",
        "device",
        device_id,
    )
    assert entry.details["site"] == "site-b" and entry.details["action"] == "camera_view"
    await assert_chain_verifies(api, admin)


def forge(token: str) -> str:
    """The same token claiming the admin role, its signature left as it was."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    raw = json.dumps(claims, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_rejected_tokens_are_recorded_by_address_without_an_actor(api: Api) -> None:
    clock = turn_clock(api)
    admin = await api.token_for("root", "admin")
    viewer = await api.token_for("vic", "viewer")
    for credential in (forge(viewer), "eyJhbGciOiJub25lIn0.e30."):
        answer = await api.http.get("/api/v1/users/me", headers=bearer(credential))
        assert answer.status_code == 401
    rejected = await stored(api, "auth.rejected")
    # Keyed by address and reason: two kinds of bad token, two entries.
    assert [e.details["reason"] for e in rejected] == ["bad signature", "algorithm not allowed"]
    for entry in rejected:
        assert (entry.outcome, entry.actor_type) == ("denied", "anonymous")
        assert (entry.actor_id, entry.actor_name) == (None, None)
        assert entry.source_address == ADDRESS
        assert entry.details["action"] == "authenticate" and entry.details["count"] == 1
    # A forged token says nothing about whom it names: no entry carries the viewer.
    assert all("vic" not in json.dumps(e.details) for e in rejected)

    # A flood of the same forgery is counted, not written again.
    before = len(rejected)
    for _ in range(10):
        await api.http.get("/api/v1/users/me", headers=bearer(forge(viewer)))
    assert len(await stored(api, "auth.rejected")) == before
    clock.now += services_of(api).denials.window
    await services_of(api).denials.flush_due()
    after = await stored(api, "auth.rejected")
    assert [(e.details["reason"], e.details["count"]) for e in after[before:]] == [
        ("bad signature", 10)
    ]
    await assert_chain_verifies(api, admin)


async def test_shutdown_writes_the_open_windows(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async for api in build_api(settings):
        turn_clock(api)
        viewer = await api.token_for("vic", "viewer")
        for _ in range(7):
            assert (await api.http.get("/api/v1/users", headers=bearer(viewer))).status_code == 403
        assert len(await stored(api, "access.denied")) == 1
    # The app is gone; its lifespan closed the window still open.
    db = Database(sqlite_url)
    try:
        async with db.sessions() as session:
            rows = await session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "access.denied")
                .order_by(AuditEntry.seq)
            )
            counts = [to_row(row).details["count"] for row in rows.scalars()]
    finally:
        await db.dispose()
    assert counts == [1, 6]


async def test_an_expired_token_is_recorded_as_expired(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = make_settings(database={"url": sqlite_url})
    async for api in build_api(settings, clock=manual_clock):
        viewer = await api.token_for("vic", "viewer")
        assert (await api.http.get("/api/v1/users/me", headers=bearer(viewer))).status_code == 200
        await manual_clock.advance(settings.security.authentication.token_expiry + LEEWAY)
        answer = await api.http.get("/api/v1/users/me", headers=bearer(viewer))
        assert answer.status_code == 401
        [entry] = await stored(api, "auth.rejected")
        assert entry.details["reason"] == "expired" and entry.details["count"] == 1
        assert (entry.outcome, entry.actor_type, entry.source_address) == (
            "denied",
            "anonymous",
            ADDRESS,
        )
        # An expired token still names nobody on the record.
        assert "vic" not in json.dumps(entry.details)
