"""``/api/v1/audit``: query, verify and checkpoint the tamper-evident audit log."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lensguard.access.principal import Principal
from lensguard.api.deps import ServicesDep, request_address, requires
from lensguard.api.egress import egress
from lensguard.api.pages import PAGED, next_link
from lensguard.api.problems import AUTHENTICATED, problems
from lensguard.audit.checkpoint import export_checkpoint
from lensguard.audit.entry import AuditRow
from lensguard.audit.log import AuditLog
from lensguard.audit.query import latest_checkpoint, query
from lensguard.errors import NotFound

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=problems(AUTHENTICATED))
Reader = Annotated[Principal, requires("audit_read")]
Manager = Annotated[Principal, requires("security_manage")]
MAX_PAGE = 500


def get_audit(request: Request) -> AuditLog:
    """The app's audit log."""
    audit: AuditLog = request.app.state.services.audit
    return audit


AuditDep = Annotated[AuditLog, Depends(get_audit)]


class AuditItem(BaseModel):
    seq: int
    ts: datetime
    actor_type: str
    actor_ref: str | None
    actor_id: str | None
    actor_name: str | None
    source_address: str | None
    personal_erased: bool
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_after_seq: int | None = Field(
        description="Pass as after_seq for the next page; null on the last page"
    )


class VerifyResult(BaseModel):
    ok: bool
    checked: int = Field(description="Entries verified before the first broken one")
    first_broken_seq: int | None
    reason: str | None
    anchor_seq: int | None = Field(
        None, description="Verified from this retention anchor: entries up to it were pruned"
    )
    anchor_ts: datetime | None = Field(None, description="When that anchor was signed")
    erased: int = Field(description="Entries whose personal fields were erased (shredded)")


class CheckpointDocument(BaseModel):
    type: str
    seq: int
    entry_hash: str
    ts: str
    signature: str = Field(description="Ed25519 over {seq, entry_hash, ts}, hex")
    key_id: str
    public_key: str = Field(description="Raw Ed25519 public key, base64")
    public_jwk: dict[str, str]


def _utc(value: datetime | None) -> datetime | None:
    # A time without zone is read as UTC, the zone every entry is stored in.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+14:00 and the like lie outside datetime's range in UTC:
        # they still bound nothing (or everything), which is what the caller asked.
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


def _item(row: AuditRow) -> AuditItem:
    return AuditItem(**asdict(row))


class AuditFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(default=None, max_length=255, description="Name or id")
    action: str | None = Field(
        default=None, max_length=65, pattern=r"^[a-z0-9_.-]+\*?$", description="Exact, or prefix*"
    )
    resource_type: str | None = Field(default=None, max_length=64)
    resource_id: str | None = Field(default=None, max_length=255)
    since: datetime | None = Field(default=None, description="Inclusive; UTC if no zone")
    until: datetime | None = Field(default=None, description="Exclusive; UTC if no zone")
    after_seq: int | None = Field(default=None, ge=0, le=2**62)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


@router.get("", summary="Query the audit log", responses=PAGED | problems(422))
async def list_entries(
    principal: Reader,
    services: ServicesDep,
    params: Annotated[AuditFilter, Query()],
    request: Request,
    response: Response,
) -> AuditPage:
    """Entries in sequence order, filtered; page with ``after_seq`` (or follow ``Link``).

    Its own scheme, kept on purpose (docs/api.md): the sequence number is public,
    so it is the cursor, and the body carries it for bulk readers.
    """
    async with services.db.transaction() as session:
        rows = await query(
            session,
            actor=params.actor,
            action=params.action,
            resource_type=params.resource_type,
            resource_id=params.resource_id,
            since=_utc(params.since),
            until=_utc(params.until),
            after_seq=params.after_seq,
            limit=params.limit,
            opener=services.audit.opener(),
        )
    next_after = rows[-1].seq if len(rows) == params.limit else None
    if next_after is not None:
        response.headers["Link"] = next_link(request, after_seq=next_after)
    page = AuditPage(items=[_item(r) for r in rows], next_after_seq=next_after)
    if rows:
        size = len(page.model_dump_json())
        egress(principal, request_address(request), size, "audit_read", entries=len(rows))
    return page


@router.get("/verify", summary="Verify the audit chain")
async def verify_chain(_: Reader, audit: AuditDep, services: ServicesDep) -> VerifyResult:
    """Verify the whole chain and its stored checkpoints."""
    report = await audit.verify(services.db)
    return VerifyResult(**asdict(report))


@router.post("/checkpoints", status_code=201, summary="Sign a checkpoint")
async def create_checkpoint(
    _: Manager, audit: AuditDep, services: ServicesDep
) -> CheckpointDocument:
    """Sign the current head; keep the document somewhere the database's admins cannot reach."""
    async with services.db.transaction() as session:
        checkpoint = await audit.checkpoint(session)
    return CheckpointDocument(**export_checkpoint(checkpoint, audit.checkpoint_public_key))


@router.get("/checkpoints/latest", summary="Read the latest checkpoint", responses=problems(404))
async def read_latest_checkpoint(
    _: Reader, audit: AuditDep, services: ServicesDep
) -> CheckpointDocument:
    """The most recent stored checkpoint."""
    async with services.db.transaction() as session:
        checkpoint = await latest_checkpoint(session)
    if checkpoint is None:
        raise NotFound("no checkpoint has been made yet")
    return CheckpointDocument(**export_checkpoint(checkpoint, audit.checkpoint_public_key))
