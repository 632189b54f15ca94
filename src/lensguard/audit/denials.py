"""``DenialRecorder``: refusals in the audit chain, repeats coalesced so a flood stays small.

The first refusal of a key (who, what they asked for, on what, why) in a window is
written at once, so one refusal is never lost. Repeats inside the window are only
counted; when the window closes (the periodic flush, an early flush when the table of
keys is full, or shutdown) one more entry says how many repeats there were and when
the first and last came. Each node coalesces its own refusals: in cluster mode a flood
spread over N nodes leaves up to N such pairs of entries per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lensguard.access.principal import Principal, Resource
from lensguard.audit.chain import canonical_details
from lensguard.audit.entry import LIMITS, AuditEvent
from lensguard.audit.log import AuditLog
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.db import Database

ACCESS_DENIED = "access.denied"
"""Entry action of a known principal refused by the policy."""
AUTH_REJECTED = "auth.rejected"
"""Entry action of a credential that was missing, invalid, expired or revoked."""
REASON_CHARS = 200

Key = tuple[str | None, ...]


def _fit(value: str | None, limit: int) -> str | None:
    """``value`` as a column can hold it: no NUL, no lone surrogates, at most ``limit``."""
    if value is None:
        return None
    clean = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return clean[:limit]


def denial_event(
    principal: Principal | None,
    action: str,
    resource: Resource | None = None,
    *,
    reason: str,
    address: str | None,
    kind: str | None = None,
    **details: Any,
) -> AuditEvent:
    """The entry for one refusal (``kind``: access.denied, or auth.rejected without a principal).

    Fields may come from the request (a path, a socket message): they are cut to fit
    rather than refused, because a refusal must never fail to be recorded.
    """
    extra = {k: v for k, v in details.items() if v is not None}
    extra["action"] = action
    extra["reason"] = _fit(reason, REASON_CHARS)
    if resource is not None and resource.site is not None:
        extra["site"] = _fit(resource.site, LIMITS["resource_id"])
    if principal is not None and principal.api_key_id is not None:
        extra["api_key_id"] = principal.api_key_id
    return AuditEvent(
        action=kind or (ACCESS_DENIED if principal is not None else AUTH_REJECTED),
        outcome="denied",
        actor_type=principal.kind.value if principal is not None else "anonymous",
        actor_id=_fit(principal.id, LIMITS["actor_id"]) if principal is not None else None,
        actor_name=_fit(principal.name, LIMITS["actor_name"]) if principal is not None else None,
        source_address=_fit(address, LIMITS["source_address"]),
        resource_type=_fit(resource.kind, LIMITS["resource_type"]) if resource else None,
        resource_id=_fit(resource.id, LIMITS["resource_id"]) if resource else None,
        details=extra,
    )


def coalescing_key(event: AuditEvent) -> Key:
    """What repeats share: action, actor (its address when it has no id), resource, details.

    ValueError when the details cannot be stored.
    """
    who = event.actor_id if event.actor_id is not None else event.source_address
    return (
        event.action,
        event.actor_type,
        who,
        event.resource_type,
        event.resource_id,
        canonical_details(event.details),
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


@dataclass
class _Tally:
    event: AuditEvent
    opened: float
    count: int = 0
    first: float = 0.0
    last: float = 0.0


class DenialRecorder:
    """Coalesces refusals per key and window and appends them to the audit log."""

    def __init__(
        self,
        audit: AuditLog,
        db: Database,
        *,
        window: float = 60.0,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if window <= 0:
            raise ValueError("the denial window must be positive")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._audit = audit
        self._db = db
        self.window = window
        self.max_keys = max_keys
        self.max_pending = 2 * max_keys
        self.clock = clock
        """Seconds since the epoch; replaceable, so tests turn it instead of sleeping."""
        self._sleep = sleep
        self._open: dict[Key, _Tally] = {}
        self._pending: list[AuditEvent] = []
        self._dropped = 0
        # note() is synchronous and may one day be reached from a worker thread.
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def keys(self) -> int:
        """How many keys have an open window now."""
        return len(self._open)

    def note(self, event: AuditEvent) -> None:
        """Count one refusal: queued for writing when it opens a window, else tallied."""
        try:
            key = coalescing_key(event)
        except ValueError as exc:
            emit("audit.append_failed", severity=Severity.HIGH, action=event.action, error=str(exc))
            return
        now = self.clock()
        with self._lock:
            tally = self._open.get(key)
            if tally is not None and self._is_open(tally, now):
                if tally.count == 0:
                    tally.first = now
                tally.count += 1
                tally.last = now
                return
            if tally is not None:
                self._close(key)
            elif len(self._open) >= self.max_keys:
                # Full: flush the oldest window early rather than forget what it counted.
                self._close(next(iter(self._open)))
            self._open[key] = _Tally(event, opened=now)
            self._queue(replace(event, details={**event.details, "count": 1}))

    async def record(self, event: AuditEvent) -> None:
        """``note`` and write at once (for callers that may wait, like signaling)."""
        self.note(event)
        await self.write_pending()

    async def flush_due(self) -> None:
        """Close the windows that have run out, then write what waits."""
        now = self.clock()
        with self._lock:
            for key in [k for k, tally in self._open.items() if not self._is_open(tally, now)]:
                self._close(key)
        await self.write_pending()

    async def flush_all(self) -> None:
        """Close every window and write everything (shutdown: nothing counted is lost)."""
        with self._lock:
            for key in list(self._open):
                self._close(key)
        await self.write_pending()

    async def write_pending(self) -> None:
        """Append what waits in one transaction; kept for the next try when that fails."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            async with self._db.transaction() as session:
                await self._audit.append_many(session, batch)
        except BaseException as exc:
            with self._lock:
                self._pending[:0] = batch
                self._trim()
            if not isinstance(exc, Exception):
                raise
            emit(
                "audit.append_failed",
                severity=Severity.HIGH,
                action=ACCESS_DENIED,
                entries=len(batch),
                error=type(exc).__name__,
            )

    def _is_open(self, tally: _Tally, now: float) -> bool:
        # A clock that went backwards closes the window rather than stretching it.
        return 0 <= now - tally.opened < self.window

    def _close(self, key: Key) -> None:
        """End one window; its repeats, if any, become one entry."""
        tally = self._open.pop(key)
        if tally.count == 0:
            return
        details = {
            **tally.event.details,
            "count": tally.count,
            "first_at": _iso(tally.first),
            "last_at": _iso(tally.last),
            "window_seconds": self.window,
        }
        self._queue(replace(tally.event, details=details))

    def _queue(self, event: AuditEvent) -> None:
        self._pending.append(event)
        self._trim()

    def _trim(self) -> None:
        # Only while the database refuses writes can this grow; keep the newest.
        excess = len(self._pending) - self.max_pending
        if excess > 0:
            del self._pending[:excess]
            self._dropped += excess
            emit("audit.denials_dropped", severity=Severity.HIGH, entries=self._dropped)

    async def _loop(self) -> None:
        while True:
            await self._sleep(self.window / 4)
            await self.flush_due()

    def start(self) -> None:
        """Start the periodic flush (called by the app's lifespan)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the periodic flush and write every open window."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush_all()
