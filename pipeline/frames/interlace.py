"""Interlaced video (an analogue camera through a DVR, a 1080i stream) made fit for detection.

An interlaced camera captures a frame's even rows and its odd rows one field apart (20 ms at 25i); a
recorder that stores the woven frames as they are leaves everything that moves combed: alternate rows
show the face at two places. On such footage (``benchmarks/cctv_bench.py --camera interlaced``, fields
40 ms apart) YuNet found 43% of the 32-47 px faces against 95% on the same clips as made, and the
per-person answer fell apart (docs/BENCHMARKS.md, thirty-first session). OpenCV's FFmpeg reader
neither deinterlaces nor says whether a stream is interlaced, so ``Deinterlacer`` tells it from the
pixels and then keeps one field:

- **The comb test** (``comb_ratio``): where the frame changed since the previous one, rows one apart
  (the other field) against rows two apart (the same field). In a progressive picture neighbouring
  rows are the closer ones: a median of 0.49-0.61 on the presets, the eight real clips in ../shared,
  a camera short of bits and lights that switch, at most 0.96; a dim camera's sensor noise reads
  0.55-0.74 in the median and up to 2.26 (0-3 frames of a 30-s clip over ``COMB_RATIO``). In a woven
  frame with motion the other field is the further one: a median of 3.5-4.9 on walkers; people who
  stand or step slowly give fewer such frames (``benchmarks/comb_ratio.py``).
- **The decision** (``Deinterlacer``, ``sampling.deinterlace: auto``): ``COMB_FRAMES`` frames over
  ``COMB_RATIO`` make the source interlaced for the rest of the run (the benchmark's 20 interlaced
  clips from processed frame 5-87, mostly 5-9); ``PROGRESSIVE_FRAMES`` frames with
  motion and fewer combed ones make it progressive, and the test stops (it costs ~1 ms a frame at
  720p while it runs).
- **The field kept** (``keep_field``): the even rows as they are, each odd row the mean of the even
  rows above and below it (a "bob" of one field: the full frame size, so boxes need no mapping; half
  the vertical detail, which is why a progressive source is never treated so).
"""

from __future__ import annotations

import logging
from typing import Literal

import cv2
import numpy as np

log = logging.getLogger(__name__)

Mode = Literal["auto", "on", "off"]

COMB_RATIO = 2.0  # a combed frame: rows one apart differ this much more than rows two apart
COMB_FRAMES = 5  # combed frames that make a source interlaced (a dim camera's noise gave up to 3 a clip)
PROGRESSIVE_FRAMES = 250  # frames with motion, without COMB_FRAMES combed ones: progressive
MOVING_LEVEL = 16  # grey levels a pixel changes by since the previous frame to count as moving
MIN_MOVING_PX = 50  # moving pixels (of the test's column sample) for a frame to be judged
COLUMN_STEP = 4  # the test reads every 4th column (the comb runs along rows)


def grey_sample(image: np.ndarray) -> np.ndarray:
    """What the comb test reads of a frame: every ``COLUMN_STEP``-th column, grey, (H, W / step) uint8."""
    sample = np.ascontiguousarray(image[:, ::COLUMN_STEP])
    return cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY) if sample.ndim == 3 else sample


def comb_ratio(previous_grey: np.ndarray, grey: np.ndarray) -> float | None:
    """Where ``grey`` changed since ``previous_grey`` (both (H, W) uint8): the summed difference of rows
    one apart over that of rows two apart; None when too little moved to judge (``MIN_MOVING_PX``)."""
    c = grey.astype(np.int16)
    one = np.abs(c[1:-1] - c[2:])  # the neighbouring row: the other field
    two = np.abs(c[:-2] - c[2:])  # two rows on: the same field
    moving = (np.abs(c[1:-1] - previous_grey[1:-1].astype(np.int16)) > MOVING_LEVEL) & (one + two > 8)
    if int(moving.sum()) < MIN_MOVING_PX:
        return None
    return float(one[moving].sum()) / max(float(two[moving].sum()), 1.0)


def keep_field(image: np.ndarray) -> np.ndarray:
    """``image`` (H, W[, C]) uint8 with its odd rows replaced by the mean of the even rows around them
    (the last odd row, below the last even one, by that row): one field, at the full frame size."""
    out = np.empty_like(image)
    out[0::2] = image[0::2]
    upper, lower = image[0:-2:2], image[2::2]
    n = len(lower)  # odd rows 1, 3, ..., 2n - 1 lie between two even rows
    cv2.addWeighted(upper, 0.5, lower, 0.5, 0.0, dst=out[1 : 2 * n : 2])
    if image.shape[0] % 2 == 0:
        out[-1] = image[-2]
    return out


class Deinterlacer:
    """One source's frames, interlaced ones reduced to one field (module docstring).

    Args:
        mode: ``auto``: the comb test decides; ``on``: every frame is interlaced; ``off``: none is.
        source: the source's name, for the log line that says it was found interlaced.

    Attributes:
        interlaced: whether frames are reduced to one field (from ``since_frame`` on).
        since_frame: the call (0-based) from which frames are reduced; None while they are not.
    """

    def __init__(self, mode: Mode = "auto", source: str = "") -> None:
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"mode must be auto, on or off, got {mode!r}")
        self.interlaced = mode == "on"
        self.source = source
        self.since_frame: int | None = 0 if self.interlaced else None
        self._testing = mode == "auto"
        self._previous: np.ndarray | None = None
        self._calls = 0
        self._judged = 0
        self._combed = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """This frame as the detector should see it (the same array when nothing changes)."""
        if self._testing:
            self._test(image)
        self._calls += 1
        return keep_field(image) if self.interlaced else image

    def _test(self, image: np.ndarray) -> None:
        grey = grey_sample(image)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return
        ratio = comb_ratio(previous, grey)
        if ratio is None:
            return
        self._judged += 1
        self._combed += ratio > COMB_RATIO
        if self._combed >= COMB_FRAMES:
            self.interlaced, self.since_frame, self._testing, self._previous = True, self._calls, False, None
            log.info(
                "%s: interlaced frames (comb ratio %.1f): one field kept from processed frame %d",
                self.source, ratio, self._calls,
            )  # fmt: skip
        elif self._judged >= PROGRESSIVE_FRAMES:
            self._testing, self._previous = False, None
