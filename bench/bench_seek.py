"""Seek to first frame on the embedded set-up, against reading the same segment from disk.

A real ``lensguard serve`` (SQLite, the local store, HTTPS on loopback) holds a
recording of 20 s of 640x480@30 VP8 (1.5 Mb/s, a keyframe every 4 s, so 4 s segments
as the recorder cuts them), written through the same store and key ring the server
uses. One seek is what the console does when a user drags the timeline: ``POST
/playbacks/{id}/seeks`` to learn the segment holding the time, ``GET`` that segment
(decrypted and verified by the server), then decode its first frame with PyAV. The
baseline, interleaved in the same run: the same segment's plaintext read from a file
on local disk and its first frame decoded, with no server, no decryption and no
verification. Seeks land at random times; figures are p50 and p95 over all seeks.
Goal: seek-to-first-frame p50 <= 300 ms.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from tests.harness.server import LiveServer, start_server, strong_secret
from tests.harness.world import auth, bootstrap_admin

from bench.bench_recorder import FPS, HEIGHT, KEYFRAME_EVERY, WIDTH, source_packets
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.muxer import SegmentMuxer
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import LocalStore, new_segment_id
from lensguard.store.db import Database

SEEKS = 60
SEGMENT_SECONDS = KEYFRAME_EVERY / FPS


def segments() -> list[bytes]:
    """``bench_recorder``'s 20 s scene as WebM segments cut at each keyframe."""
    out: list[bytes] = []
    muxer: SegmentMuxer | None = None
    for index, (packet, keyframe) in enumerate(source_packets()):
        if keyframe and muxer is not None and not muxer.empty:
            out.append(muxer.finish(index * 1000 // FPS).data)
            muxer = None
        muxer = muxer or SegmentMuxer()
        muxer.add(bytes(packet), int(packet.pts) // 90, keyframe)
    if muxer is not None and not muxer.empty:
        out.append(muxer.finish().data)
    return out


async def store_recording(
    server: LiveServer, secret: str, device_id: str, plain: list[bytes], start: datetime
) -> list[tuple[str, datetime]]:
    """Write the segments as the server's recorder would: its store, its keys, its index."""
    db = Database(f"sqlite+aiosqlite:///{server.var_dir / 'lensguard.db'}")
    store, ring = LocalStore(server.var_dir / "recordings"), KeyRing.from_secret(secret)
    recording_id, written = new_segment_id(), []
    try:
        for i, data in enumerate(plain):
            at = start + timedelta(seconds=i * SEGMENT_SECONDS)
            row = await write_segment(
                db,
                store,
                ring,
                recording_id=recording_id,
                device_id=device_id,
                stream="processed",
                started_at=at,
                ended_at=at + timedelta(seconds=SEGMENT_SECONDS),
                plaintext=data,
            )
            written.append((row.id, at))
    finally:
        await db.dispose()
    return written


def first_frame(data: bytes) -> tuple[int, int]:
    """Decode the first picture of a WebM segment; its size."""
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode(video=0):
            return frame.width, frame.height
    raise SystemExit("a segment decoded to no frame")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    plain = segments()
    secret = strong_secret()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        baseline_dir = work / "plain"
        baseline_dir.mkdir()
        (work / "server").mkdir()
        server = start_server(
            work / "server",
            {"limits": {"requests_per_minute": 1_000_000}},
            env={"LENSGUARD_SECRET_KEY": secret},
        )
        try:
            token = bootstrap_admin(server)
            with server.client(headers=auth(token)) as client:
                device = client.post(
                    "/api/v1/devices", json={"name": "bench", "site": "lab", "kind": "camera"}
                )
                device.raise_for_status()
                device_id = device.json()["device"]["id"]
                start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
                rows = asyncio.run(store_recording(server, secret, device_id, plain, start))
                for (segment_id, _), data in zip(rows, plain, strict=True):
                    (baseline_dir / segment_id).write_bytes(data)
                end = start + timedelta(seconds=len(plain) * SEGMENT_SECONDS)
                opened = client.post(
                    "/api/v1/recordings/playbacks",
                    json={
                        "device_id": device_id,
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                    },
                )
                opened.raise_for_status()
                playback = opened.json()["id"]
                ours, theirs, seek_ms, fetch_ms = [], [], [], []
                rng = random.Random(7)
                for _ in range(SEEKS):
                    at = start + timedelta(seconds=rng.uniform(0, len(plain) * SEGMENT_SECONDS))
                    began = time.perf_counter()
                    found = client.post(
                        f"/api/v1/recordings/playbacks/{playback}/seeks",
                        json={"at": at.isoformat()},
                    )
                    found.raise_for_status()
                    segment_id = found.json()["segment"]["id"]
                    sought = time.perf_counter()
                    media = client.get(
                        f"/api/v1/recordings/playbacks/{playback}/segments/{segment_id}"
                    )
                    media.raise_for_status()
                    fetched = time.perf_counter()
                    size = first_frame(media.content)
                    done = time.perf_counter()
                    ours.append((done - began) * 1000)
                    seek_ms.append((sought - began) * 1000)
                    fetch_ms.append((fetched - sought) * 1000)
                    began = time.perf_counter()
                    local = (baseline_dir / segment_id).read_bytes()
                    if first_frame(local) != size or local != media.content:
                        raise SystemExit("the served segment differs from the recorded one")
                    theirs.append((time.perf_counter() - began) * 1000)
        finally:
            server.stop()
    mean_kib = statistics.mean(len(p) for p in plain) / 1024
    print(
        f"{len(plain)} segments of {SEGMENT_SECONDS:g} s, VP8 {WIDTH}x{HEIGHT}@{FPS}, "
        f"{mean_kib:.0f} KiB each; {SEEKS} seeks at random times"
    )
    print(f"{'':>40} | p50 ms | p95 ms")
    for label, values in (
        ("lensguard: seek + GET segment + decode", ours),
        ("  of which POST seek", seek_ms),
        ("  of which GET segment (decrypt, verify)", fetch_ms),
        ("baseline: plaintext file + decode", theirs),
    ):
        print(f"{label:>40} | {pct(values, 0.5):6.1f} | {pct(values, 0.95):6.1f}")
    print(
        f"ratio lensguard / baseline: p50 {pct(ours, 0.5) / pct(theirs, 0.5):.1f}x, "
        f"p95 {pct(ours, 0.95) / pct(theirs, 0.95):.1f}x  (goal: p50 <= 300 ms)"
    )


if __name__ == "__main__":
    main()
