"""Checks of the accounts and keys in the database: MFA on privileged roles, stale keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.policy import Policy
from lensguard.hardening.findings import Check, Finding
from lensguard.severity import Severity
from lensguard.store.models import ApiKey, User

# Roles holding one of these can change who may do what, or see everyone's traces.
PRIVILEGED = frozenset({"system_config", "user_management", "security_manage", "audit_read"})
STALE_DAYS = 90
SHOWN = 5

ADMIN_MFA = Check(
    "ACC-ADMIN-MFA",
    "Privileged accounts have MFA",
    Severity.HIGH,
    "have each one enrol TOTP (console: Account, or POST /api/v1/auth/mfa/enrol), or "
    "list the role in security.authentication.mfa_required_for",
    "V6.3.3",
)
STALE_KEYS = Check(
    "ACC-STALE-KEYS",
    f"No API key unused for {STALE_DAYS} days",
    Severity.MEDIUM,
    "revoke the keys nobody uses (DELETE /api/v1/api-keys/{key_id})",
    "V13.3.4",
)


def privileged_roles(policy: Policy) -> list[str]:
    return sorted(role for role, granted in policy.roles.items() if granted & PRIVILEGED)


def _names(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


async def check_accounts(session: AsyncSession, policy: Policy, now: datetime) -> list[Finding]:
    """The account checks, read in ``session`` (read only)."""
    return [await _admin_mfa(session, policy), await _stale_keys(session, now)]


async def _admin_mfa(session: AsyncSession, policy: Policy) -> Finding:
    roles = privileged_roles(policy)
    rows = await session.execute(
        select(User.username, User.role)
        .where(User.role.in_(roles), User.disabled.is_(False), User.totp_secret.is_(None))
        .order_by(User.username)
    )
    without = [f"{name} ({role})" for name, role in rows]
    if not without:
        return ADMIN_MFA.verdict(True, f"every enabled account of {', '.join(roles)} has MFA")
    return ADMIN_MFA.verdict(False, f"{len(without)} without MFA: {_names(without)}")


async def _stale_keys(session: AsyncSession, now: datetime) -> Finding:
    cutoff = now - timedelta(days=STALE_DAYS)
    rows = await session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.last_used_at, ApiKey.created_at)
        .where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now)
        .order_by(ApiKey.created_at)
    )
    stale = [
        f"{key_id} ({name})" for key_id, name, used, created in rows if (used or created) < cutoff
    ]
    if not stale:
        return STALE_KEYS.verdict(True, "every live key was used or made in the last 90 days")
    return STALE_KEYS.verdict(False, f"{len(stale)} stale: {_names(stale)}")
