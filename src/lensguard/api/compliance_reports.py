"""``GET /api/v1/compliance/reports/{framework}``: controls mapped to live evidence.

Needs ``compliance_manage`` and a caller scoped to everything (the evidence spans every
site). ``format=html`` answers one printable page as an attachment. Each report is
audited as ``compliance.report`` with its summary. docs/privacy.md, *Compliance reports*.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal
from lensguard.api.compliance import ACTION, EVERY_ACCOUNT
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.errors import ValidationFailed
from lensguard.identity.auditing import audit_event, record
from lensguard.identity.enforce import authorize
from lensguard.privacy.evidence import Period, Sources
from lensguard.privacy.reports import FRAMEWORKS, as_html, build_report

router = APIRouter(
    prefix="/api/v1/compliance", tags=["compliance"], responses=problems(AUTHENTICATED)
)
Officer = Annotated[Principal, requires(ACTION)]
REPORTED = "compliance.report"
DEFAULT_DAYS = 90
MAX_DAYS = 3_660


class EvidenceView(BaseModel):
    name: str
    status: str = Field(description="evidenced, gap or no_evidence")
    summary: str
    facts: dict[str, Any]


class ControlView(BaseModel):
    id: str
    title: str
    status: str = Field(description="the worst status of its evidence")
    evidence: list[EvidenceView]


class ComplianceReport(BaseModel):
    """A framework's controls with their evidence (docs/privacy.md)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_id: str = Field(alias="schema")
    framework: str
    title: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    generated_at: str
    summary: dict[str, int]
    controls: list[ControlView]


class Format(StrEnum):
    JSON = "json"
    HTML = "html"


def _invalid(field: str, message: str) -> ValidationFailed:
    err = {"field": field, "message": message, "type": "value_error"}
    return ValidationFailed(f"invalid input in: {field}: {message}", errors=[err])


def period_of(start: datetime | None, end: datetime | None, now: datetime) -> Period:
    """The period asked for: ``end`` defaults to now, ``start`` to 90 days before it."""
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start.tzinfo is None or end.tzinfo is None:
        raise _invalid("query.from", "times need a UTC offset, e.g. 2026-01-01T00:00:00Z")
    if start >= end:
        raise _invalid("query.from", "the period must end after it starts")
    if end - start > timedelta(days=MAX_DAYS):
        raise _invalid("query.from", f"a report covers at most {MAX_DAYS} days")
    return Period(start, end)


@router.get(
    "/reports/{framework}",
    summary="Build a compliance report",
    responses=problems(403, 404, 422)
    | {200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    response_model=ComplianceReport,
)
async def report(
    framework: Annotated[str, Path(max_length=16, description=", ".join(sorted(FRAMEWORKS)))],
    principal: Officer,
    services: ServicesDep,
    address: AddressDep,
    *,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    output: Annotated[Format, Query(alias="format")] = Format.JSON,
) -> Response:
    """Each control of ``framework`` (gdpr, hipaa, sox, pci) with the evidence the live
    data gives it: ``evidenced``, ``gap`` or ``no_evidence``; never a verdict."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    if framework not in FRAMEWORKS:
        raise _invalid("path.framework", f"choose one of: {', '.join(sorted(FRAMEWORKS))}")
    period = period_of(start, end, services.clock.now())
    sources = Sources(services.db, services.audit, services.settings)
    body: dict[str, Any] = await build_report(framework, sources, period, now=services.clock.now())
    await record(
        services,
        audit_event(
            REPORTED,
            by=principal,
            address=address,
            resource_type="framework",
            resource_id=framework,
            summary=body["summary"],
            start=body["from"],
            end=body["to"],
        ),
    )
    if output is Format.HTML:
        name = f"{framework}-report-{period.end:%Y%m%d}.html"
        return HTMLResponse(
            as_html(body), headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
    return JSONResponse(body)
