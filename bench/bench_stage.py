"""Processing stage cost: milliseconds per frame of each part of the redaction stage.

``redact_faces: true`` makes the relay decode VP8, convert to BGR, run
``face_detect + pixelate_faces``, convert to yuv420p and encode VP8 once. This times
each part and the whole stage (``ProcessingStage.transcode``, the worker thread's
work for one packet) at 640x480 and 1280x720 on a panning, slightly noisy scene with
the astronaut in it, encoded as the agent would (VP8, 1.5 Mb/s).

Baseline in the same run: the stage as it was before, kept here as ``old_transcode``:
BlazeFace with one 128 x 128 forward per tile plus the letterboxed frame (scalar mean,
so only the first channel was centred), each tile area-resized from the full frame,
and ``VideoFrame.from_ndarray(...).reformat("yuv420p")``. Old and new run in
alternating rounds on the same packets; figures are medians over all rounds. The old
path runs OpenCV on its default thread count (as the relay did), the new one on the
one thread the stage now sets. A last table times libvpx speeds
(``cpu-used``) with a PSNR sanity check, which is how the encoder setting was chosen.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import av
import cv2
import numpy as np
from skimage import data

from lensguard.media.processing import (
    ENCODER_OPTIONS,
    OPENCV_THREADS,
    ProcessingStage,
    to_i420,
    to_image,
    vp8_encoder,
)
from lensguard.vision import Chain, Frame, build_chain
from lensguard.vision.blazeface import INPUT_SIZE, OUTPUTS, ssd_anchors, weighted_nms
from lensguard.vision.cadence import Cadence, CadenceStats, with_cadence
from lensguard.vision.failclosed import redact_or_blank
from lensguard.vision.filters import PixelateFaces
from lensguard.vision.geometry import letterbox, to_detection, unletterbox
from lensguard.vision.models import blazeface_path
from lensguard.vision.processor import Detection, Result, Step

SIZES = ((640, 480), (1280, 720))
FRAMES = 60
ROUNDS = 5
TB = fractions.Fraction(1, 90000)
BITRATE = 1_500_000
PARTS = ("decode", "to BGR", "detect", "pixelate", "to I420", "encode")
SPEEDS = ("8", "12", "15", "16")
DEFAULT_THREADS = cv2.getNumThreads()


def scene(width: int, height: int, count: int) -> list[np.ndarray]:
    """A camera-like pan over the astronaut and two other photos, with sensor-like noise."""
    rng = np.random.default_rng(1)
    side = height + 60
    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    strip = np.concatenate([cv2.resize(p, (side, side)) for p in photos], axis=1)[:, :, ::-1]
    frames = []
    for i in range(count):
        x, y = 2 * i, int(30 + 20 * math.sin(i / 10))
        noisy = strip[y : y + height, x : x + width].astype(np.int16)
        noisy += rng.integers(-3, 4, noisy.shape, dtype=np.int16)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def source_packets(frames: list[np.ndarray]) -> list[Any]:
    """The frames as the agent sends them: VP8 at 1.5 Mb/s, one packet per frame."""
    height, width = frames[0].shape[:2]
    encoder = vp8_encoder(width, height, BITRATE)
    packets: list[Any] = []
    for i, image in enumerate(frames):
        packets += encoder.encode(to_i420(image, i * 3000))
    return packets


# --- the old path, as the stage ran before -------------------------------------------


def old_tiles(image: np.ndarray, rows: int) -> list[tuple[int, int, np.ndarray]]:
    """The old 128 x 128 tiles: ``rows`` down the frame, overlapping by a quarter."""
    h, w = image.shape[:2]
    side = min(h, w, round(h / rows * 1.25))
    step = side * 0.75

    def starts(length: int) -> list[int]:
        n = 1 if length <= side else math.ceil((length - side) / step) + 1
        return [0] if n == 1 else [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, image[y : y + side, x : x + side]) for y in starts(h) for x in starts(w)]


class OldFaceDetect:
    """``face_detect`` before: one forward per tile and for the letterboxed frame."""

    name = "face_detect"

    def __init__(self) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(blazeface_path()))
        self._anchors = ssd_anchors() * INPUT_SIZE

    def _infer(self, image: np.ndarray, off_x: int, off_y: int) -> tuple[np.ndarray, np.ndarray]:
        square, scale, pad_x, pad_y = letterbox(image, INPUT_SIZE, INPUT_SIZE)
        blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (INPUT_SIZE, INPUT_SIZE), 127.5, True)
        self._net.setInput(blob)
        logits, raw = self._net.forward(OUTPUTS)
        clipped = np.clip(logits[0, :, 0].astype(np.float64), -100, 100)
        scores = 1.0 / (1.0 + np.exp(-clipped))
        centre = raw[0, :, :2] + self._anchors
        half = raw[0, :, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        boxes = unletterbox(boxes.astype(np.float32), scale, pad_x, pad_y)
        boxes += np.array([off_x, off_y, off_x, off_y], np.float32)
        return boxes, scores.astype(np.float32)

    def process(
        self, frame: np.ndarray, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        boxes, scores = self._infer(frame, 0, 0)
        for x, y, tile in old_tiles(frame, 1):
            b, s = self._infer(tile, x, y)
            boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, s])
        keep = scores >= 0.5
        h, w = frame.shape[:2]
        found = (
            to_detection(b, s, w, h, "face") for b, s in weighted_nms(boxes[keep], scores[keep])
        )
        return Result(frame, [*detections, *(d for d in found if d is not None)])


class OldStage:
    """The stage's per-packet work before: swscale for yuv420p, the old detector."""

    def __init__(self) -> None:
        self.chain = Chain([Step(OldFaceDetect(), {}), Step(PixelateFaces({}), {})])
        self._decoder = av.CodecContext.create("vp8", "r")
        self._encoder: Any = None

    def transcode(self, packet: Any) -> list[Any]:
        latest = None
        for decoded in self._decoder.decode(packet):
            latest = decoded
        if latest is None:
            return []
        frame = Frame(np.asarray(latest.to_ndarray(format="bgr24"), np.uint8), latest.pts)
        processed = redact_or_blank(self.chain, frame, budget_ms=50.0).frame
        out = av.VideoFrame.from_ndarray(processed.image, format="bgr24").reformat(format="yuv420p")
        out.pts, out.time_base = latest.pts, TB
        if self._encoder is None:
            self._encoder = vp8_encoder(out.width, out.height, BITRATE)
        return list(self._encoder.encode(out))


# --- timing -------------------------------------------------------------------------


def old_to_i420(image: np.ndarray, pts: int) -> av.VideoFrame:
    out = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
    out.pts, out.time_base = pts, TB
    return out


def parts(chain: Chain, packets: list[Any], convert: Any, into: dict[str, list[float]]) -> int:
    """Time each part of the pipeline on every packet; returns faces on the last frame."""
    decoder = av.CodecContext.create("vp8", "r")
    encoder: Any = None
    faces = 0
    for packet in packets:
        t0 = time.perf_counter()
        (picture,) = decoder.decode(packet)
        t1 = time.perf_counter()
        image = to_image(picture)
        t2 = time.perf_counter()
        result = chain.run(Frame(image, picture.pts))
        t3 = time.perf_counter()
        out = convert(result.frame.image, picture.pts)
        t4 = time.perf_counter()
        if encoder is None:
            encoder = vp8_encoder(out.width, out.height, BITRATE)
        encoder.encode(out)
        t5 = time.perf_counter()
        steps = {t.name: t.ms for t in result.timings}
        for name, ms in (
            ("decode", t1 - t0),
            ("to BGR", t2 - t1),
            ("to I420", t4 - t3),
            ("encode", t5 - t4),
        ):
            into[name].append(ms * 1000)
        into["detect"].append(steps["face_detect"])
        into["pixelate"].append(steps["pixelate_faces"])
        faces = len(result.detections)
    return faces


def whole(transcode: Any, packets: list[Any], into: list[float]) -> None:
    for packet in packets:
        started = time.perf_counter()
        transcode(packet)
        into.append((time.perf_counter() - started) * 1000)


def measure_size(width: int, height: int) -> None:
    packets = source_packets(scene(width, height, FRAMES))
    loop = asyncio.new_event_loop()
    old_parts: dict[str, list[float]] = defaultdict(list)
    new_parts: dict[str, list[float]] = defaultdict(list)
    old_whole: list[float] = []
    new_whole: list[float] = []
    cadence_whole: list[float] = []
    cadence_stats = CadenceStats()
    old_chain = OldStage().chain
    new_chain = build_chain(["face_detect", "pixelate_faces"])
    faces = (0, 0)
    for _ in range(ROUNDS):
        cv2.setNumThreads(DEFAULT_THREADS)  # as the relay ran before
        old_faces = parts(old_chain, packets, old_to_i420, old_parts)
        old = OldStage()
        whole(old.transcode, packets, old_whole)
        cv2.setNumThreads(OPENCV_THREADS)  # what the stage sets now
        faces = (old_faces, parts(new_chain, packets, to_i420, new_parts))
        stage = ProcessingStage(lambda p, k: None, chain=new_chain, mandatory=True, loop=loop)
        whole(lambda p, s=stage: s.transcode([(p, False)]), packets, new_whole)
        stage.close()
        # vision.detect_every 3: the faces tracked between searches (vision/cadence.py).
        tracked = with_cadence(new_chain, {"face_detect"}, every=3)
        stage = ProcessingStage(lambda p, k: None, chain=tracked, mandatory=True, loop=loop)
        whole(lambda p, s=stage: s.transcode([(p, False)]), packets, cadence_whole)
        stage.close()
        step = tracked.steps[0].processor
        assert isinstance(step, Cadence)
        for key in ("detected", "forced", "carried"):
            setattr(cadence_stats, key, getattr(cadence_stats, key) + getattr(step.stats, key))
    loop.close()
    print(f"\n{width}x{height}: ms per frame (median of {ROUNDS} x {FRAMES} frames)")
    print(f"  {'part':12s} {'old':>7s} {'new':>7s} {'new/old':>8s}")
    for name in PARTS:
        o, n = statistics.median(old_parts[name]), statistics.median(new_parts[name])
        print(f"  {name:12s} {o:7.2f} {n:7.2f} {n / o:7.2f}x")
    o, n = statistics.median(old_whole), statistics.median(new_whole)
    p95o, p95n = np.percentile(old_whole, 95), np.percentile(new_whole, 95)
    print(f"  {'whole stage':12s} {o:7.2f} {n:7.2f} {n / o:7.2f}x   (p95 {p95o:.2f} / {p95n:.2f})")
    c, p95c = statistics.median(cadence_whole), np.percentile(cadence_whole, 95)
    print(f"  {'1 in 3':12s} {'':7s} {c:7.2f} {c / n:7.2f}x   (p95 {p95c:.2f}; against new)")
    print(
        f"  1 in 3 on this panning scene: {cadence_stats.detected} searched "
        f"({cadence_stats.forced} out of turn), {cadence_stats.carried} carried"
    )
    print(f"  faces on the last frame: old {faces[0]}, new {faces[1]}")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255**2 / max(mse, 1e-9))


def encoder_speeds() -> None:
    """libvpx speeds: ms per frame, bitrate and PSNR (mean, and worst frame after the first)."""
    print(f"\nlibvpx realtime speeds (the stage uses {ENCODER_OPTIONS})")
    print(f"  {'size':9s} {'cpu-used':>8s} {'ms':>6s} {'Mb/s':>6s} {'PSNR':>6s} {'worst':>6s}")
    for width, height in SIZES:
        frames = [to_i420(f, i * 3000) for i, f in enumerate(scene(width, height, 90))]
        planes = [f.to_ndarray() for f in frames]
        for speed in SPEEDS:
            encoder = vp8_encoder(width, height, BITRATE)
            encoder.options = {**ENCODER_OPTIONS, "cpu-used": speed}
            decoder = av.CodecContext.create("vp8", "r")
            ms: list[float] = []
            size, quality = 0, []
            for i, frame in enumerate(frames):
                yuv = av.VideoFrame.from_ndarray(planes[i], format="yuv420p")
                yuv.pts, yuv.time_base = frame.pts, TB
                started = time.perf_counter()
                encoded = encoder.encode(yuv)
                ms.append((time.perf_counter() - started) * 1000)
                for packet in encoded:
                    size += packet.size
                    quality += [psnr(d.to_ndarray(), planes[i]) for d in decoder.decode(packet)]
            mbps = size * 8 / (len(frames) / 30) / 1e6
            print(
                f"  {width}x{height:<5d} {speed:>8s} {statistics.median(ms[3:]):6.2f} {mbps:6.2f}"
                f" {statistics.mean(quality):6.1f} {min(quality[1:]):6.1f}"
            )


def main() -> None:
    print(
        f"OpenCV {cv2.__version__}: old path {DEFAULT_THREADS} threads (default), new path"
        f" {OPENCV_THREADS} (+ a helper thread for the second pass); PyAV {av.__version__}"
    )
    for width, height in SIZES:
        measure_size(width, height)
    encoder_speeds()


if __name__ == "__main__":
    main()
