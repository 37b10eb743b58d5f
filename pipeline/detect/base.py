"""What every detector shares: the ``Detector`` protocol and the box helpers (see ``detect``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from facelog.pipeline.crop import Framing
from facelog.pipeline.types import Faces

# Detections narrower than MIN_FACE_SLACK x min_face_px are dropped (the slack keeps a face of
# min_face_px whose box comes out a little small).
MIN_FACE_SLACK = 0.8
# The smallest face a frame-height-scaled min_face_px goes down to (YuNet finds faces from ~10 px;
# the 12-18 px faces of the shared 480x270 classroom clip are all found at the frame's own size).
MIN_FACE_FLOOR_PX = 12.0


def min_face_for(min_face_px: float, frame_h: int, ref_height: int) -> float:
    """The smallest face to keep in a frame ``frame_h`` lines high.

    ``min_face_px`` holds for frames of ``ref_height`` lines and more; shorter frames scale it down in
    proportion (a face of the same share of the picture), not below ``MIN_FACE_FLOOR_PX`` (nor above
    ``min_face_px``). ``ref_height`` 0: ``min_face_px`` at every size.
    """
    if ref_height <= 0 or frame_h >= ref_height or min_face_px <= MIN_FACE_FLOOR_PX:
        return float(min_face_px)
    return max(MIN_FACE_FLOOR_PX, float(min_face_px) * frame_h / ref_height)


@runtime_checkable
class Detector(Protocol):
    """Finds faces in one BGR image."""

    name: str
    framing: Framing  # where UTKFace's chip sits relative to this detector's boxes and eyes

    def detect(self, image_bgr: np.ndarray, frame_index: int | None = None) -> Faces:
        """Detect faces. ``image_bgr``: (H, W, 3) uint8. Returns boxes in absolute pixels.

        ``frame_index``: the frame's index in its source, when known; a detector that uses the frames
        before (``RoiDetector``) needs it, one that looks at each frame on its own ignores it.
        """
        ...

    def reset(self) -> None:
        """Forget what the frames before taught (call between sources)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run summary records about this detector (settings, input size of the last frame)."""
        ...


def describe_common(det: Any) -> dict[str, Any]:
    """The run-summary fields every detector reports."""
    return {
        "name": det.name,
        "model_path": str(det.model_path),
        "score_threshold": det.score_threshold,
        "continue_threshold": getattr(det, "continue_threshold", None),
        "nms": det.nms,
        "min_face_px": det.min_face_px,
        # the minimum used on the last frame (frame-height-scaled) and the faces it left out so far
        "min_face_px_used": getattr(det, "min_face_used", det.min_face_px),
        "faces_too_small": getattr(det, "faces_too_small", 0),
    }


def check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")


def small_frame_cap(frame_h: int, ref_height: int, max_scale: float, small_scale: float) -> float:
    """The largest input scale for a frame ``frame_h`` lines high: ``max_scale`` from ``ref_height``
    lines up (or when ``ref_height`` is 0); a shorter frame may be enlarged up to ``small_scale``, but
    not past ``ref_height`` lines (its detector costs at most a ``ref_height`` frame's).

    A 480x270 camera's faces are 12-18 px (``../shared``'s classroom clip); at its own size YuNet
    misses many of them. On the CCTV presets shrunk to 480x270 (docs/BENCHMARKS.md, fifteenth
    session), 2x found people whole runs left out, at twice the detector's CPU (still under a 720p
    frame's).
    """
    if ref_height <= 0 or frame_h >= ref_height:
        return max_scale
    return max(max_scale, min(small_scale, ref_height / frame_h))


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


def finish_faces(
    xyxy: np.ndarray,
    score: np.ndarray,
    lm: np.ndarray,
    w: int,
    h: int,
    min_px: float,
    track_only: np.ndarray | None = None,
) -> Faces:
    """Clip boxes to the image, drop boxes narrower than ``MIN_FACE_SLACK * min_px``, sort by x1.

    ``track_only``: (n,) bool, the boxes below the detector's threshold (see ``Faces.track_only``).
    """
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
        track_only=np.asarray(track_only, bool)[keep][order] if track_only is not None else None,
    )
