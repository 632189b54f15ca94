"""``/api/v1/privacy``: a data subject's export (GDPR Art. 15 and 20).

Needs ``compliance_manage`` and a caller scoped to every site and device (the export
gathers rows from everywhere). The zip is written to a private temporary file first,
so the size bound and every error are answered as problems before any byte is sent;
it is removed once sent. Audited as ``privacy.export`` with the zip's SHA-256.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.background import BackgroundTask

from lensguard.access.principal import Principal
from lensguard.api.compliance import ACTION, EVERY_ACCOUNT
from lensguard.api.deps import AddressDep, ServicesDep, requires
from lensguard.api.egress import egress
from lensguard.api.problems import AUTHENTICATED, BODY, problems
from lensguard.identity.auditing import audit_event
from lensguard.identity.enforce import authorize
from lensguard.privacy.export import write_export
from lensguard.private import private_dir

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"], responses=problems(AUTHENTICATED))
Officer = Annotated[Principal, requires(ACTION)]
EXPORTED = "privacy.export"
ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The subject's data: manifest.json, tables/*.jsonl, audit.jsonl",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the account's id or username"
    )


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


@router.post(
    "/exports",
    summary="Export a data subject's data",
    responses=ZIP | problems(BODY, 404, 409),
    response_class=FileResponse,
)
async def export(
    body: ExportRequest, principal: Officer, services: ServicesDep, address: AddressDep
) -> FileResponse:
    """Everything kept about one person, as a zip (schema in docs/privacy.md)."""
    authorize(principal, ACTION, EVERY_ACCOUNT)
    folder = private_dir(services.settings.var_dir / "tmp")
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".zip", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    try:
        result = await write_export(
            services.db,
            services.audit,
            body.user,
            path,
            max_bytes=services.settings.privacy.export_max_bytes,
            requested_by=principal.id,
            now=services.clock.now(),
        )
        rows = {f["name"]: f["rows"] for f in result.manifest["files"]}
        event = audit_event(
            EXPORTED,
            by=principal,
            address=address,
            resource_type="user",
            resource_id=result.user_id,
            sha256=result.sha256,
            bytes=result.size,
            rows=rows,
        )
        async with services.db.transaction() as session:
            await services.audit.append(session, event)
    except BaseException:
        _remove(path)
        raise
    egress(principal, address, result.size, "subject_export", user_id=result.user_id)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"subject-{result.user_id}.zip",
        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": result.sha256},
        background=BackgroundTask(_remove, path),
    )
