"""Prune one entry per batch until killed; print the count after each committed batch.

Run as ``python -m tests.audit.prune_runner URL``; the audit master secret comes from
``AUDIT_MASTER`` (never argv, which other users can read).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta

from lensguard.audit.log import AuditLog
from lensguard.audit.prune import prune
from lensguard.store.db import Database


async def main(url: str) -> None:
    db = Database(url)
    log = AuditLog.from_secret(os.environ["AUDIT_MASTER"])

    async def committed(done: int) -> None:
        # The batch is committed: this line is the acknowledgement.
        sys.stdout.write(f"{done}\n")
        sys.stdout.flush()

    now = datetime.now(UTC)
    await prune(db, log, before=now - timedelta(days=180), now=now, batch=1, on_batch=committed)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
