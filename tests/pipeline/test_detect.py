"""Detectors on real photos: labelled faces found, no faces on dogs, landmarks, weights resolution."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline import weights
from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.detect import (
    BlazeFaceDetector,
    Detector,
    YuNetDetector,
    choose_detector,
    make_detector,
)
from facelog.pipeline.errors import ModelError
from facelog.pipeline.track import iou_matrix

MIN_RECALL = 0.95  # measured: YuNet@0.8 1.00, BlazeFace@0.5 0.98 on the 43 faces (docs/BENCHMARKS.md)


@pytest.fixture(scope="module", params=["yunet", "blazeface"])
def detector(request: pytest.FixtureRequest, yunet_path: Path) -> Detector:
    if request.param == "yunet":
        return YuNetDetector(yunet_path, min_face_px=0)
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


def test_min_face_px_drops_small_faces(yunet_path: Path, stills: Path) -> None:
    img = cv2.imread(str(stills / "dlib_examples" / "2007_007763.jpg"))  # 7 faces of 37-45 px
    all_faces = YuNetDetector(yunet_path, min_face_px=0).detect(img)
    big = YuNetDetector(yunet_path, min_face_px=40).detect(img)
    sides = np.minimum(big.xyxy[:, 2] - big.xyxy[:, 0], big.xyxy[:, 3] - big.xyxy[:, 1])
    assert 0 < len(big) < len(all_faces)
    assert np.all(sides >= 40)


@pytest.mark.parametrize(
    "image", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)], ids=["gray", "float"]
)
def test_bad_image_raises(detector: Detector, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        detector.detect(image)


# ------------------------------------------------------------------ weights resolution
@pytest.fixture
def no_yunet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment where YuNet is nowhere local: empty cache, no env var."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.YUNET_ENV, raising=False)
    return tmp_path


def test_auto_falls_back_to_blazeface_without_yunet(no_yunet: Path) -> None:
    choice = choose_detector(DetectorConfig(kind="auto"))
    assert choice.name == "blazeface"
    assert "offline fallback" in choice.reason
    assert make_detector(DetectorConfig(kind="auto")).name == "blazeface"


def test_auto_prefers_yunet_from_env(
    no_yunet: Path, yunet_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(weights.YUNET_ENV, str(yunet_path))
    choice = choose_detector(DetectorConfig())
    assert (choice.name, choice.path) == ("yunet", str(yunet_path))


def test_yunet_found_in_user_cache(no_yunet: Path, yunet_path: Path) -> None:
    cached = weights.cache_dir() / weights.YUNET_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(yunet_path.read_bytes())
    assert choose_detector(DetectorConfig(kind="yunet", download=False)).path == str(cached)


def test_explicit_yunet_unavailable_raises(no_yunet: Path) -> None:
    with pytest.raises(ModelError, match="YuNet model not available"):
        choose_detector(DetectorConfig(kind="yunet", download=False))


def test_configured_path_missing_raises(no_yunet: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        choose_detector(DetectorConfig(kind="auto", yunet_path=str(no_yunet / "nope.onnx")))


def test_download_checks_sha256(no_yunet: Path, yunet_path: Path) -> None:
    wrong = no_yunet / "wrong.onnx"
    wrong.write_bytes(b"not the model")
    dest = no_yunet / "dl" / weights.YUNET_NAME
    with pytest.raises(ModelError, match="expected " + weights.YUNET_SHA256):
        weights.download_yunet(dest, url=wrong.as_uri())
    assert not dest.exists() and not any(dest.parent.iterdir())
    assert weights.download_yunet(dest, url=yunet_path.as_uri()) == dest  # the real file passes
    assert weights.sha256_of(dest) == weights.YUNET_SHA256


def test_blazeface_model_is_shipped_with_notice() -> None:
    assert weights.BLAZEFACE_PATH.is_file() and weights.BLAZEFACE_PATH.stat().st_size > 1_000_000
    notice = (weights.MODELS_DIR / "NOTICE").read_text()
    assert "Apache" in notice and "MediaPipe" in notice
