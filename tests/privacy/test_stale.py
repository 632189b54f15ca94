"""Which stale accounts a review may disable: never the caller, never the last admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lensguard.privacy.access_review import AccessReview, AccountRow, ReviewOptions
from lensguard.privacy.stale import StaleRefused, check_disable

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def account(user_id: str, role: str, *, stale: bool, disabled: bool = False) -> AccountRow:
    return AccountRow(
        id=user_id,
        username=user_id,
        role=role,
        privileged=role == "admin",
        sites=["*"],
        devices=["*"],
        mfa=False,
        disabled=disabled,
        created_at=NOW,
        last_login=None,
        last_active=None,
        stale=stale,
        live_api_keys=0,
    )


def review(*accounts: AccountRow) -> AccessReview:
    return AccessReview(NOW, ReviewOptions(), list(accounts), [], [], None, NOW)


def test_the_last_enabled_admin_is_never_disabled() -> None:
    only = review(account("a", "admin", stale=True), account("v", "viewer", stale=True))
    with pytest.raises(StaleRefused, match="no enabled administrator"):
        check_disable(only, ["a"], by=None)
    check_disable(only, ["v"], by=None)  # a viewer may go
    # A second, disabled admin does not count as a way back in.
    still = review(
        account("a", "admin", stale=True), account("b", "admin", stale=False, disabled=True)
    )
    with pytest.raises(StaleRefused, match="no enabled administrator"):
        check_disable(still, ["a"], by=None)
    spare = review(account("a", "admin", stale=True), account("b", "admin", stale=False))
    check_disable(spare, ["a"], by="b")


def test_the_caller_fresh_and_unknown_accounts_are_refused() -> None:
    state = review(
        account("a", "admin", stale=False),
        account("s", "admin", stale=True),
        account("v", "viewer", stale=False),
        account("d", "viewer", stale=True, disabled=True),
    )
    with pytest.raises(StaleRefused, match="your own account"):
        check_disable(state, ["s"], by="s")
    with pytest.raises(StaleRefused, match="not stale"):
        check_disable(state, ["s", "v"], by="a")
    with pytest.raises(StaleRefused, match="already disabled"):
        check_disable(state, ["d"], by="a")
    with pytest.raises(StaleRefused, match="do not exist"):
        check_disable(state, ["nobody"], by="a")
    check_disable(state, ["s"], by="a")
