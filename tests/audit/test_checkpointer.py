"""Periodic checkpoints are signed, exported to a file and emitted as security events."""

import io
import json
from pathlib import Path

from lensguard.audit import AuditEvent, AuditLog, verify_checkpoint_signature
from lensguard.audit.checkpointer import Checkpointer
from lensguard.logs import configure_logging
from lensguard.store.db import Database
from tests.harness.server import strong_secret


async def test_checkpoint_is_exported_once_per_head(db: Database, tmp_path: Path) -> None:
    audit = AuditLog.from_secret(strong_secret())
    out = tmp_path / "exports" / "checkpoints.jsonl"
    checkpointer = Checkpointer(audit, db, interval=0, export_file=out)
    assert await checkpointer.run_once() is None  # nothing to sign yet
    async with db.transaction() as session:
        for i in range(3):
            await audit.append(
                session,
                AuditEvent(
                    action="test.entry", outcome="success", actor_type="system", details={"i": i}
                ),
            )
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        document = await checkpointer.run_once()
        assert await checkpointer.run_once() is None  # the head did not move
    finally:
        configure_logging("WARNING", stream=io.StringIO())
    assert document is not None and document["seq"] == 3
    lines = out.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [3]
    assert verify_checkpoint_signature(json.loads(lines[0]), audit.checkpoint_public_key)
    events = [json.loads(x) for x in stream.getvalue().splitlines() if x.startswith("{")]
    emitted = [e for e in events if e.get("event") == "audit.checkpoint"]
    assert emitted and json.loads(emitted[0]["checkpoint"]) == document
