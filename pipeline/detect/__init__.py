"""Face detectors behind one protocol: ``detect(image_bgr, frame_index) -> Faces`` in full-frame pixels.

- ``yunet`` (``auto``, the default): the YuNet ONNX shipped in ``pipeline/models/`` (Apache-2.0,
  sha256-checked; ``--yunet PATH`` / ``$FACELOG_YUNET`` name another, see :mod:`facelog.pipeline.weights`)
  on ONNX Runtime with OpenCV's decoding (``yunet_ort``; ~1.6x less CPU than ``cv2.FaceDetectorYN``,
  which runs YuNet files without the 2023 outputs). It runs at the scale the smallest face to find
  needs: the frame is resized so that a face of ``min_face_px`` becomes ``input_face_px`` at the
  detector's input (at most ``max_input_scale``, 1: never enlarged), and boxes and landmarks are
  mapped back to full-frame pixels, so crops keep every pixel.
- ``blazeface``: MediaPipe's BlazeFace full-range model (Apache-2.0, shipped), run by OpenCV's TFLite
  importer with our own anchor decoding and NMS. Better on heads rolled ~35 degrees, but its fixed
  192x192 input shrinks a 720p frame 6.7x, so small faces are lost.

Landmarks are (n, 5, 2) in the order right eye, left eye, nose, right mouth corner, left mouth corner
(subject's right = image left). BlazeFace has a mouth centre only: it fills both mouth corners.
A face's size is its box width (YuNet's box is ~1.26x taller than wide); detections narrower than
``MIN_FACE_SLACK x min_face_px`` are dropped (the slack keeps a face of ``min_face_px`` whose box comes
out a little small).
Each detector object is used by one thread at a time.

YuNet also returns the boxes scoring from ``detector.continue_threshold`` (default
``YUNET_CONTINUE_SCORE``) up to its threshold, marked ``Faces.track_only``: the tracker lets them only
continue a confirmed track (ByteTrack's low-score band), so a face that scores low for a few frames
keeps its rows, while a low-score box that continues no track is never logged.

A key-frame interval above 1 (``detector.full_every``; unset: ``ROI_DEFAULT_FULL_EVERY`` with one
detect worker) wraps either in ``RoiDetector`` (``detect/roi.py``): full frames every
``full_every`` frames, only the regions around the faces of the frames before in between; every box
is still a detection in its own frame.

Modules: ``base`` (protocol, box helpers), ``yunet`` (+ ``yunet_ort``), ``blazeface``, ``roi``; this one
chooses and builds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from facelog.pipeline.config import DetectorConfig, check_full_every
from facelog.pipeline.detect.base import (
    MIN_FACE_SLACK,
    Detector,
    input_size_for,
    min_face_for,
    to_frame_pixels,
)
from facelog.pipeline.detect.blazeface import BLAZEFACE_DEFAULT_SCORE, BlazeFaceDetector
from facelog.pipeline.detect.motion import FrameChange
from facelog.pipeline.detect.roi import (
    ROI_CHANGE_FILE_MAX_PX,
    ROI_DEFAULT_FULL_EVERY,
    ROI_MAX_GAP_FRAMES,
    ROI_MOVING_SHARE,
    ROI_SCORE_BELOW,
    LargeFaceRule,
    RoiDetector,
)
from facelog.pipeline.detect.yunet import (
    YUNET_CONTINUE_SCORE,
    YUNET_DEFAULT_SCORE,
    YUNET_INPUT_FACE_PX,
    YUNET_LARGE_FACE_PX,
    YUNET_LARGE_FACE_SCORE,
    YuNetDetector,
)
from facelog.pipeline.errors import ConfigError
from facelog.pipeline.weights import BLAZEFACE_PATH, ModelFile, resolve_yunet

log = logging.getLogger(__name__)

__all__ = [
    "BLAZEFACE_DEFAULT_SCORE",
    "MIN_FACE_SLACK",
    "YUNET_CONTINUE_SCORE",
    "YUNET_DEFAULT_SCORE",
    "YUNET_INPUT_FACE_PX",
    "YUNET_LARGE_FACE_PX",
    "YUNET_LARGE_FACE_SCORE",
    "BlazeFaceDetector",
    "Detector",
    "DetectorChoice",
    "RoiDetector",
    "YuNetDetector",
    "choose_detector",
    "full_every_for",
    "input_size_for",
    "make_detector",
    "make_whole_frame_detector",
    "min_face_for",
    "to_frame_pixels",
]


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


def make_detector(
    cfg: DetectorConfig,
    choice: DetectorChoice | None = None,
    workers: int = 1,
    full: Detector | None = None,
    live: bool = False,
) -> Detector:
    """Build the detector ``cfg`` asks for (see ``choose_detector``; pass ``choice`` to reuse one).

    A key frame every ``full_every_for(cfg, workers)`` frames; more than 1: a ``RoiDetector`` around
    two detectors of the chosen kind.

    Args:
        cfg: the detector section.
        choice: a ``choose_detector`` result to reuse.
        workers: the detect threads of a file run that share one source's frames (1: this detector
            sees every frame in order, as each live camera's does); 0: frames in no known order (the
            session's whole-frame detector, API callers), where an unset ``full_every`` means every
            frame in full.
        full: a whole-frame detector built before from the same ``cfg`` and ``choice``, to reuse
            (not loaded again); it must not be used by another thread at the same time.
        live: one live camera's detector (``live.detectors.CameraDetectors``): frames the machine
            dropped widen the regions but force no key frame (that would make a loop that fell
            behind fall further behind), regions follow each face's motion (``ROI_MOVING_SHARE``:
            ~0.75x the CPU, issue 23) and, with ``roi_motion`` unset, regions where the frame changed
            at every frame size (a new face would wait up to a second at 5 fps).

    Raises:
        ConfigError: ``full_every`` > 1 set explicitly with more than one worker.
    """
    choice = choice or choose_detector(cfg)
    if full is None:
        log.info("detector %s -> %s: %s", choice.requested, choice.name, choice.reason)
        full = make_whole_frame_detector(cfg, choice)
    every = full_every_for(cfg, workers)
    if every == 1:
        return full
    assert isinstance(full, YuNetDetector | BlazeFaceDetector)
    thr = roi_threshold(full.score_threshold, cfg.roi_score_threshold)
    if isinstance(full, YuNetDetector):
        # regions run as given (input_face_px 0, min_face_px 0); the large-box rule at the key scale
        cont = full.continue_threshold
        roi: Detector = YuNetDetector(choice.path, thr, cfg.nms, 0, cfg.top_k, 0, 1.0, cont)
        large = LargeFaceRule(YUNET_LARGE_FACE_PX, max(full.score_threshold, YUNET_LARGE_FACE_SCORE))
        key_scale = partial(_input_scale, full)
    else:
        roi, large, key_scale = BlazeFaceDetector(choice.path, thr, cfg.nms, 0), None, None
    return RoiDetector(
        full, roi, every, cfg.roi_margin, cfg.roi_min_margin_px, cfg.min_face_px, key_scale, large,
        min_frame_px=round(cfg.roi_min_megapixels * 1e6),
        max_gap_frames=None if live else ROI_MAX_GAP_FRAMES,
        moving_share=ROI_MOVING_SHARE if live else None,
        change=None if cfg.roi_motion is False else FrameChange(),
        change_max_frame_px=ROI_CHANGE_FILE_MAX_PX if cfg.roi_motion is None and not live else None,
        small_frame_lines=cfg.min_face_ref_height,
    )  # fmt: skip


def full_every_for(cfg: DetectorConfig, workers: int = 1) -> int:
    """The key-frame interval: ``cfg.full_every``, or when unset ``ROI_DEFAULT_FULL_EVERY`` for the one
    detect worker of a file run (``workers`` 1) and 1 (every frame in full) otherwise.

    Raises:
        ConfigError: ``full_every`` > 1 set explicitly with more than one worker.
    """
    if cfg.full_every is None:
        return ROI_DEFAULT_FULL_EVERY if workers == 1 else 1
    try:
        check_full_every(cfg.full_every, workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cfg.full_every


def roi_threshold(frame_threshold: float, roi_score_threshold: float | None) -> float:
    """The score threshold inside regions: ``roi_score_threshold``, else ``ROI_SCORE_BELOW`` under the
    frame's (faces already seen there score lower once their region is cut out and shrunk)."""
    if roi_score_threshold is not None:
        return roi_score_threshold
    return max(0.0, round(frame_threshold - ROI_SCORE_BELOW, 4))


def _input_scale(det: YuNetDetector, wh: tuple[int, int]) -> float:
    return det.input_size_for(wh)[0] / wh[0]


def make_whole_frame_detector(
    cfg: DetectorConfig, choice: DetectorChoice
) -> YuNetDetector | BlazeFaceDetector:
    """A whole-frame detector of ``choice``'s kind with ``cfg``'s settings (no regions; logs nothing)."""
    if choice.name == "yunet":
        return YuNetDetector(
            choice.path,
            cfg.score_threshold,
            cfg.nms,
            cfg.min_face_px,
            cfg.top_k,
            cfg.input_face_px,
            cfg.max_input_scale,
            YUNET_CONTINUE_SCORE if cfg.continue_threshold is None else cfg.continue_threshold,
            cfg.min_face_ref_height,
            cfg.small_frame_scale,
        )
    return BlazeFaceDetector(choice.path, cfg.score_threshold, cfg.nms, cfg.min_face_px)
