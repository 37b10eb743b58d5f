"""Crop framing: reproduces UTKFace's aligned chips from detections (real chips, both detectors)."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.config import CropConfig
from facelog.pipeline.crop import YUNET_FRAMING, chip_transforms, crop_faces
from facelog.pipeline.detect import BlazeFaceDetector, Detector, YuNetDetector
from facelog.pipeline.types import Faces

N_CHIPS = 12
MAX_CORNER_ERR = {
    "eyes": 0.08,
    "box": 0.11,
}  # median chip-corner error, fraction of the side (measured 0.055/0.085)


def _faces(xyxy: list[list[float]], lm: np.ndarray | None) -> Faces:
    a = np.array(xyxy, np.float32)
    return Faces(a, np.ones(len(a), np.float32), lm)


def test_eye_framing_puts_eyes_where_utkface_has_them() -> None:
    # eyes 40 px apart, tilted by 20 degrees
    ang = np.radians(20)
    mid = np.array([300.0, 200.0])
    half = 20 * np.array([np.cos(ang), np.sin(ang)])
    lm = np.array([[mid - half, mid + half, mid, mid, mid]], np.float32)  # nose/mouth unused
    mats, sides = chip_transforms(_faces([[260, 170, 340, 260]], lm), CropConfig(), YUNET_FRAMING)
    eyes = np.c_[lm[0, :2], np.ones(2)] @ mats[0].T
    assert sides[0] == pytest.approx(YUNET_FRAMING.eye_side * 40, rel=1e-4)
    np.testing.assert_allclose(eyes.mean(0), [YUNET_FRAMING.eye_x, YUNET_FRAMING.eye_y], atol=1e-6)
    assert eyes[0, 1] == pytest.approx(eyes[1, 1], abs=1e-6), "eyes are level in the chip"


def test_box_framing_without_landmarks() -> None:
    mats, sides = chip_transforms(_faces([[100, 100, 200, 220]], None), CropConfig(), YUNET_FRAMING)
    assert sides[0] == pytest.approx(YUNET_FRAMING.box_side * 100)
    centre = mats[0] @ np.array([150, 160 + YUNET_FRAMING.box_shift_y * 120, 1])
    np.testing.assert_allclose(centre, [0.5, 0.5], atol=1e-9)


def test_config_overrides_detector_framing() -> None:
    cfg = CropConfig(framing="box", box_side=2.0)
    lm = np.zeros((1, 5, 2), np.float32)
    _, sides = chip_transforms(_faces([[0, 0, 50, 50]], lm), cfg, YUNET_FRAMING)
    assert sides[0] == pytest.approx(100.0)


def test_eyes_framing_needs_landmarks() -> None:
    with pytest.raises(ValueError, match="needs landmarks"):
        chip_transforms(_faces([[0, 0, 50, 50]], None), CropConfig(framing="eyes"), YUNET_FRAMING)


def test_empty_faces_give_no_crops() -> None:
    assert crop_faces(np.zeros((50, 50, 3), np.uint8), Faces.empty(), CropConfig(), YUNET_FRAMING, 64) == []


CORNERS = np.array([[0, 0], [200, 0], [0, 200], [200, 200], [100, 100]], np.float64)


@pytest.mark.parametrize("kind", ["yunet", "blazeface"])
@pytest.mark.parametrize("framing", ["eyes", "box"])
def test_framing_recovers_tilted_utkface_chips(
    shared: Path, yunet_path: Path, kind: str, framing: str
) -> None:
    """Paste UTKFace chips into a frame (scaled, and tilted for eye framing), detect, and check where the
    crop puts the chip's corners: close to where they were, and much closer than the raw detector box."""
    det: Detector = YuNetDetector(yunet_path, 0.6, min_face_px=0) if kind == "yunet" else BlazeFaceDetector()
    files = sorted((shared / "data" / "utkface" / "images").glob("*.jpg"))
    files = random.Random(1).sample(files, N_CHIPS)
    tilt = 12.0 if framing == "eyes" else 0.0  # box framing cannot undo a rotation
    rot = cv2.getRotationMatrix2D((320.0, 240.0), tilt, 1.3)
    in_frame = (
        np.c_[CORNERS + np.array([220.0, 140.0]), np.ones(len(CORNERS))] @ rot.T
    )  # chip corners in the frame
    errs, naive = [], []
    for f in files:
        canvas = np.full((480, 640, 3), 127, np.uint8)
        canvas[140:340, 220:420] = cv2.imread(str(f))
        faces = det.detect(cv2.warpAffine(canvas, rot, (640, 480), borderValue=(127, 127, 127)))
        if len(faces) == 0:
            continue
        b = int(np.argmax(faces.score))
        lm = faces.landmarks[b : b + 1] if faces.landmarks is not None else None
        mats, _ = chip_transforms(
            Faces(faces.xyxy[b : b + 1], faces.score[b : b + 1], lm), CropConfig(framing=framing), det.framing
        )  # type: ignore[arg-type]
        ours = np.c_[in_frame, np.ones(len(CORNERS))] @ mats[0].T * 200
        errs.append(np.linalg.norm(ours - CORNERS, axis=1).mean() / 200)
        x1, y1, x2, y2 = faces.xyxy[b]
        box = (in_frame - [x1, y1]) / [x2 - x1, y2 - y1] * 200
        naive.append(np.linalg.norm(box - CORNERS, axis=1).mean() / 200)
    assert len(errs) >= N_CHIPS - 1
    assert np.median(errs) <= MAX_CORNER_ERR[framing]
    # eye framing undoes the tilt; box framing is at least as good as the raw box (BlazeFace's box is
    # already almost the chip: side 1.01 x box width)
    assert np.median(errs) <= (0.5 if framing == "eyes" else 1.0) * np.median(naive)
