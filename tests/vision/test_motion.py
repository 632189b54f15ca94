"""``motion_detect`` on synthetic frames: still scenes and noise are quiet, movement is boxed."""

from __future__ import annotations

import numpy as np
import pytest

from lensguard.vision import Detection, Frame, InvalidParams, build_chain, default_registry
from lensguard.vision.motion import MOTION_LABEL, MotionDetect

W, H = 640, 480


def scene(square_at: int | None = None, *, grey: int = 90) -> np.ndarray:
    """A flat grey picture, with an 80-pixel white square at ``x = square_at`` when given."""
    image = np.full((H, W, 3), grey, np.uint8)
    if square_at is not None:
        image[200:280, square_at : square_at + 80] = 255
    return image


def run(detector: MotionDetect, image: np.ndarray, **params: object) -> list[Detection]:
    return detector.process(image.copy(), [], params).detections


def test_the_first_frame_and_a_still_scene_report_nothing() -> None:
    detector = MotionDetect({})
    assert run(detector, scene(100)) == []
    assert run(detector, scene(100)) == []


def test_a_moving_square_is_boxed_as_motion() -> None:
    detector = MotionDetect({})
    run(detector, scene(100))
    (found,) = run(detector, scene(300))
    assert found.label == MOTION_LABEL
    x, y, w, h = found.box
    # The box covers where the square was and where it is now (thumbnail-sized pixels).
    assert x <= 100 and x + w >= 380 and y <= 200 and y + h >= 280
    assert x >= 80 and x + w <= 400 and y >= 180 and y + h <= 300
    assert 0.0 < found.score < 0.2


def test_sensor_noise_below_the_threshold_is_not_motion() -> None:
    rng = np.random.default_rng(7)
    detector = MotionDetect({})
    base = scene(100).astype(np.int16)
    for _ in range(5):
        noisy = np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)
        assert run(detector, noisy) == []


def test_a_small_change_needs_min_area() -> None:
    detector = MotionDetect({})
    run(detector, scene())
    small = scene()
    small[10:30, 10:30] = 255  # 0.13 % of the picture
    assert run(detector, small) == []
    run(detector, scene())
    assert [d.label for d in run(detector, small, min_area=0.001)] == [MOTION_LABEL]


def test_a_new_picture_size_resets_the_reference() -> None:
    detector = MotionDetect({})
    run(detector, scene(100))
    assert run(detector, np.full((240, 320, 3), 200, np.uint8)) == []


def test_the_frame_is_untouched_and_earlier_detections_are_kept() -> None:
    detector = MotionDetect({})
    earlier = Detection((1, 2, 3, 4), "face", 0.9)
    detector.process(scene(100), [earlier], {})
    image = scene(300)
    before = image.copy()
    result = detector.process(image, [earlier], {})
    assert np.array_equal(result.frame, before)
    assert [d.label for d in result.detections] == ["face", MOTION_LABEL]


def test_in_a_chain_by_name() -> None:
    chain = build_chain(["motion_detect"], {"motion_detect": {"threshold": 40}})
    assert chain.run(Frame(scene(100))).detections == []
    assert [d.label for d in chain.run(Frame(scene(300))).detections] == [MOTION_LABEL]
    assert "motion_detect" in default_registry().names


@pytest.mark.parametrize(
    "params",
    [{"threshold": 0}, {"threshold": 255}, {"min_area": 0}, {"width": 4}, {"speed": 1}],
)
def test_bad_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(InvalidParams, match="motion_detect"):
        MotionDetect(params)
