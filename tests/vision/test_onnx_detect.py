"""``onnx_detect`` runs an operator's ONNX model from the configured folder, and only there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lensguard.vision import Frame, InvalidParams, ModelMissing, build_chain

onnx = pytest.importorskip("onnx", reason="onnx (a test-only dependency) builds the test model")
helper, TensorProto = onnx.helper, onnx.TensorProto

BOX = [4.0, 8.0, 20.0, 24.0]


def write_model(path: Path, *, input_shape: tuple[int | str, ...] = (1, 3, 32, 32)) -> Path:
    """One detection at BOX (input pixels), class 1, scored by the mean of the red channel.

    Scoring on red checks the preprocessing: BGR frames must arrive as RGB in [0, 1].
    """
    nodes = [
        helper.make_node("Gather", ["image", "red_index"], ["red"], axis=1),
        helper.make_node("ReduceMean", ["red"], ["score"], keepdims=1),
        helper.make_node("Concat", ["box", "score", "cls"], ["detections"], axis=2),
    ]
    constants = [
        helper.make_tensor("red_index", TensorProto.INT64, [], [0]),
        helper.make_tensor("box", TensorProto.FLOAT, [1, 1, 4], BOX),
        helper.make_tensor("cls", TensorProto.FLOAT, [1, 1, 1], [1.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT, [1, 1, 6])],
        initializer=constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def onnx_dir(tmp_path: Path) -> Path:
    write_model(tmp_path / "tiny.onnx")
    return tmp_path


def chain_for(onnx_dir: Path, **params: object):  # type: ignore[no-untyped-def]
    return build_chain(
        ["onnx_detect", "pixelate_faces"],
        {"onnx_detect": {"model": "tiny.onnx", "labels": ["cat", "face"], **params}},
        onnx_dir=onnx_dir,
    )


def test_detections_are_mapped_back_to_the_frame(onnx_dir: Path) -> None:
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 2] = 255
    result = chain_for(onnx_dir).run(Frame(red))
    (found,) = result.detections
    assert found.label == "face"
    assert found.score == pytest.approx(1.0)
    # 32 -> 64 px: the box doubles.
    assert found.box == (8, 16, 32, 32)


def test_letterbox_offsets_are_undone(onnx_dir: Path) -> None:
    red = np.zeros((32, 64, 3), np.uint8)
    red[..., 2] = 255
    # 64 x 32 fits 32 x 32 at scale 0.5 with 8 px bands above and below.
    (found,) = chain_for(onnx_dir, min_score=0.1).run(Frame(red)).detections
    assert found.box == (8, 0, 32, 32)


def test_scores_below_min_score_are_dropped(onnx_dir: Path) -> None:
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 0] = 255
    assert chain_for(onnx_dir).run(Frame(blue)).detections == []


def test_unlabelled_classes_get_a_numbered_label(onnx_dir: Path) -> None:
    red = np.full((64, 64, 3), (0, 0, 255), np.uint8)
    chain = build_chain(["onnx_detect"], {"onnx_detect": {"model": "tiny.onnx"}}, onnx_dir=onnx_dir)
    assert chain.run(Frame(red)).detections[0].label == "class_1"


@pytest.mark.parametrize("name", ["../tiny.onnx", "/etc/passwd", "tiny.txt", ".hidden.onnx"])
def test_model_names_cannot_leave_the_folder(onnx_dir: Path, name: str) -> None:
    with pytest.raises(InvalidParams, match=r"model must be a file name ending in \.onnx"):
        build_chain(["onnx_detect"], {"onnx_detect": {"model": name}}, onnx_dir=onnx_dir)


def test_no_folder_configured_means_no_onnx(tmp_path: Path) -> None:
    with pytest.raises(InvalidParams, match="no ONNX model directory is configured"):
        build_chain(["onnx_detect"], {"onnx_detect": {"model": "tiny.onnx"}})


def test_a_missing_model_is_reported(onnx_dir: Path) -> None:
    with pytest.raises(ModelMissing, match=r"model 'other\.onnx' not found"):
        build_chain(["onnx_detect"], {"onnx_detect": {"model": "other.onnx"}}, onnx_dir=onnx_dir)


def test_a_model_with_the_wrong_input_is_refused(tmp_path: Path) -> None:
    write_model(tmp_path / "flat.onnx", input_shape=(1, 3, "height", "width"))
    with pytest.raises(InvalidParams, match=r"need one float input \[1, 3, H, W\]"):
        build_chain(["onnx_detect"], {"onnx_detect": {"model": "flat.onnx"}}, onnx_dir=tmp_path)
