"""Erasure of an account's personal data (GDPR Art. 17), with four eyes and a certificate.

``request`` records who asks and why; ``approve`` by a second person (the same one only
when ``privacy.erasure_four_eyes`` is off) runs the erasure, which:

1. refuses the last enabled administrator;
2. ends every session of the account at once (live connections close) and disables it;
3. deletes its sessions, refresh tokens, API keys and recovery codes;
4. replaces the username by ``erased-<id>``, clears the password, second factor and
   sealed personal fields (e-mail, display name, phone, and their blind index), and
   empties its scope;
5. blanks the person's fields in the audit log (``AuditLog.erase_subject`` for the
   account and its API keys: the chain still verifies, the entries show as erased),
   and the incidents that named them;
6. writes a certificate of erasure (what was erased, when, asked and approved by whom),
   signed with the audit checkpoint key so anyone holding the published key can check
   it, into the request and the audit log (``privacy.erasure``).

Each step is idempotent, so an erasure interrupted by a crash is finished by approving
(or re-running) it again: a ``done`` request is never run twice. The account's random
id stays, naming no one: rows that refer to it (what was watched, granted, held) keep
their shape for the records that must stay, with no name to join them to.

Recorded video of a person filmed is erased by time and place through the same
requests (kind ``recordings``): ``privacy/recording_erasure.py``, whose ``approve``
runs either kind.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from lensguard.access.principal import Principal
from lensguard.audit.checkpoint import raw_public
from lensguard.errors import Conflict, Forbidden, NotFound
from lensguard.identity.auditing import audit_event
from lensguard.identity.context import IdentityContext
from lensguard.identity.login import end_all_sessions
from lensguard.identity.usernames import skeleton
from lensguard.incidents.models import Incident
from lensguard.privacy.erasure_models import ErasureRequest
from lensguard.privacy.export import find_subject
from lensguard.store.models import ApiKey, LoginSession, RecoveryCode, RefreshToken, User
from lensguard.threats.responses import last_enabled_admin

CERTIFICATE = "lensguard-erasure-certificate/1"
ERASED = "privacy.erasure"


@dataclass(frozen=True)
class ErasureView:
    id: str
    kind: str
    user_id: str | None
    device_id: str | None
    site: str | None
    range_start: datetime | None
    range_end: datetime | None
    segments: int
    state: str
    requested_by: str | None
    requested_at: datetime
    approved_by: str | None
    finished_at: datetime | None
    certificate: dict[str, Any] | None


def view(row: ErasureRequest) -> ErasureView:
    return ErasureView(
        id=row.id,
        kind=row.kind,
        user_id=row.user_id,
        device_id=row.device_id,
        site=row.site,
        range_start=row.range_start,
        range_end=row.range_end,
        segments=row.segments or 0,
        state=row.state,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        finished_at=row.finished_at,
        certificate=json.loads(row.certificate) if row.certificate else None,
    )


def certificate_statement(body: dict[str, Any]) -> bytes:
    """The bytes a certificate's signature covers: its body without the signature."""
    unsigned = {k: v for k, v in body.items() if k not in ("signature", "public_key")}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def sign_certificate(ctx: IdentityContext, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` signed with the audit checkpoint key, the public key beside it."""
    signed = dict(body, key_id=ctx.audit.key_id)
    signed["signature"] = ctx.audit.sign(certificate_statement(signed))
    signed["public_key"] = raw_public(ctx.audit.checkpoint_public_key).hex()
    return signed


async def request(
    ctx: IdentityContext, who: str, *, reason: str, by: Principal, address: str | None
) -> ErasureView:
    """Record a request to erase ``who`` (id or username); one pending per account."""
    user = await find_subject(ctx.db, who)
    async with ctx.db.transaction() as session:
        pending = await session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.kind == "account",
                ErasureRequest.user_id == user.id,
                ErasureRequest.state == "pending",
            )
        )
        if pending is not None:
            raise Conflict(f"an erasure of this account is already pending: {pending.id}")
        row = ErasureRequest(
            kind="account",
            user_id=user.id,
            reason=reason,
            state="pending",
            requested_by=by.id,
            requested_at=ctx.clock.now(),
        )
        session.add(row)
        await session.flush()
        event = audit_event(
            "privacy.erasure_request",
            by=by,
            address=address,
            resource_type="user",
            resource_id=user.id,
            request_id=row.id,
        )
        await ctx.audit.append(session, event)
    return view(row)


async def get(ctx: IdentityContext, request_id: str) -> ErasureView:
    async with ctx.db.sessions() as session:
        row = await session.get(ErasureRequest, request_id)
    if row is None:
        raise NotFound("no such erasure request")
    return view(row)


async def listed(
    ctx: IdentityContext, *, state: str | None = None, limit: int = 100
) -> list[ErasureView]:
    """Erasure requests, newest first (of one state when given)."""
    query = select(ErasureRequest)
    if state is not None:
        query = query.where(ErasureRequest.state == state)
    query = query.order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id).limit(limit)
    async with ctx.db.sessions() as session:
        return [view(row) for row in (await session.scalars(query)).all()]


async def approve(
    ctx: IdentityContext,
    request_id: str,
    *,
    by: Principal,
    address: str | None,
    four_eyes: bool = True,
) -> ErasureView:
    """Approve and run the erasure (see the module docstring); idempotent when resumed."""
    async with ctx.db.sessions() as session:
        row = await session.get(ErasureRequest, request_id)
    if row is None:
        raise NotFound("no such erasure request")
    if row.state == "done":
        return view(row)
    if row.kind != "account" or row.user_id is None:
        raise Conflict("this is not an erasure of an account")
    if four_eyes and row.requested_by == by.id:
        raise Forbidden("a second person must approve an erasure (four eyes)")
    async with ctx.db.sessions() as session:
        user = await session.get(User, row.user_id)
    if user is None:
        raise NotFound("the account no longer exists")
    if await last_enabled_admin(ctx, user):
        raise Conflict("the last enabled administrator cannot be erased")
    async with ctx.db.transaction() as session:
        await session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == request_id)
            .values(approved_by=by.id, approved_at=ctx.clock.now())
        )
    counts = await _erase(ctx, user)
    return await _finish(ctx, request_id, user.id, counts, by=by, address=address)


async def _erase(ctx: IdentityContext, user: User) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts["sessions_ended"] = await end_all_sessions(ctx, user_id=user.id, reason="erased")
    async with ctx.db.transaction() as session:
        await session.execute(update(User).where(User.id == user.id).values(disabled=True))
    await ctx.announce(user_id=user.id, reason="user_changed")
    erased_name = f"erased-{user.id[:16]}"
    async with ctx.db.transaction() as session:
        sessions = select(LoginSession.id).where(LoginSession.user_id == user.id)
        await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(sessions)))
        for name, model, column in (
            ("sessions", LoginSession, LoginSession.user_id),
            ("api_keys", ApiKey, ApiKey.owner_user_id),
            ("recovery_codes", RecoveryCode, RecoveryCode.user_id),
        ):
            result = await session.execute(delete(model).where(column == user.id))
            counts[name] = int(result.rowcount)  # type: ignore[attr-defined]
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                username=erased_name,
                username_skeleton=skeleton(erased_name),
                password_hash=f"!erased:{secrets.token_hex(16)}",
                totp_secret=None,
                totp_pending=None,
                email_sealed=None,
                email_index=None,
                display_name_sealed=None,
                phone_sealed=None,
                fields_version=None,
                sites=[],
                devices=[],
                disabled=True,
            )
        )
        result = await session.execute(
            update(Incident)
            .where(Incident.principal.in_([user.id, user.username]))
            .values(principal=None)
        )
        counts["incidents"] = int(result.rowcount)  # type: ignore[attr-defined]
        counts["audit_entries"] = 0
        for actor_type in ("user", "api_key"):
            counts["audit_entries"] += await ctx.audit.erase_subject(
                session, actor_type=actor_type, actor_id=user.id
            )
    return counts


async def _finish(
    ctx: IdentityContext,
    request_id: str,
    user_id: str,
    counts: dict[str, int],
    *,
    by: Principal,
    address: str | None,
) -> ErasureView:
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        row = await session.get(ErasureRequest, request_id, with_for_update=True)
        assert row is not None
        body: dict[str, Any] = {
            "schema": CERTIFICATE,
            "request_id": row.id,
            "subject": {
                "user_id": user_id,
                "audit_pseudonym": ctx.audit.actor_ref("user", user_id),
            },
            "reason": row.reason,
            "requested_by": row.requested_by,
            "requested_at": row.requested_at.isoformat(),
            "approved_by": by.id,
            "erased_at": now.isoformat(),
            "erased": counts,
        }
        body = sign_certificate(ctx, body)
        row.state = "done"
        row.finished_at = now
        row.certificate = json.dumps(body, sort_keys=True)
        event = audit_event(
            ERASED,
            by=by,
            address=address,
            resource_type="user",
            resource_id=user_id,
            request_id=row.id,
            erased=counts,
            signature=body["signature"],
        )
        await ctx.audit.append(session, event)
        return view(row)
