"""``motion_detect`` against the face detector: milliseconds per frame, side by side.

Frames are the astronaut photo tiled to 640x480 and 1280x720 (as in ``bench_vision``)
with a white bar that moves 16 pixels a frame, so every frame after the first has
motion to report. One OpenCV thread. Baseline in the same run: ``face_detect``
(BlazeFace, default ``tile_rows=1``), the detector that opens event clips on faces.
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from bench.bench_vision import SIZES, make_frame
from lensguard.vision.faces import FaceDetect
from lensguard.vision.motion import MotionDetect
from lensguard.vision.processor import Image, Processor

SECONDS = 1.0
FRAMES = 32
"""Distinct frames cycled through (the bar's positions)."""


def moving(width: int, height: int) -> list[Image]:
    base = make_frame(width, height)
    frames = []
    for i in range(FRAMES):
        image = base.copy()
        x = (i * 16) % (width - 40)
        image[:, x : x + 40] = 255
        frames.append(image)
    return frames


def ms_per_frame(processor: Processor, frames: list[Image]) -> tuple[float, int]:
    """Median wall-clock ms of one ``process`` call, and how many frames had detections."""
    samples: list[float] = []
    found = 0
    started = time.perf_counter()
    i = 0
    while len(samples) < 2 * FRAMES or time.perf_counter() - started < SECONDS:
        frame = frames[i % FRAMES]
        t0 = time.perf_counter()
        result = processor.process(frame, [], {})
        samples.append((time.perf_counter() - t0) * 1000.0)
        found += bool(result.detections)
        i += 1
    return statistics.median(samples), found * 100 // len(samples)


def main() -> None:
    cv2.setNumThreads(1)
    face = FaceDetect({})
    print(f"OpenCV {cv2.__version__}, 1 thread; face_detect runs {face.detector}")
    print("size        motion_detect   face_detect   ratio (face / motion)")
    for width, height in SIZES:
        frames = moving(width, height)
        motion_ms, motion_hit = ms_per_frame(MotionDetect({}), frames)
        face_ms, face_hit = ms_per_frame(face, frames)
        print(
            f"{width}x{height:<6} {motion_ms:9.3f} ms   {face_ms:8.2f} ms   "
            f"{face_ms / motion_ms:7.1f}x   (frames with detections: motion {motion_hit} %, "
            f"faces {face_hit} %)"
        )
    still = make_frame(640, 480)
    detector = MotionDetect({})
    detector.process(still, [], {})
    quiet = detector.process(np.ascontiguousarray(still), [], {}).detections
    print(f"a still 640x480 frame reports {len(quiet)} motion detections")


if __name__ == "__main__":
    main()
