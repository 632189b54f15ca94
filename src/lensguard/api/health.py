"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import ServicesDep, requires
from lensguard.api.problems import problem_response, problems
from lensguard.logs import get_logger

router = APIRouter(tags=["health"])
log = get_logger("lensguard.health")
CHECK_TIMEOUT = 2.0


class Liveness(BaseModel):
    status: str = Field(description="always ok")


class Readiness(BaseModel):
    status: str = Field(description="ready")
    checks: dict[str, str] = Field(description="each dependency: ok or unreachable")


@router.get("/healthz", dependencies=[requires(PUBLIC)], summary="Liveness")
async def healthz() -> Liveness:
    """The process is up and serving."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    dependencies=[requires(PUBLIC)],
    summary="Readiness",
    response_model=Readiness,
    responses=problems(503),
)
async def readyz(services: ServicesDep) -> Response:
    """The database (and Redis, when configured) answer; 503 names which do not."""
    checks: dict[str, str] = {}
    probes: dict[str, Awaitable[object]] = {"database": services.db.ping()}
    if services.redis is not None:
        probes["redis"] = services.redis.ping()
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe, CHECK_TIMEOUT)
        except Exception as exc:
            log.warning("readiness_check_failed", check=name, error=type(exc).__name__)
            checks[name] = "unreachable"
        else:
            checks[name] = "ok"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        return problem_response(
            status=503,
            slug="not-ready",
            title="Not ready",
            detail=f"unreachable: {', '.join(failed)}",
            extensions={"checks": checks},
        )
    return JSONResponse({"status": "ready", "checks": checks})
