"""``--annotate``: an mp4 of the processed frames with boxes and age/gender labels drawn, and the
run's ignore zones (``detector.ignore_zones``) outlined, so an operator can check where they lie.

With ``--blur-faces`` every detected face (its box plus a margin) is blurred before the box and
label are drawn, so the video can be shared without showing faces; the faces dropped in an ignore
zone too (``FrameResult.ignored``: no box or label is drawn for them).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelog.engines.fileio import commit_file, temp_path
from facelog.pipeline.detect.zones import Zone
from facelog.pipeline.types import FrameResult

_COLOURS = {"female": (180, 105, 255), "male": (255, 160, 60)}  # BGR
ZONE_COLOUR = (0, 215, 255)  # BGR amber: an ignore zone's outline and label
BLUR_MARGIN = 0.15  # of the box's width/height, on each side: hair, ears and chin go too


def blur_box(image_bgr: np.ndarray, xyxy: tuple[float, float, float, float]) -> None:
    """Blur ``xyxy`` (widened by ``BLUR_MARGIN``, clipped to the image) in place, beyond recognition."""
    h, w = image_bgr.shape[:2]
    x1, y1, x2, y2 = xyxy
    mx, my = (x2 - x1) * BLUR_MARGIN, (y2 - y1) * BLUR_MARGIN
    left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
    right, bottom = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    bw, bh = right - left, bottom - top
    if bw <= 0 or bh <= 0:
        return
    roi = image_bgr[top:bottom, left:right]
    # pixelate to at most 6x6 cells, then smooth the cell edges: no facial detail survives
    small = cv2.resize(roi, (min(6, bw), min(6, bh)), interpolation=cv2.INTER_AREA)
    k = max(3, (min(bw, bh) // 4) | 1)
    big = cv2.resize(small, (bw, bh), interpolation=cv2.INTER_LINEAR)
    image_bgr[top:bottom, left:right] = cv2.GaussianBlur(big, (k, k), 0)


def draw(
    image_bgr: np.ndarray, result: FrameResult, blur_faces: bool = False, zones: tuple[Zone, ...] = ()
) -> np.ndarray:
    """A copy of ``image_bgr`` with each prediction's box and "F 34 #3" label (faces blurred first
    with ``blur_faces``), and each ignore zone (fractions of the frame) outlined and labelled."""
    out = image_bgr.copy()
    h, w = out.shape[:2]
    for zone in zones:
        pts = np.round(np.asarray(zone, np.float64) * [w, h]).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, ZONE_COLOUR, 2, cv2.LINE_AA)
        x, y = (int(v) for v in pts[:, 0].min(axis=0))
        cv2.putText(
            out, "ignored", (x + 4, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_COLOUR, 1, cv2.LINE_AA
        )
    if blur_faces:
        for p in result.predictions:
            blur_box(out, p.xyxy)
        for box in result.ignored:  # detected, dropped in a zone: still a face in the picture
            blur_box(out, box)
    for p in result.predictions:
        gender = p.gender_smooth or p.gender
        age = p.age if p.age_smooth != p.age_smooth else p.age_smooth  # NaN without tracking
        colour = _COLOURS[gender]
        x1, y1, x2, y2 = (round(v) for v in p.xyxy)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        label = f"{gender[0].upper()} {age:.0f}" + (f" #{p.track_id}" if p.track_id >= 0 else "")
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(y1, th + base + 2)
        cv2.rectangle(out, (x1, ty - th - base - 2), (x1 + tw + 4, ty), colour, -1)
        cv2.putText(out, label, (x1 + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class AnnotatedVideo:
    """Writes annotated frames to an mp4 (``mp4v``) under a temporary name; ``commit`` renames it.

    Args:
        path: final .mp4 path.
        fps: frame rate of the written video (the processed-frame rate).
        size: (width, height).
        blur_faces: blur every face before drawing its box (``--blur-faces``).
        zones: the run's ignore zones, outlined on every frame.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int],
        *,
        blur_faces: bool = False,
        zones: tuple[Zone, ...] = (),
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path(self.path)  # keeps .mp4: FFmpeg picks the muxer by suffix
        self._w = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter.fourcc(*"mp4v"), max(fps, 1.0), size)
        if not self._w.isOpened():
            raise OSError(f"cannot write annotated video {self.path} (OpenCV VideoWriter mp4v failed)")
        self.size = size
        self.blur_faces = blur_faces
        self.zones = zones

    def write(self, image_bgr: np.ndarray, result: FrameResult) -> None:
        img = draw(image_bgr, result, self.blur_faces, self.zones)
        if (img.shape[1], img.shape[0]) != self.size:
            img = cv2.resize(img, self.size)
        self._w.write(img)

    def commit(self) -> Path:
        self._w.release()
        return commit_file(self._tmp, self.path)

    def abort(self) -> None:
        self._w.release()
        self._tmp.unlink(missing_ok=True)
