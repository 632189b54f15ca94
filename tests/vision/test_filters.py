"""Face pixelation and blur leave the rest of the frame alone; whole-frame filters work."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lensguard.vision import Detection, Frame, InvalidParams, build_chain, default_registry

PIXELATE = {"block": 16, "max_blocks": 8, "margin": 0.25}


def padded_box(
    box: tuple[int, int, int, int], margin: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    x, y, w, h = box
    mx, my = math.ceil(w * margin), math.ceil(h * margin)
    return max(0, x - mx), max(0, y - my), min(shape[1], x + w + mx), min(shape[0], y + h + my)


def outside(image: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.ones(image.shape[:2], bool)
    mask[y1:y2, x1:x2] = False
    return image[mask]


def detail(image: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours: high for sharp images."""
    return float(np.abs(np.diff(image.astype(int), axis=1)).mean())


def test_pixelate_faces_hides_the_face_and_nothing_else(
    astronaut: np.ndarray, models_dir: Path
) -> None:
    original = astronaut.copy()
    chain = build_chain(
        ["face_detect", "pixelate_faces"], {"pixelate_faces": PIXELATE}, models_dir=models_dir
    )
    result = chain.run(Frame(astronaut))
    out = result.frame.image
    assert np.array_equal(astronaut, original), "the caller's frame must not change"
    (face,) = result.detections
    x1, y1, x2, y2 = padded_box(face.box, PIXELATE["margin"], out.shape)
    assert x2 - x1 > face.box[2] and y2 - y1 > face.box[3]

    assert np.array_equal(outside(out, x1, y1, x2, y2), outside(original, x1, y1, x2, y2))
    region, before = out[y1:y2, x1:x2].astype(int), original[y1:y2, x1:x2].astype(int)
    assert np.abs(region - before).mean() > 8

    block = int(max(PIXELATE["block"], math.ceil(max(x2 - x1, y2 - y1) / PIXELATE["max_blocks"])))
    full_rows, full_cols = (y2 - y1) // block, (x2 - x1) // block
    assert full_rows >= 4 and full_cols >= 4
    for r in range(full_rows):
        for c in range(full_cols):
            cell = region[r * block : (r + 1) * block, c * block : (c + 1) * block]
            assert cell.reshape(-1, 3).var(axis=0).max() == 0, (r, c)


def test_small_block_is_raised_so_a_big_face_stays_coarse() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    face = Detection((50, 50, 300, 300), "face", 0.9)
    params = {"block": 2, "margin": 0.0}
    out = default_registry().create("pixelate_faces", params).process(frame, [face], params).frame
    cells = out[50:350, 50:350]
    # 300 px / 8 blocks -> 38 px squares: at most 8 x 8 distinct colours.
    assert len(np.unique(cells.reshape(-1, 3), axis=0)) <= 64


def test_labels_choose_which_detections_are_redacted() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    plate = Detection((10, 10, 30, 30), "plate", 0.9)
    for labels, changed in ((["face"], False), (["face", "plate"], True)):
        params = {"labels": labels, "margin": 0}
        blur_faces = default_registry().create("blur_faces", params)
        out = blur_faces.process(frame.copy(), [plate], params).frame
        assert (not np.array_equal(out, frame)) is changed
        assert np.array_equal(outside(out, 10, 10, 40, 40), outside(frame, 10, 10, 40, 40))


def test_blur_faces_smooths_only_the_padded_face(astronaut: np.ndarray, models_dir: Path) -> None:
    chain = build_chain(["face_detect", "blur_faces"], models_dir=models_dir)
    result = chain.run(Frame(astronaut))
    (face,) = result.detections
    x1, y1, x2, y2 = padded_box(face.box, 0.25, astronaut.shape)
    out = result.frame.image
    assert np.array_equal(outside(out, x1, y1, x2, y2), outside(astronaut, x1, y1, x2, y2))
    assert detail(out[y1:y2, x1:x2]) < 0.3 * detail(astronaut[y1:y2, x1:x2])


def test_blur_grayscale_and_edges(astronaut: np.ndarray) -> None:
    blurred = build_chain(["blur"]).run(Frame(astronaut)).frame.image
    assert detail(blurred) < 0.5 * detail(astronaut)

    gray = build_chain(["grayscale"]).run(Frame(astronaut)).frame.image
    assert gray.shape == astronaut.shape
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])

    edges = build_chain(["edges"]).run(Frame(astronaut)).frame.image
    assert edges.shape == astronaut.shape
    assert set(np.unique(edges)) <= {0, 255}
    assert 0.01 < (edges[..., 0] == 255).mean() < 0.5


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("pixelate_faces", {"block": 1}, r"block must be in \[2, 512\], got 1"),
        ("pixelate_faces", {"block": True}, "block must be an integer"),
        ("pixelate_faces", {"margin": "wide"}, "margin must be a number"),
        ("pixelate_faces", {"labels": "face"}, "labels must be a list of strings"),
        ("blur", {"kernel": 4}, "kernel must be 0 .auto. or odd and >= 3, got 4"),
        ("blur", {"sigma": 3}, "blur: unknown parameter.s. sigma; valid: kernel"),
        ("grayscale", {"x": 1}, "grayscale: unknown parameter.s. x; valid: none"),
        ("edges", {"low": -1}, r"low must be in \[0, 1000\]"),
        ("face_detect", {"detector": "yolo"}, "detector must be one of auto, blazeface, haar"),
        ("face_detect", {"min_score": 2}, r"min_score must be in \[0.0, 1.0\]"),
    ],
)
def test_bad_parameters_are_refused_when_the_chain_is_built(
    name: str, params: dict[str, object], message: str, models_dir: Path
) -> None:
    with pytest.raises(InvalidParams, match=message):
        build_chain([name], {name: params}, models_dir=models_dir)
