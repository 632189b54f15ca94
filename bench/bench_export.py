"""Evidence export: building and checking a signed bundle against the plain clip.

One two-minute range of 640x480 VP8 (30 segments of 4 s, real libvpx frames) is
made into: the plain clip alone (``build_clip``: what a range download does); a whole
evidence bundle (the clip, the manifest and custody JSON, the Ed25519-signed zip and
its encryption for storage: what an export adds); and the offline check of that
bundle (``check_bundle``: what ``lensguard evidence verify`` does). Baseline in the
same run: SHA-256 over the segments' plaintext (the least any export must do, read
every byte once). CPU seconds of this process, medians of the rounds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.recordings.vp8 import encode

from lensguard.recordings.bundle import (
    CLIP,
    CUSTODY,
    MANIFEST,
    README,
    canonical_json,
    sha256_hex,
    write_bundle,
)
from lensguard.recordings.bundle_check import check_bundle
from lensguard.recordings.clip import ClipSource, build_clip
from lensguard.recordings.crypto import encrypt
from lensguard.recordings.muxer import SegmentMuxer

SEGMENTS = 30
SECONDS = 4
FPS = 30
ROUNDS = 3
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
DATA_KEY = os.urandom(32)


def noise(index: int, width: int, height: int) -> np.ndarray:
    """A picture that keeps the encoder at its bitrate (~1 Mb/s), as a busy scene does."""
    return np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)


def sources() -> list[ClipSource]:
    frames = encode(SECONDS * FPS, keyframes=(0,), size=(640, 480), picture=noise)
    out = []
    for index in range(SEGMENTS):
        base = index * SECONDS * 1000
        muxer = SegmentMuxer()
        for frame in frames:
            muxer.add(frame.data, base + frame.pts // 90, frame.keyframe)
        data = muxer.finish(base + SECONDS * 1000).data
        out.append(ClipSource(T0 + timedelta(milliseconds=base), data))
    return out


def bundle_of(given: list[ClipSource], start: datetime, end: datetime) -> bytes:
    clip = build_clip(given, start, end)
    segments = [
        {"id": f"s{i}", "plaintext_sha256": sha256_hex(s.data), "start": s.start.isoformat()}
        for i, s in enumerate(given)
    ]
    manifest = {"clip": {"sha256": sha256_hex(clip.data), "bytes": len(clip.data)}}
    manifest["segments"] = segments  # type: ignore[assignment]
    custody: dict[str, Any] = {"entries": [{"seq": i, "action": "x"} for i in range(200)]}
    return write_bundle(
        {
            CLIP: clip.data,
            MANIFEST: canonical_json(manifest),
            CUSTODY: canonical_json(custody),
            README: b"readme",
        },
        kid="bench",
        private_key=KEY,
    )


def cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    given = sources()
    start, end = T0, T0 + timedelta(seconds=SEGMENTS * SECONDS)
    total = sum(len(s.data) for s in given)
    bundle = bundle_of(given, start, end)
    jobs: dict[str, Callable[[], object]] = {
        "SHA-256 of the segments (baseline)": lambda: [sha256_hex(s.data) for s in given],
        "clip alone (range download)": lambda: build_clip(given, start, end),
        "bundle (clip, sign, zip, encrypt)": lambda: encrypt(
            DATA_KEY, "bench", bundle_of(given, start, end)
        ),
        "offline check of the bundle": lambda: check_bundle(bundle, key=KEY.public_key()),
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(ROUNDS):
        for name, job in jobs.items():
            times[name].append(cpu(job))
    median = {name: statistics.median(values) for name, values in times.items()}
    mib = total / 1024**2
    print(
        f"{SEGMENTS} segments of {SECONDS} s 640x480 VP8 ({mib:.1f} MiB, "
        f"{SEGMENTS * SECONDS} s of video), bundle {len(bundle) / 1024**2:.1f} MiB, "
        f"{ROUNDS} rounds"
    )
    print(f"{'step':38} {'CPU s':>8} {'MiB/CPU-s':>10}")
    for name, value in median.items():
        print(f"{name:38} {value:8.3f} {mib / value:10.0f}")
    clip = median["clip alone (range download)"]
    print(f"bundle / clip alone: {median['bundle (clip, sign, zip, encrypt)'] / clip:.2f}x")
    print(f"offline check / clip alone: {median['offline check of the bundle'] / clip:.2f}x")
    print(f"clip alone / SHA-256 baseline: {clip / median[next(iter(median))]:.1f}x")


if __name__ == "__main__":
    main()
