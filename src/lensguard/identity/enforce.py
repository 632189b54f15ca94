"""``authorize``: ask ``can()`` and raise the matching error, with a security event.

Routes and services share it, so a refusal looks and is recorded the same wherever
the decision is taken. It lives above ``access`` (which only decides) because
recording a refusal needs ``audit`` and ``monitor``.
"""

from __future__ import annotations

from lensguard.access.can import can, refusal
from lensguard.access.principal import Principal, Resource
from lensguard.audit.denial_scope import note_denial
from lensguard.errors import Forbidden, NotFound
from lensguard.monitor.events import emit
from lensguard.severity import Severity


def authorize(
    principal: Principal, action: str, resource: Resource | None = None, *, hide: bool = False
) -> None:
    """Raise unless ``can()`` allows; ``hide`` answers 404 so out-of-scope things stay unseen."""
    if can(principal, action, resource):
        return
    emit(
        "access.denied",
        severity=Severity.MEDIUM,
        principal=principal.id,
        role=principal.role,
        action=action,
        resource_kind=resource.kind if resource else None,
        resource_id=resource.id if resource else None,
    )
    reason = refusal(principal, action, resource)
    note_denial(principal, action, resource, reason=reason)
    if hide:
        # Word for word what a missing resource of that kind answers: nothing leaks.
        kind = resource.kind.replace("_", " ") if resource else "resource"
        raise NotFound(f"no such {kind}")
    raise Forbidden(reason)
