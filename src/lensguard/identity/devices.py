"""Devices as principals: registration, credentials, and device access tokens.

A device's credential is an API key bound to the device (``owner_device_id``) with
the ``device`` role's permissions; it can only ever act as that device, in its own
site and on its own stream. Rotating the credential revokes the previous one and
every access token minted from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.errors import NotFound
from lensguard.identity import apikeys
from lensguard.identity.auditing import append, audit_event
from lensguard.identity.context import IdentityContext
from lensguard.identity.tokens import IssuedToken
from lensguard.monitor.events import emit
from lensguard.severity import Severity
from lensguard.store import devices as repo
from lensguard.store.api_keys import create_api_key
from lensguard.store.models import ApiKey, Device

DEVICE_ROLE = "device"
CREDENTIAL_LIFETIME = timedelta(days=365)
CREDENTIAL_RATE_LIMIT = 600


@dataclass(frozen=True)
class Registered:
    """A device and its credential, shown exactly once."""

    device: Device
    credential: str


async def _issue_credential(ctx: IdentityContext, session: AsyncSession, device: Device) -> str:
    new = apikeys.generate()
    await create_api_key(
        session,
        key_id=new.key_id,
        name=f"device:{device.name}",
        owner_user_id=None,
        owner_device_id=device.id,
        secret_hash=apikeys.hash_secret(ctx.pepper, new.key_id, new.secret),
        scopes=sorted(ctx.policy.grants(DEVICE_ROLE)),
        expires_at=ctx.clock.now() + CREDENTIAL_LIFETIME,
        rate_limit_per_minute=CREDENTIAL_RATE_LIMIT,
    )
    return new.presented


async def register_device(
    ctx: IdentityContext,
    *,
    name: str,
    site: str,
    kind: str,
    capabilities: list[str],
    by: Principal | None,
    address: str | None = None,
) -> Registered:
    """Create a device and its first credential."""
    async with ctx.db.transaction() as session:
        device = await repo.create_device(
            session, name=name, site=site, kind=kind, capabilities=capabilities
        )
        credential = await _issue_credential(ctx, session, device)
        event = audit_event(
            "device.register",
            by=by,
            address=address,
            resource_type="device",
            resource_id=device.id,
            site=site,
            kind=kind,
            capabilities=capabilities,
        )
        await append(ctx, session, event)
    emit(
        "device.registered",
        severity=Severity.MEDIUM,
        device_id=device.id,
        site=site,
        actor=by.id if by else "system",
    )
    return Registered(device, credential)


async def rotate_credential(
    ctx: IdentityContext, *, device_id: str, by: Principal | None, address: str | None = None
) -> Registered:
    """Revoke the device's credentials and issue a new one."""
    async with ctx.db.transaction() as session:
        device = await repo.get_device(session, device_id=device_id)
        if device is None:
            raise NotFound("no such device")
        revoked = await repo.revoke_device_keys(session, device_id=device_id, at=ctx.clock.now())
        credential = await _issue_credential(ctx, session, device)
        event = audit_event(
            "device.credential_rotate",
            by=by,
            address=address,
            resource_type="device",
            resource_id=device_id,
            revoked=revoked,
        )
        await append(ctx, session, event)
    await ctx.announce(device_id=device_id, reason="credential_rotated")
    emit(
        "device.credential_rotated",
        severity=Severity.MEDIUM,
        device_id=device_id,
        revoked=revoked,
        actor=by.id if by else "system",
    )
    return Registered(device, credential)


def device_principal(
    ctx: IdentityContext, device: Device, *, key: ApiKey | None, jti: str | None
) -> Principal:
    """The principal a device acts as: its own site and stream, the device role at most."""
    granted = ctx.policy.grants(DEVICE_ROLE)
    permissions = granted & frozenset(key.scopes) if key is not None else granted
    return Principal(
        kind=PrincipalKind.DEVICE,
        id=device.id,
        name=device.name,
        role=DEVICE_ROLE,
        permissions=permissions,
        sites=frozenset({device.site}),
        devices=frozenset({device.id}),
        api_key_id=key.id if key is not None else None,
        token_jti=jti,
    )


async def device_token(ctx: IdentityContext, principal: Principal) -> IssuedToken:
    """A short-lived access token for a device that presented its credential."""
    if principal.kind is not PrincipalKind.DEVICE or principal.api_key_id is None:
        raise NotFound("only a device credential can be exchanged for a device token")
    issued = await ctx.tokens.issue_access(
        subject=principal.id,
        session_id=None,
        principal_kind=PrincipalKind.DEVICE,
        extra_claims={"akid": principal.api_key_id},
    )
    emit("device.token_issued", device_id=principal.id)
    return issued
