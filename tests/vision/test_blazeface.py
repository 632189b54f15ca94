"""BlazeFace decoding pieces: anchors, weighted NMS, tiles."""

from __future__ import annotations

import numpy as np
import pytest

from lensguard.vision.blazeface import NUM_ANCHORS, _tiles, ssd_anchors, weighted_nms


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


@pytest.mark.parametrize(("shape", "rows"), [((480, 640), 1), ((720, 1280), 2), ((640, 480), 3)])
def test_tiles_are_square_and_cover_the_frame(shape: tuple[int, int], rows: int) -> None:
    image = np.zeros((*shape, 3), np.uint8)
    covered = np.zeros(shape, bool)
    for x, y, tile in _tiles(image, rows):
        assert tile.shape[0] == tile.shape[1]
        covered[y : y + tile.shape[0], x : x + tile.shape[1]] = True
    assert covered.all()
