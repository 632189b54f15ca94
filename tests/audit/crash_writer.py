"""Append audited entries until killed; print each seq only after its commit.

Run as ``python -m tests.audit.crash_writer URL WORKERS``; the audit master secret
comes from ``AUDIT_MASTER`` (never argv, which other users can read).
"""

from __future__ import annotations

import asyncio
import os
import sys

from lensguard.audit.entry import AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.store.db import Database


async def worker(db: Database, log: AuditLog, number: int) -> None:
    i = 0
    while True:
        i += 1
        event = AuditEvent(
            action="stream.view_start",
            outcome="success",
            actor_type="device",
            actor_id=f"worker-{number}",
            actor_name=f"worker {number}",
            details={"i": i},
        )
        async with db.transaction() as session:
            seq = await log.append(session, event)
        # Only now is the entry durable: this line is the acknowledgement.
        sys.stdout.write(f"{seq}\n")
        sys.stdout.flush()


async def main(url: str, workers: int) -> None:
    db = Database(url)
    log = AuditLog.from_secret(os.environ["AUDIT_MASTER"], checkpoint_every=25)
    await asyncio.gather(*(worker(db, log, n) for n in range(workers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
