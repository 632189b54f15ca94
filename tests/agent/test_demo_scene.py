"""The demo scene carries a face the default redaction chain finds."""

import numpy as np

from lensguard.demo import FaceScene
from lensguard.vision.processor import Frame
from lensguard.vision.registry import build_chain


async def test_demo_face_is_found_by_the_redaction_chain() -> None:
    scene = FaceScene(640, 480, 30)
    frame = await scene.recv()
    scene.stop()
    result = build_chain(["face_detect", "pixelate_faces"]).run(
        Frame(frame.to_ndarray(format="bgr24").astype(np.uint8), 0)
    )
    assert len(result.detections) == 1
    x, y, w, _h = result.detections[0].box
    assert x > 320 and y > 200 and w > 60  # the face sits bottom right of the scene
