"""``StreamsRoom``: the one place stream policy and break-glass rules are applied.

Routers and socket handlers authorise, then call the room. Every change it applies
is validated, audited in the same transaction and announced on the bus: relays on
every node swap their processing on the next frame, the publishing device gets its
encoder settings, and every node's room tells its observers (``observe``), which
is where a recorder learns that what viewers see is about to change. Observers
hear what relays hear, from whichever node made the change.

Break-glass grants are rows with an expiry taken from the app's clock; the relay
ends a raw viewing at that expiry on the same clock, or at once when a grant is
ended here (the ``OVERRIDES`` message).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lensguard.access.principal import Principal
from lensguard.audit import AuditLog
from lensguard.bus.base import Bus, Subscription
from lensguard.bus.channels import OVERRIDES, STREAM_CONFIG
from lensguard.bus.follow import follow
from lensguard.clock import Clock
from lensguard.errors import Conflict, NotFound
from lensguard.identity.auditing import audit_event
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.models import RedactionOverride, SitePolicy, StreamSettings
from lensguard.store.streams import (
    DEFAULT_BITRATE,
    StreamPolicy,
    active_override,
    device_settings,
    site_device_ids,
    stream_policy,
)
from lensguard.streams.changes import Observer, Observers, StreamChange
from lensguard.streams.validation import check_models, check_recording, check_resolution

log = get_logger("lensguard.streams")


@dataclass(frozen=True)
class StreamConfig:
    """A device's own stream settings, as a manager sets them."""

    name: str | None = None
    ai_models: list[str] = field(default_factory=list)
    redact_faces: bool = False
    resolution: str | None = None
    bitrate: int = DEFAULT_BITRATE
    recording_mode: str = "off"
    pre_roll_seconds: int | None = None
    post_roll_seconds: int | None = None
    segment_seconds: float | None = None

    @classmethod
    def of(cls, row: StreamSettings | None) -> StreamConfig:
        """The settings a row holds (the defaults when the device has none)."""
        if row is None:
            return cls()
        return cls(
            row.name,
            list(row.ai_models),
            row.redact_faces,
            row.resolution,
            row.bitrate,
            row.recording_mode,
            row.pre_roll_seconds,
            row.post_roll_seconds,
            row.segment_seconds,
        )


@dataclass(frozen=True)
class SiteRules:
    """A site's floor for every device of the site."""

    redact_faces: bool = False
    ai_models: list[str] = field(default_factory=list)
    recording_mode: str = "off"
    pre_roll_seconds: int | None = None
    post_roll_seconds: int | None = None
    segment_seconds: float | None = None
    record_raw: bool = False

    @classmethod
    def of(cls, row: SitePolicy | None) -> SiteRules:
        """The rules a row holds (the defaults when the site has none)."""
        if row is None:
            return cls()
        return cls(
            row.redact_faces,
            list(row.ai_models),
            row.recording_mode,
            row.pre_roll_seconds,
            row.post_roll_seconds,
            row.segment_seconds,
            row.record_raw,
        )


@dataclass(frozen=True)
class DeviceStream:
    """A device's own settings and the effective policy the relay applies."""

    device_id: str
    config: StreamConfig
    policy: StreamPolicy | None


@dataclass(frozen=True)
class SiteStreams:
    """A site's rules and how many devices they cover."""

    site: str
    rules: SiteRules
    devices: int


class StreamsRoom:
    """Stream policy and break-glass for one app: read, change, grant, end, observe."""

    def __init__(self, db: Database, audit: AuditLog, bus: Bus, clock: Clock) -> None:
        self.db = db
        self.audit = audit
        self.bus = bus
        self.clock = clock
        self._observers = Observers()
        self._listener: asyncio.Task[None] | None = None

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` after each change on any node (once started); returns the remover."""
        return self._observers.add(observer)

    async def start(self) -> None:
        """Listen for changes on the bus; changes published after this returns are heard."""
        if self._listener is not None:
            return
        first: Subscription | None
        try:
            first = await self.bus.subscribe(STREAM_CONFIG, OVERRIDES)
        except Exception as exc:  # a node must start with the bus down; ``follow`` retries
            log.warning("stream_changes_unavailable", error=type(exc).__name__)
            first = None
        self._listener = asyncio.create_task(self._listen(first), name="stream changes")

    async def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self, first: Subscription | None) -> None:
        if first is not None:
            try:
                async for message in first:
                    self._heard(message)
            except Exception as exc:
                log.warning("stream_changes_lost", error=type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await first.close()
        # The first subscription ended (or never came): follow renews it with backoff.
        await asyncio.gather(
            follow(self.bus, STREAM_CONFIG, self._hear), follow(self.bus, OVERRIDES, self._hear)
        )

    async def _hear(self, message: dict[str, Any]) -> None:
        self._heard(message)

    def _heard(self, message: dict[str, Any]) -> None:
        """Turn a bus announcement into a change for the observers."""
        device_id, site = message.get("device_id"), message.get("site")
        grant_id = message.get("grant_id")
        if grant_id is not None and device_id is not None:
            change = StreamChange("grant_ended", device_id=str(device_id), grant_id=str(grant_id))
        elif site is not None:
            change = StreamChange("site", site=str(site))
        elif device_id is not None:
            change = StreamChange("stream", device_id=str(device_id))
        else:
            return
        self._observers.notify(change)

    # -- stream policy --------------------------------------------------------------

    async def policy(self, device_id: str) -> StreamPolicy | None:
        """The effective policy of a device (site floor plus its settings); None if absent."""
        async with self.db.sessions() as session:
            return await stream_policy(session, device_id)

    async def settings(self, device_id: str) -> StreamSettings | None:
        """A device's own stored settings, if it has any."""
        async with self.db.sessions() as session:
            return await session.get(StreamSettings, device_id)

    async def stream(self, device_id: str) -> DeviceStream:
        """A device's settings with the policy they give."""
        async with self.db.sessions() as session:
            row = await session.get(StreamSettings, device_id)
            return DeviceStream(
                device_id, StreamConfig.of(row), await stream_policy(session, device_id)
            )

    async def configure(
        self, device_id: str, config: StreamConfig, *, by: Principal, address: str | None
    ) -> DeviceStream:
        """Validate, store and audit a device's settings, then announce them live."""
        check_models(config.ai_models)
        check_resolution(config.resolution)
        check_recording(
            config.recording_mode,
            config.pre_roll_seconds,
            config.post_roll_seconds,
            config.segment_seconds,
        )
        async with self.db.transaction() as session:
            row = await session.get(StreamSettings, device_id)
            before = asdict(StreamConfig.of(row))
            if row is None:
                row = StreamSettings(device_id=device_id)
                session.add(row)
            for key, value in asdict(config).items():
                setattr(row, key, value)
            await session.flush()
            event = audit_event(
                "stream.configure",
                by=by,
                address=address,
                resource_type="device",
                resource_id=device_id,
                before=before,
                after=asdict(config),
            )
            await self.audit.append(session, event)
            result = DeviceStream(
                device_id, StreamConfig.of(row), await stream_policy(session, device_id)
            )
        await self._broadcast(STREAM_CONFIG, {"device_id": device_id})
        await self._broadcast(f"device:{device_id}", device_settings(row))
        return result

    async def site(self, site: str) -> SiteStreams:
        """A site's rules and the number of its devices."""
        async with self.db.sessions() as session:
            devices = len(await site_device_ids(session, site))
            return SiteStreams(site, SiteRules.of(await session.get(SitePolicy, site)), devices)

    async def configure_site(
        self, site: str, rules: SiteRules, *, by: Principal, address: str | None
    ) -> SiteStreams:
        """Validate, store and audit a site's rules, then announce them to every relay."""
        check_models(rules.ai_models)
        check_recording(
            rules.recording_mode,
            rules.pre_roll_seconds,
            rules.post_roll_seconds,
            rules.segment_seconds,
        )
        async with self.db.transaction() as session:
            row = await session.get(SitePolicy, site)
            before = asdict(SiteRules.of(row))
            if row is None:
                row = SitePolicy(site=site)
                session.add(row)
            for key, value in asdict(rules).items():
                setattr(row, key, value)
            await session.flush()
            devices = len(await site_device_ids(session, site))
            event = audit_event(
                "site.policy.configure",
                by=by,
                address=address,
                resource_type="site",
                resource_id=site,
                before=before,
                after=asdict(rules),
            )
            await self.audit.append(session, event)
        await self._broadcast(STREAM_CONFIG, {"site": site})
        return SiteStreams(site, SiteRules.of(row), devices)

    # -- break-glass ----------------------------------------------------------------

    async def grant(
        self, device_id: str, *, by: Principal, reason: str, minutes: int, address: str | None
    ) -> RedactionOverride:
        """Open an unredacted view of a redacted stream for ``by`` alone, audited."""
        async with self.db.transaction() as session:
            policy = await stream_policy(session, device_id)
            if policy is None or not policy.redact_faces:
                raise Conflict("this stream is not redacted; there is nothing to override")
            now = self.clock.now()
            row = RedactionOverride(
                device_id=device_id,
                user_id=by.id,
                reason=reason,
                granted_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )
            session.add(row)
            await session.flush()
            event = audit_event(
                "redaction.override.grant",
                by=by,
                address=address,
                resource_type="device",
                resource_id=device_id,
                grant_id=row.id,
                reason=reason,
                minutes=minutes,
                expires_at=row.expires_at.isoformat(),
                redaction_from=policy.redaction_from,
            )
            await self.audit.append(session, event)
        emit(
            "redaction.override_granted",
            severity=Severity.HIGH,
            principal=by.id,
            address=address,
            device_id=device_id,
            grant_id=row.id,
            minutes=minutes,
        )
        return row

    async def open_grants(self, device_id: str, user_id: str) -> list[RedactionOverride]:
        """A user's grants on a device that are still open, oldest first."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(RedactionOverride)
                .where(
                    RedactionOverride.device_id == device_id,
                    RedactionOverride.user_id == user_id,
                    RedactionOverride.ended_at.is_(None),
                    RedactionOverride.expires_at > self.clock.now(),
                )
                .order_by(RedactionOverride.granted_at)
            )
            return list(rows.scalars())

    async def active_grant(self, user_id: str, device_id: str) -> RedactionOverride | None:
        """The user's open grant on the device that lasts longest, if any."""
        async with self.db.sessions() as session:
            return await active_override(
                session, user_id=user_id, device_id=device_id, now=self.clock.now()
            )

    async def end_grant(
        self, device_id: str, grant_id: str, *, by: Principal, address: str | None
    ) -> None:
        """End ``by``'s grant now (audited once); its raw viewings stop on the next frame."""
        async with self.db.transaction() as session:
            row = await session.get(RedactionOverride, grant_id)
            if row is None or row.device_id != device_id or row.user_id != by.id:
                raise NotFound("no such grant")
            now = self.clock.now()
            if row.ended_at is None and row.expires_at > now:
                row.ended_at = now
                event = audit_event(
                    "redaction.override.end",
                    by=by,
                    address=address,
                    resource_type="device",
                    resource_id=device_id,
                    grant_id=grant_id,
                )
                await self.audit.append(session, event)
        # Announced even when it had already ended: a relay that missed it catches up.
        message = {"device_id": device_id, "grant_id": grant_id, "reason": "ended"}
        await self._broadcast(OVERRIDES, message)

    async def _broadcast(self, channel: str, message: dict[str, Any]) -> None:
        # The change is committed: a bus outage delays relays, it must not fail the request.
        try:
            await self.bus.publish(channel, message)
        except Exception as exc:
            log.warning("broadcast_failed", channel=channel, error=type(exc).__name__)
