"""The access review: who holds what, who has not used it, and what nobody uses.

The quarterly review the source guides ask for (and SOX's access-review control): every
account with its role, scope, MFA status and last sign-in; stale accounts; API keys
never used or unused for a while; privileged accounts; devices not seen for a while.
Everything is read from the live tables at the moment of the review; nothing is cached
or hard-coded. ``lensguard compliance access-review`` and
``GET /api/v1/compliance/access-review`` print it; docs/privacy.md (*Access review*)
says how to read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.policy import Policy
from lensguard.audit.models import AuditEntry
from lensguard.store.models import ApiKey, Device, LoginSession, User

REVIEW_ACTION = "compliance.access_review"
"""The audit action each review writes; the last one dates the next review due."""

PRIVILEGED_PERMISSIONS = frozenset(
    {
        "system_config",
        "user_management",
        "security_manage",
        "audit_read",
        "compliance_manage",
        "device_manage",
        "redaction_override",
    }
)
"""A role granting any of these is privileged: it changes the system or reads what others did."""


@dataclass(frozen=True)
class ReviewOptions:
    """The review's thresholds (days); the CLI and API take them as options."""

    stale_days: int = 90
    """An account with no sign-in or refresh for this long (or never, once this old) is stale."""
    key_unused_days: int = 90
    """A live API key unused for this long (or never, once this old) is listed as unused."""
    device_days: int = 30
    """A device not seen for this long (or never, once this old) is listed."""
    every_days: int = 90
    """How often a review is due (quarterly by default)."""


@dataclass(frozen=True)
class AccountRow:
    id: str
    username: str
    role: str
    privileged: bool
    sites: list[str]
    devices: list[str]
    mfa: bool
    disabled: bool
    created_at: datetime
    last_login: datetime | None
    """The newest sign-in (a new login session)."""
    last_active: datetime | None
    """The newest use of any of its login sessions (a refresh counts): what staleness reads."""
    stale: bool
    live_api_keys: int


@dataclass(frozen=True)
class KeyRow:
    id: str
    name: str
    owner_user_id: str | None
    owner_device_id: str | None
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    never_used: bool


@dataclass(frozen=True)
class DeviceRow:
    id: str
    name: str
    site: str
    created_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True)
class AccessReview:
    """One review's findings, at ``at``, with the thresholds it used."""

    at: datetime
    options: ReviewOptions
    accounts: list[AccountRow]
    unused_api_keys: list[KeyRow]
    idle_devices: list[DeviceRow]
    last_review: datetime | None
    next_due: datetime
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def stale_accounts(self) -> list[AccountRow]:
        """Enabled accounts past the stale threshold: the ones to disable or justify."""
        return [a for a in self.accounts if a.stale and not a.disabled]

    @property
    def privileged_without_mfa(self) -> list[AccountRow]:
        return [a for a in self.accounts if a.privileged and not a.mfa and not a.disabled]

    def as_json(self) -> dict[str, Any]:
        """The documented JSON form (docs/privacy.md, *Access review*)."""

        def iso(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        def rows(items: list[Any]) -> list[dict[str, Any]]:
            return [{k: iso(v) for k, v in asdict(item).items()} for item in items]

        return {
            "at": self.at.isoformat(),
            "options": asdict(self.options),
            "summary": dict(self.summary),
            "last_review": iso(self.last_review),
            "next_due": self.next_due.isoformat(),
            "due": self.at >= self.next_due,
            "accounts": rows(self.accounts),
            "stale_accounts": [a.id for a in self.stale_accounts],
            "privileged_without_mfa": [a.id for a in self.privileged_without_mfa],
            "unused_api_keys": rows(self.unused_api_keys),
            "idle_devices": rows(self.idle_devices),
        }


def privileged(policy: Policy, role: str) -> bool:
    """Whether ``role`` grants a privileged permission (an unknown role grants nothing)."""
    return bool(policy.grants(role) & PRIVILEGED_PERMISSIONS)


def _older(moment: datetime | None, created: datetime, cutoff: datetime) -> bool:
    """Not used since ``cutoff``: last use before it, or never used and made before it."""
    return (moment if moment is not None else created) < cutoff


async def last_review(session: AsyncSession) -> datetime | None:
    """When the last access review was recorded in the audit log."""
    found = await session.scalar(
        select(func.max(AuditEntry.ts)).where(
            AuditEntry.action == REVIEW_ACTION, AuditEntry.outcome == "success"
        )
    )
    return found if isinstance(found, datetime) else None


async def build_review(
    session: AsyncSession, policy: Policy, *, now: datetime, options: ReviewOptions
) -> AccessReview:
    """Read the live tables and return the review as of ``now``."""
    stale_cut = now - timedelta(days=options.stale_days)
    key_cut = now - timedelta(days=options.key_unused_days)
    device_cut = now - timedelta(days=options.device_days)
    signins = await session.execute(
        select(
            LoginSession.user_id,
            func.max(LoginSession.created_at),
            func.max(LoginSession.last_used_at),
        ).group_by(LoginSession.user_id)
    )
    logins = {row[0]: (row[1], row[2]) for row in signins.all()}
    live_keys = (
        await session.scalars(
            select(ApiKey).where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now)
        )
    ).all()
    keys_per_user: dict[str, int] = {}
    for key in live_keys:
        if key.owner_user_id is not None:
            keys_per_user[key.owner_user_id] = keys_per_user.get(key.owner_user_id, 0) + 1
    accounts = []
    for user in (await session.scalars(select(User).order_by(User.username))).all():
        last, active = logins.get(user.id, (None, None))
        accounts.append(
            AccountRow(
                id=user.id,
                username=user.username,
                role=user.role,
                privileged=privileged(policy, user.role),
                sites=list(user.sites),
                devices=list(user.devices),
                mfa=user.totp_secret is not None,
                disabled=user.disabled,
                created_at=user.created_at,
                last_login=last,
                last_active=active,
                stale=_older(active, user.created_at, stale_cut),
                live_api_keys=keys_per_user.get(user.id, 0),
            )
        )
    unused = [
        KeyRow(
            id=k.id,
            name=k.name,
            owner_user_id=k.owner_user_id,
            owner_device_id=k.owner_device_id,
            created_at=k.created_at,
            expires_at=k.expires_at,
            last_used_at=k.last_used_at,
            never_used=k.last_used_at is None,
        )
        for k in sorted(live_keys, key=lambda k: (k.created_at, k.id))
        if _older(k.last_used_at, k.created_at, key_cut)
    ]
    idle = [
        DeviceRow(d.id, d.name, d.site, d.created_at, d.last_seen_at)
        for d in (await session.scalars(select(Device).order_by(Device.name))).all()
        if _older(d.last_seen_at, d.created_at, device_cut)
    ]
    previous = await last_review(session)
    due = (previous + timedelta(days=options.every_days)) if previous is not None else now
    review = AccessReview(
        at=now,
        options=options,
        accounts=accounts,
        unused_api_keys=unused,
        idle_devices=idle,
        last_review=previous,
        next_due=due,
    )
    review.summary.update(
        accounts=len(accounts),
        disabled=sum(a.disabled for a in accounts),
        privileged=sum(a.privileged and not a.disabled for a in accounts),
        privileged_without_mfa=len(review.privileged_without_mfa),
        stale=len(review.stale_accounts),
        never_signed_in=sum(a.last_login is None for a in accounts),
        unused_api_keys=len(unused),
        never_used_api_keys=sum(k.never_used for k in unused),
        idle_devices=len(idle),
    )
    return review
