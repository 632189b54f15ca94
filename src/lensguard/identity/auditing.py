"""Turning identity and access actions into audit entries.

Actions append their entry inside their own transaction (same commit); refusals
whose transaction rolls back are recorded on their own with ``record``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.audit.entry import AuditEvent
from lensguard.identity.context import IdentityContext

_ACTOR_TYPES = {
    PrincipalKind.USER: "user",
    PrincipalKind.API_KEY: "api_key",
    PrincipalKind.DEVICE: "device",
}


def audit_event(
    action: str,
    outcome: str = "success",
    *,
    by: Principal | None = None,
    address: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    **details: Any,
) -> AuditEvent:
    """An audit event by ``by`` (the system when None)."""
    if by is None:
        actor_type, actor_id, actor_name = "system", None, None
    else:
        actor_type, actor_id, actor_name = _ACTOR_TYPES[by.kind], by.id, by.name
        if by.api_key_id is not None:
            details.setdefault("api_key_id", by.api_key_id)
    return AuditEvent(
        action=action,
        outcome=outcome,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name,
        source_address=address,
        resource_type=resource_type,
        resource_id=resource_id,
        details={k: v for k, v in details.items() if v is not None},
    )


async def append(ctx: IdentityContext, session: AsyncSession, event: AuditEvent) -> None:
    """Append inside the caller's transaction; call last, just before it commits."""
    await ctx.audit.append(session, event)


async def record(ctx: IdentityContext, event: AuditEvent) -> None:
    """Append in a transaction of its own (for refusals whose action rolled back)."""
    async with ctx.db.transaction() as session:
        await ctx.audit.append(session, event)
