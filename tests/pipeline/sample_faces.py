"""The shipped sample clip's real faces (480x270, 3 s, three people side by side), found by YuNet:
shared by test_identity_gender.py and test_frontal.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelog.pipeline.types import Faces, Frame
from facelog.pipeline.weights import YUNET_PATH

SAMPLE = (
    Path(__file__).resolve().parents[2] / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
)


def read_sample_faces() -> list[tuple[Frame, Faces]]:
    """Every frame of the sample clip with its YuNet faces (score >= 0.6)."""
    cap = cv2.VideoCapture(str(SAMPLE))
    fps = cap.get(cv2.CAP_PROP_FPS)
    det = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (480, 270), 0.6)
    out = []
    k = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        _, rows = det.detect(img)
        rows = np.zeros((0, 15), np.float32) if rows is None else rows
        xyxy = np.c_[rows[:, :2], rows[:, :2] + rows[:, 2:4]].astype(np.float32)
        lm = rows[:, 4:14].reshape(-1, 5, 2).astype(np.float32)
        frame = Frame("sample", k, round(k * 1e9 / fps), np.asarray(img))
        out.append((frame, Faces(xyxy, rows[:, 14].astype(np.float32), lm)))
        k += 1
    assert len(out) >= 30
    return out
