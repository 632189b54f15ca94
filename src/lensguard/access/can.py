"""``can(principal, action, resource)``: the one function that decides. Pure; deny by default."""

from __future__ import annotations

from lensguard.access.delegation import delegation_allowed
from lensguard.access.principal import ALL, Principal, PrincipalKind, Resource

# Actions a principal may take on resources it owns without any broader permission
# (its own sessions, API keys). Everything else needs the permission itself.
SELF_SERVICE = "account_self"
# Changing one's own password or MFA: a credential must never be able to replace
# the credentials it was issued under, so only a signed-in person may.
CREDENTIALS = "account_credentials"
# Actions a person must answer for: a signed-in user only, never an API key or a
# device, whatever permissions its scopes or role carry.
PERSON_ONLY = frozenset({"redaction_override", CREDENTIALS})


def in_scope(principal: Principal, resource: Resource) -> bool:
    """True when the resource's site and device fall inside the principal's scope.

    A device without an id (one being registered) could become any device of its site,
    so only a principal scoped to every device (``*``) reaches it.
    """
    sites, devices = principal.sites, principal.devices
    if resource.site is not None and ALL not in sites and resource.site not in sites:
        return False
    return not (
        resource.kind == "device"
        and ALL not in devices
        and (resource.id is None or resource.id not in devices)
    )


def can(principal: Principal | None, action: str, resource: Resource | None = None) -> bool:
    """Whether ``principal`` may perform ``action`` on ``resource``.

    Anonymous callers may do nothing; the permission must be granted by the role in
    force now; person-only actions need a user principal; self-service actions apply
    only to resources the principal owns; resource scope (site, device) must include
    the resource; a managed target's access, now and after the change, must lie inside
    the principal's own (``access.delegation``).
    """
    if principal is None or action not in principal.permissions:
        return False
    if action in PERSON_ONLY and principal.kind is not PrincipalKind.USER:
        return False
    target = resource or Resource()
    if action == SELF_SERVICE and target.owner_id is not None and target.owner_id != principal.id:
        return False
    if not in_scope(principal, target):
        return False
    return delegation_allowed(principal, target.holds, target.grants)


def refusal(principal: Principal, action: str, resource: Resource | None = None) -> str:
    """Why ``can()`` said no, in words for the caller (never about other sites)."""
    if action in PERSON_ONLY and action in principal.permissions:
        return f"{action} needs a signed-in user, not an API key or device"
    if action in principal.permissions and resource is not None and resource.grants is not None:
        return (
            "you can only grant a role, permissions and scope (sites, devices) "
            "that you hold yourself"
        )
    return f"your role does not allow {action}"
