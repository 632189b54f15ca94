"""Remote detection against a real Redis and the real worker loop (in a thread)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
import pytest
import redis
from numpy.typing import NDArray

from lensguard.errors import ConfigurationError
from lensguard.settings import Settings, load_settings
from lensguard.vision import (
    Chain,
    Detection,
    Frame,
    InvalidParams,
    Result,
    Step,
    redact_or_blank,
)
from lensguard.vision.faces import FaceDetect
from lensguard.vision.filters import PixelateFaces
from lensguard.vision.jobs import GROUP, Job, connect, jobs_key, new_reply_key, stats_key
from lensguard.vision.registry import Registry, build_chain
from lensguard.vision.remote import (
    RemoteDetector,
    RemoteFailed,
    RemoteTimeout,
    padded,
    remote_chain_builder,
)
from lensguard.vision.worker import Worker
from lensguard.vision.worker_stats import read_group
from tests.harness.images import astronaut
from tests.harness.ports import free_port
from tests.vision.conftest import iou


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """The astronaut at 640x480, BGR, as the relay decodes it."""
    return astronaut((640, 480))


@pytest.fixture(scope="module")
def face(image: np.ndarray) -> tuple[int, int, int, int]:
    """Where face_detect finds the face when it runs in-process."""
    found = build_chain(["face_detect"]).run(Frame(image)).detections
    assert len(found) == 1
    return found[0].box


@pytest.fixture
def stream() -> str:
    return f"lgtest:{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(redis_url: str, stream: str) -> Iterator[redis.Redis]:
    client = connect(redis_url, timeout_s=5.0)
    yield client
    for key in client.scan_iter(match=f"{stream}:*"):
        client.delete(key)
    client.close()


class Gated:
    """face_detect that waits for ``gate`` before answering: a slow or hung worker."""

    name = "face_detect"

    def __init__(self, params: Mapping[str, Any], gate: threading.Event) -> None:
        self.inner = FaceDetect(params)
        self.gate = gate

    def process(self, frame: np.ndarray, detections: list[Detection], params: Any) -> Result:
        self.gate.wait(10)
        return self.inner.process(frame, detections, params)


@dataclass
class Running:
    worker: Worker
    gate: threading.Event
    stop: threading.Event
    thread: threading.Thread


@pytest.fixture
def running(redis_url: str, stream: str, client: redis.Redis) -> Iterator[Running]:
    """A worker loop in a thread; close ``gate`` to hold its answers back."""
    gate = threading.Event()
    gate.set()
    registry = Registry()
    registry.register("face_detect", lambda p: Gated(p, gate))
    worker_client = connect(redis_url, timeout_s=5.0)
    worker = Worker(worker_client, stream=stream, name="in-test", registry=registry, block_ms=50)
    worker.ensure_group()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield Running(worker, gate, stop, thread)
    stop.set()
    gate.set()
    thread.join(10)
    worker_client.close()
    assert not thread.is_alive()


def detector(client: redis.Redis, stream: str, **options: Any) -> RemoteDetector:
    return RemoteDetector("face_detect", client, stream=stream, **options)


def vision_settings(redis_url: str | None, stream: str, **vision: Any) -> Settings:
    return load_settings(
        None,
        redis={"url": redis_url},
        vision={"workers": True, "stream": stream, "timeout_ms": 500, **vision},
    )


def test_a_worker_finds_the_face(
    running: Running, client: redis.Redis, stream: str, image: np.ndarray, face: Any
) -> None:
    remote = detector(client, stream, timeout_ms=2000)
    earlier = Detection((1, 2, 3, 4), "plate", 0.9)
    result = remote.process(image, [earlier], {})
    assert result.frame is image
    assert result.detections[0] == earlier
    (found,) = result.detections[1:]
    assert found.label == "face" and 0.5 <= found.score <= 1
    assert iou(found.box, face) > 0.8
    assert remote.stats.sent == remote.stats.answered == 1
    assert running.worker.stats.processed == 1
    assert client.xlen(jobs_key(stream)) == 0  # answered jobs leave no frame in Redis
    assert 0 < client.pttl(remote.reply_key) <= 30_000


def test_frames_are_scaled_down_and_boxes_back_up(
    running: Running, client: redis.Redis, stream: str, image: np.ndarray, face: Any
) -> None:
    big = cast(NDArray[np.uint8], cv2.resize(image, (1280, 960)))
    remote = detector(client, stream, timeout_ms=2000, send_side=640)
    (found,) = remote.process(big, [], {}).detections
    doubled = tuple(2 * v for v in face)
    assert iou(found.box, (doubled[0], doubled[1], doubled[2], doubled[3])) > 0.75


def test_a_late_answer_reuses_padded_detections_then_blanks(
    running: Running, client: redis.Redis, stream: str, image: np.ndarray
) -> None:
    skew = [0.0]  # seconds the detector's clock runs ahead of the real one
    remote = detector(
        client, stream, timeout_ms=60, reuse_ms=60_000, clock=lambda: time.monotonic() + skew[0]
    )
    # The first answer may take as long as the machine needs: only what follows is timed.
    remote.timeout_ms = 30_000
    (fresh,) = remote.process(image, [], {}).detections
    remote.timeout_ms = 60
    running.gate.clear()  # the worker hangs from now on
    (reused,) = remote.process(image, [], {}).detections
    assert reused == padded(fresh, (640, 480))
    x, y, w, h = fresh.box
    rx, ry, rw, rh = reused.box
    assert rx < x and ry < y and rx + rw > x + w and ry + rh > y + h
    assert remote.stats.reused == 1
    skew[0] = 61.0  # the detections are older than reuse_ms now
    started = time.monotonic()
    with pytest.raises(RemoteTimeout, match="no answer from a worker within 60 ms"):
        remote.process(image, [], {})
    assert time.monotonic() - started < 5  # the timeout, not a hang or retries
    assert remote.stats.timeouts == 1 and remote.stats.answered == 1
    # The chain fails closed on it: a blank frame, never the picture.
    chain = Chain([Step(remote), Step(PixelateFaces({}))])
    out = redact_or_blank(chain, Frame(image), budget_ms=1000)
    assert out.failed and not out.frame.image.any()
    # Once the worker answers again, late answers refresh what can be reused.
    running.gate.set()
    deadline = time.monotonic() + 5
    while remote.stats.answered < 2 and time.monotonic() < deadline:
        with contextlib.suppress(RemoteTimeout):
            remote.process(image, [], {})
    assert remote.stats.answered >= 2


def test_redis_down_fails_closed_at_once(image: np.ndarray, stream: str) -> None:
    dead = connect(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.3)
    remote = detector(dead, stream, timeout_ms=35)
    started = time.monotonic()
    with pytest.raises(RemoteTimeout):
        remote.process(image, [], {})
    assert time.monotonic() - started < 5  # no retries with back-off (those take minutes)
    assert remote.stats.unavailable == 1 and remote.stats.timeouts == 1
    settings = vision_settings(f"redis://127.0.0.1:{free_port()}/0", stream, timeout_ms=35)
    chain = remote_chain_builder(settings)(["face_detect", "pixelate_faces"])
    started = time.monotonic()
    out = redact_or_blank(chain, Frame(image))
    assert time.monotonic() - started < 0.5
    assert out.failed and not out.frame.image.any()
    assert "RemoteTimeout" in (out.reason or "")
    dead.close()


def test_worker_errors_fail_closed(
    running: Running, client: redis.Redis, stream: str, image: np.ndarray
) -> None:
    blur = RemoteDetector("blur", client, stream=stream, timeout_ms=2000)
    with pytest.raises(RemoteFailed, match="does not run in workers"):
        blur.process(image, [], {})
    remote = detector(client, stream, timeout_ms=2000)
    with pytest.raises(RemoteFailed, match="min_score"):
        remote.process(image, [], {"min_score": 7})
    assert remote.stats.errors == 1 and blur.stats.errors == 1
    assert running.worker.stats.failed == 2


def test_the_chain_builder(redis_url: str, stream: str, image: np.ndarray) -> None:
    local = remote_chain_builder(load_settings(None))(["face_detect", "pixelate_faces"])
    assert local.names == ["face_detect", "pixelate_faces"]
    assert not any(isinstance(s.processor, RemoteDetector) for s in local._steps)
    with pytest.raises(ConfigurationError, match=r"redis\.url"):
        remote_chain_builder(load_settings(None, vision={"workers": True}))
    build = remote_chain_builder(vision_settings(redis_url, stream))
    chain = build(["face_detect", "pixelate_faces"])
    assert chain.names == ["face_detect", "pixelate_faces"]
    first, second = chain._steps
    assert isinstance(first.processor, RemoteDetector)
    assert first.processor.timeout_ms == 500
    assert not isinstance(second.processor, RemoteDetector)
    other = build(["face_detect"])._steps[0].processor
    assert isinstance(other, RemoteDetector)
    assert other.reply_key != first.processor.reply_key  # one reply stream per chain
    with pytest.raises(InvalidParams):  # checked when built, as for local processors
        build(["face_detect"], {"face_detect": {"tile_rows": 99}})


def test_settings_refuse_non_detectors() -> None:
    with pytest.raises(ValueError, match="detectors only"):
        load_settings(None, vision={"remote": ["pixelate_faces"]})
    with pytest.raises(ValueError):
        load_settings(None, vision={"stream": "a b*"})
    with pytest.raises(ValueError):
        load_settings(None, vision={"timeout_ms": 0})


def _job(stream: str, sent_ms: float, reply: str | None = None) -> dict[Any, Any]:
    image = astronaut((320, 240))
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    job = Job(
        id=uuid.uuid4().hex[:16],
        reply=reply or new_reply_key(stream),
        name="face_detect",
        params={},
        width=320,
        height=240,
        sent_ms=sent_ms,
        image=jpeg.tobytes(),
    )
    return job.fields()


def _hold(client: redis.Redis, stream: str, fields: dict[Any, Any]) -> None:
    """Add a job and have a consumer that then dies take it."""
    client.xadd(jobs_key(stream), fields)
    taken = client.xreadgroup(GROUP, "dead", {jobs_key(stream): ">"}, count=1)
    assert taken


@pytest.mark.parametrize(("age_ms", "outcome"), [(5_000, "skipped"), (0, "processed")])
def test_a_dead_consumers_jobs_are_claimed(
    redis_url: str, client: redis.Redis, stream: str, age_ms: int, outcome: str
) -> None:
    worker = Worker(client, stream=stream, name="alive", claim_idle_ms=100, max_age_ms=2_000)
    worker.ensure_group()
    fields = _job(stream, time.time() * 1000 - age_ms)
    _hold(client, stream, fields)
    assert worker.claim() == 0  # not idle long enough yet
    time.sleep(0.15)
    assert worker.claim() == 1
    assert worker.stats.claimed == 1
    assert getattr(worker.stats, outcome) == 1
    assert client.xpending(jobs_key(stream), GROUP)["pending"] == 0
    replies = client.xrange(fields["reply"]) or []
    assert len(replies) == (1 if outcome == "processed" else 0)


def test_a_worker_answers_only_reply_streams(client: redis.Redis, stream: str) -> None:
    worker = Worker(client, stream=stream, name="w", max_age_ms=60_000)
    worker.ensure_group()
    victim = f"{stream}:not-a-reply"
    client.xadd(jobs_key(stream), _job(stream, time.time() * 1000, reply=victim))
    worker.step()
    assert worker.stats.failed == 1 and worker.stats.processed == 0
    assert not client.exists(victim)


def test_counters_are_published_and_read_back(
    running: Running, client: redis.Redis, stream: str, image: np.ndarray
) -> None:
    remote = detector(client, stream, timeout_ms=2000)
    for _ in range(3):
        remote.process(image, [], {})
    deadline = time.monotonic() + 5
    info = read_group(client, stream)
    while not (info.workers and info.workers[0].counters["processed"] == 3):
        assert time.monotonic() < deadline, info
        time.sleep(0.1)
        info = read_group(client, stream)
    (seen,) = info.workers
    assert seen.name == "in-test" and seen.counters["failed"] == 0
    assert 0 < client.pttl(stats_key(stream, "in-test")) <= 5_000
    assert info.pending == 0
    running.stop.set()
    running.thread.join(10)
    assert not client.exists(stats_key(stream, "in-test"))  # a stopped worker is not live
