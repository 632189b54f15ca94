"""The worker loop behind ``lensguard worker``: detectors fed by Redis Streams.

Each worker is a consumer of the group ``workers`` on ``<stream>:jobs``. It reads one
job at a time, runs the named detector, adds the answer to the job's reply stream,
then acknowledges and deletes the job (no frame stays in Redis once answered).
Every ``claim_idle_ms`` it takes over jobs another consumer has held that long
(that consumer died or hangs): those older than ``max_age_ms`` are acknowledged
unprocessed and counted ``skipped`` (their relay has long moved on), fresher ones
are processed. Counters go to ``<stream>:workers:<name>`` every second.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from typing import Any

import cv2
import numpy as np
import redis

from lensguard.logs import get_logger
from lensguard.settings import VisionSettings
from lensguard.vision.jobs import (
    GROUP,
    REPLY_MAXLEN,
    REPLY_TTL_MS,
    Fields,
    Job,
    Reply,
    WireError,
    detections_of,
    jobs_key,
    reply_prefix,
    stream_entries,
)
from lensguard.vision.processor import Processor, as_image
from lensguard.vision.registry import Registry, default_registry
from lensguard.vision.worker_stats import WorkerStats, publish, retire

log = get_logger("lensguard.vision.worker")

PUBLISH_EVERY_S = 1.0
# Processors kept built, by name and parameters (models load once per entry).
CACHED_PROCESSORS = 16
CLAIM_PAGE = 16
CLAIM_PAGES = 8
BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


class Worker:
    """One consumer of the jobs stream; ``run`` loops until ``stop`` is set."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str,
        name: str,
        registry: Registry | None = None,
        allowed: Collection[str] = VisionSettings.DETECTORS,
        claim_idle_ms: int = 1000,
        max_age_ms: int = 1000,
        block_ms: int = 200,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.stream = stream
        self.name = name
        self.jobs = jobs_key(stream)
        self.registry = registry or default_registry()
        self.allowed = frozenset(allowed)
        self.claim_idle_ms = claim_idle_ms
        self.max_age_ms = max_age_ms
        self.block_ms = block_ms
        self.stats = WorkerStats()
        self.started = time.time()
        self._wall = wall
        self._processors: OrderedDict[tuple[str, str], Processor] = OrderedDict()
        self._next_claim = 0.0
        self._next_publish = 0.0

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless it exists."""
        try:
            self.client.xgroup_create(self.jobs, GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def warm(self, names: Collection[str]) -> None:
        """Build ``names`` with default parameters now, so the first jobs are not late."""
        for name in names:
            self._processor(name, {})

    def run(self, stop: threading.Event) -> None:
        """Serve jobs until ``stop`` is set; a lost Redis is retried with back-off."""
        failures = 0
        while not stop.is_set():
            try:
                if failures:
                    self.ensure_group()  # Redis may have restarted empty
                self.step()
                failures = 0
            except redis.RedisError as exc:
                delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                log.warning("vision.worker_redis_error", error=str(exc), retry_in_s=delay)
                stop.wait(delay)
        try:
            retire(self.client, self.stream, self.name)
        except redis.RedisError as exc:
            log.warning("vision.worker_retire_failed", error=str(exc))

    def step(self) -> None:
        """Claim abandoned jobs when due, serve at most one new job, publish when due."""
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self.claim_idle_ms / 2000.0
            self.claim()
        answer = self.client.xreadgroup(
            GROUP, self.name, {self.jobs: ">"}, count=1, block=self.block_ms
        )
        for entry_id, fields in stream_entries(answer):
            self.handle(entry_id, fields)
        if time.monotonic() >= self._next_publish:
            self._next_publish = time.monotonic() + PUBLISH_EVERY_S
            publish(self.client, self.stream, self.name, self.stats, started=self.started)

    def claim(self) -> int:
        """Take over and handle jobs idle for ``claim_idle_ms`` in other consumers."""
        start: bytes | str = "0-0"
        taken = 0
        for _ in range(CLAIM_PAGES):
            start, entries, *_deleted = self.client.xautoclaim(
                self.jobs,
                GROUP,
                self.name,
                min_idle_time=self.claim_idle_ms,
                start_id=start,
                count=CLAIM_PAGE,
            )
            for entry_id, fields in entries:
                if fields is None:  # trimmed from the stream meanwhile
                    self._ack(entry_id)
                    continue
                taken += 1
                self.stats.claimed += 1
                self.handle(entry_id, fields)
            if start in (b"0-0", "0-0"):
                break
        if taken:
            log.info("vision.worker_claimed", jobs=taken, worker=self.name)
        return taken

    def handle(self, entry_id: bytes, fields: Fields) -> None:
        """Answer one job (or skip it when stale) and acknowledge it."""
        job_id, reply_key, sent_ms = Job.peek(fields)
        if sent_ms is not None and self._wall() * 1000.0 - sent_ms > self.max_age_ms:
            self.stats.skipped += 1
            self._ack(entry_id)
            return
        if job_id is None or reply_key is None or not self._valid_reply(reply_key):
            # Nobody to answer (or an address outside our keys): drop it.
            self.stats.failed += 1
            self._ack(entry_id)
            return
        try:
            reply = self.answer(Job.parse(fields))
        except WireError as exc:
            reply = Reply(job_id, [], f"malformed job: {exc}", self.name)
        if reply.error is None:
            self.stats.processed += 1
        else:
            self.stats.failed += 1
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(reply_key, reply.fields(), maxlen=REPLY_MAXLEN, approximate=True)
        pipe.pexpire(reply_key, REPLY_TTL_MS)
        pipe.xack(self.jobs, GROUP, entry_id)
        pipe.xdel(self.jobs, entry_id)
        pipe.execute()

    def answer(self, job: Job) -> Reply:
        """Run the job's detector on its image; errors become an error reply."""
        started = time.perf_counter()
        try:
            detections = self._detect(job)
        except Exception as exc:  # one bad job must not stop the worker
            error = f"{type(exc).__name__}: {exc}"
            return Reply(job.id, [], error, self.name, (time.perf_counter() - started) * 1e3)
        return Reply(job.id, detections, None, self.name, (time.perf_counter() - started) * 1e3)

    def _detect(self, job: Job) -> list[Any]:
        if job.name not in self.allowed:
            raise ValueError(f"{job.name!r} does not run in workers")
        decoded = cv2.imdecode(np.frombuffer(job.image, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None or decoded.shape[:2] != (job.height, job.width):
            raise ValueError(f"the image is not a {job.width}x{job.height} JPEG")
        image = as_image(decoded)
        result = self._processor(job.name, job.params).process(image, [], job.params)
        return detections_of(result.detections)

    def _processor(self, name: str, params: Mapping[str, Any]) -> Processor:
        key = (name, json.dumps(params, sort_keys=True))
        processor = self._processors.get(key)
        if processor is None:
            processor = self.registry.create(name, params)
            self._processors[key] = processor
            while len(self._processors) > CACHED_PROCESSORS:
                self._processors.popitem(last=False)
        else:
            self._processors.move_to_end(key)
        return processor

    def _valid_reply(self, key: str) -> bool:
        suffix = key.removeprefix(reply_prefix(self.stream))
        return suffix != key and 0 < len(suffix) <= 64 and suffix.isalnum()

    def _ack(self, entry_id: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.xack(self.jobs, GROUP, entry_id)
        pipe.xdel(self.jobs, entry_id)
        pipe.execute()
