"""Retention inside the app: its lifespan runs the job on the app's clock, and a hold
placed through the API keeps a segment the job would otherwise remove."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lensguard.clock import ManualClock
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings.quota import HIGH_EVENT
from lensguard.recordings.schedule import RetentionSchedule
from lensguard.recordings.sink import Segment
from lensguard.recordings.verify import verify_recording
from lensguard.services import Services
from tests.api.conftest import bearer, build_api
from tests.api.test_streams import device
from tests.recordings.retention_support import rows_of, webm


def segment(start: Any, i: int) -> Segment:
    return Segment(
        start=start,
        end=start + timedelta(seconds=4),
        data=webm(),
        start_ms=i * 4000,
        end_ms=(i + 1) * 4000,
        keyframes=(i * 4000,),
        frames=6,
        width=160,
        height=120,
        after_gap=True,
    )


async def test_the_lifespan_runs_retention_and_the_quota_on_the_apps_clock(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> None:
    settings = make_settings(
        database={"url": db_url},
        limits={"requests_per_minute": 100_000},
        recordings={"retention": {"interval_seconds": 3600, "quota_gb": 1e-5}},  # ~10 KiB
    )
    async for api in build_api(settings, clock=manual_clock):
        services: Services = api.app.state.services
        seen: list[SecurityEvent] = []
        services.events.subscribe(seen.append)
        admin = await api.token_for("root", "admin")
        device_id = await device(api, admin, "dock")
        sink = services.recordings.sink(device_id)
        first = manual_clock.now() - timedelta(days=100)
        starts = [first + timedelta(minutes=i) for i in range(4)]
        for i, start in enumerate(starts):
            await sink.segment(segment(start, i))
        await sink.close()
        held = await api.http.post(
            f"/api/v1/devices/{device_id}/holds",
            headers=bearer(admin),
            json={
                "reason": "case 2026-200: keep the second minute",
                "start": (starts[1] + timedelta(seconds=1)).isoformat(),
                "end": (starts[1] + timedelta(seconds=2)).isoformat(),
            },
        )
        assert held.status_code == 201, held.text

        schedule = api.app.state.retention
        assert isinstance(schedule, RetentionSchedule)
        await manual_clock.advance(3600)
        await schedule.until_turns(1)
        turn = schedule.turns[-1]
        assert turn.retention is not None and turn.retention.segments == 3
        assert turn.retention.held.segments == 1
        rows = await rows_of(services.db, sink.recording_id)
        assert [r.seq for r in rows] == [1]
        async with services.db.sessions() as session:
            report = await verify_recording(session, services.recordings.store, sink.recording_id)
        assert report.ok, report.problems
        # The quota (about 10 KiB) is not reached by one segment: no alert yet.
        assert turn.quota is not None and not turn.quota.alerted
        assert [e.type for e in seen if e.type == HIGH_EVENT] == []

        # Nine recent segments more take the node over its quota: one alert, and the
        # oldest segment no hold covers is evicted (the held one stays).
        recent = services.recordings.sink(device_id)
        for i in range(9):
            await recent.segment(segment(manual_clock.now() - timedelta(hours=9 - i), i))
        await recent.close()
        await manual_clock.advance(3600)
        await schedule.until_turns(2)
        quota = schedule.turns[-1].quota
        assert quota is not None and quota.alerted
        assert quota.evicted_segments >= 1 and quota.used_after <= quota.quota
        assert [r.seq for r in await rows_of(services.db, sink.recording_id)] == [1]
        kept = await rows_of(services.db, recent.recording_id)
        assert kept[0].seq == quota.evicted_segments
        (alert,) = [e for e in seen if e.type == HIGH_EVENT]
        assert alert.fields["quota_bytes"] == quota.quota
