"""Which stale accounts may be disabled after an access review, and which may not."""

from __future__ import annotations

from collections.abc import Sequence

from lensguard.privacy.access_review import AccessReview

ADMIN_ROLE = "admin"


class StaleRefused(ValueError):
    """The accounts asked for cannot all be disabled; the message says which and why."""


def check_disable(review: AccessReview, user_ids: Sequence[str], *, by: str | None) -> None:
    """Refuse, naming why, unless every one of ``user_ids`` may be disabled now.

    Each must be an enabled account the review shows as stale, never the caller, and at
    least one enabled administrator must remain afterwards (so a review can never lock
    everyone out).
    """
    known = {a.id: a for a in review.accounts}
    missing = [u for u in user_ids if u not in known]
    if missing:
        raise StaleRefused(f"{len(missing)} of the accounts do not exist: {', '.join(missing)}")
    fresh = [u for u in user_ids if not known[u].stale or known[u].disabled]
    if fresh:
        raise StaleRefused(
            f"not stale (or already disabled) as of this review: {', '.join(fresh)}; "
            f"stale means no sign-in for {review.options.stale_days} days"
        )
    if by is not None and by in user_ids:
        raise StaleRefused("you cannot disable your own account")
    chosen = set(user_ids)
    admins = [
        a for a in review.accounts if a.role == ADMIN_ROLE and not a.disabled and a.id not in chosen
    ]
    if not admins:
        raise StaleRefused("this would leave no enabled administrator; keep at least one")
