"""The wire between relays and ``lensguard worker``: Redis keys, jobs and replies.

A relay adds a *job* (one JPEG frame, the processor's name and parameters, where to
answer) to ``<stream>:jobs``; a worker of the consumer group ``workers`` answers with
a *reply* on the relay's private reply stream ``<stream>:reply:<random>``. Both sides
parse what they read defensively: a malformed entry is an error, never a crash.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from lensguard.vision.errors import VisionError
from lensguard.vision.processor import Detection

GROUP = "workers"
# The jobs stream only holds frames no worker has taken yet (workers delete what they
# acknowledge): the cap bounds memory when no worker runs. Frames older than a second
# are useless to the relay anyway.
JOBS_MAXLEN = 512
REPLY_MAXLEN = 16
REPLY_TTL_MS = 30_000
STATS_TTL_MS = 5_000
JPEG_QUALITY = 90
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_SIDE = 4096
MAX_DETECTIONS = 256
MAX_ERROR = 200

Fields = Mapping[bytes, bytes]
Entry = tuple[bytes, Fields]


class WireError(VisionError, ValueError):
    """Raised when a job or a reply read from Redis is malformed."""


def jobs_key(stream: str) -> str:
    """The stream every relay adds jobs to and every worker reads from."""
    return f"{stream}:jobs"


def reply_prefix(stream: str) -> str:
    """Every reply stream's key starts with this; workers answer nowhere else."""
    return f"{stream}:reply:"


def new_reply_key(stream: str) -> str:
    """A reply stream key private to one relay chain."""
    return f"{reply_prefix(stream)}{uuid.uuid4().hex}"


def stats_key(stream: str, worker: str) -> str:
    """The hash a worker publishes its counters to."""
    return f"{stream}:workers:{worker}"


def connect(url: str, *, timeout_s: float) -> redis.Redis:
    """A synchronous client that fails at once instead of retrying with back-off.

    redis-py retries a refused connection ten times with growing sleeps by default,
    which would stall a relay's frame for seconds; a failed command here is a missed
    frame, and the next frame tries again.
    """
    return redis.Redis.from_url(
        url,
        protocol=2,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def stream_entries(response: Any) -> list[Entry]:
    """The entries of an XREAD/XREADGROUP answer (RESP2 list or RESP3 map), in order."""
    if not response:
        return []
    per_stream = response.values() if isinstance(response, dict) else (s[1] for s in response)
    entries: list[Entry] = []
    for items in per_stream:
        entries.extend((entry_id, fields) for entry_id, fields in items)
    return entries


def _text(fields: Fields, key: bytes, limit: int = 256) -> str:
    raw = fields.get(key)
    if raw is None or len(raw) > limit:
        raise WireError(f"field {key.decode()} is missing or too long")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise WireError(f"field {key.decode()} is not UTF-8") from None


def _number(fields: Fields, key: bytes) -> float:
    try:
        value = float(_text(fields, key, 32))
    except ValueError:
        raise WireError(f"field {key.decode()} is not a number") from None
    if not math.isfinite(value):
        raise WireError(f"field {key.decode()} is not finite")
    return value


def _side(fields: Fields, key: bytes) -> int:
    value = _number(fields, key)
    if value != int(value) or not 1 <= value <= MAX_SIDE:
        raise WireError(f"field {key.decode()} is not a size in 1..{MAX_SIDE}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Job:
    """One frame for a worker: the JPEG as sent, its size, and whom to answer."""

    id: str
    reply: str
    name: str
    params: Mapping[str, Any]
    width: int
    height: int
    sent_ms: float
    """Wall-clock time (Unix ms) the relay sent it: workers on other hosts compare it."""
    image: bytes

    def fields(self) -> dict[FieldT, EncodableT]:
        """What goes into the stream entry."""
        return {
            "id": self.id,
            "reply": self.reply,
            "name": self.name,
            "params": json.dumps(dict(self.params), sort_keys=True),
            "w": str(self.width),
            "h": str(self.height),
            "sent": f"{self.sent_ms:.3f}",
            "image": self.image,
        }

    @classmethod
    def parse(cls, fields: Fields) -> Job:
        """A job from a stream entry; ``WireError`` when anything is off."""
        try:
            params = json.loads(_text(fields, b"params", 4096))
        except json.JSONDecodeError:
            raise WireError("field params is not JSON") from None
        if not isinstance(params, dict):
            raise WireError("field params is not a JSON object")
        image = fields.get(b"image")
        if not image or len(image) > MAX_IMAGE_BYTES:
            raise WireError("field image is missing or too large")
        return cls(
            id=_text(fields, b"id", 64),
            reply=_text(fields, b"reply"),
            name=_text(fields, b"name", 64),
            params=params,
            width=_side(fields, b"w"),
            height=_side(fields, b"h"),
            sent_ms=_number(fields, b"sent"),
            image=image,
        )

    @staticmethod
    def peek(fields: Fields) -> tuple[str | None, str | None, float | None]:
        """(id, reply key, sent time) of a possibly malformed job, for answering it."""
        try:
            job_id: str | None = _text(fields, b"id", 64)
        except WireError:
            job_id = None
        try:
            reply: str | None = _text(fields, b"reply")
        except WireError:
            reply = None
        try:
            sent: float | None = _number(fields, b"sent")
        except WireError:
            sent = None
        return job_id, reply, sent


@dataclass(frozen=True, slots=True)
class Reply:
    """A worker's answer: the detections (in the sent image's pixels) or an error."""

    id: str
    detections: list[Detection]
    error: str | None = None
    worker: str = ""
    ms: float = 0.0
    """How long the worker spent on the job (decode and processor)."""

    def fields(self) -> dict[FieldT, EncodableT]:
        """What goes into the reply stream entry."""
        found = [[*d.box, d.label, round(d.score, 4)] for d in self.detections]
        return {
            "id": self.id,
            "ok": "0" if self.error is not None else "1",
            "detections": json.dumps(found),
            "error": (self.error or "")[:MAX_ERROR],
            "worker": self.worker,
            "ms": f"{self.ms:.3f}",
        }

    @classmethod
    def parse(cls, fields: Fields) -> Reply:
        """A reply from a stream entry; ``WireError`` when anything is off."""
        job_id = _text(fields, b"id", 64)
        worker = _text(fields, b"worker")
        ms = _number(fields, b"ms")
        if fields.get(b"ok") != b"1":
            return cls(job_id, [], _text(fields, b"error", 1024) or "failed", worker, ms)
        try:
            rows = json.loads(_text(fields, b"detections", 64 * 1024))
        except json.JSONDecodeError:
            raise WireError("field detections is not JSON") from None
        if not isinstance(rows, list) or len(rows) > MAX_DETECTIONS:
            raise WireError("field detections is not a list of at most 256 rows")
        return cls(job_id, [_detection(row) for row in rows], None, worker, ms)


def _detection(row: object) -> Detection:
    if not isinstance(row, list) or len(row) != 6:
        raise WireError("a detection is not [x, y, w, h, label, score]")
    *box, label, score = row
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
        raise WireError("a detection's box is not four integers")
    if not isinstance(label, str) or not isinstance(score, int | float):
        raise WireError("a detection's label or score has the wrong type")
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise WireError("a detection's score is not in [0, 1]")
    x, y, w, h = box
    return Detection((x, y, w, h), label, float(score))


def detections_of(values: Sequence[Detection]) -> list[Detection]:
    """Detections as a worker sends them: integer boxes, scores clipped to [0, 1]."""
    out = []
    for d in values:
        x, y, w, h = (int(v) for v in d.box)
        out.append(Detection((x, y, w, h), d.label, min(max(float(d.score), 0.0), 1.0)))
    return out
