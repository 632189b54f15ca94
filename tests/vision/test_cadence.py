"""Detection at a lower cadence: faces tracked between detections stay redacted."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lensguard.settings import Settings
from lensguard.vision.cadence import Cadence, with_cadence
from lensguard.vision.faces import FaceDetect
from lensguard.vision.filters import PixelateFaces, padded
from lensguard.vision.processor import Chain, Detection, Frame, Image, Result, Step, as_image
from lensguard.vision.registry import build_chain
from lensguard.vision.remote import remote_chain_builder
from tests.media.test_processing import astronaut_packets, transcode_each
from tests.vision.conftest import face_free_scene

# What pixelate_faces adds around every box by default.
MARGIN = 0.25
SIZE = (640, 480)


class Counting:
    """A real detector that counts the frames it is given, and can be told to fail."""

    def __init__(self, inner: FaceDetect) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.fail_next = False

    def process(
        self, frame: Image, detections: list[Detection], params: Mapping[str, Any]
    ) -> Result:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("detector fell over")
        return self.inner.process(frame, detections, params)


@pytest.fixture(scope="module")
def face(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's head and shoulders, 165 x 210."""
    return np.ascontiguousarray(cv2.resize(astronaut[20:300, 120:340], (165, 210)))


def scene_with(face: np.ndarray, x: int, y: int) -> np.ndarray:
    frame = face_free_scene()
    frame[y : y + face.shape[0], x : x + face.shape[1]] = face
    return frame


def walk(face: np.ndarray, speed: int) -> list[np.ndarray]:
    """The face crossing the frame at ``speed`` pixels per frame, bobbing up and down."""
    count = (SIZE[0] - face.shape[1] - 40) // speed
    return [scene_with(face, 20 + speed * i, 120 + round(30 * np.sin(i / 5))) for i in range(count)]


def inside(box: tuple[int, int, int, int], regions: list[Detection]) -> bool:
    """Whether ``box`` lies wholly in one of the areas pixelate_faces draws for ``regions``."""
    x, y, w, h = box
    for region in regions:
        x1, y1, x2, y2 = padded(region.box, MARGIN, *SIZE)
        if x1 <= x and y1 <= y and x + w <= x2 and y + h <= y2:
            return True
    return False


def test_every_one_leaves_the_chain_as_it_is(models_dir: Path) -> None:
    chain = build_chain(["face_detect", "pixelate_faces"], models_dir=models_dir)
    assert with_cadence(chain, {"face_detect"}, every=1) is chain
    slower = with_cadence(chain, {"face_detect"}, every=3)
    assert slower.names == chain.names
    kinds = [type(s.processor) for s in slower.steps]
    assert kinds[0] is Cadence and kinds[1] is type(chain.steps[1].processor)


@pytest.mark.parametrize("every", [2, 3])
def test_the_detector_runs_on_one_frame_in_every(
    every: int, face: np.ndarray, models_dir: Path
) -> None:
    counting = Counting(FaceDetect({}, models_dir=models_dir))
    cadence = Cadence(counting, every=every)
    frames = walk(face, 4)[:12]
    for i, image in enumerate(frames):
        cadence.process_at(image, [], {}, pts=i * 3000)
    assert counting.calls == len(range(0, 12, every))
    assert cadence.stats.carried == 12 - counting.calls and cadence.stats.forced == 1


@pytest.mark.parametrize("speed", [6, 20])
def test_a_moving_face_stays_inside_the_pixelated_area(
    speed: int, face: np.ndarray, models_dir: Path
) -> None:
    # 20 px a frame crosses a 640-pixel frame in a second; every frame is also searched
    # on its own, and the face it finds must lie inside what the carried boxes cover.
    truth = FaceDetect({}, models_dir=models_dir)
    cadence = Cadence(FaceDetect({}, models_dir=models_dir), every=3, grow=0.15)
    checked = 0
    for i, image in enumerate(walk(face, speed)):
        carried = cadence.process_at(image, [], {}, pts=i * 3000).detections
        for found in truth.process(image, [], {}).detections:
            assert inside(found.box, carried), (i, found.box, [c.box for c in carried])
            checked += 1
    assert cadence.stats.carried >= checked // 2 > 0


def test_a_cut_is_searched_at_once(face: np.ndarray, models_dir: Path) -> None:
    counting = Counting(FaceDetect({}, models_dir=models_dir))
    cadence = Cadence(counting, every=5)
    cadence.process_at(scene_with(face, 40, 100), [], {}, pts=0)
    moved = cadence.process_at(scene_with(face, 42, 100), [], {}, pts=3000)
    assert counting.calls == 1 and moved.detections  # carried: barely anything changed
    cut = as_image(np.ascontiguousarray(cv2.flip(scene_with(face, 420, 200), -1)))
    found = cadence.process_at(cut, [], {}, pts=6000).detections
    assert counting.calls == 2 and cadence.stats.forced == 2
    expected = FaceDetect({}, models_dir=models_dir).process(cut, [], {}).detections
    assert [d.box for d in found] == [d.box for d in expected] != []


def test_a_new_size_and_a_stall_are_searched_at_once(face: np.ndarray, models_dir: Path) -> None:
    counting = Counting(FaceDetect({}, models_dir=models_dir))
    cadence = Cadence(counting, every=6)
    image = scene_with(face, 100, 100)
    cadence.process_at(image, [], {}, pts=0)
    cadence.process_at(image, [], {}, pts=3000)
    assert counting.calls == 1
    cadence.process_at(np.ascontiguousarray(image[:, :600]), [], {}, pts=6000)
    assert counting.calls == 2  # another size
    cadence.process_at(np.ascontiguousarray(image[:, :600]), [], {}, pts=6000 + 18_001)
    assert counting.calls == 3  # more than 200 ms of stream time since the last search


def test_a_failed_detection_is_searched_again_on_the_next_frame(
    face: np.ndarray, models_dir: Path
) -> None:
    # The failed frame itself is blanked by redact_or_blank, as for any chain failure.
    counting = Counting(FaceDetect({}, models_dir=models_dir))
    chain = Chain([Step(Cadence(counting, every=3)), Step(PixelateFaces({}))])
    image = scene_with(face, 100, 100)
    chain.run(Frame(image, 0))
    counting.fail_next = True
    for pts in (3000, 6000):
        chain.run(Frame(image, pts))  # carried: the detector is not asked
    assert counting.calls == 1
    with pytest.raises(Exception, match="fell over"):
        chain.run(Frame(image, 9000))
    result = chain.run(Frame(image, 12_000))
    assert counting.calls == 3 and result.detections  # searched again at once


def test_settings_bound_the_cadence() -> None:
    assert Settings(vision={"detect_every": 3}).vision.detect_every == 3
    for wrong in (0, 7, 1.5):
        with pytest.raises(ValidationError, match="detect_every"):
            Settings(vision={"detect_every": wrong})
    with pytest.raises(ValidationError, match="scene_change"):
        Settings(vision={"scene_change": 0})


def test_the_relay_builds_its_chains_at_the_configured_cadence(models_dir: Path) -> None:
    build = remote_chain_builder(Settings(vision={"detect_every": 2}), models_dir=models_dir)
    chain = build(["face_detect", "pixelate_faces", "grayscale"])
    kinds = [type(s.processor).__name__ for s in chain.steps]
    assert kinds == ["Cadence", "PixelateFaces", "Grayscale"]
    plain = remote_chain_builder(Settings(), models_dir=models_dir)(["face_detect"])
    assert type(plain.steps[0].processor) is FaceDetect


async def test_the_stage_redacts_carried_frames_in_its_encoding(models_dir: Path) -> None:
    original, packets = astronaut_packets(6)
    chain = with_cadence(
        build_chain(["face_detect", "pixelate_faces"], models_dir=models_dir),
        {"face_detect"},
        every=3,
    )
    out, stage = transcode_each(chain, packets)
    decoder = av.CodecContext.create("vp8", "r")
    cadence = chain.steps[0].processor
    assert isinstance(cadence, Cadence)
    assert (cadence.stats.detected, cadence.stats.carried) == (2, 4)
    x, y, w, h = stage.stats.detections[0].box
    for encoded in out:
        (picture,) = decoder.decode(encoded[0])
        region = picture.to_ndarray(format="bgr24")[y : y + h, x : x + w].astype(int)
        assert np.abs(region - original[y : y + h, x : x + w].astype(int)).mean() > 10
    assert stage.stats.processed == 6 and stage.stats.failed == 0
