"""``GET /metrics``: Prometheus text exposition, for holders of ``security_manage``.

Prometheus scrapes with an API key (``authorization: {credentials: lg_…}`` in its
scrape config); the series say enough about traffic and attacks to be kept private.
"""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import PlainTextResponse, Response

from lensguard.api.deps import ServicesDep, requires
from lensguard.api.problems import AUTHENTICATED, problems

router = APIRouter(tags=["monitoring"], responses=problems(AUTHENTICATED))


@router.get(
    "/metrics",
    dependencies=[requires("security_manage")],
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
)
async def metrics(services: ServicesDep) -> Response:
    """Every metric of this node in the Prometheus text format."""
    await services.metrics.refresh_active_sessions(services.db)
    media = services.hub.media
    if media is not None:
        services.metrics.observe_processing(media.processing_counts(), media.unredacted_viewers())
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
