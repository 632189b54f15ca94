"""``StepActions``: what a playbook's automatic steps do when a person runs them.

Each action works on what the incident names (its principal and source address) unless
the request names targets of its own:

- ``isolate_account``: the account is disabled, its sessions and keys revoked and its
  live connections closed (the responder's path; never the last enabled administrator);
- ``end_sessions``: every session of the account ends (its next use signs in again);
- ``block_ip``: the address is blocked cluster-wide for ``incidents.block_minutes``
  (never loopback or a trusted proxy);
- ``revoke_device_credentials``: every credential of the devices is revoked and their
  live connections closed; no new one is issued (``lensguard agent`` registers again);
- ``legal_hold_recordings``: a legal hold on each device's recordings from
  ``incidents.evidence_lookback_minutes`` before the incident opened, with no end;
- ``sign_audit_range``: the audit head is signed and the range from the lookback to the
  head is written into the timeline with the signed checkpoint, so the evidence can be
  verified offline later (``lensguard audit verify``).

An outcome is ``done``, ``skipped`` (with why: nothing to act on) or ``failed``. Every
action is audited where it acts (``user.update``, ``auth.session_end``,
``device.credential_revoke``, ``recording.hold.place``), with the person as actor, and
the outcome is the incident's ``step`` timeline entry (``incident.step`` in the chain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from lensguard.access.principal import Principal
from lensguard.audit.checkpoint import export_checkpoint
from lensguard.audit.models import AuditEntry
from lensguard.guard.blocking import auto_block
from lensguard.guard.blocklist import Blocklist
from lensguard.identity.auditing import audit_event
from lensguard.identity.context import IdentityContext
from lensguard.identity.login import end_all_sessions
from lensguard.incidents.models import Incident
from lensguard.incidents.settings import IncidentSettings
from lensguard.monitor.events import emit
from lensguard.recordings.holds import place_hold
from lensguard.severity import Severity
from lensguard.store import devices as repo
from lensguard.threats.responses import find_user, isolate

MAX_DEVICES = 50


@dataclass(frozen=True)
class Targets:
    """What a step acts on instead of what the incident names (each optional)."""

    account: str | None = None
    address: str | None = None
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepOutcome:
    """``done``, ``skipped`` or ``failed``; ``why`` for the last two; ``result`` details."""

    status: str
    why: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


class StepActions:
    """Runs automatic steps; see the module docstring."""

    def __init__(
        self, ctx: IdentityContext, blocklist: Blocklist, settings: IncidentSettings
    ) -> None:
        self.ctx = ctx
        self.blocklist = blocklist
        self.settings = settings

    def _since(self, incident: Incident) -> datetime:
        return incident.opened_at - timedelta(minutes=self.settings.evidence_lookback_minutes)

    async def run(
        self,
        action: str,
        incident: Incident,
        targets: Targets,
        *,
        by: Principal,
        address: str | None,
    ) -> StepOutcome:
        """Run ``action`` for ``incident``; never raises for an action that went wrong."""
        try:
            if action in ("isolate_account", "end_sessions"):
                return await self._account(action, incident, targets, by)
            if action == "block_ip":
                return await self._block(incident, targets)
            if action == "revoke_device_credentials":
                return await self._revoke(incident, targets, by, address)
            if action == "legal_hold_recordings":
                return await self._hold(incident, targets, by, address)
            if action == "sign_audit_range":
                return await self._sign(incident)
        except Exception as exc:
            return StepOutcome("failed", type(exc).__name__)
        return StepOutcome("failed", f"unknown action {action}")

    async def _account(
        self, action: str, incident: Incident, targets: Targets, by: Principal
    ) -> StepOutcome:
        name = targets.account or incident.principal
        if name is None:
            return StepOutcome("skipped", "the incident names no account; give one")
        user = await find_user(self.ctx, name)
        if user is None:
            return StepOutcome("skipped", f"no account {name!r}")
        if action == "isolate_account":
            outcome = await isolate(self.ctx, user, by=by)
            status = "done" if outcome.status == "applied" else outcome.status
            return StepOutcome(status, outcome.why, {"account": user.id})
        ended = await end_all_sessions(
            self.ctx, user_id=user.id, reason=f"incident:{incident.id}", by=by
        )
        await self.ctx.announce(user_id=user.id, reason="user_changed")
        return StepOutcome("done", None, {"account": user.id, "sessions_ended": ended})

    async def _block(self, incident: Incident, targets: Targets) -> StepOutcome:
        address = targets.address or incident.address
        if address is None:
            return StepOutcome("skipped", "the incident names no address; give one")
        seconds = self.settings.block_minutes * 60
        reason = f"incident:{incident.id}"
        if not await auto_block(self.blocklist, address, seconds=seconds, reason=reason):
            why = "not blockable (loopback, a trusted proxy or malformed) or already blocked"
            return StepOutcome("skipped", why, {"address": address})
        return StepOutcome("done", None, {"address": address, "seconds": seconds})

    def _devices(self, incident: Incident, targets: Targets) -> tuple[str, ...]:
        if targets.device_ids:
            return targets.device_ids[:MAX_DEVICES]
        return (incident.principal,) if incident.principal else ()

    async def _revoke(
        self, incident: Incident, targets: Targets, by: Principal, address: str | None
    ) -> StepOutcome:
        revoked: dict[str, int] = {}
        async with self.ctx.db.transaction() as session:
            for device_id in self._devices(incident, targets):
                if await repo.get_device(session, device_id=device_id) is None:
                    continue
                count = await repo.revoke_device_keys(
                    session, device_id=device_id, at=self.ctx.clock.now()
                )
                revoked[device_id] = count
                event = audit_event(
                    "device.credential_revoke",
                    by=by,
                    address=address,
                    resource_type="device",
                    resource_id=device_id,
                    revoked=count,
                    incident_id=incident.id,
                )
                await self.ctx.audit.append(session, event)
        if not revoked:
            return StepOutcome("skipped", "no device named; give device_ids")
        for device_id in revoked:
            await self.ctx.announce(device_id=device_id, reason="credential_revoked")
            emit("device.credential_revoked", severity=Severity.HIGH, device_id=device_id)
        return StepOutcome("done", None, {"revoked": revoked})

    async def _hold(
        self, incident: Incident, targets: Targets, by: Principal, address: str | None
    ) -> StepOutcome:
        holds: dict[str, str] = {}
        since = self._since(incident)
        async with self.ctx.db.transaction() as session:
            for device_id in self._devices(incident, targets):
                device = await repo.get_device(session, device_id=device_id)
                if device is None:
                    continue
                hold = await place_hold(
                    session,
                    self.ctx.audit,
                    device_id=device.id,
                    site=device.site,
                    start=since,
                    end=None,
                    reason=f"incident {incident.id}: {incident.title}"[:500],
                    by=by,
                    address=address,
                    now=self.ctx.clock.now(),
                )
                holds[device.id] = hold.id
        if not holds:
            return StepOutcome("skipped", "no device named; give device_ids")
        return StepOutcome("done", None, {"holds": holds, "from": since.isoformat()})

    async def _sign(self, incident: Incident) -> StepOutcome:
        since = self._since(incident)
        async with self.ctx.db.transaction() as session:
            first = await session.scalar(
                select(func.min(AuditEntry.seq)).where(AuditEntry.ts >= since)
            )
            checkpoint = await self.ctx.audit.checkpoint(session)
        statement = export_checkpoint(checkpoint, self.ctx.audit.checkpoint_public_key)
        result = {
            "from_seq": first if first is not None else checkpoint.seq,
            "to_seq": checkpoint.seq,
            "from": since.isoformat(),
            "checkpoint": statement,
        }
        return StepOutcome("done", None, result)
