"""Recording encryption: write throughput per core of the STREAM writer.

Ours: ``recordings.crypto.SegmentWriter`` (AES-256-GCM over 64 KiB chunks, one data
key per segment). Baselines in the same run: Fernet over each 64 KiB chunk (the
source guide's design: AES-128-CBC + HMAC-SHA256 + base64), and writing the plaintext
as it is. Each writes segments of 4 MiB to a file in a temporary directory and
flushes it to disk (fsync), as the local store does; CPU seconds are this process's
(one thread), so MiB per CPU-second is throughput per core. Rounds interleave the
three writers; medians of the rounds.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.fernet import Fernet

from lensguard.recordings.crypto import DEFAULT_CHUNK, SegmentWriter

SEGMENT = 4 * 1024 * 1024
SEGMENTS = 8  # 32 MiB per round
ROUNDS = 5
KEY = os.urandom(32)
FERNET = Fernet(Fernet.generate_key())
PAYLOAD = os.urandom(SEGMENT)
PIECE = 16 * 1024  # how a muxer hands bytes over: smaller than a chunk


def write_plain(out: BinaryIO) -> None:
    for start in range(0, SEGMENT, PIECE):
        out.write(PAYLOAD[start : start + PIECE])


def write_stream(out: BinaryIO) -> None:
    writer = SegmentWriter(KEY, "bench", out)
    for start in range(0, SEGMENT, PIECE):
        writer.write(PAYLOAD[start : start + PIECE])
    writer.close()


def write_fernet(out: BinaryIO) -> None:
    for start in range(0, SEGMENT, DEFAULT_CHUNK):
        token = FERNET.encrypt(PAYLOAD[start : start + DEFAULT_CHUNK])
        out.write(len(token).to_bytes(4, "big") + token)


class Discard(io.RawIOBase):
    """A sink that only counts: the writer's own cost, without the disk."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.count += len(data)
        return len(data)


def measure(directory: Path, write: Callable[[BinaryIO], None]) -> tuple[float, float, float, int]:
    """(MiB per CPU-second to disk, MiB/s wall to disk, MiB per CPU-second to memory, bytes)."""
    mib = SEGMENT * SEGMENTS / (1024 * 1024)
    cpu, wall = time.process_time(), time.perf_counter()
    stored = 0
    for i in range(SEGMENTS):
        path = directory / f"segment-{i}"
        with path.open("wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
            stored += out.tell()
        path.unlink()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    memory = time.process_time()
    for _ in range(SEGMENTS):
        write(Discard())  # type: ignore[arg-type]
    memory = time.process_time() - memory
    return mib / cpu, mib / wall, mib / memory, stored


def main() -> None:
    writers = {
        "plaintext": write_plain,
        "ours: STREAM AES-256-GCM": write_stream,
        "Fernet per 64 KiB chunk": write_fernet,
    }
    results: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in writers}
    with tempfile.TemporaryDirectory(prefix="lg-bench-rec-") as tmp:
        for write in writers.values():  # warm up
            measure(Path(tmp), write)
        for _ in range(ROUNDS):
            for name, write in writers.items():
                results[name].append(measure(Path(tmp), write))

    def median(column: int) -> dict[str, float]:
        return {name: statistics.median(r[column] for r in rows) for name, rows in results.items()}

    per_core, wall, memory = median(0), median(1), median(2)
    stored = {name: rows[0][3] for name, rows in results.items()}
    ours, fernet, plain = "ours: STREAM AES-256-GCM", "Fernet per 64 KiB chunk", "plaintext"
    print(f"{SEGMENTS} segments of {SEGMENT // 1024} KiB per round, {ROUNDS} rounds, fsync each")
    print(
        f"{'writer':28} {'disk MiB/CPU-s':>15} {'disk MiB/s wall':>16} "
        f"{'memory MiB/CPU-s':>17} {'size':>8}"
    )
    for name in writers:
        overhead = stored[name] / (SEGMENT * SEGMENTS) - 1
        print(
            f"{name:28} {per_core[name]:15.0f} {wall[name]:16.0f} "
            f"{memory[name]:17.0f} {overhead:+8.2%}"
        )
    print(f"ours / Fernet, to disk per core: {per_core[ours] / per_core[fernet]:.1f}x")
    print(f"ours / Fernet, to memory per core: {memory[ours] / memory[fernet]:.1f}x")
    print(f"ours / plaintext, to disk per core: {per_core[ours] / per_core[plain]:.2f}x")
    print(f"ours / plaintext, to disk wall: {wall[ours] / wall[plain]:.2f}x")
