"""Detectors: input size from the smallest wanted face, mapping back to frame pixels, real detections
(a drawn face without ../shared; labelled photos with it), and the detector choice."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from contextlib import nullcontext
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.detect import (
    YUNET_CONTINUE_SCORE,
    BlazeFaceDetector,
    Detector,
    RoiDetector,
    YuNetDetector,
    choose_detector,
    input_size_for,
    make_detector,
    min_face_for,
    to_frame_pixels,
)
from facelog.pipeline.errors import ModelError
from facelog.pipeline.weights import YUNET_ENV, YUNET_PATH

MIN_RECALL = 0.95  # measured: YuNet 1.00, BlazeFace@0.5 0.98 on the 43 faces (docs/BENCHMARKS.md)
DRAWN = ((400, 300, 160), (900, 400, 100))  # (centre x, centre y, size) of the faces drawn below
SMALL = ((400, 300, 80), (900, 400, 64))  # faces under YUNET_LARGE_FACE_PX
SCALED_IOU = 0.8  # a box found on the half-size frame vs the one found on the full frame


def draw_faces(faces: tuple[tuple[int, int, int], ...] = DRAWN) -> np.ndarray:
    """A 1280x720 BGR frame with simple drawn faces (skin, eyes, brows, nose, mouth) YuNet finds."""
    img = np.full((720, 1280, 3), (90, 100, 95), np.uint8)
    for cx, cy, s in faces:
        cv2.ellipse(img, (cx, cy), (int(s * 0.4), int(s * 0.5)), 0, 0, 360, (140, 170, 210), -1)
        for dx in (-1, 1):
            ex, ey = cx + int(dx * s * 0.17), cy - int(s * 0.1)
            cv2.ellipse(img, (ex, ey), (int(s * 0.08), int(s * 0.04)), 0, 0, 360, (255, 255, 255), -1)
            cv2.circle(img, (ex, ey), int(s * 0.035), (40, 30, 20), -1)
            brow_in, brow_out = (cx + int(dx * s * 0.09), cy - int(s * 0.2)), (cx + int(dx * s * 0.27), cy)
            cv2.line(img, brow_in, (brow_out[0], brow_out[1] - int(s * 0.21)), (40, 40, 60), int(s * 0.025))
        cv2.line(img, (cx, cy - int(s * 0.05)), (cx - int(s * 0.04), cy + int(s * 0.1)), (90, 110, 160), 2)
        mouth = (int(s * 0.12), int(s * 0.04))
        cv2.ellipse(img, (cx, cy + int(s * 0.25)), mouth, 0, 0, 360, (60, 60, 170), -1)
    return cv2.GaussianBlur(img, (0, 0), 1.2)


# ------------------------------------------------------------------ input size and mapping
@pytest.mark.parametrize(
    "frame, min_px, input_px, max_scale, want",
    [
        ((1920, 1080), 64, 32, 1.0, (960, 540)),
        ((1280, 720), 40, 32, 1.0, (1024, 576)),
        ((1920, 1080), 32, 32, 1.0, (1920, 1080)),  # already at the size the detector needs
        ((1920, 1080), 0, 32, 1.0, (1920, 1080)),  # min_face_px 0: every face, full frame
        ((1280, 720), 16, 32, 1.0, (1280, 720)),  # never enlarged by default
        ((1280, 720), 32, 48, 1.5, (1920, 1080)),  # enlarged when allowed
        ((1280, 720), 16, 48, 1.5, (1920, 1080)),  # ...up to max_scale
        ((40, 30), 64, 32, 1.0, (20, 15)),
        ((3, 2), 1000, 8, 1.0, (1, 1)),  # tiny frame: at least 1 px a side
    ],
    ids=["1080p-half", "720p-40", "same", "min0", "no-enlarge", "enlarge", "enlarge-cap", "tiny", "floor"],
)
def test_input_size_for(
    frame: tuple[int, int], min_px: int, input_px: int, max_scale: float, want: tuple[int, int]
) -> None:
    assert input_size_for(frame, min_px, input_px, max_scale) == want


@pytest.mark.parametrize(
    "frame, min_px, input_px, max_scale",
    [
        ((0, 720), 32, 32, 1.0),
        ((1280, -1), 32, 32, 1.0),
        ((1280, 720), -1, 32, 1.0),
        ((1280, 720), 64, 0, 1.0),
        ((1280, 720), 64, 32, 0.0),
    ],
    ids=["zero-width", "negative-height", "negative-min", "zero-input", "zero-max-scale"],
)
def test_input_size_for_rejects_bad_input(
    frame: tuple[int, int], min_px: int, input_px: int, max_scale: float
) -> None:
    with pytest.raises(ValueError, match=r"must be positive|need input_face_px"):
        input_size_for(frame, min_px, input_px, max_scale)


def test_to_frame_pixels_scales_boxes_and_landmarks() -> None:
    xyxy = np.array([[10, 20, 30, 60]], np.float32)
    lm = np.array([[[12, 30], [28, 30], [20, 40], [14, 50], [26, 50]]], np.float32)
    box, pts = to_frame_pixels(xyxy, lm, (2.0, 1.5))
    np.testing.assert_allclose(box, [[20, 30, 60, 90]])
    np.testing.assert_allclose(pts[0, 0], [24, 45])
    np.testing.assert_allclose(pts[0, 4], [52, 75])
    assert box.dtype == np.float32 and pts.dtype == np.float32


@pytest.mark.parametrize(
    "xyxy, lm, scale, match",
    [
        (np.zeros((0, 4)), np.zeros((0, 5, 2)), (2.0, 2.0), None),
        (np.zeros((2, 3)), np.zeros((2, 5, 2)), (2.0, 2.0), r"xyxy must be \(n, 4\)"),
        (np.zeros((2, 4)), np.zeros((1, 5, 2)), (2.0, 2.0), r"landmarks must be \(2, 5, 2\)"),
        (np.zeros((1, 4)), np.zeros((1, 5, 2)), (0.0, 2.0), "scale_xy must be positive"),
    ],
    ids=["empty-ok", "bad-box", "bad-landmarks", "zero-scale"],
)
def test_to_frame_pixels_checks_shapes(
    xyxy: np.ndarray, lm: np.ndarray, scale: tuple[float, float], match: str | None
) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        box, _ = to_frame_pixels(xyxy, lm, scale)
        assert box.shape == (0, 4)


# ------------------------------------------------------------------ real detections, no ../shared
def test_scaled_detection_maps_back_to_frame_pixels() -> None:
    img = draw_faces()
    full = YuNetDetector(YUNET_PATH, min_face_px=0)
    half = YuNetDetector(YUNET_PATH, min_face_px=64, input_face_px=32)
    a, b = full.detect(img), half.detect(img)
    assert (full.input_size, half.input_size) == ((1280, 720), (640, 360))
    assert len(a) == len(b) == 2
    assert np.all(np.diag(iou_matrix(a.xyxy, b.xyxy)) >= SCALED_IOU)
    assert a.landmarks is not None and b.landmarks is not None
    for (cx, cy, s), box, lm in zip(DRAWN, b.xyxy, b.landmarks, strict=True):
        assert abs((box[0] + box[2]) / 2 - cx) < 0.1 * s and abs((box[1] + box[3]) / 2 - cy) < 0.15 * s
        assert abs(lm[0, 0] - (cx - 0.17 * s)) < 0.08 * s and abs(lm[0, 1] - (cy - 0.1 * s)) < 0.08 * s


def test_min_face_px_drops_smaller_faces_and_describe_records_input() -> None:
    det = YuNetDetector(YUNET_PATH, min_face_px=140, input_face_px=70)  # the 100 px face goes
    faces = det.detect(draw_faces())
    assert len(faces) == 1 and faces.xyxy[0, 2] - faces.xyxy[0, 0] >= 0.8 * 140 * 0.7
    info = det.describe()
    assert info["frame_size"] == [1280, 720] and info["input_size"] == [640, 360]
    assert info["input_scale"] == 0.5 and info["min_face_px"] == 140
    assert info["faces_too_small"] == 1 and info["min_face_px_used"] == 140  # seen, left out, counted


@pytest.mark.parametrize(
    "min_px, frame_h, ref, want",
    [
        (32, 1080, 720, 32.0),  # at or above the reference height: as configured
        (32, 720, 720, 32.0),
        (32, 270, 720, 12.0),  # a 480x270 camera: 32 * 270 / 720 = 12
        (32, 480, 720, 32 * 480 / 720),
        (32, 120, 720, 12.0),  # never below the floor
        (8, 270, 720, 8.0),  # never above the configured value
        (32, 270, 0, 32.0),  # 0: off
    ],
    ids=["1080p", "720p", "270p", "480p", "floor", "below-floor-kept", "off"],
)
def test_min_face_scales_with_short_frames(min_px: float, frame_h: int, ref: int, want: float) -> None:
    assert min_face_for(min_px, frame_h, ref) == pytest.approx(want)


def test_small_frames_keep_the_faces_the_detector_finds_at_their_own_size() -> None:
    """A 480x270 frame with a ~23-px face: logged by default, left out and counted with the scaling off."""
    img = cv2.resize(draw_faces(SMALL), (480, 270), interpolation=cv2.INTER_AREA)
    scaled = YuNetDetector(YUNET_PATH, min_face_px=32, min_face_ref_height=720, small_frame_scale=1.0)
    fixed = YuNetDetector(YUNET_PATH, min_face_px=32, min_face_ref_height=0)
    found, kept = scaled.detect(img), fixed.detect(img)
    assert len(found) >= 1 and len(kept) == len(found) - fixed.faces_too_small < len(found)
    assert scaled.describe()["min_face_px_used"] == 12.0 and scaled.describe()["faces_too_small"] == 0
    fixed.reset()
    assert fixed.describe()["faces_too_small"] == 0  # counted per source


def test_small_frames_are_enlarged_so_their_smallest_faces_are_found() -> None:
    """A 480x270 frame with 14- and 19-px faces: at its own size YuNet finds neither; enlarged 2x
    (``small_frame_scale``, never past 720 lines) both, their boxes mapped back to the frame."""
    small = cv2.resize(draw_faces(SMALL), None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)  # 384x216
    img = cv2.copyMakeBorder(small, 0, 270 - small.shape[0], 0, 480 - small.shape[1], cv2.BORDER_REPLICATE)
    native = YuNetDetector(YUNET_PATH, min_face_px=24, min_face_ref_height=720, small_frame_scale=1.0)
    enlarged = YuNetDetector(YUNET_PATH, min_face_px=24, min_face_ref_height=720)
    assert len(native.detect(img)) == 0 and native.input_size == (480, 270)
    faces = enlarged.detect(img)
    assert enlarged.input_size == (960, 540) and len(faces) == 2
    for (cx, _, s), box in zip(SMALL, faces.xyxy, strict=True):
        assert abs((box[0] + box[2]) / 2 - 0.3 * cx) < 0.1 * s * 0.3 + 2
    # never past 720 lines, never at 720 lines and more
    assert enlarged.input_size_for((1024, 576)) == (1280, 720)
    assert enlarged.input_size_for((1280, 720)) == (1280, 720)


def test_yunet_rejects_bad_image() -> None:
    det = YuNetDetector(YUNET_PATH)
    for image in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)):
        with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
            det.detect(image)


def test_enlarged_detection_maps_back() -> None:
    det = YuNetDetector(YUNET_PATH, min_face_px=32, input_face_px=48, max_input_scale=1.5)
    faces = det.detect(draw_faces())
    assert det.input_size == (1920, 1080) and len(faces) == 2
    for (cx, _, s), box in zip(DRAWN, faces.xyxy, strict=True):
        assert abs((box[0] + box[2]) / 2 - cx) < 0.1 * s and box[2] <= 1280


def test_continue_threshold_returns_boxes_below_the_threshold_marked_track_only() -> None:
    img = draw_faces(SMALL)  # both score ~0.87 (a box >= 96 px would need 0.99: never in the band)
    assert len(YuNetDetector(YUNET_PATH, 0.99, min_face_px=0).detect(img)) == 0
    low = YuNetDetector(YUNET_PATH, 0.99, min_face_px=0, continue_threshold=0.3).detect(img)
    assert len(low) == 2 and low.track_only is not None and low.track_only.tolist() == [True, True]
    assert len(low.accepted()) == 0  # what a run without tracking logs
    usual = YuNetDetector(YUNET_PATH, 0.5, min_face_px=0, continue_threshold=0.3).detect(img)
    assert usual.track_only is not None and usual.track_only.tolist() == [False, False]
    assert np.allclose(usual.xyxy, low.xyxy) and usual.accepted() is usual
    off = YuNetDetector(YUNET_PATH, 0.5, continue_threshold=0.5)  # not below the threshold: no band
    assert off.continue_threshold is None and off.detect(img).track_only is None
    default = make_detector(DetectorConfig(full_every=1))
    assert default.describe()["continue_threshold"] == YUNET_CONTINUE_SCORE


@pytest.mark.parametrize("threshold, found", [(0.99, 0), (0.5, 2)])
def test_track_only_boxes_open_no_region(threshold: float, found: int) -> None:
    """Regions are drawn around logged faces only: with every box below the threshold, the region
    frame after the key frame looks nowhere."""
    cfg = DetectorConfig(full_every=2, score_threshold=threshold, roi_min_megapixels=0, min_face_px=0)
    det = make_detector(cfg)
    assert len(det.detect(draw_faces(SMALL), 0)) == 2  # key frame: both, track_only or not
    assert len(det.detect(draw_faces(SMALL), 1)) == found


def test_tiny_frame_runs() -> None:
    det = YuNetDetector(YUNET_PATH, min_face_px=64, input_face_px=32)
    assert len(det.detect(np.zeros((30, 40, 3), np.uint8))) == 0
    assert det.input_size == (20, 15)


# ------------------------------------------------------------------ detector choice
@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(YUNET_ENV, raising=False)


def test_auto_is_the_shipped_yunet(no_env: None) -> None:
    choice = choose_detector(DetectorConfig())
    assert (choice.name, Path(choice.path)) == ("yunet", YUNET_PATH)
    assert "shipped" in choice.reason and choice.sha256.startswith("8f2383e4")
    det = make_detector(DetectorConfig())  # one worker: key frames and regions (detect/roi.py)
    assert isinstance(det, RoiDetector) and isinstance(det.full, YuNetDetector)
    assert det.full.min_face_px == 24 and det.min_face_px == 24


def test_blazeface_stays_selectable() -> None:
    assert make_detector(DetectorConfig(kind="blazeface")).name == "blazeface"


def test_yunet_path_override(no_env: None, tmp_path: Path) -> None:
    other = tmp_path / "my_yunet.onnx"
    other.write_bytes(YUNET_PATH.read_bytes())
    choice = choose_detector(DetectorConfig(kind="yunet", yunet_path=str(other)))
    assert choice.path == str(other) and "detector.yunet_path" in choice.reason


def test_bad_yunet_path_is_a_one_line_error(no_env: None, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist") as info:
        choose_detector(DetectorConfig(yunet_path=str(tmp_path / "nope.onnx")))
    assert "\n" not in str(info.value) and "nope.onnx" in str(info.value)


def test_unloadable_yunet_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="cannot load YuNet") as info:
        YuNetDetector(bad)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ ONNX Runtime vs OpenCV
def _sample_frames(n: int) -> list[np.ndarray]:
    """Every 10th frame of the real clip that ships with facelog (two people, 55-77 px faces)."""
    from facelog.pipeline.cli.sample import sample_path

    cap = cv2.VideoCapture(str(sample_path()))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
        for _ in range(9):
            cap.grab()
    cap.release()
    return frames


@pytest.mark.parametrize("crop", [None, (101, 37, 1180, 700)], ids=["frame", "odd-sized-region"])
def test_onnxruntime_and_opencv_find_the_same_faces(crop: tuple[int, int, int, int] | None) -> None:
    """The two engines run one network; our decoding of its outputs must be OpenCV's."""
    frames = [*_sample_frames(8), draw_faces(SMALL)]
    if crop is not None:
        frames = [np.ascontiguousarray(f[crop[1] : crop[3], crop[0] : crop[2]]) for f in frames]
    kw = {"min_face_px": 0, "continue_threshold": 0.3}
    ort = YuNetDetector(YUNET_PATH, engine="onnxruntime", **kw)
    ocv = YuNetDetector(YUNET_PATH, engine="opencv", **kw)
    assert (ort.engine, ocv.engine) == ("onnxruntime", "opencv")
    found = 0
    for frame in frames:
        a, b = ort.detect(frame), ocv.detect(frame)
        assert len(a) == len(b)
        order_a, order_b = np.argsort(-a.score), np.argsort(-b.score)
        assert np.allclose(a.xyxy[order_a], b.xyxy[order_b], atol=0.05)
        assert np.allclose(a.score[order_a], b.score[order_b], atol=1e-3)
        if len(a):
            assert a.landmarks is not None and b.landmarks is not None
            assert np.allclose(a.landmarks[order_a], b.landmarks[order_b], atol=0.05)
        found += len(a)
    assert found >= len(frames)  # the comparison saw faces, not only empty frames


def test_onnxruntime_threads_do_not_change_the_boxes() -> None:
    frame = _sample_frames(1)[0]
    one, two = YuNetDetector(YUNET_PATH, threads=1), YuNetDetector(YUNET_PATH, threads=2)
    a, b = one.detect(frame), two.detect(frame)
    assert len(a) >= 1 and np.allclose(a.xyxy, b.xyxy, atol=1e-3)
    assert one.describe()["engine"] == "onnxruntime"


def test_yunet_without_the_2023_outputs_is_left_to_opencv(tmp_path: Path) -> None:
    """A file that is not YuNet 2023 (here: the age/gender model) is not run on ONNX Runtime."""
    from facelog.pipeline.config import default_model_path
    from facelog.pipeline.detect.yunet_ort import dynamic_model

    assert dynamic_model(default_model_path()) is None
    assert dynamic_model(YUNET_PATH) is not None
    with pytest.raises(ModelError, match="lacks YuNet 2023's outputs") as info:
        YuNetDetector(default_model_path(), engine="onnxruntime")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="engine must be"):
        YuNetDetector(YUNET_PATH, engine="tensorrt")


# ------------------------------------------------------------------ labelled photos (../shared)
@pytest.fixture(scope="module", params=["yunet", "blazeface"])
def detector(request: pytest.FixtureRequest) -> Detector:
    if request.param == "yunet":
        return YuNetDetector(YUNET_PATH)  # the defaults a run uses
    return BlazeFaceDetector(min_face_px=0)


def _labels(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for xml in ("training.xml", "testing.xml"):
        for img in ET.parse(folder / xml).getroot().iter("image"):
            b = [[int(x.get(k, 0)) for k in ("left", "top", "width", "height")] for x in img.iter("box")]
            a = np.array(b, np.float32).reshape(-1, 4)
            a[:, 2:] += a[:, :2]
            out[img.get("file", "")] = a
    return out


def test_finds_labelled_faces(detector: Detector, stills: Path) -> None:
    folder = stills / "dlib_examples"
    found = total = false = 0
    for name, truth in _labels(folder).items():
        faces = detector.detect(cv2.imread(str(folder / name)))
        ious = iou_matrix(faces.xyxy, truth)
        found += int((ious.max(0, initial=0) >= 0.3).sum())
        false += int((ious.max(1, initial=0) < 0.3).sum())
        total += len(truth)
    assert total == 43
    assert found / total >= MIN_RECALL
    assert false <= 1


def test_no_faces_on_dogs(detector: Detector, stills: Path) -> None:
    assert len(detector.detect(cv2.imread(str(stills / "dlib_examples" / "dogs.jpg")))) == 0


@pytest.mark.parametrize(
    "rel, n", [("insightface/t1.jpg", 6), ("face_recognition_examples/two_people.jpg", 2)], ids=["t1", "two"]
)
def test_counts_and_landmarks(detector: Detector, stills: Path, rel: str, n: int) -> None:
    faces = detector.detect(cv2.imread(str(stills / rel)))
    assert len(faces) == n
    assert faces.landmarks is not None and faces.landmarks.shape == (n, 5, 2)
    assert np.all(np.diff(faces.xyxy[:, 0]) >= 0), "faces are ordered left to right"
    x1, y1, x2, y2 = (faces.xyxy[:, i, None] for i in range(4))
    eyes = faces.landmarks[:, :2]
    assert np.all((eyes[..., 0] > x1) & (eyes[..., 0] < x2) & (eyes[..., 1] > y1) & (eyes[..., 1] < y2))
    # eyes sit in the upper half of the box, the mouth in the lower half
    mid = (y1 + y2)[:, 0] / 2
    assert np.all(eyes[..., 1].max(1) < mid) and np.all(faces.landmarks[:, 3, 1] > mid)


def test_empty_image_gives_no_faces(detector: Detector) -> None:
    faces = detector.detect(np.zeros((240, 320, 3), np.uint8))
    assert len(faces) == 0 and faces.xyxy.shape == (0, 4)


def test_blazeface_rejects_bad_image() -> None:
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        BlazeFaceDetector().detect(np.zeros((10, 10), np.uint8))
