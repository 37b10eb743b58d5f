"""Face detectors behind one protocol: ``detect(image_bgr) -> Faces``.

- ``yunet``: OpenCV's ``cv2.FaceDetectorYN`` with the YuNet ONNX from OpenCV's model zoo (not shipped;
  resolved by :mod:`facelog.pipeline.weights`).
- ``blazeface``: MediaPipe's BlazeFace full-range model (Apache-2.0, shipped in ``pipeline/models/``),
  run by OpenCV's TFLite importer with our own anchor decoding and NMS; works offline.
- ``auto``: YuNet when its file resolves locally, else BlazeFace. The choice is made once per run.

Landmarks are (n, 5, 2) in the order right eye, left eye, nose, right mouth corner, left mouth corner
(subject's right = image left). BlazeFace has a mouth centre only: it fills both mouth corners.
Each detector object is used by one thread at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.crop import BLAZEFACE_FRAMING, YUNET_FRAMING, Framing
from facelog.pipeline.errors import ModelError
from facelog.pipeline.types import Faces
from facelog.pipeline.weights import BLAZEFACE_PATH, resolve_yunet

log = logging.getLogger(__name__)

YUNET_DEFAULT_SCORE = 0.8
BLAZEFACE_DEFAULT_SCORE = 0.5


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one BGR image."""

    name: str
    framing: Framing  # where UTKFace's chip sits relative to this detector's boxes and eyes

    def detect(self, image_bgr: np.ndarray) -> Faces:
        """Detect faces. ``image_bgr``: (H, W, 3) uint8. Returns boxes in absolute pixels."""
        ...


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")


def _finish(xyxy: np.ndarray, score: np.ndarray, lm: np.ndarray, w: int, h: int, min_px: int) -> Faces:
    """Clip boxes to the image, drop faces smaller than ``min_px``, sort by x1 (stable face order)."""
    if len(xyxy) == 0:
        return Faces.empty()
    xyxy = xyxy.astype(np.float32).copy()
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    side = np.minimum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])
    keep = side >= max(min_px, 1)
    order = np.argsort(xyxy[keep, 0], kind="stable")
    return Faces(
        xyxy=xyxy[keep][order],
        score=score.astype(np.float32)[keep][order],
        landmarks=lm.astype(np.float32)[keep][order],
    )


class YuNetDetector:
    """YuNet via ``cv2.FaceDetectorYN`` (input size follows each frame's size).

    Args:
        model_path: the YuNet ONNX file.
        score_threshold: minimum detection score (default ``YUNET_DEFAULT_SCORE``).
        nms: IoU threshold for non-maximum suppression.
        min_face_px: faces whose box is shorter than this are dropped.
        top_k: keep at most this many candidates before NMS.
    """

    name = "yunet"
    framing = YUNET_FRAMING

    def __init__(
        self,
        model_path: str | Path,
        score_threshold: float | None = None,
        nms: float = 0.3,
        min_face_px: int = 20,
        top_k: int = 5000,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"YuNet model not found: {self.model_path}")
        self.score_threshold = YUNET_DEFAULT_SCORE if score_threshold is None else score_threshold
        self.min_face_px = min_face_px
        try:
            self._det = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), self.score_threshold, nms, top_k
            )
        except cv2.error as exc:
            raise ModelError(f"cannot load YuNet from {self.model_path}: {str(exc).strip()[:200]}") from exc
        self._size = (320, 320)

    def detect(self, image_bgr: np.ndarray) -> Faces:
        _check_image(image_bgr)
        h, w = image_bgr.shape[:2]
        if (w, h) != self._size:
            self._det.setInputSize((w, h))
            self._size = (w, h)
        _, rows = self._det.detect(image_bgr)
        if rows is None or len(rows) == 0:
            return Faces.empty()
        rows = np.asarray(rows, np.float32)
        xyxy = np.stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]], 1)
        return _finish(xyxy, rows[:, 14], rows[:, 4:14].reshape(-1, 5, 2), w, h, self.min_face_px)


class BlazeFaceDetector:
    """MediaPipe BlazeFace full-range (192x192, 2,304 anchors at stride 4) via OpenCV's TFLite importer.

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
        nms: float = 0.3,
        min_face_px: int = 20,
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

    def detect(self, image_bgr: np.ndarray) -> Faces:
        _check_image(image_bgr)
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
        return _finish(xyxy, sc, lm, w, h, self.min_face_px)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


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
        members = alive & (_iou(xyxy[i], xyxy) > thr)
        members[i] = True
        wts = score[members][:, None]
        boxes.append((xyxy[members] * wts).sum(0) / wts.sum())
        kps.append((kp[members] * wts[:, :, None]).sum(0) / wts.sum())
        scores.append(score[i])
        alive &= ~members
    return np.array(boxes, np.float32), np.array(scores, np.float32), np.array(kps, np.float32)


@dataclass(frozen=True)
class DetectorChoice:
    """Which detector ``kind`` resolved to and why (recorded in the run summary)."""

    requested: str
    name: str
    reason: str
    path: str


def choose_detector(cfg: DetectorConfig) -> DetectorChoice:
    """Resolve ``cfg.kind`` without loading anything heavy.

    ``auto`` never downloads: YuNet when its file is found locally, else BlazeFace.

    Raises:
        ModelError: ``yunet`` was asked for and its file cannot be found or fetched.
    """
    if cfg.kind == "blazeface":
        return DetectorChoice(cfg.kind, "blazeface", "requested explicitly", str(BLAZEFACE_PATH))
    if cfg.kind == "yunet":
        path, where = resolve_yunet(cfg.yunet_path, download=cfg.download)
        if path is None:
            raise ModelError(f"YuNet model not available: {where}")
        return DetectorChoice(cfg.kind, "yunet", f"requested explicitly ({where})", str(path))
    path, where = resolve_yunet(cfg.yunet_path, download=False)
    if path is not None:
        return DetectorChoice(cfg.kind, "yunet", f"YuNet found ({where})", str(path))
    return DetectorChoice(cfg.kind, "blazeface", f"offline fallback: {where}", str(BLAZEFACE_PATH))


def make_detector(cfg: DetectorConfig, choice: DetectorChoice | None = None) -> Detector:
    """Build the detector ``cfg`` asks for (see ``choose_detector``; pass ``choice`` to reuse one)."""
    choice = choice or choose_detector(cfg)
    log.info("detector %s -> %s: %s", choice.requested, choice.name, choice.reason)
    if choice.name == "yunet":
        return YuNetDetector(choice.path, cfg.score_threshold, cfg.nms, cfg.min_face_px, cfg.top_k)
    return BlazeFaceDetector(choice.path, cfg.score_threshold, cfg.nms, cfg.min_face_px)
