"""BlazeFace decoding pieces (anchors, weighted NMS, passes, input) and what it finds."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from lensguard.vision.blazeface import (
    INPUT_SIZE,
    MULTIPLE,
    NUM_ANCHORS,
    OUTPUTS,
    BlazeFace,
    Helpers,
    Pass,
    anchor_grid,
    beside,
    head_outputs,
    input_blob,
    plan_passes,
    ssd_anchors,
    tile_side,
    weighted_nms,
)
from lensguard.vision.geometry import shrink
from lensguard.vision.models import blazeface_path
from tests.vision.conftest import ASTRONAUT_FACE, iou


def test_anchors_follow_mediapipe_order() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (NUM_ANCHORS, 2)
    # Stride 8: a 16 x 16 grid, 2 anchors per cell, row by row.
    assert anchors[:4].tolist() == [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2
    assert anchors[511].tolist() == [31 / 32, 31 / 32]
    # Strides 16, 16, 16 share an 8 x 8 grid: 6 anchors per cell.
    assert anchors[512:518].tolist() == [[1 / 16, 1 / 16]] * 6
    assert anchors[518].tolist() == [3 / 16, 1 / 16]
    assert anchors[-1].tolist() == [15 / 16, 15 / 16]


def test_weighted_nms_averages_overlapping_boxes_by_score() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.6], np.float32)
    kept = weighted_nms(boxes, scores, 0.3)
    assert len(kept) == 2
    merged, score = kept[0]
    assert score == pytest.approx(0.9)
    assert merged.tolist() == pytest.approx([0.5, 0, 10.5, 10])
    assert kept[1][0].tolist() == pytest.approx([50, 50, 60, 60])


def test_weighted_nms_of_nothing_is_nothing() -> None:
    assert weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) == []


def test_weighted_nms_ends_on_degenerate_boxes() -> None:
    # A box with no area overlaps nothing, not even itself; NaN compares false to all.
    boxes = np.array([[5, 5, 5, 5], [0, 0, 10, 10], [np.nan] * 4, [1, 1, 11, 11]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    kept = weighted_nms(boxes, scores, 0.3)
    assert [score for _, score in kept] == pytest.approx([0.9, 0.8, 0.7])


def test_weighted_nms_with_zero_scores_keeps_the_top_box() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], np.float32)
    kept = weighted_nms(boxes, np.zeros(2, np.float32), 0.3)
    assert len(kept) == 1
    assert kept[0][0].tolist() == [0, 0, 10, 10]


def test_anchor_grid_of_the_model_input_is_mediapipes() -> None:
    assert anchor_grid(INPUT_SIZE, INPUT_SIZE).tolist() == (ssd_anchors() * INPUT_SIZE).tolist()
    # A wider input adds cells along each row, in the same order.
    wide = anchor_grid(128, 176)
    assert wide.shape == (16 * 22 * 2 + 8 * 11 * 6, 2)
    assert wide[:2].tolist() == [[4, 4]] * 2
    assert wide[2 * 22].tolist() == [4, 12]


@pytest.mark.parametrize(
    ("shape", "rows"), [((480, 640), 1), ((720, 1280), 1), ((720, 1280), 2), ((640, 480), 3)]
)
def test_the_tile_scale_pass_covers_the_frame_at_the_tiles_scale(
    shape: tuple[int, int], rows: int
) -> None:
    height, width = shape
    tiled, whole = plan_passes(height, width, rows)
    # A tile would be 128 px at this scale, so the same faces are big enough in it.
    scale = INPUT_SIZE / tile_side(height, width, rows)
    assert tiled.size == (round(width * scale), round(height * scale))
    assert tiled.offset == (0, 0)
    assert all(
        c % MULTIPLE == 0 and s <= c < s + MULTIPLE
        for c, s in zip(tiled.canvas, tiled.size, strict=True)
    )
    # The whole-frame pass is MediaPipe's letterbox: longer side 128, centred.
    assert whole.canvas == (INPUT_SIZE, INPUT_SIZE)
    assert max(whole.size) == INPUT_SIZE
    assert whole.offset == ((INPUT_SIZE - whole.size[0]) // 2, (INPUT_SIZE - whole.size[1]) // 2)


def test_one_pass_when_a_tile_would_be_the_whole_frame() -> None:
    assert len(plan_passes(480, 480, 1)) == 1
    assert len(plan_passes(480, 640, 0)) == 1


def test_input_is_scaled_to_minus_one_to_one_on_every_channel() -> None:
    # RGB in [-1, 1]: a scalar mean would only be taken off the first channel.
    image = np.zeros((96, 128, 3), np.uint8)
    image[:48] = 255
    blob = input_blob(image, Pass((128, 96), (128, 128), (0, 16)))
    assert blob.shape == (1, 3, 128, 128)
    assert np.all(blob[0, :, :16] == -1)  # the letterbox band is black
    assert np.allclose(blob[0, :, 16:64], 1.0)
    assert np.allclose(blob[0, :, 64:112], -1.0)


def test_reading_the_heads_gives_the_models_own_outputs(models_dir: Path) -> None:
    net = cv2.dnn.readNetFromTFLite(str(blazeface_path(models_dir)))
    blob = np.random.default_rng(3).uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    net.setInput(blob)
    scores, boxes = net.forward(OUTPUTS)
    logits, raw = head_outputs(net, blob)
    assert np.array_equal(logits, scores[0, :, 0])
    assert np.array_equal(raw, boxes[0, :, :4])


def place_face(
    astronaut: np.ndarray, frame_size: tuple[int, int], face_width: int, centre: tuple[float, float]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut scaled so her face is ``face_width`` px, centred at ``centre`` (0-1)."""
    width, height = frame_size
    scale = face_width / ASTRONAUT_FACE[2]
    side = round(astronaut.shape[0] * scale)
    photo = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    fx, fy, fw, fh = (v * scale for v in ASTRONAUT_FACE)
    ox = round(centre[0] * width - fx - fw / 2)
    oy = round(centre[1] * height - fy - fh / 2)
    frame = np.full((height, width, 3), 90, np.uint8)
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(width, ox + side), min(height, oy + side)
    frame[y0:y1, x0:x1] = photo[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return frame, (round(fx + ox), round(fy + oy), round(fw), round(fh))


# Centres across the frame, including where 128 x 128 tiles used to meet (1/4 and 3/4
# across at 640x480, 0.21-0.79 at 1280x720) and near the edges.
CENTRES = [(0.1, 0.5), (0.25, 0.2), (0.42, 0.8), (0.5, 0.5), (0.58, 0.25), (0.75, 0.5), (0.9, 0.8)]


@pytest.mark.parametrize(
    ("frame_size", "widths"), [((640, 480), (70, 110, 200)), ((1280, 720), (110, 160, 300))]
)
def test_default_tiling_finds_every_face_down_to_its_documented_size(
    frame_size: tuple[int, int],
    widths: tuple[int, ...],
    astronaut: np.ndarray,
    models_dir: Path,
) -> None:
    detector = BlazeFace(blazeface_path(models_dir))
    for width in widths:
        for centre in CENTRES:
            frame, expected = place_face(astronaut, frame_size, width, centre)
            if min(expected[:2]) < 0 or expected[0] + expected[2] > frame_size[0]:
                continue
            if expected[1] + expected[3] > frame_size[1]:
                continue
            faces = detector.detect(frame, min_score=0.5, tile_rows=1)
            assert any(iou(f.box, expected) > 0.5 for f in faces), (frame_size, width, centre)


def test_beside_runs_work_on_an_idle_helper_and_hands_back_its_result() -> None:
    here = threading.current_thread()
    get = beside(lambda: (threading.current_thread(), 42))
    thread, value = get()
    assert value == 42 and thread is not here


def test_beside_runs_work_in_line_when_no_helper_is_idle() -> None:
    helpers = Helpers(1)
    assert helpers.idle.acquire(blocking=False)
    try:
        thread, value = helpers.beside(lambda: (threading.current_thread(), 7))()
        assert value == 7 and thread is threading.current_thread()
    finally:
        helpers.idle.release()


def test_beside_hands_back_the_helpers_exception_and_frees_the_helper() -> None:
    def broken() -> None:
        raise RuntimeError("pass failed")

    get = beside(broken)
    with pytest.raises(RuntimeError, match="pass failed"):
        get()
    # The helper is idle again: the next call goes to it, not in line.
    thread = beside(threading.current_thread)()
    assert thread is not threading.current_thread()


def test_shrink_area_averages_to_each_size() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, 320:] = 200
    small, tiny = shrink(image, [(171, 128), (128, 96)])
    assert small.shape == (128, 171, 3) and tiny.shape == (96, 128, 3)
    # Averaged, not sampled: the column on the edge is a mix of both halves.
    assert small[:, 0].max() == 0 and small[:, -1].min() == 200
    assert 0 < int(small[0, 85, 0]) < 200
    assert shrink(image, []) == []


def test_helpers_start_afresh_after_a_fork() -> None:
    helpers = Helpers(1)
    assert helpers.beside(lambda: 1)() == 1
    assert helpers.idle.acquire(blocking=False)  # as if a thread held it at the fork
    helpers.reset()
    thread = helpers.beside(threading.current_thread)()
    assert thread is not threading.current_thread()
