"""MediaPipe's BlazeFace full-range model via OpenCV's TFLite importer (see ``detect``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.config import DetectorConfig, default_of
from facelog.pipeline.crop import BLAZEFACE_FRAMING
from facelog.pipeline.detect.base import check_image, describe_common, finish_faces
from facelog.pipeline.errors import ModelError
from facelog.pipeline.types import Faces
from facelog.pipeline.weights import BLAZEFACE_PATH

BLAZEFACE_DEFAULT_SCORE = 0.5


class BlazeFaceDetector:
    """MediaPipe BlazeFace full-range (192x192, 2,304 anchors at stride 4) via OpenCV's TFLite importer.

    ``nms`` and ``min_face_px`` default to the ``detector`` section's (``config.DetectorConfig``).

    Args:
        model_path: the ``face_detection_full_range.tflite`` file (default: the shipped copy).
        score_threshold: minimum sigmoid score (default ``BLAZEFACE_DEFAULT_SCORE``).
        nms: IoU threshold for (weighted) non-maximum suppression.
        min_face_px: faces whose box is shorter than this are dropped.
    """

    name = "blazeface"
    framing = BLAZEFACE_FRAMING
    INPUT = 192
    OUTPUTS = ("reshaped_regressor_face_4", "reshaped_classifier_face_4")

    def __init__(
        self,
        model_path: str | Path = BLAZEFACE_PATH,
        score_threshold: float | None = None,
        nms: float = default_of(DetectorConfig, "nms"),
        min_face_px: float = default_of(DetectorConfig, "min_face_px"),
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(
                f"BlazeFace model not found: {self.model_path} (is the package installed fully?)"
            )
        self.score_threshold = BLAZEFACE_DEFAULT_SCORE if score_threshold is None else score_threshold
        self.nms = nms
        self.min_face_px = min_face_px
        # OpenCV 5.0 needs its classic DNN engine for this model; 5.1 dropped that engine and its
        # default one reads the model correctly (tests/pipeline/test_detect.py checks both ways).
        engine = getattr(cv2.dnn, "ENGINE_CLASSIC", None)
        if engine is None:
            self._net = cv2.dnn.readNetFromTFLite(str(self.model_path))
        else:
            self._net = cv2.dnn.readNetFromTFLite(str(self.model_path), engine=engine)
        n = self.INPUT // 4
        grid = (np.arange(n, dtype=np.float32) + 0.5) / n
        ax, ay = np.meshgrid(grid, grid)  # row-major: y outer, x inner (MediaPipe's anchor order)
        self._anchors = np.stack([ax.ravel(), ay.ravel()], 1)  # (2304, 2)

    def detect(self, image_bgr: np.ndarray, frame_index: int | None = None) -> Faces:
        check_image(image_bgr)
        h, w = image_bgr.shape[:2]
        side = max(h, w)
        # letterbox to a square (pad right/bottom), so boxes map back with one scale
        scale = self.INPUT / side
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = np.zeros((self.INPUT, self.INPUT, 3), np.uint8)
        canvas[:rh, :rw] = cv2.resize(image_bgr, (rw, rh), interpolation=cv2.INTER_AREA)
        blob = cv2.dnn.blobFromImage(
            canvas, 1 / 127.5, (self.INPUT, self.INPUT), (127.5, 127.5, 127.5), swapRB=True
        )
        self._net.setInput(blob)
        reg, cls = self._net.forward(list(self.OUTPUTS))
        reg = reg.reshape(-1, 16)
        logits = np.clip(cls.reshape(-1), -80, 80)
        score = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(score >= self.score_threshold)
        if len(keep) == 0:
            return Faces.empty()
        r = reg[keep] / self.INPUT
        anc = self._anchors[keep]
        cx, cy = r[:, 0] + anc[:, 0], r[:, 1] + anc[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * side / 1.0
        kp = (r[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]) * side
        xyxy, sc, kp = _weighted_nms(xyxy, score[keep], kp, self.nms)
        # MediaPipe keypoints: eye, eye, nose, mouth, ear, ear -> our 5 (mouth centre for both corners)
        lm = kp[:, [0, 1, 2, 3, 3], :]
        return finish_faces(xyxy, sc, lm, w, h, self.min_face_px)

    def reset(self) -> None:
        """Nothing to forget: each frame is detected on its own."""

    def describe(self) -> dict[str, Any]:
        """Settings for the run summary (the input is always the frame letterboxed to 192x192)."""
        return {
            **describe_common(self),
            "input_size": [self.INPUT, self.INPUT],
        }


def _weighted_nms(
    xyxy: np.ndarray, score: np.ndarray, kp: np.ndarray, thr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each cluster's box and keypoints are the score-weighted mean."""
    order = np.argsort(-score)
    xyxy, score, kp = xyxy[order], score[order], kp[order]
    boxes, scores, kps = [], [], []
    alive = np.ones(len(score), bool)
    for i in range(len(score)):
        if not alive[i]:
            continue
        members = alive & (iou_matrix(xyxy[i : i + 1], xyxy)[0] > thr)
        members[i] = True
        wts = score[members][:, None]
        boxes.append((xyxy[members] * wts).sum(0) / wts.sum())
        kps.append((kp[members] * wts[:, :, None]).sum(0) / wts.sum())
        scores.append(score[i])
        alive &= ~members
    return np.array(boxes, np.float32), np.array(scores, np.float32), np.array(kps, np.float32)
