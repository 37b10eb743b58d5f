"""Video whose pixels are not square (a DVR's D1 stream, an anamorphic 16:9 recording) widened to the
picture a player shows.

Some recorders store 704x576 or 720x576 frames whose pixels are wider than tall: the stream's sample
aspect ratio (SAR, in the H.264 header or the MP4 container) says by how much, and a player stretches
each frame by it (720x576 at 64:45 shows as 1024x576, 16:9). OpenCV's FFmpeg reader hands over the
stored frame as it is, so every face is squeezed: at 64:45 a face is 70% as wide as it is. The age and
gender model was trained on faces as seen, and on squeezed faces it read two of the five people of two
real clips as the wrong gender for their whole visit (docs/BENCHMARKS.md, fortieth session).

``SquarePixels`` resizes each frame to the shape a player shows: wider by the SAR when pixels are wide,
taller when they are tall (no stored row or column is dropped). Boxes in the CSV are then in the shown
picture's pixels. A SAR within ``SAR_TOLERANCE`` of 1 changes nothing. A frame the reader rotates
(``CAP_PROP_ORIENTATION_META`` of 90 or 270 degrees: a phone held upright) is stretched along its other
axis, since the SAR describes the stored frame.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

SAR_TOLERANCE = 0.02  # pixels within 2% of square are left as they are (no resize, no note)


def sample_aspect(cap: cv2.VideoCapture) -> float:
    """The stream's sample aspect ratio (a pixel's width over its height); 1.0 when it says none."""
    num, den = cap.get(cv2.CAP_PROP_SAR_NUM), cap.get(cv2.CAP_PROP_SAR_DEN)
    if not (num > 0 and den > 0):
        return 1.0
    sar = num / den
    if cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) and int(cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 180 == 90:
        return 1.0 / sar  # the reader turns the frame: the stored width is the shown height
    return sar


def square_size(width: int, height: int, sar: float) -> tuple[int, int]:
    """The frame size (width, height) with square pixels: the wider side kept, the other stretched."""
    if abs(sar - 1.0) <= SAR_TOLERANCE:
        return width, height
    if sar > 1.0:
        return round(width * sar), height
    return width, round(height / sar)


class SquarePixels:
    """One source's frames resized to square pixels (module docstring).

    Args:
        sar: the stream's sample aspect ratio (``sample_aspect``).
        source: the source's name, for the log line that says frames are resized.

    Attributes:
        sar: as given.
        active: whether frames are resized.
    """

    def __init__(self, sar: float, source: str = "") -> None:
        if not (sar > 0 and np.isfinite(sar)):
            raise ValueError(f"sample aspect ratio must be a positive number, got {sar}")
        self.sar = sar
        self.active = abs(sar - 1.0) > SAR_TOLERANCE
        self.source = source
        self._said = False

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """This frame as a player shows it (the same array when its pixels are square)."""
        if not self.active:
            return image
        h, w = image.shape[:2]
        size = square_size(w, h, self.sar)
        if not self._said:
            self._said = True
            log.info(
                "%s: pixels stored %.3f:1 (sample aspect ratio): frames resized from %dx%d to %dx%d",
                self.source, self.sar, w, h, *size,
            )  # fmt: skip
        return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)

    def describe(self, width: int, height: int) -> str | None:
        """A line for the run summary, or None when frames are left as they are."""
        if not self.active:
            return None
        w, h = square_size(width, height, self.sar)
        how = "widened" if self.sar > 1.0 else "made taller"
        return (
            f"pixels stored {self.sar:.3f}:1 (sample aspect ratio): frames {how} from {width}x{height}"
            f" to {w}x{h}, as a player shows them; boxes are in that picture (frames/aspect.py)"
        )
