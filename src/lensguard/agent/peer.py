"""The publisher: one aiortc peer connection per viewer, all fed by one source track.

A viewer is announced by the server (``viewer``), then sends its offer; the agent
answers with a fully gathered SDP (aiortc does not trickle its own candidates) but
accepts the viewer's trickled candidates. Each peer gets its own unbuffered
``MediaRelay`` proxy of the source, so a slow viewer drops frames instead of queueing
them. Only connections the server announced may offer, and at most ``max_peers``
viewers (announced or connected) are served at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
)
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp

from lensguard.logs import get_logger
from lensguard.media.ice import RemoteAddresses, accept_remote
from lensguard.wire.client import Answer, Leave

log = get_logger("lensguard.agent.peer")
Send = Callable[[dict[str, Any]], Awaitable[None]]
IceSource = Callable[[], Awaitable[list[RTCIceServer]]]


@dataclass
class Viewer:
    """One viewer connection: who it is and, once it offered, its peer connection."""

    connection: str
    principal: dict[str, Any]
    joined: float
    pc: RTCPeerConnection | None = None
    track: MediaStreamTrack | None = None
    early_candidates: list[dict[str, Any]] = field(default_factory=list)


class Publisher:
    """Answers viewers' offers with the shared source and closes peers that go away."""

    def __init__(
        self,
        source: MediaStreamTrack,
        send: Send,
        ice: IceSource,
        *,
        max_peers: int = 8,
        offer_timeout: float = 30.0,
        connect_timeout: float = 30.0,
        remote: RemoteAddresses | None = None,
    ) -> None:
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        self.source = source
        self.relay = MediaRelay()
        self.send = send
        self.ice = ice
        self.max_peers = max_peers
        self.offer_timeout = offer_timeout
        self.connect_timeout = connect_timeout
        self.remote = remote or RemoteAddresses()
        """Which addresses viewers' candidates may name (reserved ranges refused)."""
        self.viewers: dict[str, Viewer] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # One viewer's failure is logged and stays with that viewer.
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("peer.task_failed", task=task.get_name(), error=type(error).__name__)

    async def viewer_joined(self, message: dict[str, Any]) -> None:
        """The server paired a viewer with us; expect its offer."""
        connection = message.get("from")
        if not isinstance(connection, str):
            return
        principal = message.get("principal")
        who = principal if isinstance(principal, dict) else {}
        if connection not in self.viewers and len(self.viewers) >= self.max_peers:
            log.warning("viewer.refused_full", connection=connection, max_peers=self.max_peers)
            await self.send(Leave(to=connection).dump())
            return
        previous = self.viewers.pop(connection, None)
        if previous is not None:
            await self._close(previous, "rejoined")
        self.viewers[connection] = Viewer(connection, who, time.monotonic())
        log.info(
            "viewer.joined",
            connection=connection,
            mode=message.get("mode"),
            viewer_id=who.get("id"),
            viewer_name=who.get("name"),
        )
        self._spawn(
            self._expire(connection, self.offer_timeout + self.connect_timeout),
            f"expire:{connection}",
        )

    def offer(self, message: dict[str, Any]) -> None:
        """A viewer's offer: answer it in the background so control keeps flowing."""
        connection, sdp = message.get("from"), message.get("sdp")
        if not isinstance(connection, str) or not isinstance(sdp, str):
            return
        if connection not in self.viewers:
            log.warning("peer.offer_from_stranger", connection=connection)
            return
        self._spawn(self._answer(self.viewers[connection], sdp), f"answer:{connection}")

    async def candidate(self, message: dict[str, Any]) -> None:
        """A trickled candidate from the viewer (kept until its offer is applied)."""
        viewer = self.viewers.get(str(message.get("from")))
        if viewer is None:
            return
        if viewer.pc is None or viewer.pc.remoteDescription is None:
            if len(viewer.early_candidates) < 64:
                viewer.early_candidates.append(message)
            return
        await _add_candidate(viewer.pc, message, self.remote)

    async def leave(self, connection: str) -> None:
        """The viewer went away."""
        viewer = self.viewers.pop(connection, None)
        if viewer is not None:
            await self._close(viewer, "left")

    async def close_all(self) -> None:
        """Close every peer (the signaling link is gone or the agent stops)."""
        viewers, self.viewers = list(self.viewers.values()), {}
        for viewer in viewers:
            await self._close(viewer, "closing")
        for task in list(self._tasks):
            task.cancel()

    async def _answer(self, viewer: Viewer, sdp: str) -> None:
        if viewer.pc is not None:  # a new offer from the same viewer starts over
            await self._close(viewer, "renegotiating")
        servers = await self.ice()
        if self.viewers.get(viewer.connection) is not viewer:
            return  # the viewer left while we fetched ICE servers
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        viewer.pc = pc
        viewer.track = self.relay.subscribe(self.source, buffered=False)
        try:
            await self._negotiate(viewer, pc, sdp)
        except BaseException:
            # Failed or cancelled half-way: nothing may keep the peer (or its track) open.
            if viewer.pc is pc:
                await self._close(viewer, "failed")
            raise

    def _watch(self, viewer: Viewer, pc: RTCPeerConnection) -> None:
        async def on_state() -> None:
            log.info("peer.state", connection=viewer.connection, state=pc.connectionState)
            if (
                pc.connectionState in ("failed", "closed")
                and self.viewers.get(viewer.connection) is viewer
                and viewer.pc is pc
            ):
                self.viewers.pop(viewer.connection, None)
                await self._close(viewer, pc.connectionState)

        pc.on("connectionstatechange", on_state)

    async def _negotiate(self, viewer: Viewer, pc: RTCPeerConnection, sdp: str) -> None:
        self._watch(viewer, pc)
        await pc.setRemoteDescription(accept_remote(sdp, "offer", self.remote))
        if viewer.track is None:
            return
        pc.addTrack(viewer.track)
        for early in viewer.early_candidates:
            await _add_candidate(pc, early, self.remote)
        viewer.early_candidates.clear()
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)  # gathers every candidate first
        if viewer.pc is not pc or self.viewers.get(viewer.connection) is not viewer:
            return  # the viewer left while we gathered
        await self.send(Answer(to=viewer.connection, sdp=pc.localDescription.sdp).dump())
        log.info("peer.answered", connection=viewer.connection)

    async def _expire(self, connection: str, after: float) -> None:
        await asyncio.sleep(after)
        viewer = self.viewers.get(connection)
        if viewer is not None and (viewer.pc is None or viewer.pc.connectionState != "connected"):
            log.warning("peer.timeout", connection=connection)
            self.viewers.pop(connection, None)
            await self._close(viewer, "timeout")
            with contextlib.suppress(Exception):
                await self.send(Leave(to=connection).dump())

    async def _close(self, viewer: Viewer, reason: str) -> None:
        pc, track = viewer.pc, viewer.track
        viewer.pc = viewer.track = None
        if track is not None:
            track.stop()  # unregisters the proxy from the relay
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()
        log.info("peer.closed", connection=viewer.connection, reason=reason)


async def _add_candidate(
    pc: RTCPeerConnection, message: dict[str, Any], remote: RemoteAddresses
) -> None:
    text = message.get("candidate")
    if not isinstance(text, str) or not text:
        return  # end of candidates: aiortc needs no marker
    reason = remote.candidate_refusal(text)
    if reason is not None:
        log.info("peer.candidate_refused", reason=reason)
        return
    try:
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    except (AssertionError, ValueError, IndexError):
        log.warning("peer.bad_candidate")
        return
    mid, index = message.get("sdp_mid"), message.get("sdp_mline_index")
    candidate.sdpMid = mid if isinstance(mid, str) else None
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    with contextlib.suppress(Exception):
        await pc.addIceCandidate(candidate)
