"""Fixtures shared by all test folders: where ../shared lives, and a tiny but real ONNX model."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from facelog.engines.base import META_KEY, HeadMeta, ModelMeta

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder; tests that need it skip when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set FACELOG_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def yunet_path(shared: Path) -> Path:
    p = shared / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"
    if not p.is_file():
        pytest.skip(f"YuNet model not found at {p}")
    return p


@pytest.fixture(scope="session")
def rtsp_server() -> ModuleType:
    """``tests/rtsp_server.py`` (GStreamer's RTSP server, run under /usr/bin/python3 by its
    ``RtspServer``), loaded once; a test that needs it skips with the reason where it cannot run."""
    spec = importlib.util.spec_from_file_location("facelog_rtsp_server", REPO / "tests" / "rtsp_server.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    missing = mod.gst_rtsp_missing()
    if missing:
        pytest.skip(missing)
    return mod


@pytest.fixture(scope="session")
def rtsp_h264_clip(shared: Path, tmp_path_factory: pytest.TempPathFactory, rtsp_server: ModuleType) -> Path:
    """One face per frame (head-pose-face-detection-male.mp4), H.264 at 12.5 fps, ~5 s per loop, 40
    loops (~200 s): longer than any live test's run; made once for all of them."""
    src = shared / "data" / "videos" / "head-pose-face-detection-male.mp4"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    out: Path = rtsp_server.make_h264_clip(src, tmp_path_factory.mktemp("rtsp") / "male_h264.mp4", loops=40)
    return out


def make_tiny_model(path: Path, input_hw: tuple[int, int] = (64, 64), seed: int = 0) -> ModelMeta:
    """Write a small real ONNX model with the facelog contract (age 101-way, gender 2-way softmax).

    Graph: mean colour of the crop -> two linear heads -> softmax. Deterministic for a seed; its
    answers depend on the pixels, so tests can tell faces apart without a trained network.
    """
    rng = np.random.default_rng(seed)
    h, w = input_hw
    meta = ModelMeta(
        name="tiny-test-model",
        version="0.0.1",
        input_name="input",
        input_hw=(h, w),
        layout="NHWC",
        max_batch=0,
        outputs=("age", "gender"),
        mean=127.5,
        std=127.5,
        heads=(HeadMeta("age", "age"), HeadMeta("gender", "categorical", ("male", "female"))),
        extra={"purpose": "tests only"},
    )
    inits = [
        numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
        numpy_helper.from_array(rng.normal(0, 2, (3, 101)).astype(np.float32), "w_age"),
        numpy_helper.from_array(np.zeros(101, np.float32), "b_age"),
        numpy_helper.from_array(rng.normal(0, 2, (3, 2)).astype(np.float32), "w_gender"),
        numpy_helper.from_array(np.zeros(2, np.float32), "b_gender"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["pooled"], keepdims=0),
        helper.make_node("Gemm", ["pooled", "w_age", "b_age"], ["age_logits"]),
        helper.make_node("Softmax", ["age_logits"], ["age"], axis=-1),
        helper.make_node("Gemm", ["pooled", "w_gender", "b_gender"], ["gender_logits"]),
        helper.make_node("Softmax", ["gender_logits"], ["gender"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", h, w, 3])],
        [
            helper.make_tensor_value_info("age", TensorProto.FLOAT, ["batch", 101]),
            helper.make_tensor_value_info("gender", TensorProto.FLOAT, ["batch", 2]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, meta.to_json()
    onnx.save(model, str(path))
    return meta


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to a tiny real ONNX age/gender model (see ``make_tiny_model``)."""
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    make_tiny_model(path)
    return path


SHIPPED_MODEL = REPO / "engines" / "models" / "facelog_age_gender.onnx"


@pytest.fixture(scope="session")
def videos(shared: Path) -> Path:
    """../shared/data/videos (Intel IoT DevKit sample clips, CC-BY-4.0)."""
    return shared / "data" / "videos"


@pytest.fixture(scope="session")
def stills(shared: Path) -> Path:
    """../shared/data/stills (dlib examples, insightface, face_recognition photos)."""
    return shared / "data" / "stills"


@pytest.fixture(scope="session")
def age_gender_model(tiny_model: Path) -> Path:
    """The shipped model when it exists in the checkout, else the tiny test model."""
    return SHIPPED_MODEL if SHIPPED_MODEL.is_file() else tiny_model


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory: pytest.TempPathFactory, videos: Path) -> dict[str, Path]:
    """Broken inputs made from a real clip: name -> path (see tests/pipeline/test_cli.py).

    ``truncated``: an MJPG AVI (its header announces 62 frames) cut in half, so FFmpeg decodes the
    first ~31 frames and then the stream ends. ``bad_codec``: the same AVI with its codec FourCC
    replaced by an unknown one. ``not_video``: text named .mp4. ``empty``: 0 bytes. ``missing``: absent.
    """
    import cv2

    root = tmp_path_factory.mktemp("bad_videos")
    cap = cv2.VideoCapture(str(videos / "head-pose-face-detection-male.mp4"))
    avi = root / "good.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter.fourcc(*"MJPG"), 12.5, (480, 270))
    while True:
        ok, img = cap.read()
        if not ok:
            break
        writer.write(img)
    writer.release()
    data = avi.read_bytes()
    out = {"good_avi": avi}
    out["truncated"] = root / "truncated.avi"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["bad_codec"] = root / "bad_codec.avi"
    out["bad_codec"].write_bytes(data.replace(b"MJPG", b"QZX9"))
    out["not_video"] = root / "notes.mp4"
    out["not_video"].write_text("these are not the frames you are looking for\n" * 20)
    out["empty"] = root / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["missing"] = root / "missing.mp4"
    return out


SYNTH_FRAMES = 10
SYNTH_FPS = 10.0
SYNTH_SIZE = (64, 48)  # width, height


def write_synthetic_video(path: Path, n_frames: int = SYNTH_FRAMES, fps: float = SYNTH_FPS) -> Path:
    """A small mp4 (mp4v) whose frame k is a flat grey of level 20 * k: frames are told apart by pixels."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, SYNTH_SIZE)
    if not w.isOpened():
        pytest.skip("OpenCV cannot write mp4v here")
    for k in range(n_frames):
        w.write(np.full((SYNTH_SIZE[1], SYNTH_SIZE[0], 3), (20 * k) % 256, np.uint8))
    w.release()
    return path


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-frame 64x48 mp4 at 10 fps made here (no ../shared): see ``write_synthetic_video``."""
    return write_synthetic_video(tmp_path_factory.mktemp("video") / "synthetic.mp4")
