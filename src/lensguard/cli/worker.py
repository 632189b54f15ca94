"""``lensguard worker``: run vision detectors for the relays, fed through Redis Streams."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from dataclasses import asdict
from types import FrameType
from typing import Annotated

import cv2
import redis
import typer

from lensguard.cli.context import console, errors, settings_from
from lensguard.logs import configure_logging, get_logger
from lensguard.settings import Settings
from lensguard.vision.errors import VisionError
from lensguard.vision.jobs import GROUP, connect, jobs_key
from lensguard.vision.worker import Worker
from lensguard.vision.worker_stats import GroupInfo, read_group

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 1
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Commands other than the blocking read answer at once; this bounds a stalled Redis.
SOCKET_TIMEOUT_S = 10.0

log = get_logger("lensguard.vision.worker")


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _redis_url(settings: Settings) -> str:
    url = settings.redis_url
    if url is None:
        raise _fail(
            "the vision worker needs Redis: set redis.url (LENSGUARD_REDIS__URL), the same "
            "Redis the servers use with vision.workers on",
            EXIT_CONFIG,
        )
    return url


def _print_stats(info: GroupInfo, stream: str, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(asdict(info)))
        return
    console.print(
        f"{jobs_key(stream)} (group {GROUP}): {info.length} queued, {info.pending} pending"
    )
    if not info.workers:
        console.print("no live workers")
        return
    now = time.time()
    for worker in info.workers:
        counters = ", ".join(f"{k} {v}" for k, v in worker.counters.items())
        age = max(0.0, now - worker.last_seen)
        console.print(f"  {worker.name}: {counters} (seen {age:.1f}s ago, pid {worker.pid})")


def _serve(worker: Worker) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.run(stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def worker(  # noqa: PLR0917 - typer maps each parameter to an option
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option(
            help="This worker's consumer name, unique among the workers (default: hostname-pid)."
        ),
    ] = None,
    claim_idle_ms: Annotated[
        int,
        typer.Option(
            min=100,
            max=60_000,
            help="Take over jobs another worker has held this long without answering "
            "(it died or hangs).",
        ),
    ] = 1000,
    max_age_ms: Annotated[
        int,
        typer.Option(
            min=10,
            max=60_000,
            help="Acknowledge jobs older than this unprocessed, counted as skipped: "
            "the relay stopped waiting for them long ago.",
        ),
    ] = 1000,
    block_ms: Annotated[
        int,
        typer.Option(
            min=10,
            max=5_000,
            help="Longest wait for a job in one read; also bounds how late a stop "
            "request is noticed.",
        ),
    ] = 200,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Print every live worker's counters and the group's backlog, then exit.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --stats: print JSON.")] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run vision detectors for the relays (`vision.workers`), fed through Redis Streams.

    Reads jobs (one frame each) from `<vision.stream>:jobs` as a member of the
    consumer group `workers`, runs the named detector and answers on the relay's
    reply stream. Jobs a dead worker held are taken over after --claim-idle-ms;
    those older than --max-age-ms are skipped. Counters (processed, skipped,
    failed, claimed) are published to Redis every second and printed on exit.
    Needs `redis.url`. Run one worker per core; SIGINT or SIGTERM finish the
    current job and stop it cleanly. Logs are JSON on stderr.

    Example:

        LENSGUARD_REDIS__URL=redis://redis.internal:6379/0 lensguard worker
    """
    settings = settings_from(ctx)
    url = _redis_url(settings)
    stream = settings.vision.stream
    if stats:
        try:
            info = read_group(connect(url, timeout_s=SOCKET_TIMEOUT_S), stream)
        except redis.RedisError as exc:
            raise _fail(
                f"cannot read the workers' counters from Redis: {exc}", EXIT_UNAVAILABLE
            ) from None
        _print_stats(info, stream, as_json)
        return
    consumer = name or f"{socket.gethostname()}-{os.getpid()}"
    if not NAME.match(consumer):
        raise _fail(
            f"--name must be 1-64 letters, digits, '.', '_' or '-', not {consumer!r}",
            EXIT_CONFIG,
        )
    if log_level.upper() not in LOG_LEVELS:
        raise _fail(f"--log-level must be one of {', '.join(LOG_LEVELS)}", EXIT_CONFIG)
    configure_logging(log_level.upper())
    cv2.setNumThreads(1)  # one worker per core: predictable, and no oversubscription
    client = connect(url, timeout_s=block_ms / 1000.0 + SOCKET_TIMEOUT_S)
    runner = Worker(
        client,
        stream=stream,
        name=consumer,
        claim_idle_ms=claim_idle_ms,
        max_age_ms=max_age_ms,
        block_ms=block_ms,
    )
    try:
        runner.warm(settings.vision.remote)  # models load before the first job
    except VisionError as exc:
        raise _fail(str(exc), EXIT_CONFIG) from None
    try:
        runner.ensure_group()
    except redis.RedisError as exc:
        raise _fail(f"cannot reach Redis (redis.url): {exc}", EXIT_UNAVAILABLE) from None
    log.info("vision.worker_started", worker=consumer, stream=jobs_key(stream), group=GROUP)
    console.print(f"worker {consumer} serving {jobs_key(stream)} (group {GROUP})")
    _serve(runner)
    console.print(f"worker {consumer} stopped: {runner.stats.line()}")
