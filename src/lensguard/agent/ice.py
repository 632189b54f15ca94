"""ICE servers for the agent's peer connections, from ``GET /api/v1/turn-credentials``.

TURN credentials are short-lived; they are cached for half their ``ttl``. A server
without the endpoint (404), or one that refuses it, means no ICE servers at all:
direct host candidates still work on one network. The list is never empty by
accident: aiortc would then fall back to Google's public STUN server, which a
self-hosted, offline deployment must not contact.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import httpx
from aiortc import RTCIceServer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from lensguard.logs import get_logger

TURN_CREDENTIALS_PATH = "/api/v1/turn-credentials"
ABSENT_RETRY = 300.0
"""Seconds before asking again a server that has no TURN endpoint or has TURN off."""
log = get_logger("lensguard.agent.ice")
IceUrl = Annotated[str, StringConstraints(max_length=512, pattern=r"^(stun|turn|turns):")]


class _Server(BaseModel):
    model_config = ConfigDict(extra="ignore")

    urls: IceUrl | list[IceUrl]
    username: Annotated[str, StringConstraints(max_length=512)] | None = None
    credential: Annotated[str, StringConstraints(max_length=512)] | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ice_servers: list[_Server] = Field(max_length=16)
    ttl: int = Field(ge=0, le=7 * 86_400)


class IceServers:
    """Fetches and caches the ICE servers the server hands this device."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: Callable[[], Awaitable[str]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.token = token
        self._clock = clock
        self._servers: list[RTCIceServer] = []
        self._until = 0.0

    async def get(self) -> list[RTCIceServer]:
        """The current ICE servers (possibly none)."""
        if self._clock() < self._until:
            return self._servers
        self._servers, keep = await self._fetch()
        self._until = self._clock() + keep
        return self._servers

    async def _fetch(self) -> tuple[list[RTCIceServer], float]:
        try:
            token = await self.token()
            response = await self.http.get(
                TURN_CREDENTIALS_PATH, headers={"Authorization": f"Bearer {token}"}
            )
        except Exception as exc:
            log.warning("ice.fetch_failed", error=type(exc).__name__)
            return [], 10.0
        if response.status_code == 404:
            log.info("ice.no_turn_endpoint")
            return [], ABSENT_RETRY
        if response.status_code != 200:
            log.warning("ice.refused", status=response.status_code)
            return [], 30.0
        try:
            answer = _Answer.model_validate_json(response.content)
        except ValidationError:
            log.warning("ice.bad_answer")
            return [], 30.0
        servers = [
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in answer.ice_servers
        ]
        log.info("ice.servers", count=len(servers), ttl=answer.ttl)
        # ttl 0 means TURN is off on the server: nothing expires, ask again much later.
        return servers, answer.ttl / 2 if answer.ttl > 0 else ABSENT_RETRY
