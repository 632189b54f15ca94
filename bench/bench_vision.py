"""Vision processors: milliseconds per frame each, and redaction frames per second per core.

Frames are the astronaut photo (scikit-image, one face) scaled to the frame height and
tiled across its width, at 640x480 and 1280x720. OpenCV runs on one thread
(``cv2.setNumThreads(1)``); BlazeFace runs its whole-frame pass on a helper thread when
a core is idle, so per-step times are wall clock and "fps per core" counts CPU time.
The redaction chain ``face_detect + pixelate_faces`` (BlazeFace) is compared with the
baseline that needs no extracted model, ``face_detect_haar + pixelate_faces`` (the seeds'
approach: OpenCV's frontal-face cascade at full size), in the same run; ratios are ours /
baseline.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import cv2
import numpy as np
from skimage import data

from lensguard.vision import Chain, Frame, build_chain
from lensguard.vision.faces import FaceDetect

SIZES = ((640, 480), (1280, 720))
# Each measurement runs at least this long and at least MIN_FRAMES frames.
SECONDS = 1.0
MIN_FRAMES = 5
TARGET_FPS = 60.0

REDACTION = ["face_detect", "pixelate_faces"]
BASELINE = ["face_detect_haar", "pixelate_faces"]
ONE_PASS: dict[str, Any] = {"face_detect": {"tile_rows": 0}}
# (label, chain, params, the step whose time is reported)
SINGLE: list[tuple[str, list[str], dict[str, Any], str]] = [
    ("face_detect (default: tile_rows=1)", ["face_detect"], {}, "face_detect"),
    ("face_detect (tile_rows=0: one pass)", ["face_detect"], ONE_PASS, "face_detect"),
    (
        "face_detect (tile_rows=2)",
        ["face_detect"],
        {"face_detect": {"tile_rows": 2}},
        "face_detect",
    ),
    ("face_detect_haar", ["face_detect_haar"], {}, "face_detect_haar"),
    ("pixelate_faces", REDACTION, {}, "pixelate_faces"),
    ("blur_faces", ["face_detect", "blur_faces"], {}, "blur_faces"),
    ("blur (31x31)", ["blur"], {}, "blur"),
    ("grayscale", ["grayscale"], {}, "grayscale"),
    ("edges", ["edges"], {}, "edges"),
]


def make_frame(width: int, height: int) -> np.ndarray:
    """The astronaut at the frame's height, repeated across its width (BGR)."""
    photo = cv2.resize(data.astronaut()[:, :, ::-1], (height, height), interpolation=cv2.INTER_AREA)
    tiled = np.tile(photo, (1, -(-width // height), 1))
    return np.ascontiguousarray(tiled[:, :width])


def step_ms(chain: Chain, frame: Frame, step: str) -> tuple[float, int]:
    """Median milliseconds of ``step`` per frame, and the faces found on the last frame."""
    samples: list[float] = []
    faces = 0
    started = time.perf_counter()
    while len(samples) < MIN_FRAMES or time.perf_counter() - started < SECONDS:
        result = chain.run(frame)
        samples.extend(t.ms for t in result.timings if t.name == step)
        faces = len(result.detections)
    return statistics.median(samples), faces


def throughput(chain: Chain, frame: Frame) -> tuple[float, float]:
    """(frames per wall-clock second, frames per CPU second) of the whole chain."""
    chain.run(frame)
    frames = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while frames < MIN_FRAMES or time.perf_counter() - wall < SECONDS:
        chain.run(frame)
        frames += 1
    return frames / (time.perf_counter() - wall), frames / (time.process_time() - cpu)


def main() -> None:
    cv2.setNumThreads(1)
    detector = FaceDetect({}).detector
    print(f"OpenCV {cv2.__version__}, 1 thread; face_detect runs {detector}")
    for width, height in SIZES:
        frame = Frame(make_frame(width, height))
        print(f"\n{width}x{height}: ms per frame (median), faces found")
        for label, names, params, step in SINGLE:
            ms, faces = step_ms(build_chain(names, params), frame, step)
            print(f"  {label:38s} {ms:8.2f} ms   faces={faces}")
        base_wall, base_cpu = throughput(build_chain(BASELINE, {}), frame)
        print(f"  chains: fps (wall), fps per core, ratio per core vs {' + '.join(BASELINE)}")
        print(f"    {'baseline (haar) + pixelate':30s} {base_wall:7.1f} {base_cpu:7.1f}")
        for label, params in (("redaction (default)", {}), ("redaction (one pass)", ONE_PASS)):
            wall, cpu = throughput(build_chain(REDACTION, params), frame)
            print(f"    {label:30s} {wall:7.1f} {cpu:7.1f}   {cpu / base_cpu:6.1f}x")
            if (width, height) == (640, 480) and not params:
                verdict = "met" if cpu >= TARGET_FPS else "NOT met"
                print(
                    f"    target >= {TARGET_FPS:.0f} fps per core at 640x480 (default): {verdict}"
                )


if __name__ == "__main__":
    main()
