"""Second factors: a TOTP code or a recovery code, checked first, then claimed once.

Checking reads only, so it can run outside any transaction; the claim (a
conditional UPDATE) happens in the transaction of the action the factor allows,
so a code used twice at once lets exactly one of the two through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit import AuditEvent
from lensguard.identity import recovery, totp
from lensguard.identity.auditing import append
from lensguard.identity.context import IdentityContext
from lensguard.store import recovery_codes
from lensguard.store.models import User
from lensguard.store.users import claim_totp_step


class FactorKind(StrEnum):
    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True)
class Factor:
    """A second factor that checked out; claim it where it is relied on."""

    kind: FactorKind
    totp_step: int | None = None
    recovery_hash: str | None = field(default=None, repr=False)


async def check_factor(ctx: IdentityContext, user: User, code: str) -> Factor | None:
    """What ``code`` proves for ``user`` (a TOTP code, else a recovery code), or None."""
    if user.totp_secret is None:
        return None
    secret = totp.unwrap_secret(ctx.wrap_key, user.id, user.totp_secret)
    step = totp.verify_code(secret, code, at=ctx.clock.time(), last_used_step=user.totp_last_step)
    if step is not None:
        return Factor(FactorKind.TOTP, totp_step=step)
    code_hash = recovery.hash_code(ctx.recovery_key, user.id, code)
    if code_hash is None:
        return None
    async with ctx.db.sessions() as session:
        unused = await recovery_codes.is_unused(session, user_id=user.id, code_hash=code_hash)
    return Factor(FactorKind.RECOVERY_CODE, recovery_hash=code_hash) if unused else None


async def claim_factor(
    ctx: IdentityContext, session: AsyncSession, *, user: User, factor: Factor, address: str
) -> bool:
    """Spend ``factor`` inside the caller's transaction; False when it was spent meanwhile.

    A recovery code's use is audited here, with how many codes remain.
    """
    if factor.kind is FactorKind.TOTP and factor.totp_step is not None:
        return await claim_totp_step(session, user_id=user.id, step=factor.totp_step)
    if factor.recovery_hash is None:
        return False
    claimed = await recovery_codes.claim_code(
        session, user_id=user.id, code_hash=factor.recovery_hash, at=ctx.clock.now()
    )
    if claimed:
        left = await recovery_codes.count_unused(session, user_id=user.id)
        event = AuditEvent(
            action="auth.recovery_code_use",
            outcome="success",
            actor_type="user",
            actor_id=user.id,
            actor_name=user.username,
            source_address=address,
            resource_type="user",
            resource_id=user.id,
            details={"remaining": left},
        )
        await append(ctx, session, event)
    return claimed


async def issue_recovery_codes(
    ctx: IdentityContext, session: AsyncSession, *, user_id: str
) -> list[str]:
    """A new set of codes for ``user_id`` (the old set stops working); shown once."""
    shown, stored = recovery.new_set(ctx.recovery_key, user_id)
    await recovery_codes.replace_codes(session, user_id=user_id, hashes=stored)
    return shown
