"""The server's data-retention job: inactive accounts disabled, the review reminder."""

from __future__ import annotations

import asyncio
from typing import Any

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.privacy.retention import RetentionLoop
from tests.api.conftest import bearer, build_api

DAY = 86_400.0


async def test_inactive_accounts_are_disabled_but_never_the_last_admin(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        audit={"denial_window_seconds": 3_600},
        privacy={
            "retention": {
                "inactive_account_days": 30,
                "inactive_action": "disable",
                "interval_seconds": DAY,
            }
        },
        recordings={"retention": {"enabled": False}},
    )
    async for api in build_api(settings, clock=manual_clock):
        seen: list[SecurityEvent] = []
        api.identity.events.subscribe(seen.append, name="test")
        await api.token_for("root", "admin")
        await api.token_for("vera", "viewer")
        loop: RetentionLoop = api.app.state.data_retention

        async def turned(runs: int, loop: RetentionLoop = loop) -> None:
            while loop.runs < runs:
                await asyncio.sleep(0.01)

        for day in range(1, 32):  # a turn a day; each waits for its database work
            await manual_clock.advance(DAY)
            await asyncio.wait_for(turned(day), timeout=10)
        assert loop.failures == 0
        report = await loop.job.run()  # a second run the same day: nothing new to do
        assert report.inactive_accounts == ["root"]  # vera was disabled by the first run
        assert report.disabled_accounts == []
        root = (await api.login("root"))["access_token"]
        listed = await api.http.get("/api/v1/users", headers=bearer(root))
        by_name = {u["username"]: u for u in listed.json()}
        assert by_name["vera"]["disabled"] is True and by_name["root"]["disabled"] is False

        types = [e.type for e in seen]
        # One reminder a day while no review was ever held; the second run today adds none.
        assert types.count("compliance.access_review_due") == 31
        assert "privacy.accounts_inactive" in types
        trail = await api.http.get(
            "/api/v1/audit?action=privacy.retention_run", headers=bearer(root)
        )
        (run,) = trail.json()["items"]
        assert run["details"]["disabled_accounts"] == ["vera"]
