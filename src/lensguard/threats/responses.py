"""``Responder``: what happens automatically when something is detected.

Each detection carries its kind's response (``threats.responses``). The responder runs
it on a task of its own, behind a bounded queue, so detection never waits on it:

- ``block_ip``: the address is blocked cluster-wide for the kind's TTL;
- ``rate_limit``: the address is throttled to ``throttle_per_minute`` for the TTL (a
  blocklist entry whose reason starts ``throttle:``; the blocklist middleware lets it
  through and the rate limiter applies the lower budget);
- ``block_request``: the request itself is refused at once by the suspicious-request
  middleware; here it is only recorded;
- ``step_up_mfa``: every session of the account ends, so its next use needs a fresh
  sign-in with the second factor;
- ``isolate_account``: the account is disabled, its sessions and keys revoked and its live
  connections closed (the revocation path) — never the last enabled administrator;
- ``alert_and_monitor``: nothing beyond the alert.

Every detection is published as a ``threats.detection`` security event (severity of
its kind, so HIGH and CRITICAL ones reach the alert sinks) and audited as
``threats.response`` with what was done: ``applied``, ``monitor_only``, ``allowlisted``,
``skipped`` (and why) or ``failed``. Allowlisted addresses and principals are never acted
against. docs/threats.md says how each response is reversed.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.guard.blocking import auto_block
from lensguard.guard.blocklist import THROTTLE_PREFIX, Blocklist
from lensguard.identity import accounts
from lensguard.identity.auditing import audit_event, record
from lensguard.identity.context import IdentityContext
from lensguard.identity.login import end_all_sessions
from lensguard.ip import parse_address
from lensguard.monitor.events import emit
from lensguard.store.models import User
from lensguard.threats.detection import Detection, DetectionPublisher
from lensguard.threats.inbox import Inbox
from lensguard.threats.response_settings import ResponseSettings

QUEUE_SIZE = 1_000
SHOWN_EVENT_IDS = 20
ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Outcome:
    """What a response did: ``applied``, ``monitor_only``, ``allowlisted``, ``skipped``,
    ``failed``; ``why`` explains the last three."""

    status: str
    why: str | None = None


def responder_principal(ctx: IdentityContext) -> Principal:
    """The actor the audit log names for automatic responses."""
    return Principal(
        kind=PrincipalKind.USER,
        id="threat-response",
        name="threat-response",
        role=ADMIN_ROLE,
        permissions=frozenset(ctx.policy.permissions),
    )


class Responder:
    """Runs each detection's response; see the module docstring."""

    def __init__(
        self,
        settings: ResponseSettings,
        ctx: IdentityContext,
        blocklist: Blocklist,
        *,
        maxsize: int = QUEUE_SIZE,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        self.blocklist = blocklist
        self._allow = [ipaddress.ip_network(n, strict=False) for n in settings.allow_addresses]
        self._principals = frozenset(settings.allow_principals)
        self._inbox: Inbox[Detection] = Inbox(self.respond, name="responses", maxsize=maxsize)
        self.outcomes: Counter[str] = Counter()

    @property
    def dropped(self) -> int:
        """Detections lost because the queue was full (or the responder not running)."""
        return self._inbox.dropped

    def start(self, detections: DetectionPublisher) -> None:
        """Subscribe to ``detections`` and start responding (on the running loop)."""
        self._inbox.attach(detections)

    async def stop(self) -> None:
        """Stop responding; detections still queued are dropped (and counted)."""
        await self._inbox.stop()

    async def drained(self) -> None:
        """Wait until every queued detection has been responded to."""
        await self._inbox.drained()

    def _allowlisted(self, detection: Detection) -> bool:
        if detection.principal is not None and detection.principal in self._principals:
            return True
        if detection.address is None or not self._allow:
            return False
        ip = parse_address(detection.address)
        return ip is not None and any(ip in network for network in self._allow)

    async def respond(self, detection: Detection) -> Outcome:
        """Run the response, publish the detection and audit what was done."""
        action = detection.response
        rule = self.settings.for_kind(detection.kind)
        if not self.settings.enabled:
            outcome = Outcome("skipped", "responses are disabled")
        elif action == "alert_and_monitor":
            outcome = Outcome("applied")
        elif self._allowlisted(detection):
            outcome = Outcome("allowlisted")
        elif self.settings.monitor_only or rule.monitor_only:
            outcome = Outcome("monitor_only")
        else:
            try:
                outcome = await self._act(action, detection, rule.ttl_seconds)
            except Exception as exc:
                outcome = Outcome("failed", type(exc).__name__)
        self.outcomes[outcome.status] += 1
        emit(
            "threats.detection",
            severity=detection.severity,
            principal=detection.principal,
            address=detection.address,
            kind=detection.kind,
            score=detection.score,
            response=action,
            status=outcome.status,
            why=outcome.why,
            event_ids=list(detection.event_ids[:SHOWN_EVENT_IDS]),
        )
        await record(
            self.ctx,
            audit_event(
                "threats.response",
                "success" if outcome.status in ("applied", "monitor_only") else "failure",
                address=detection.address,
                resource_type="user" if detection.principal else "address",
                resource_id=detection.principal or detection.address,
                kind=detection.kind,
                response=action,
                status=outcome.status,
                why=outcome.why,
                score=detection.score,
                event_ids=list(detection.event_ids[:SHOWN_EVENT_IDS]),
            ),
        )
        return outcome

    async def _act(self, action: str, detection: Detection, ttl: int) -> Outcome:
        if action in ("block_ip", "rate_limit"):
            if detection.address is None:
                return Outcome("skipped", "the detection names no address")
            reason = f"threat:{detection.kind}"
            if action == "rate_limit":
                reason = f"{THROTTLE_PREFIX}{detection.kind}"
            done = await auto_block(self.blocklist, detection.address, seconds=ttl, reason=reason)
            return Outcome("applied") if done else Outcome("skipped", "not blockable or blocked")
        if action == "block_request":
            return Outcome("applied")  # refused in the middleware, as it arrived
        if detection.principal is None:
            return Outcome("skipped", "the detection names no account")
        user = await find_user(self.ctx, detection.principal)
        if user is None:
            return Outcome("skipped", "no such account")
        if action == "step_up_mfa":
            await end_all_sessions(self.ctx, user_id=user.id, reason=f"threat:{detection.kind}")
            await self.ctx.announce(user_id=user.id, reason="user_changed")
            return Outcome("applied")
        if action == "isolate_account":
            return await isolate(self.ctx, user, by=responder_principal(self.ctx))
        return Outcome("skipped", f"unknown response {action}")


async def find_user(ctx: IdentityContext, principal: str) -> User | None:
    """The account a detection or incident names, by id or by username."""
    async with ctx.db.sessions() as session:
        found = await session.get(User, principal)
        if found is None:
            found = await session.scalar(select(User).where(User.username == principal))
        return found


async def last_enabled_admin(ctx: IdentityContext, user: User) -> bool:
    """Whether ``user`` is the only enabled administrator (never locked out by a response)."""
    if user.role != ADMIN_ROLE or user.disabled:
        return False
    async with ctx.db.sessions() as session:
        others = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == ADMIN_ROLE, User.disabled.is_(False), User.id != user.id)
        )
    return not others


async def isolate(ctx: IdentityContext, user: User, *, by: Principal) -> Outcome:
    """Disable ``user`` (sessions, keys and live connections go with it, the revocation
    path); never the last enabled administrator."""
    if user.disabled:
        return Outcome("skipped", "already disabled")
    if await last_enabled_admin(ctx, user):
        return Outcome("skipped", "the last enabled administrator is never isolated")
    await accounts.update_account(
        ctx, user_id=user.id, change=accounts.AccountChange(disabled=True), by=by
    )
    return Outcome("applied")
