"""``/api/v1/security``: the IP blocklist (list, block, unblock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from lensguard.access.principal import Principal
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.pages import PAGED, Listing, PageDep
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.errors import NotFound, ValidationFailed
from lensguard.guard.blocklist import (
    BlockEntry,
    BlocklistFull,
    ProtectedAddress,
    parse_address,
    parse_target,
    target_text,
)
from lensguard.guard.client import Network
from lensguard.identity.auditing import audit_event, record
from lensguard.monitor.events import emit
from lensguard.severity import Severity

router = APIRouter(prefix="/api/v1/security", tags=["security"], responses=problems(AUTHENTICATED))
Manager = Annotated[Principal, requires("security_manage")]
MAX_TTL = 30 * 86_400
# Broader than this is a firewall's job, and one typo away from locking everyone out.
MIN_PREFIX = {4: 8, 6: 32}
NOT_A_TARGET = "must be an IP address or a CIDR range without host bits set"

Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


def _parse(text: str) -> Network:
    # ipaddress quotes the input in its messages; problems never echo rejected input.
    try:
        return parse_target(text)
    except ValueError:
        raise ValueError(NOT_A_TARGET) from None


class BlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, StringConstraints(max_length=64)] = Field(
        description="An IPv4/IPv6 address or a CIDR range (no host bits set)"
    )
    ttl_seconds: Annotated[int, Field(ge=1, le=MAX_TTL)] | None = Field(
        description="Seconds until the block lifts (up to 30 days); null blocks until removed"
    )
    reason: Reason

    @field_validator("address")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        network = _parse(value)
        if network.prefixlen < MIN_PREFIX[network.version]:
            raise ValueError(f"ranges broader than /{MIN_PREFIX[network.version]} are not accepted")
        return target_text(network)


class BlockPublic(BaseModel):
    address: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = Field(description="null: until removed")


def public(entry: BlockEntry) -> BlockPublic:
    """The API view of a stored entry (timestamps as UTC datetimes)."""
    expires = entry.expires_at
    return BlockPublic(
        address=entry.target,
        reason=entry.reason,
        created_at=datetime.fromtimestamp(entry.created_at, UTC),
        expires_at=None if expires is None else datetime.fromtimestamp(expires, UTC),
    )


def _refused(message: str) -> ValidationFailed:
    # Answered like a validation error of the field, so clients show it next to the input.
    return ValidationFailed(
        message, errors=[{"field": "body.address", "message": message, "type": "blocklist"}]
    )


LISTING: Listing[BlockEntry] = Listing(
    "blocklist", key=lambda e: (float(e.created_at), e.target), parts=(float, str)
)


@router.get("/blocklist", summary="List blocked addresses", responses=PAGED | problems(422))
async def list_blocks(
    _principal: Manager,
    services: ServicesDep,
    page: PageDep,
) -> list[BlockPublic]:
    """Every blocked address and range that has not expired, oldest first."""
    entries = await services.blocklist.list()
    return [public(e) for e in LISTING.paginate(entries, page)]


@router.post("/blocklist", status_code=201, summary="Block an address", responses=problems(BODY))
async def block(
    body: BlockCreate, principal: Manager, services: ServicesDep, address: AddressDep
) -> BlockPublic:
    """Block an address or range (replacing any block of the same one)."""
    caller = parse_address(address)
    network = parse_target(body.address)
    if caller is not None and caller.version == network.version and caller in network:
        raise _refused("this block would cover your own address")
    try:
        entry = await services.blocklist.block(
            body.address, ttl=body.ttl_seconds, reason=body.reason
        )
    except (ProtectedAddress, BlocklistFull) as exc:
        raise _refused(str(exc)) from exc
    emit(
        "guard.address_blocked",
        severity=Severity.MEDIUM,
        target=entry.target,
        ttl_seconds=body.ttl_seconds,
        reason=entry.reason,
        actor=principal.id,
    )
    await record(
        services,
        audit_event(
            "security.block",
            by=principal,
            address=address,
            resource_type="address",
            resource_id=entry.target,
            ttl_seconds=body.ttl_seconds,
            reason=entry.reason,
        ),
    )
    return public(entry)


@router.delete(
    "/blocklist/{address:path}",
    status_code=204,
    summary="Lift a block",
    responses=problems(404, 422),
)
async def unblock(
    address: Annotated[str, Path(max_length=64, description="The address or range, as listed")],
    principal: Manager,
    services: ServicesDep,
) -> Response:
    """Lift a block at once."""
    try:
        target = target_text(_parse(address))
    except ValueError as exc:
        err = {"field": "path.address", "message": str(exc), "type": "value_error"}
        raise ValidationFailed("invalid input in: path.address", errors=[err]) from exc
    if not await services.blocklist.unblock(target):
        raise NotFound("no such block")
    await record(
        services,
        audit_event(
            "security.unblock",
            by=principal,
            resource_type="address",
            resource_id=target,
        ),
    )
    emit("guard.address_unblocked", severity=Severity.MEDIUM, target=target, actor=principal.id)
    return Response(status_code=204)
