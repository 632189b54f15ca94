"""Delegation: whom a principal may manage and what it may hand on. Pure.

A principal may touch (see, change, disable, delete) an account, key or device only
when what that target holds lies inside its own permissions and scope, and may give
a target only what it holds itself. Both are checked on every user-management,
API-key and device action that carries ``Resource.holds`` / ``Resource.grants``.
"""

from __future__ import annotations

from lensguard.access.principal import ALL, Grant, Principal

SEPARATE_DUTIES = frozenset({"redaction_override"})
"""Permissions deliberately kept from account managers (break-glass). A manager may
still see, narrow, disable and delete an account holding them, but never grant them
nor widen such an account: an admin cannot hand break-glass to anyone, itself included."""


def covers(held: frozenset[str], wanted: frozenset[str]) -> bool:
    """True when scope ``held`` includes every entry of ``wanted``; only ``*`` covers ``*``."""
    return ALL in held or (ALL not in wanted and wanted <= held)


def narrower(after: Grant, before: Grant) -> bool:
    """True when ``after`` gives nothing that ``before`` did not already give."""
    return (
        after.permissions <= before.permissions
        and covers(before.sites, after.sites)
        and covers(before.devices, after.devices)
    )


def within(grant: Grant, principal: Principal, *, besides: frozenset[str] = frozenset()) -> bool:
    """True when ``grant`` lies inside the principal's permissions (plus ``besides``) and scope."""
    return (
        grant.permissions <= principal.permissions | besides
        and covers(principal.sites, grant.sites)
        and covers(principal.devices, grant.devices)
    )


def may_touch(principal: Principal, holds: Grant) -> bool:
    """Whether the principal may see or change a target holding ``holds`` at all."""
    return within(holds, principal, besides=SEPARATE_DUTIES)


def may_grant(principal: Principal, grants: Grant, holds: Grant | None) -> bool:
    """Whether the principal may leave a target holding ``grants`` (it held ``holds``).

    Inside the principal's own reach, or no wider than before: a pure narrowing (or a
    disable) hands out nothing, so it is allowed on any account the principal may touch.
    """
    return within(grants, principal) or (holds is not None and narrower(grants, holds))


def delegation_allowed(principal: Principal, holds: Grant | None, grants: Grant | None) -> bool:
    """Both checks: the target as it is, and as the request would leave it."""
    if holds is not None and not may_touch(principal, holds):
        return False
    return grants is None or may_grant(principal, grants, holds)
