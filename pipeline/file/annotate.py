"""``--annotate``: an mp4 of the processed frames with boxes and age/gender labels drawn."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facelog.engines.fileio import commit_file, temp_path
from facelog.pipeline.types import FrameResult

_COLOURS = {"female": (180, 105, 255), "male": (255, 160, 60)}  # BGR


def draw(image_bgr: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of ``image_bgr`` with each prediction's box and "F 34 #3" label."""
    out = image_bgr.copy()
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
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_path(self.path)  # keeps .mp4: FFmpeg picks the muxer by suffix
        self._w = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter.fourcc(*"mp4v"), max(fps, 1.0), size)
        if not self._w.isOpened():
            raise OSError(f"cannot write annotated video {self.path} (OpenCV VideoWriter mp4v failed)")
        self.size = size

    def write(self, image_bgr: np.ndarray, result: FrameResult) -> None:
        img = draw(image_bgr, result)
        if (img.shape[1], img.shape[0]) != self.size:
            img = cv2.resize(img, self.size)
        self._w.write(img)

    def commit(self) -> Path:
        self._w.release()
        return commit_file(self._tmp, self.path)

    def abort(self) -> None:
        self._w.release()
        self._tmp.unlink(missing_ok=True)
