"""``/api/v1/security/dashboard``: the security desk's figures over time.

Counted on the server from the audit log and the incidents (``incidents.figures``),
so the console draws its charts from numbers, with nothing fetched from elsewhere.
Needs ``security_manage``. The top sources name addresses, so the answer counts as
data leaving like an audit page does (``data.egress``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, request_address, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.incidents.figures import BUCKETS, MAX_ENTRIES, SERIES, figures

router = APIRouter(prefix="/api/v1/security", tags=["security"], responses=problems(AUTHENTICATED))
ACTION = "security_manage"
Manager = Annotated[Principal, requires(ACTION)]
MAX_HOURS = 90 * 24


class BucketView(BaseModel):
    start: datetime
    counts: dict[str, int] = Field(description="one count per series, zero included")


class SourceView(BaseModel):
    address: str
    total: int
    counts: dict[str, int] = Field(description="failed_logins, denials and detections")


class Dashboard(BaseModel):
    since: datetime
    until: datetime
    bucket_seconds: int
    series: list[str] = Field(description="the series in every bucket, in drawing order")
    buckets: list[BucketView]
    totals: dict[str, int]
    top_sources: list[SourceView]
    open_incidents: int = Field(description="incidents not closed nor false positives")
    truncated: bool = Field(
        description=f"more than {MAX_ENTRIES} audit entries in the window: the oldest "
        "buckets are short; choose a shorter window"
    )


@router.get("/dashboard", summary="Security figures over time", responses=problems(422))
async def dashboard(
    principal: Manager,
    services: ServicesDep,
    request: Request,
    hours: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_HOURS,
            description=f"the window before now, cut into {BUCKETS} buckets (1 to 2160)",
        ),
    ] = 24,
) -> Dashboard:
    """Failed logins, blocks, denials, detections and alerts per bucket, and top sources."""
    async with services.db.transaction() as session:
        found = await figures(
            session, until=services.clock.now(), hours=hours, opener=services.audit.opener()
        )
    body = Dashboard(
        since=found.since,
        until=found.until,
        bucket_seconds=found.bucket_seconds,
        series=list(SERIES),
        buckets=[
            BucketView(start=b.start, counts={name: b.counts[name] for name in SERIES})
            for b in found.buckets
        ],
        totals={name: found.totals[name] for name in SERIES},
        top_sources=[
            SourceView(address=s.address, total=s.total, counts=dict(s.counts))
            for s in found.top_sources
        ],
        open_incidents=found.open_incidents,
        truncated=found.truncated,
    )
    if found.top_sources:
        size = len(body.model_dump_json())
        egress(
            principal,
            request_address(request),
            size,
            "security_dashboard",
            sources=len(found.top_sources),
        )
    return body
