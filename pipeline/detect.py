"""Face detectors behind one protocol: ``detect(image_bgr) -> Faces`` in full-frame pixels.

- ``yunet`` (``auto``, the default): OpenCV's ``cv2.FaceDetectorYN`` with the YuNet ONNX shipped in
  ``pipeline/models/`` (Apache-2.0, sha256-checked; ``--yunet PATH`` / ``$FACELOG_YUNET`` name another,
  see :mod:`facelog.pipeline.weights`). It runs at the scale the smallest face to find needs: the frame
  is resized so that a face of ``min_face_px`` becomes ``input_face_px`` at the detector's input (at
  most ``max_input_scale``, 1: never enlarged), and boxes and landmarks are mapped back to full-frame
  pixels, so crops keep every pixel.
- ``blazeface``: MediaPipe's BlazeFace full-range model (Apache-2.0, shipped), run by OpenCV's TFLite
  importer with our own anchor decoding and NMS. Better on heads rolled ~35 degrees, but its fixed
  192x192 input shrinks a 720p frame 6.7x, so small faces are lost.

Landmarks are (n, 5, 2) in the order right eye, left eye, nose, right mouth corner, left mouth corner
(subject's right = image left). BlazeFace has a mouth centre only: it fills both mouth corners.
A face's size is its box width (YuNet's box is ~1.26x taller than wide); detections narrower than
``MIN_FACE_SLACK x min_face_px`` are dropped (the slack keeps a face of ``min_face_px`` whose box comes
out a little small).
Each detector object is used by one thread at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.crop import BLAZEFACE_FRAMING, YUNET_FRAMING, Framing
from facelog.pipeline.errors import ModelError
from facelog.pipeline.types import Faces
from facelog.pipeline.weights import BLAZEFACE_PATH, ModelFile, resolve_yunet

log = logging.getLogger(__name__)

YUNET_DEFAULT_SCORE = 0.5  # tuned on synthetic CCTV clips at full and reduced scales (docs/BENCHMARKS.md)
BLAZEFACE_DEFAULT_SCORE = 0.5
# Face size (box width, px at the detector's input) YuNet still finds reliably; below it recall drops
# fast (docs/BENCHMARKS.md, "Detection at the scale the smallest face needs").
YUNET_INPUT_FACE_PX = 32
# Real faces this large at YuNet's input score >= 0.8; lower scores there are animals, posters, knots
# (dogs.jpg at 0.6: two dog faces, 200-350 px). Small faces keep the (lower) configured threshold.
YUNET_LARGE_FACE_PX = 96
YUNET_LARGE_FACE_SCORE = 0.8
MIN_FACE_SLACK = 0.8


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one BGR image."""

    name: str
    framing: Framing  # where UTKFace's chip sits relative to this detector's boxes and eyes

    def detect(self, image_bgr: np.ndarray) -> Faces:
        """Detect faces. ``image_bgr``: (H, W, 3) uint8. Returns boxes in absolute pixels."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run summary records about this detector (settings, input size of the last frame)."""
        ...


def _describe_common(det: YuNetDetector | BlazeFaceDetector) -> dict[str, Any]:
    """The run-summary fields every detector reports."""
    return {
        "name": det.name,
        "model_path": str(det.model_path),
        "score_threshold": det.score_threshold,
        "nms": det.nms,
        "min_face_px": det.min_face_px,
    }


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")


def input_size_for(
    frame_wh: tuple[int, int], min_face_px: float, input_face_px: float, max_scale: float = 1.0
) -> tuple[int, int]:
    """The detector input size for a frame: resized so ``min_face_px`` becomes ``input_face_px``.

    The scale is ``input_face_px / min_face_px``, at most ``max_scale`` (1: never enlarged);
    ``min_face_px`` 0 (every face) means scale 1. The aspect ratio is kept (to the nearest pixel).

    Args:
        frame_wh: (width, height) of the frame in pixels.
        min_face_px: smallest face to find, in frame pixels (>= 0).
        input_face_px: face size the detector finds reliably at its input (> 0).
        max_scale: the largest scale allowed (> 0).

    Returns:
        (width, height) of the detector input, each >= 1; the frame's own size at scale 1.

    Raises:
        ValueError: a non-positive frame side, input_face_px or max_scale, or a negative min_face_px.
    """
    w, h = frame_wh
    if w < 1 or h < 1:
        raise ValueError(f"frame size must be positive, got {w}x{h}")
    if not (input_face_px > 0 and max_scale > 0 and min_face_px >= 0):
        raise ValueError(
            f"need input_face_px > 0, max_scale > 0 and min_face_px >= 0, got {input_face_px}, "
            f"{max_scale}, {min_face_px}"
        )
    scale = min(max_scale, input_face_px / min_face_px) if min_face_px > 0 else min(1.0, max_scale)
    if scale == 1.0:
        return w, h
    return max(1, round(w * scale)), max(1, round(h * scale))


def to_frame_pixels(
    xyxy: np.ndarray, landmarks: np.ndarray, scale_xy: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Map boxes (n, 4) and landmarks (n, 5, 2) from detector-input pixels to frame pixels.

    ``scale_xy`` is (frame width / input width, frame height / input height). Returns new float32 arrays.
    """
    if xyxy.ndim != 2 or xyxy.shape[1] != 4:
        raise ValueError(f"xyxy must be (n, 4), got {xyxy.shape}")
    if landmarks.shape != (len(xyxy), 5, 2):
        raise ValueError(f"landmarks must be ({len(xyxy)}, 5, 2), got {landmarks.shape}")
    sx, sy = scale_xy
    if not (sx > 0 and sy > 0):
        raise ValueError(f"scale_xy must be positive, got {scale_xy}")
    xy = np.asarray([sx, sy], np.float32)
    return (xyxy * np.tile(xy, 2)).astype(np.float32), (landmarks * xy).astype(np.float32)


def _finish(xyxy: np.ndarray, score: np.ndarray, lm: np.ndarray, w: int, h: int, min_px: float) -> Faces:
    """Clip boxes to the image, drop boxes narrower than ``MIN_FACE_SLACK * min_px``, sort by x1."""
    if len(xyxy) == 0:
        return Faces.empty()
    xyxy = xyxy.astype(np.float32).copy()
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    width, height = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    keep = (width >= max(MIN_FACE_SLACK * min_px, 1)) & (height >= 1)
    order = np.argsort(xyxy[keep, 0], kind="stable")
    return Faces(
        xyxy=xyxy[keep][order],
        score=score.astype(np.float32)[keep][order],
        landmarks=lm.astype(np.float32)[keep][order],
    )


class YuNetDetector:
    """YuNet via ``cv2.FaceDetectorYN``, run at the scale the smallest wanted face needs.

    Args:
        model_path: the YuNet ONNX file.
        score_threshold: minimum detection score (default ``YUNET_DEFAULT_SCORE``); boxes at least
            ``YUNET_LARGE_FACE_PX`` wide at the input need ``YUNET_LARGE_FACE_SCORE`` or more.
        nms: IoU threshold for non-maximum suppression.
        min_face_px: smallest face to find (frame pixels); also sets the input scale.
        top_k: keep at most this many candidates before NMS.
        input_face_px: face size YuNet finds reliably at its input (default ``YUNET_INPUT_FACE_PX``);
            a frame is resized so ``min_face_px`` becomes this. 0: always full frames.
        max_input_scale: the largest resize factor (1: never enlarge; 1.5 lets 32-px faces reach
            48 px at the input, for recall on blurred small faces at 2.25x the CPU).
    """

    name = "yunet"
    framing = YUNET_FRAMING

    def __init__(
        self,
        model_path: str | Path,
        score_threshold: float | None = None,
        nms: float = 0.3,
        min_face_px: float = 32,
        top_k: int = 5000,
        input_face_px: float | None = None,
        max_input_scale: float = 1.0,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"YuNet model not found: {self.model_path}")
        self.score_threshold = YUNET_DEFAULT_SCORE if score_threshold is None else score_threshold
        self.nms = nms
        self.min_face_px = min_face_px
        self.input_face_px = YUNET_INPUT_FACE_PX if input_face_px is None else input_face_px
        self.max_input_scale = max_input_scale
        if self.min_face_px < 0 or self.input_face_px < 0 or not max_input_scale > 0:
            raise ValueError(
                "need min_face_px >= 0, input_face_px >= 0 and max_input_scale > 0, got "
                f"{min_face_px}, {input_face_px}, {max_input_scale}"
            )
        try:
            self._det = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), self.score_threshold, nms, top_k
            )
        except cv2.error as exc:
            first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "cv2.error"
            raise ModelError(f"cannot load YuNet from {self.model_path}: {first}") from exc
        self._set = (320, 320)
        self._sizes: dict[tuple[int, int], tuple[int, int]] = {}
        self.frame_size: tuple[int, int] | None = None  # (w, h) of the last frame
        self.input_size: tuple[int, int] | None = None  # (w, h) the detector ran at on it

    def input_size_for(self, frame_wh: tuple[int, int]) -> tuple[int, int]:
        """The input size this detector uses for frames of ``frame_wh`` (see module ``input_size_for``)."""
        size = self._sizes.get(frame_wh)
        if size is None:
            if self.input_face_px <= 0:
                size = frame_wh
            else:
                size = input_size_for(frame_wh, self.min_face_px, self.input_face_px, self.max_input_scale)
            self._sizes[frame_wh] = size
            log.debug("yunet input %dx%d for %dx%d frames", *size, *frame_wh)
        return size

    def detect(self, image_bgr: np.ndarray) -> Faces:
        _check_image(image_bgr)
        h, w = image_bgr.shape[:2]
        iw, ih = self.input_size_for((w, h))
        small = image_bgr
        if (iw, ih) != (w, h):
            interp = cv2.INTER_AREA if iw < w else cv2.INTER_LINEAR
            small = cv2.resize(image_bgr, (iw, ih), interpolation=interp)
        if (iw, ih) != self._set:
            self._det.setInputSize((iw, ih))
            self._set = (iw, ih)
        self.frame_size, self.input_size = (w, h), (iw, ih)
        _, rows = self._det.detect(small)
        if rows is None or len(rows) == 0:
            return Faces.empty()
        rows = np.asarray(rows, np.float32)
        large = rows[:, 2] >= YUNET_LARGE_FACE_PX
        rows = rows[~large | (rows[:, 14] >= max(self.score_threshold, YUNET_LARGE_FACE_SCORE))]
        xyxy = np.stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]], 1)
        lm = rows[:, 4:14].reshape(-1, 5, 2)
        if (iw, ih) != (w, h):
            xyxy, lm = to_frame_pixels(xyxy, lm, (w / iw, h / ih))
        return _finish(xyxy, rows[:, 14], lm, w, h, self.min_face_px)

    def describe(self) -> dict[str, Any]:
        """Settings and the input size of the last frame, for the run summary."""
        return {
            **_describe_common(self),
            "input_face_px": self.input_face_px,
            "max_input_scale": self.max_input_scale,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "input_size": list(self.input_size) if self.input_size else None,
            "input_scale": round(self.input_size[0] / self.frame_size[0], 4)
            if self.input_size and self.frame_size
            else None,
        }


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
        min_face_px: float = 32,
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

    def describe(self) -> dict[str, Any]:
        """Settings for the run summary (the input is always the frame letterboxed to 192x192)."""
        return {
            **_describe_common(self),
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


@dataclass(frozen=True)
class DetectorChoice:
    """Which detector ``kind`` resolved to and why (recorded in the run summary).

    Attributes:
        requested: ``detector.kind`` as configured.
        name: ``yunet`` or ``blazeface``.
        reason: why, with where the weights came from.
        path: the weights file.
        sha256: the YuNet file's sha256 ("" for BlazeFace, which ships only in the package).
    """

    requested: str
    name: str
    reason: str
    path: str
    sha256: str = ""


def choose_detector(cfg: DetectorConfig) -> DetectorChoice:
    """Resolve ``cfg.kind`` without loading anything heavy. Never downloads.

    ``auto`` and ``yunet``: YuNet from ``detector.yunet_path``, else ``$FACELOG_YUNET``, else the file
    shipped in the package (sha256-checked). ``blazeface``: the shipped BlazeFace.

    Raises:
        ModelError: a named YuNet file does not exist, or the shipped one is missing or damaged.
    """
    if cfg.kind == "blazeface":
        return DetectorChoice(cfg.kind, "blazeface", "requested explicitly", str(BLAZEFACE_PATH))
    f: ModelFile = resolve_yunet(cfg.yunet_path)
    where = "shipped file" if f.source == "shipped" else f"{f.source} {f.path}"
    why = "default" if cfg.kind == "auto" else "requested explicitly"
    return DetectorChoice(cfg.kind, "yunet", f"{why} ({where})", str(f.path), f.sha256)


def make_detector(cfg: DetectorConfig, choice: DetectorChoice | None = None) -> Detector:
    """Build the detector ``cfg`` asks for (see ``choose_detector``; pass ``choice`` to reuse one)."""
    choice = choice or choose_detector(cfg)
    log.info("detector %s -> %s: %s", choice.requested, choice.name, choice.reason)
    if choice.name == "yunet":
        return YuNetDetector(
            choice.path,
            cfg.score_threshold,
            cfg.nms,
            cfg.min_face_px,
            cfg.top_k,
            cfg.input_face_px,
            cfg.max_input_scale,
        )
    return BlazeFaceDetector(choice.path, cfg.score_threshold, cfg.nms, cfg.min_face_px)
