"""Where a frame changed since the frame before: regions for faces that no known face's region covers.

``RoiDetector`` looks only around the faces it found before, so a face that enters between two key
frames waits for the next key frame (up to ``full_every`` frames). Most such faces move: this module
compares each frame with the one before (grey, shrunk to ``CHANGE_WIDTH_PX`` wide, so a frame costs
well under a millisecond) and returns the changed blobs outside the known faces' regions, each grown
by ``CHANGE_MARGIN`` of its size, in frame pixels. A still face that appears between key frames (a
person who steps in and stops in one frame gap) is still found on the next key frame.

What it rests on: a fixed camera (a moving or zooming camera changes the whole frame: more than
``CHANGE_MAX_SHARE`` of it changed makes that frame a key frame) and faces that move between analysed
frames. Sensor and H.264 noise on a still scene stays under ``CHANGE_DIFF`` grey levels once 8x8 pixel
blocks are averaged; leaves, screens and rain are motion too and only cost detector time.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

CHANGE_WIDTH_PX = 160  # frames are compared at this width (area-averaged grey); 1280 px: 8x8 blocks
CHANGE_DIFF = 16  # grey levels a block must change by to count as motion (lower: more noise regions)
CHANGE_MIN_BLOCKS = 3  # changed blobs of fewer blocks are noise (a 32-px face moving is ~12 blocks)
CHANGE_MARGIN = 0.5  # a changed blob's region grows by this share of its larger side, per side
CHANGE_MAX_SHARE = 0.3  # more of the frame changed than this: the caller detects the whole frame


class FrameChange:
    """The changed parts of each frame against the frame before it (one source, frames in order)."""

    def __init__(
        self,
        width_px: int = CHANGE_WIDTH_PX,
        diff: int = CHANGE_DIFF,
        min_blocks: int = CHANGE_MIN_BLOCKS,
        margin: float = CHANGE_MARGIN,
    ) -> None:
        if width_px < 8 or diff < 1 or min_blocks < 1 or margin < 0:
            raise ValueError(f"need width_px >= 8, diff >= 1, min_blocks >= 1, margin >= 0, got "
                             f"{width_px}, {diff}, {min_blocks}, {margin}")  # fmt: skip
        self.width_px, self.diff, self.min_blocks, self.margin = width_px, diff, min_blocks, margin
        self.reset()

    def reset(self) -> None:
        """Forget the frame before (the next frame has no change to report)."""
        self._prev: np.ndarray | None = None
        self._size: tuple[int, int] | None = None  # the frame size of _prev
        self._mask: np.ndarray | None = None
        self._scale = 1.0  # frame px per block

    def observe(self, image_bgr: np.ndarray) -> float:
        """Compare ``image_bgr`` with the frame observed before; returns the share of the frame that
        changed (0.0 for the first frame, or when the size changed)."""
        h, w = image_bgr.shape[:2]
        sw = min(self.width_px, w)
        sh = max(1, round(h * sw / w))
        small = cv2.resize(image_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        prev, self._prev, self._scale = self._prev, small, w / sw
        size, self._size = self._size, (w, h)
        if prev is None or size != (w, h):
            self._mask = None
            return 0.0
        self._mask = cv2.absdiff(small, prev) >= self.diff
        return float(self._mask.mean())

    def boxes(self, covered: Sequence[tuple[int, int, int, int]], wh: tuple[int, int]) -> np.ndarray:
        """(N, 4) x1, y1, x2, y2 in frame pixels: the last observed frame's changed blobs outside
        ``covered`` (frame-pixel rectangles, e.g. the known faces' regions), grown and clipped to
        ``wh``. Empty before a second frame."""
        if self._mask is None:
            return np.zeros((0, 4), np.float32)
        mask = self._mask.astype(np.uint8)
        s = self._scale
        for x1, y1, x2, y2 in covered:  # blocks wholly inside a known region are looked at already
            mask[int(np.ceil(y1 / s)) : int(y2 // s), int(np.ceil(x1 / s)) : int(x2 // s)] = 0
        joined = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # a moving face's edges into one blob
        n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        changed = np.bincount(labels[mask > 0], minlength=n)  # changed blocks of each blob
        out = []
        w, h = wh
        for (x, y, bw, bh, _), blocks in zip(stats[1:n].tolist(), changed[1:n].tolist(), strict=True):
            if blocks < self.min_blocks:
                continue
            grow = self.margin * max(bw, bh) * s
            out.append([max(0.0, x * s - grow), max(0.0, y * s - grow),
                        min(float(w), (x + bw) * s + grow), min(float(h), (y + bh) * s + grow)])  # fmt: skip
        return np.asarray(out, np.float32).reshape(-1, 4)
