"""Compliance: the access review, and disabling the stale accounts it finds.

Both need ``compliance_manage`` and a caller whose scope covers every site and device:
the review lists every account, so a site-scoped officer would see only part of it and
take it for the whole. Each review is audited (``compliance.access_review``, with its
counts); the last one dates the next review due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import ALL, Grant, Principal, Resource
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import Conflict
from lensguard.identity import accounts
from lensguard.identity.auditing import audit_event, record
from lensguard.identity.enforce import authorize
from lensguard.privacy.access_review import (
    REVIEW_ACTION,
    AccessReview,
    AccountRow,
    DeviceRow,
    KeyRow,
    ReviewOptions,
    build_review,
)
from lensguard.privacy.stale import StaleRefused, check_disable
from lensguard.services import Services

router = APIRouter(
    prefix="/api/v1/compliance", tags=["compliance"], responses=problems(AUTHENTICATED)
)
ACTION = "compliance_manage"
Officer = Annotated[Principal, requires(ACTION)]
DayCount = Annotated[int, Query(ge=1, le=3_650)]


EVERY_ACCOUNT = Resource(
    kind="accounts", holds=Grant(sites=frozenset({ALL}), devices=frozenset({ALL}))
)
"""The review reads every account: ``can()`` lets only a principal scoped to all sites
and devices touch what holds all of them (``access.delegation``)."""


class AccessReviewBody(BaseModel):
    """The access review (docs/privacy.md, *Access review*)."""

    at: datetime
    options: ReviewOptions
    summary: dict[str, int]
    last_review: datetime | None
    next_due: datetime
    due: bool
    accounts: list[AccountRow]
    stale_accounts: list[str]
    privileged_without_mfa: list[str]
    unused_api_keys: list[KeyRow]
    idle_devices: list[DeviceRow]


class DisableStale(BaseModel):
    """Disable these accounts, each of which the review as of now must show as stale."""

    model_config = ConfigDict(extra="forbid")

    user_ids: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=500
    )
    stale_days: int = Field(default=90, ge=1, le=3_650)
    reason: str = Field(min_length=10, max_length=500, description="why, for the audit log")


class Disabled(BaseModel):
    disabled: list[str]


async def _review(services: Services, options: ReviewOptions) -> AccessReview:
    now = services.clock.now()
    async with services.db.transaction() as session:
        return await build_review(session, services.policy, now=now, options=options)


@router.get(
    "/access-review",
    summary="Run an access review",
    responses=problems(403, 422),
)
async def access_review(
    principal: Officer,
    services: ServicesDep,
    address: AddressDep,
    *,
    stale_days: DayCount = 90,
    key_unused_days: DayCount = 90,
    device_days: DayCount = 30,
) -> AccessReviewBody:
    """Accounts with role, scope, MFA and last sign-in; stale accounts; unused API keys;
    privileged accounts; idle devices; when the last review was and when one is due.

    The JSON is documented in docs/privacy.md (*Access review*). Each call is recorded
    in the audit log as a review.
    """
    authorize(principal, ACTION, EVERY_ACCOUNT)
    options = ReviewOptions(stale_days, key_unused_days, device_days)
    review = await _review(services, options)
    await record(
        services,
        audit_event(
            REVIEW_ACTION,
            by=principal,
            address=address,
            resource_type="accounts",
            summary=dict(review.summary),
        ),
    )
    return AccessReviewBody.model_validate(review.as_json())


@router.post(
    "/access-review/disable-stale",
    summary="Disable stale accounts",
    responses=problems(BODY, 403, 409),
)
async def disable_stale(
    body: DisableStale, principal: Officer, services: ServicesDep, address: AddressDep
) -> Disabled:
    """Disable accounts the review shows as stale; their sessions end and keys are revoked.

    Refused whole (409) when one of them is not stale now, is the caller, or when the
    change would leave no enabled administrator.
    """
    authorize(principal, ACTION, EVERY_ACCOUNT)
    review = await _review(services, ReviewOptions(stale_days=body.stale_days))
    wanted = list(dict.fromkeys(body.user_ids))
    try:
        check_disable(review, wanted, by=principal.id)
    except StaleRefused as exc:
        raise Conflict(str(exc)) from exc
    for user_id in wanted:
        await accounts.update_account(
            services,
            user_id=user_id,
            change=accounts.AccountChange(disabled=True),
            by=principal,
            address=address,
        )
    await record(
        services,
        audit_event(
            "compliance.disable_stale",
            by=principal,
            address=address,
            resource_type="accounts",
            users=wanted,
            stale_days=body.stale_days,
            reason=body.reason,
        ),
    )
    return Disabled(disabled=wanted)
