"""Periodic signed checkpoints, exported where an attacker on this host cannot reach.

Every ``interval`` seconds (when the chain moved) the head is signed; the exported
checkpoint is appended to a file and emitted as a security event, so the SIEM
forwarder, syslog and webhook sinks carry it off the machine. Deleting the tail of
the log is then detectable against any copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from lensguard.audit.checkpoint import export_checkpoint
from lensguard.audit.log import AuditLog
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.private import DIR_MODE, open_private
from lensguard.store.db import Database

log = get_logger("lensguard.audit")


class Checkpointer:
    """A background task signing and exporting the head every ``interval`` seconds."""

    def __init__(
        self,
        audit: AuditLog,
        db: Database,
        *,
        interval: float,
        export_file: Path | None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.audit = audit
        self.db = db
        self.interval = interval
        self.export_file = export_file
        self._sleep = sleep
        self._last_seq: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, object] | None:
        """Sign and export the head if it moved since the last run; the exported document."""
        async with self.db.transaction() as session:
            checkpoint = await self.audit.checkpoint(session)
        if checkpoint.seq in (0, self._last_seq):
            return None
        self._last_seq = checkpoint.seq
        document = export_checkpoint(checkpoint, self.audit.checkpoint_public_key)
        if self.export_file is not None:
            await asyncio.to_thread(self._append, document)
        # As one JSON string: log masking treats a "signature" field as secret, and this
        # signature is the one thing a copy elsewhere must keep.
        emit("audit.checkpoint", checkpoint=json.dumps(document, sort_keys=True))
        return document

    def _append(self, document: dict[str, object]) -> None:
        if self.export_file is None:
            return
        # Made owner-only; an existing file keeps its mode: outside var_dir an operator
        # may have opened it to a log shipper on purpose (var_dir's is narrowed at start).
        self.export_file.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        with open_private(self.export_file, "a", tighten=False) as fh:
            fh.write(json.dumps(document, sort_keys=True) + "\n")
            fh.flush()

    async def _loop(self) -> None:
        while True:
            await self._sleep(self.interval)
            try:
                await self.run_once()
            except Exception as exc:  # a missed checkpoint is retried next interval
                log.warning("audit_checkpoint_failed", error=type(exc).__name__)

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
