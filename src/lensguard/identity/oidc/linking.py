"""Which account a provider's identity signs in as, and what that account may do.

Accounts are found by (issuer, subject), never by e-mail alone. A first sign-in links
to the account holding the same e-mail address only when the provider marks it
``email_verified`` and the provider's settings turn ``link_by_verified_email`` on;
otherwise, with ``jit_provisioning``, it creates an account (no usable password).
When the provider has rules or a ``default_role``, the rules are evaluated at every
sign-in and the account gets exactly what the first matching rule says, so removing
someone from a group at the provider removes the access at their next sign-in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict, ValidationFailed
from lensguard.identity.context import IdentityContext
from lensguard.identity.oidc.errors import SsoForbidden
from lensguard.identity.oidc.room import Provider
from lensguard.identity.profile import user_by_email
from lensguard.identity.usernames import new_username
from lensguard.oidc_settings import MappingRule
from lensguard.store import users as repo
from lensguard.store.models import OidcIdentity, User


@dataclass(frozen=True)
class Grant:
    """What the rules give the account: its role and scope."""

    role: str
    sites: list[str]
    devices: list[str]


@dataclass(frozen=True)
class Linked:
    """The account a sign-in resolved to, and how."""

    user: User
    how: str
    """``linked`` (an existing link), ``email`` (linked now by e-mail) or ``created`` (JIT)."""
    grant: Grant | None


def _holds(value: Any, wanted: str) -> bool:
    if isinstance(value, str):
        return value == wanted
    if isinstance(value, list):
        return any(isinstance(item, str) and item == wanted for item in value)
    return False


def evaluate(provider: Provider, claims: dict[str, Any]) -> Grant | None:
    """The first matching rule's grant, the provider's default, or None (no access)."""
    rules: Sequence[MappingRule] = provider.settings.rules
    for rule in rules:
        if _holds(claims.get(rule.claim), rule.value):
            return Grant(role=rule.role, sites=list(rule.sites), devices=list(rule.devices))
    if provider.settings.default_role is not None:
        return Grant(
            role=provider.settings.default_role,
            sites=list(provider.settings.default_sites),
            devices=["*"],
        )
    return None


def _username_candidates(
    provider: Provider, issuer: str, subject: str, claims: dict[str, Any]
) -> Iterator[str]:
    preferred = claims.get("preferred_username")
    if isinstance(preferred, str) and 0 < len(preferred) <= 48:
        yield preferred
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
    yield f"{provider.name}-{digest[:10]}"
    yield f"{provider.name}-{digest[:20]}"


async def _create(
    ctx: IdentityContext,
    session: AsyncSession,
    provider: Provider,
    *,
    grant: Grant,
    issuer: str,
    subject: str,
    claims: dict[str, Any],
) -> User:
    # The dummy hash (of a random password nobody knows), and password sign-in off: the
    # account is SSO-only, and no slow hash runs inside this transaction.
    unusable = ctx.dummy_hash
    for candidate in _username_candidates(provider, issuer, subject, claims):
        try:
            name = new_username(candidate)
            user = await repo.create_user(
                session, username=name, password_hash=unusable, role=grant.role
            )
        except (ValidationFailed, Conflict):
            continue
        user.password_login = False
        return user
    raise SsoForbidden("no username is free for this account", reason="username_taken")


async def resolve(
    ctx: IdentityContext,
    session: AsyncSession,
    provider: Provider,
    claims: dict[str, Any],
) -> Linked:
    """The account for ``claims`` (in the caller's transaction), with the rules applied."""
    issuer, subject = provider.settings.issuer, str(claims["sub"])
    grant = evaluate(provider, claims)
    if provider.manages_access and grant is None:
        raise SsoForbidden("no access rule admits this account", reason="no_rule_matched")
    found = await session.execute(
        select(OidcIdentity).where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
    )
    link = found.scalar_one_or_none()
    user: User | None = None
    how = "linked"
    if link is not None:
        user = await repo.get_user(session, user_id=link.user_id)
    else:
        email, verified = claims.get("email"), claims.get("email_verified")
        if provider.settings.link_by_verified_email and verified is True and isinstance(email, str):
            user = await user_by_email(ctx.fields, session, email)
            how = "email"
        if user is None and provider.settings.jit_provisioning and grant is not None:
            user = await _create(
                ctx, session, provider, grant=grant, issuer=issuer, subject=subject, claims=claims
            )
            how = "created"
        if user is None:
            raise SsoForbidden("no account is linked to this identity", reason="no_account")
        link = OidcIdentity(user_id=user.id, provider=provider.name, issuer=issuer, subject=subject)
        session.add(link)
    if user is None or user.disabled:
        raise SsoForbidden("this account is disabled", reason="disabled")
    link.last_login_at = ctx.clock.now()
    if grant is not None:
        user.role, user.sites, user.devices = grant.role, grant.sites, grant.devices
    await session.flush()
    return Linked(user=user, how=how, grant=grant)


async def identities_of(session: AsyncSession, user_id: str) -> list[OidcIdentity]:
    """The provider identities linked to an account."""
    rows = await session.execute(
        select(OidcIdentity)
        .where(OidcIdentity.user_id == user_id)
        .order_by(OidcIdentity.created_at)
    )
    return list(rows.scalars())
