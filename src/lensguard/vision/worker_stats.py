"""Worker counters: published to ``<stream>:workers:<name>``, read back by ``--stats``."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field

import redis
from redis.typing import EncodableT, FieldT

from lensguard.vision.jobs import GROUP, STATS_TTL_MS, jobs_key, stats_key

COUNTERS = ("processed", "skipped", "failed", "claimed")


@dataclass
class WorkerStats:
    """What one worker did since it started."""

    processed: int = 0
    """Jobs answered with detections."""
    skipped: int = 0
    """Jobs acknowledged unprocessed because they were older than ``max_age_ms``."""
    failed: int = 0
    """Jobs answered with an error (unknown processor, bad image, processor raised)."""
    claimed: int = 0
    """Jobs taken over from another consumer that held them too long (e.g. it died)."""

    def counters(self) -> dict[str, int]:
        """The four counters by name."""
        return asdict(self)

    def line(self) -> str:
        """``processed 12, skipped 1, failed 0, claimed 1``."""
        return ", ".join(f"{k} {v}" for k, v in self.counters().items())


@dataclass
class WorkerInfo:
    """A live worker as its hash tells it."""

    name: str
    counters: dict[str, int]
    last_seen: float
    """Unix seconds of its last publication."""
    host: str = ""
    pid: int = 0
    started: float = 0.0


@dataclass
class GroupInfo:
    """The consumer group's backlog and the live workers."""

    length: int = 0
    """Jobs in the stream: not taken yet, or taken and not acknowledged yet."""
    pending: int = 0
    """Jobs delivered to a worker and not acknowledged yet."""
    workers: list[WorkerInfo] = field(default_factory=list)


def publish(
    client: redis.Redis, stream: str, name: str, stats: WorkerStats, *, started: float
) -> None:
    """Write ``stats`` to the worker's hash; it expires unless refreshed (a dead worker)."""
    key = stats_key(stream, name)
    mapping: dict[FieldT, EncodableT] = {
        "last_seen": f"{time.time():.3f}",
        "started": f"{started:.3f}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    mapping.update(stats.counters())
    pipe = client.pipeline(transaction=False)
    pipe.hset(key, mapping=mapping)
    pipe.pexpire(key, STATS_TTL_MS)
    pipe.execute()


def retire(client: redis.Redis, stream: str, name: str) -> None:
    """Remove a stopping worker's hash, and its consumer when it holds no job."""
    client.delete(stats_key(stream, name))
    held = client.xpending_range(
        jobs_key(stream), GROUP, min="-", max="+", count=1, consumername=name
    )
    if not held:
        client.xgroup_delconsumer(jobs_key(stream), GROUP, name)


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _int(value: bytes | str | None) -> int:
    try:
        return int(_text(value) or "0")
    except ValueError:
        return 0


def _float(value: bytes | str | None) -> float:
    try:
        return float(_text(value) or "0")
    except ValueError:
        return 0.0


def read_group(client: redis.Redis, stream: str) -> GroupInfo:
    """Every live worker's counters and the group's backlog."""
    info = GroupInfo()
    key = jobs_key(stream)
    if client.exists(key):
        info.length = int(client.xlen(key))
        for group in client.xinfo_groups(key):
            if group.get("name") in (GROUP, GROUP.encode()):
                info.pending = int(group.get("pending", 0))
    prefix = stats_key(stream, "")
    for raw_key in sorted(client.scan_iter(match=f"{prefix}*", count=100)):
        values = client.hgetall(raw_key)
        if not values:
            continue  # expired between the scan and the read
        name = _text(raw_key)[len(prefix) :]
        info.workers.append(
            WorkerInfo(
                name=name,
                counters={c: _int(values.get(c.encode())) for c in COUNTERS},
                last_seen=_float(values.get(b"last_seen")),
                host=_text(values.get(b"host")),
                pid=_int(values.get(b"pid")),
                started=_float(values.get(b"started")),
            )
        )
    return info
