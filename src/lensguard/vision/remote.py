"""``RemoteDetector``: a detector step whose work is done by a ``lensguard worker``.

``process`` sends the frame (scaled down, JPEG) to ``<stream>:jobs`` and waits up to
``timeout_ms`` on this chain's private reply stream. An answer in time adds its
detections, scaled back to the frame. A late or missing answer reuses the last
detections, padded, while they are younger than ``reuse_ms``; past that, or when
Redis is unreachable and nothing recent is known, it raises, so ``redact_or_blank``
blanks the frame (fail closed). See docs/vision.md, "Workers".
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import cv2
import redis

from lensguard.errors import ConfigurationError
from lensguard.logs import get_logger
from lensguard.settings import Settings, VisionSettings
from lensguard.vision.cadence import with_cadence
from lensguard.vision.errors import VisionError
from lensguard.vision.jobs import (
    JOBS_MAXLEN,
    JPEG_QUALITY,
    Job,
    Reply,
    WireError,
    connect,
    jobs_key,
    new_reply_key,
    stream_entries,
)
from lensguard.vision.processor import Chain, Detection, Image, Result, as_image
from lensguard.vision.registry import Registry, default_registry

log = get_logger("lensguard.vision.remote")

# A reused box grows by this share of its width and height on every side: the face
# has had up to reuse_ms to move since it was found.
REUSE_PAD = 0.25
# Jobs still awaited for a late answer (which refreshes the reusable detections).
OUTSTANDING = 8
# Redis answers a blocking read at the deadline; this covers the round trip on top.
SOCKET_MARGIN_S = 0.25
WARN_EVERY_S = 10.0


class RemoteTimeout(VisionError):
    """Raised when no worker answered in time and no recent detections can stand in."""


class RemoteFailed(VisionError):
    """Raised when a worker answered with an error or with a malformed reply."""


@dataclass
class RemoteStats:
    """What one remote step did: each frame ``sent`` is answered, reused, timed out or an error."""

    sent: int = 0
    answered: int = 0
    """Frames whose own answer came in time."""
    reused: int = 0
    """Frames that got the last detections, padded, because their answer was late."""
    timeouts: int = 0
    """Frames with no answer and nothing recent to reuse: blanked by fail-closed."""
    errors: int = 0
    """Frames a worker answered with an error (or garbage): blanked by fail-closed."""
    late: int = 0
    """Answers that came after their frame was given up on (they refresh the reuse)."""
    unavailable: int = 0
    """Frames where Redis could not be reached (then reused or timed out as above)."""


@dataclass(frozen=True, slots=True)
class _Sent:
    at: float
    size: tuple[int, int]
    scale: tuple[float, float]


@dataclass(frozen=True, slots=True)
class _Known:
    at: float
    size: tuple[int, int]
    detections: list[Detection]


def _scaled(detection: Detection, sent: _Sent) -> Detection | None:
    """A detection in the sent image's pixels mapped to the frame's, clipped; None if empty."""
    sx, sy = sent.scale
    x, y, w, h = detection.box
    width, height = sent.size
    x1, y1 = max(0, math.floor(x * sx)), max(0, math.floor(y * sy))
    x2, y2 = min(width, math.ceil((x + w) * sx)), min(height, math.ceil((y + h) * sy))
    if x2 <= x1 or y2 <= y1:
        return None
    return Detection((x1, y1, x2 - x1, y2 - y1), detection.label, detection.score)


def padded(detection: Detection, size: tuple[int, int], pad: float = REUSE_PAD) -> Detection:
    """``detection`` grown by ``pad`` of its size on every side, clipped to ``size``."""
    x, y, w, h = detection.box
    width, height = size
    dx, dy = math.ceil(w * pad), math.ceil(h * pad)
    x1, y1 = max(0, x - dx), max(0, y - dy)
    x2, y2 = min(width, x + w + dx), min(height, y + h + dy)
    return Detection((x1, y1, x2 - x1, y2 - y1), detection.label, detection.score)


def downscale(frame: Image, side: int) -> Image:
    """``frame`` shrunk so its longer side is at most ``side`` (unchanged if it already is)."""
    height, width = frame.shape[:2]
    longest = max(height, width)
    if longest <= side:
        return frame
    factor = side / longest
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return as_image(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))


class RemoteDetector:
    """A ``Processor`` named after a detector (e.g. ``face_detect``) that runs in a worker.

    Not thread-safe, like every processor: one per chain. The Redis client may be
    shared (its connection pool is thread-safe).
    """

    def __init__(
        self,
        name: str,
        client: redis.Redis,
        *,
        stream: str,
        timeout_ms: float = 35.0,
        reuse_ms: float = 500.0,
        send_side: int = 640,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.stream = stream
        self.reply_key = new_reply_key(stream)
        self.timeout_ms = timeout_ms
        self.reuse_ms = reuse_ms
        self.send_side = send_side
        self.stats = RemoteStats()
        self._client = client
        self._clock = clock
        self._wall = wall
        self._cursor: bytes | str = "0-0"
        self._sequence = 0
        self._outstanding: OrderedDict[str, _Sent] = OrderedDict()
        self._known: _Known | None = None
        self._warned_at = -math.inf

    def __repr__(self) -> str:
        return f"RemoteDetector({self.name!r}, reply={self.reply_key!r})"

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        """Add the worker's detections for ``frame``; reuse or raise when none come in time."""
        started = self._clock()
        self.stats.sent += 1
        try:
            job_id = self._send(frame, params, started)
            reply = self._wait(job_id, started + self.timeout_ms / 1000.0)
        except redis.RedisError as exc:
            self.stats.unavailable += 1
            self._warn(exc)
            reply = None
        if reply is None:
            return Result(frame, [*detections, *self._reuse(frame, started)])
        sent = self._outstanding.pop(reply.id)
        if reply.error is not None:
            self.stats.errors += 1
            raise RemoteFailed(f"{self.name}: worker {reply.worker or '?'} failed: {reply.error}")
        self.stats.answered += 1
        found = self._remember(reply, sent)
        return Result(frame, [*detections, *found])

    def close(self) -> None:
        """Delete this chain's reply stream (it also expires on its own)."""
        with contextlib.suppress(redis.RedisError):
            self._client.delete(self.reply_key)

    def _send(self, frame: Image, params: Mapping[str, Any], started: float) -> str:
        height, width = frame.shape[:2]
        small = downscale(frame, self.send_side)
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            self.stats.errors += 1
            raise RemoteFailed(f"{self.name}: the frame could not be encoded as JPEG")
        self._sequence += 1
        job = Job(
            id=f"{self.reply_key.rsplit(':', 1)[-1][:12]}-{self._sequence}",
            reply=self.reply_key,
            name=self.name,
            params=dict(params),
            width=small.shape[1],
            height=small.shape[0],
            sent_ms=self._wall() * 1000.0,
            image=jpeg.tobytes(),
        )
        self._outstanding[job.id] = _Sent(
            started, (width, height), (width / small.shape[1], height / small.shape[0])
        )
        while len(self._outstanding) > OUTSTANDING:
            self._outstanding.popitem(last=False)
        self._client.xadd(jobs_key(self.stream), job.fields(), maxlen=JOBS_MAXLEN, approximate=True)
        return job.id

    def _wait(self, job_id: str, deadline: float) -> Reply | None:
        while (remaining := deadline - self._clock()) > 0:
            block = max(1, math.ceil(remaining * 1000.0))
            answer = self._client.xread({self.reply_key: self._cursor}, count=16, block=block)
            for entry_id, fields in stream_entries(answer):
                self._cursor = entry_id
                try:
                    reply = Reply.parse(fields)
                except WireError as exc:
                    self.stats.errors += 1
                    raise RemoteFailed(f"{self.name}: malformed reply: {exc}") from None
                if reply.id == job_id:
                    return reply
                self._late(reply)
        return None

    def _late(self, reply: Reply) -> None:
        """An answer for a frame already given up on: fresher detections to reuse."""
        sent = self._outstanding.pop(reply.id, None)
        if sent is None or reply.error is not None:
            return
        self.stats.late += 1
        if self._known is None or sent.at > self._known.at:
            self._remember(reply, sent)

    def _remember(self, reply: Reply, sent: _Sent) -> list[Detection]:
        found = [d for d in (_scaled(d, sent) for d in reply.detections) if d is not None]
        self._known = _Known(sent.at, sent.size, found)
        return found

    def _reuse(self, frame: Image, started: float) -> list[Detection]:
        size = (frame.shape[1], frame.shape[0])
        known = self._known
        if known is not None and known.size == size and started - known.at <= self.reuse_ms / 1e3:
            self.stats.reused += 1
            return [padded(d, size) for d in known.detections]
        self.stats.timeouts += 1
        raise RemoteTimeout(
            f"{self.name}: no answer from a worker within {self.timeout_ms:g} ms "
            f"and no detections younger than {self.reuse_ms:g} ms to reuse"
        )

    def _warn(self, exc: Exception) -> None:
        # One line per outage, not one per frame.
        now = self._clock()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("vision.remote_unavailable", processor=self.name, error=str(exc))


class ChainBuilder(Protocol):
    """Builds a chain from processor names (and their parameters), like ``build_chain``."""

    def __call__(
        self, names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Chain:
        """A chain of ``names`` in order."""
        ...


def _remote_factory(
    name: str,
    local: Registry,
    client: redis.Redis,
    vision: VisionSettings,
    params: Mapping[str, Any],
) -> RemoteDetector:
    if params:
        # Checked here, when the chain is built, as for a local processor; the
        # worker builds its own.
        local.create(name, params)
    return RemoteDetector(
        name,
        client,
        stream=vision.stream,
        timeout_ms=vision.timeout_ms,
        reuse_ms=vision.reuse_ms,
        send_side=vision.send_side,
    )


def remote_chain_builder(
    settings: Settings, *, models_dir: Path | None = None, onnx_dir: Path | None = None
) -> ChainBuilder:
    """What the relay builds chains with: ``build_chain``, with ``vision.remote`` offloaded.

    With ``vision.workers`` off this is the built-in registry's ``build_chain``. With it
    on, each processor named in ``vision.remote`` becomes a ``RemoteDetector``; the
    rest run in the relay as before. Raises ``ConfigurationError`` when workers are on
    and ``redis.url`` is not set.
    """
    local = default_registry(models_dir=models_dir, onnx_dir=onnx_dir)
    vision = settings.vision
    if not vision.workers:
        return _cadenced(local.build_chain, vision)
    url = settings.redis_url
    if url is None:
        raise ConfigurationError(
            "vision.workers needs Redis: set redis.url (LENSGUARD_REDIS__URL) to the Redis "
            "the `lensguard worker` processes read, or turn vision.workers off"
        )
    client = connect(
        url,
        timeout_s=vision.timeout_ms / 1000.0 + SOCKET_MARGIN_S,
    )
    registry = Registry()
    for name in local.names:
        if name in vision.remote:
            registry.register(name, partial(_remote_factory, name, local, client, vision))
        else:
            registry.register(name, partial(local.create, name))
    return _cadenced(registry.build_chain, vision)


def _cadenced(build: ChainBuilder, vision: VisionSettings) -> ChainBuilder:
    """``build`` with the face detectors at ``vision.detect_every`` (``build`` itself at 1)."""
    if vision.detect_every <= 1:
        return build

    def build_cadenced(
        names: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Chain:
        return with_cadence(
            build(names, params),
            VisionSettings.DETECTORS,
            every=vision.detect_every,
            grow=vision.track_grow,
            scene_change=vision.scene_change,
        )

    return build_cadenced
