"""An unacknowledged critical incident texts the level's own numbers through the SMS sink."""

from __future__ import annotations

from pathlib import Path

from lensguard.clock import ManualClock
from lensguard.incidents.book import SYSTEM, IncidentBook
from lensguard.incidents.escalation import Escalator
from lensguard.incidents.playbook import load_all
from lensguard.incidents.settings import EscalationLevel
from lensguard.monitor.alerts.config import AlertsSettings
from lensguard.monitor.alerts.runtime import build_alerts
from lensguard.monitor.events import bound
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity
from lensguard.store.db import Database
from tests.audit.support import make_log
from tests.monitor.receivers import HttpReceiver

ON_CALL = "+447700900123"
LEAD = "+14155550199"


async def test_each_level_is_texted_once_to_its_numbers(
    tmp_path: Path, sqlite_url: str, manual_clock: ManualClock
) -> None:
    db = Database(sqlite_url)
    book = IncidentBook(db, make_log(), load_all())
    levels = [
        EscalationLevel(after_minutes=15, name="on-call"),
        EscalationLevel(after_minutes=60, name="security-lead"),
    ]
    escalator = Escalator(book, levels, clock=manual_clock, every_seconds=30)
    async with HttpReceiver() as gateway:
        sms = {
            "url": gateway.url,
            "recipients": [ON_CALL],
            "escalation": {"security-lead": [LEAD]},
            "template": {"to": "$to", "message": "$text"},
            "auth": "bearer",
            "secret": "gateway-token-1",
            "allow_private": True,
            "min_severity": "critical",
        }
        config = AlertsSettings.model_validate({"sms": sms})
        alerts = build_alerts(config, var_dir=tmp_path, threshold=Severity.HIGH, dev=True)
        publisher = EventPublisher()
        await alerts.start(publisher)
        try:
            with bound(publisher):
                await book.open(
                    kind="ransomware",
                    title="segments encrypted on node 2",
                    severity=Severity.CRITICAL,
                    at=manual_clock.now(),
                    actor=SYSTEM,
                )
                await manual_clock.advance(15 * 60)
                await escalator.run_once()
                await gateway.wait_for_requests(1)
                await manual_clock.advance(45 * 60)
                await escalator.run_once()
                await escalator.run_once()
                await gateway.wait_for_requests(2)
                assert alerts.dispatcher is not None
                await alerts.dispatcher.drain()
        finally:
            await alerts.stop()
            await db.dispose()
    sent = [(r.json()["to"], r.json()["message"]) for r in gateway.requests]
    assert [to for to, _ in sent] == [ON_CALL, LEAD]
    assert all(m.startswith("[critical] incident.escalated") for _, m in sent)
    assert "security-lead" in sent[1][1]
