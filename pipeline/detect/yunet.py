"""YuNet at the scale the smallest face to find needs (see ``detect``): on ONNX Runtime
(``yunet_ort``) when the file has YuNet 2023's outputs, else on ``cv2.FaceDetectorYN``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facelog.pipeline.config import DetectorConfig, default_of
from facelog.pipeline.crop import YUNET_FRAMING
from facelog.pipeline.detect.base import (
    check_image,
    describe_common,
    finish_faces,
    input_size_for,
    min_face_for,
    small_frame_cap,
    to_frame_pixels,
)
from facelog.pipeline.detect.yunet_ort import YuNetOrt, dynamic_model
from facelog.pipeline.errors import ModelError
from facelog.pipeline.types import Faces

log = logging.getLogger(__name__)

YUNET_DEFAULT_SCORE = 0.5  # tuned on synthetic CCTV clips at full and reduced scales (docs/BENCHMARKS.md)
# detections from this score up to the threshold only continue confirmed tracks (docs/BENCHMARKS.md,
# "Low-score boxes that continue a track")
YUNET_CONTINUE_SCORE = 0.3
# Face size (box width, px at the detector's input) YuNet still finds reliably; below it recall drops
# fast (docs/BENCHMARKS.md, "Detection at the scale the smallest face needs"). Written once, as the
# default of ``detector.input_face_px``.
YUNET_INPUT_FACE_PX = default_of(DetectorConfig, "input_face_px")
# Real faces this large at YuNet's input score >= 0.8; lower scores there are animals, posters, knots
# (dogs.jpg at 0.6: two dog faces, 200-350 px). Small faces keep the (lower) configured threshold.
YUNET_LARGE_FACE_PX = 96
YUNET_LARGE_FACE_SCORE = 0.8


class YuNetDetector:
    """YuNet, run at the scale the smallest wanted face needs.

    The network runs on ONNX Runtime (``yunet_ort.YuNetOrt``: the same boxes as OpenCV at ~1.6x less
    CPU) when the file has YuNet 2023's outputs, else on ``cv2.FaceDetectorYN`` (``engine`` says which).

    ``nms``, ``min_face_px``, ``top_k`` and ``max_input_scale`` default to the ``detector`` section's
    defaults (``config.DetectorConfig``). ``min_face_ref_height`` does not: 0 here, 720 in the config (a
    run scales ``min_face_px`` down on short frames; a detector built by hand does not unless asked).

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
        continue_threshold: also return boxes from this score up to ``score_threshold``, marked
            ``Faces.track_only`` (they may only continue a confirmed track); None, or not below
            ``score_threshold``: none.
        min_face_ref_height: ``min_face_px`` holds for frames this high and more; shorter frames
            scale it down (``base.min_face_for``). 0: ``min_face_px`` at every size.
        small_frame_scale: frames shorter than ``min_face_ref_height`` may be enlarged up to this
            (instead of ``max_input_scale``), never past ``min_face_ref_height`` lines
            (``small_frame_cap``).
        threads: CPU threads of one call; None: OpenCV's ``cv2.getNumThreads()`` at the call (the
            knob a live run turns to 1 when it detects several cameras at once).
        engine: ``auto`` (ONNX Runtime when the file allows it), ``onnxruntime`` (an error when it
            does not) or ``opencv`` (``cv2.FaceDetectorYN``, for comparisons).

    Attributes:
        faces_too_small: boxes found but dropped as smaller than the minimum (summed over frames).
        min_face_used: the minimum applied to the last frame (frame px).
    """

    name = "yunet"
    framing = YUNET_FRAMING

    def __init__(
        self,
        model_path: str | Path,
        score_threshold: float | None = None,
        nms: float = default_of(DetectorConfig, "nms"),
        min_face_px: float = default_of(DetectorConfig, "min_face_px"),
        top_k: int = default_of(DetectorConfig, "top_k"),
        input_face_px: float | None = None,
        max_input_scale: float = default_of(DetectorConfig, "max_input_scale"),
        continue_threshold: float | None = None,
        min_face_ref_height: int = 0,
        small_frame_scale: float = default_of(DetectorConfig, "small_frame_scale"),
        threads: int | None = None,
        engine: str = "auto",
    ) -> None:
        self.model_path = Path(model_path)
        self.min_face_ref_height = min_face_ref_height
        self.faces_too_small = 0
        self.min_face_used = float(min_face_px)
        if not self.model_path.is_file():
            raise ModelError(f"YuNet model not found: {self.model_path}")
        self.score_threshold = YUNET_DEFAULT_SCORE if score_threshold is None else score_threshold
        low = continue_threshold is not None and continue_threshold < self.score_threshold
        self.continue_threshold = continue_threshold if low else None
        self.nms = nms
        self.min_face_px = min_face_px
        self.input_face_px = YUNET_INPUT_FACE_PX if input_face_px is None else input_face_px
        self.max_input_scale = max_input_scale
        self.small_frame_scale = small_frame_scale
        if self.min_face_px < 0 or self.input_face_px < 0 or not max_input_scale > 0:
            raise ValueError(
                "need min_face_px >= 0, input_face_px >= 0 and max_input_scale > 0, got "
                f"{min_face_px}, {input_face_px}, {max_input_scale}"
            )
        self.threads = threads
        self._ort: YuNetOrt | None = None
        self._det: Any = None
        if engine not in ("auto", "onnxruntime", "opencv"):
            raise ValueError(f"engine must be auto, onnxruntime or opencv, got {engine!r}")
        try:
            model = None if engine == "opencv" else dynamic_model(self.model_path)
            if model is None and engine == "onnxruntime":
                raise ModelError(f"{self.model_path} lacks YuNet 2023's outputs: run it with engine opencv")
            if model is not None:
                self._ort = YuNetOrt(model, self._floor(), nms, top_k)
                self._ort.session(self._threads())  # a damaged file fails here, not on the first frame
            else:
                self._det = cv2.FaceDetectorYN.create(
                    str(self.model_path), "", (320, 320), self._floor(), nms, top_k
                )
        except ModelError:
            raise
        except Exception as exc:  # onnx's DecodeError, ONNX Runtime's Fail, cv2.error
            text = str(exc).strip()
            first = text.splitlines()[-1][:200] if text else type(exc).__name__
            raise ModelError(f"cannot load YuNet from {self.model_path}: {first}") from exc
        self.engine = "onnxruntime" if self._ort is not None else "opencv"
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
                min_px = min_face_for(self.min_face_px, frame_wh[1], self.min_face_ref_height)
                cap = small_frame_cap(
                    frame_wh[1], self.min_face_ref_height, self.max_input_scale, self.small_frame_scale
                )
                size = input_size_for(frame_wh, min_px, self.input_face_px, cap)
            self._sizes[frame_wh] = size
            log.debug("yunet input %dx%d for %dx%d frames", *size, *frame_wh)
        return size

    def detect(self, image_bgr: np.ndarray, frame_index: int | None = None) -> Faces:
        check_image(image_bgr)
        h, w = image_bgr.shape[:2]
        iw, ih = self.input_size_for((w, h))
        small = image_bgr
        if (iw, ih) != (w, h):
            interp = cv2.INTER_AREA if iw < w else cv2.INTER_LINEAR
            small = cv2.resize(image_bgr, (iw, ih), interpolation=interp)
        self.frame_size, self.input_size = (w, h), (iw, ih)
        if self._ort is not None:
            rows = self._ort.detect(small, self._threads())
        else:
            if (iw, ih) != self._set:
                self._det.setInputSize((iw, ih))
                self._set = (iw, ih)
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
        only = rows[:, 14] < self.score_threshold if self.continue_threshold is not None else None
        self.min_face_used = min_face_for(self.min_face_px, h, self.min_face_ref_height)
        faces = finish_faces(xyxy, rows[:, 14], lm, w, h, self.min_face_used, only)
        self.faces_too_small += len(xyxy) - len(faces)
        return faces

    def _floor(self) -> float:
        """The lowest score returned."""
        return self.score_threshold if self.continue_threshold is None else self.continue_threshold

    def _threads(self) -> int:
        return self.threads if self.threads is not None else max(1, cv2.getNumThreads())

    def reset(self) -> None:
        """Each frame is detected on its own: only the per-source count of faces left out restarts."""
        self.faces_too_small = 0

    def describe(self) -> dict[str, Any]:
        """Settings and the input size of the last frame, for the run summary."""
        return {
            **describe_common(self),
            "engine": self.engine,
            "input_face_px": self.input_face_px,
            "max_input_scale": self.max_input_scale,
            "small_frame_scale": self.small_frame_scale,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "input_size": list(self.input_size) if self.input_size else None,
            "input_scale": round(self.input_size[0] / self.frame_size[0], 4)
            if self.input_size and self.frame_size
            else None,
        }
