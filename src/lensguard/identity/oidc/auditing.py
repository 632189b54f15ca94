"""Every refused single sign-on step is an audit row and a security event."""

from __future__ import annotations

from lensguard.audit import AuditEvent
from lensguard.errors import LensguardError
from lensguard.identity.auditing import record
from lensguard.identity.context import IdentityContext
from lensguard.monitor.events import emit
from lensguard.severity import Severity


async def refused(
    ctx: IdentityContext, action: str, provider: str, error: LensguardError, address: str
) -> None:
    """Audit ``error`` refusing ``action`` through ``provider`` (by its stable reason)."""
    reason = str(getattr(error, "reason", error.slug))
    await record(
        ctx,
        AuditEvent(
            action=action,
            outcome="failure",
            actor_type="anonymous",
            source_address=address,
            resource_type="oidc_provider",
            resource_id=provider[:64],
            details={"reason": reason, "status": error.status},
        ),
    )
    emit(
        f"{action}_refused",
        severity=Severity.MEDIUM,
        provider=provider[:64],
        reason=reason,
        address=address,
    )
