"""Face detection on a real photo and on a face-free scene, with both detectors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from structlog.testing import capture_logs

from lensguard.vision import Frame, ModelMissing, build_chain
from lensguard.vision.faces import FaceDetect
from lensguard.vision.models import BLAZEFACE_FILE
from tests.vision.conftest import ASTRONAUT_FACE, iou

DETECTORS: list[tuple[str, dict[str, Any]]] = [
    ("face_detect", {"detector": "blazeface"}),
    ("face_detect", {"detector": "haar"}),
]
DETECTORS += [("face_detect_haar", {}), ("face_detect_haar", {"max_side": 256})]


@pytest.mark.parametrize(("name", "params"), DETECTORS)
def test_detector_finds_the_astronaut_face(
    name: str, params: dict[str, object], astronaut: np.ndarray, models_dir: Path
) -> None:
    chain = build_chain([name], {name: params}, models_dir=models_dir)
    faces = chain.run(Frame(astronaut)).detections
    assert len(faces) == 1
    assert faces[0].label == "face"
    assert 0.5 <= faces[0].score <= 1.0
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.6


@pytest.mark.parametrize(("name", "params"), DETECTORS)
def test_detector_finds_no_face_in_a_face_free_scene(
    name: str, params: dict[str, object], scene: np.ndarray, models_dir: Path
) -> None:
    chain = build_chain([name], {name: params}, models_dir=models_dir)
    assert chain.run(Frame(scene)).detections == []


def test_blazeface_scores_stay_low_on_a_face_free_scene(
    scene: np.ndarray, models_dir: Path
) -> None:
    params = {"face_detect": {"detector": "blazeface", "min_score": 0.0, "tile_rows": 2}}
    found = build_chain(["face_detect"], params, models_dir=models_dir).run(Frame(scene))
    assert found.detections, "min_score 0 should report every candidate"
    assert max(d.score for d in found.detections) < 0.3


def test_blazeface_maps_the_box_back_through_the_letterbox(
    astronaut: np.ndarray, models_dir: Path
) -> None:
    # The photo at 3/4 size, off-centre on a wide grey frame: box must follow the move.
    small = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[60:444, 200:584] = small
    expected = tuple(round(v * 0.75) for v in ASTRONAUT_FACE)
    expected = (expected[0] + 200, expected[1] + 60, expected[2], expected[3])
    chain = build_chain(["face_detect"], {"face_detect": {"tile_rows": 1}}, models_dir=models_dir)
    faces = chain.run(Frame(frame)).detections
    assert len(faces) == 1
    assert iou(faces[0].box, expected) > 0.6


def test_tiles_find_a_face_too_small_for_one_pass(astronaut: np.ndarray, models_dir: Path) -> None:
    frame = np.full((720, 1280, 3), 90, np.uint8)
    frame[100:612, 700:1212] = astronaut
    expected = (ASTRONAUT_FACE[0] + 700, ASTRONAUT_FACE[1] + 100, *ASTRONAUT_FACE[2:])
    chain = build_chain(["face_detect"], {"face_detect": {"tile_rows": 2}}, models_dir=models_dir)
    faces = chain.run(Frame(frame)).detections
    assert faces
    assert max(iou(f.box, expected) for f in faces) > 0.5


def test_auto_uses_blazeface_when_the_model_is_there(models_dir: Path) -> None:
    assert FaceDetect({}, models_dir=models_dir).detector == "blazeface"


def test_auto_falls_back_to_haar_with_a_warning(tmp_path: Path, astronaut: np.ndarray) -> None:
    with capture_logs() as logs:
        processor = FaceDetect({}, models_dir=tmp_path)
    assert processor.detector == "haar"
    warning = [e for e in logs if e["event"] == "vision.blazeface_unavailable"]
    assert warning and warning[0]["log_level"] == "warning"
    assert warning[0]["fallback"] == "haar"
    chain = build_chain(["face_detect"], models_dir=tmp_path)
    assert len(chain.run(Frame(astronaut)).detections) == 1


def test_blazeface_requested_but_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=r"BlazeFace model not found at .*extract"):
        FaceDetect({"detector": "blazeface"}, models_dir=tmp_path)


def test_a_model_that_does_not_match_its_pin_is_refused(tmp_path: Path, models_dir: Path) -> None:
    shutil.copy(models_dir / BLAZEFACE_FILE, tmp_path / BLAZEFACE_FILE)
    with (tmp_path / BLAZEFACE_FILE).open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelMissing, match="does not match its pinned SHA-256"):
        FaceDetect({"detector": "blazeface"}, models_dir=tmp_path)
