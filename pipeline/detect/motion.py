"""Motion of the picture: where a frame changed since the frame before (``FrameChange``: regions for
faces that no known face's region covers), and how far a shaking camera's view moved (``ViewMotion``).

``RoiDetector`` looks only around the faces it found before, so a face that enters between two key
frames waits for the next key frame (up to ``full_every`` frames). Most such faces move: this module
compares each frame with the one before (grey, shrunk to ``CHANGE_WIDTH_PX`` wide, so a frame costs
well under a millisecond) and returns the changed blobs outside the known faces' regions, each grown
by ``CHANGE_MARGIN`` of its size, in frame pixels. A still face that appears between key frames (a
person who steps in and stops in one frame gap) is still found on the next key frame.

What it rests on: a camera that stays where it points (a shaking one is followed: the frame before is
moved with the view, ``ViewMotion``, before the two are compared; one that pans or zooms changes the
whole frame: more than ``CHANGE_MAX_SHARE`` of it changed makes that frame a key frame) and faces
that move between analysed frames. Sensor and H.264 noise on a still scene stays under
``CHANGE_DIFF`` grey levels once 8x8 pixel blocks are averaged; leaves, screens and rain are motion
too and only cost detector time.

``ViewMotion``: how far a camera's view moved over the scene, for a camera that shakes.

The tracker predicts a face where its motion alone would take it, and the static test
(``persons``) calls a face that never moved in the frame a poster. Both assume a fixed camera. A
camera on a pole in the wind moves the whole picture a few pixels, several times a second: every
prediction is off by that much, and a printed face or a face-like pattern moves with the picture
and becomes a person (docs/BENCHMARKS.md, "A camera that shakes, lights that switch").
``ViewMotion`` measures the view's shift over the scene so that both can take it out, as BoT-SORT's
global motion compensation does (translation only: no zoom, no rotation); ``FrameChange`` (and with it
``RoiDetector``'s regions) takes it out too, so a shaking 720p camera keeps its region frames.

Method: corners of the scene (``cv2.goodFeaturesToTrack``) in a reference frame, away from the faces
and the bodies below them, followed into each frame by pyramidal Lucas-Kanade
(``cv2.calcOpticalFlowPyrLK``); the shift is the mean of the flows within ``INLIER_SAMPLED_PX`` of their
median (people who walk over a corner move it their own way and are left out). Frames are sampled
every ``width / SAMPLE_WIDTH_PX``-th pixel of the green channel (no resize: ~0.2 ms at 720p). The
reference is renewed when fewer than ``MIN_POINTS`` corners agree, or every ``REFRESH_FRAMES``
frames; the shift carries over.

A fixed camera is not touched: on the synthetic clips of every fixed camera (dim, short of bits,
grey, 5 fps, 480x270, lights that switch) a check measures under 1 px (moving people, H.264 noise),
so until ``MOVED_CHECKS`` checks in a row measure ``MOVED_PX`` or more against a reference of at
most 25 analysed frames ago the view is fixed (exactly 0: the tracker and the static test work as
before) and is measured only every ``CHECK_EVERY`` frames; from then on, every frame, until the view
stays within ``MOVED_PX`` for ``STILL_FRAMES`` frames (a bus that filled a fixed view has passed:
fixed again, the shift kept). Rows taken before a shaking camera is found (a few checks) are in the
frame's coordinates. Where no corner can be followed (a bare wall filling the view), the shift is
unknown and kept as it was. Measured in docs/BENCHMARKS.md, "A camera that shakes, lights that
switch".
"""

from __future__ import annotations

from collections import deque
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
        self.view = ViewMotion()  # a camera that shakes: frames are compared where the scene was
        self.moved = np.zeros(2)  # px the view moved since the frame before (ViewMotion)

    def observe(self, image_bgr: np.ndarray, faces_xyxy: np.ndarray | None = None) -> float:
        """Compare ``image_bgr`` with the frame observed before; returns the share of the frame that
        changed (0.0 for the first frame, or when the size changed). ``faces_xyxy``: the faces known
        so far (kept out of the view's measurement). When the camera's view moved (``moved``), the
        frame before is moved with it first and the strip that came into view counts as unchanged."""
        h, w = image_bgr.shape[:2]
        sw = min(self.width_px, w)
        sh = max(1, round(h * sw / w))
        small = cv2.resize(image_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        prev, self._prev, self._scale = self._prev, small, w / sw
        size, self._size = self._size, (w, h)
        self.view.observe(image_bgr, np.zeros((0, 4)) if faces_xyxy is None else faces_xyxy)
        self.moved = self.view.moved
        if prev is None or size != (w, h):
            self._mask = None
            return 0.0
        if self.moved.any():  # the scene moved by minus the view's shift: compare where it went, give
            # or take half a block (a block's mean is not shift-invariant at a sharp edge)
            dx, dy = self.moved / self._scale
            diffs = [
                cv2.absdiff(
                    small, np.asarray(cv2.warpAffine(prev, to, (sw, sh), borderMode=cv2.BORDER_REPLICATE))
                )
                for to in (
                    np.array([[1.0, 0.0, -dx + ex], [0.0, 1.0, -dy + ey]], np.float32)
                    for ex, ey in ((-0.5, 0.0), (0.5, 0.0), (0.0, -0.5), (0.0, 0.5))
                )
            ]
            mask = np.minimum.reduce(diffs) >= self.diff
            b = int(np.ceil(np.abs(self.moved).max() / self._scale)) + 1  # came into view: unchanged
            mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = False, False, False, False
        else:
            mask = cv2.absdiff(small, prev) >= self.diff
        self._mask = mask
        return float(mask.mean())

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


# -- a camera that shakes ------------------------------------------------------------------------
SAMPLE_WIDTH_PX = 320  # frames are sampled down to about this width (1280 px: every 4th pixel)
MAX_POINTS = 100  # corners followed from a reference frame
MIN_POINTS = 20  # fewer followed corners agree: a new reference frame
MIN_AGREE = 8  # fewer agree, or under AGREE_SHARE of those followed: no measurement (shift kept)
AGREE_SHARE = 0.3
INLIER_SAMPLED_PX = 0.5  # a corner's flow within this of the median flow counts (sampled frame px)
REFRESH_FRAMES = 125  # a new reference at least this often (people arrive, the light changes)...
STEADY_REFRESH_FRAMES = 25  # ...and this often while the camera is fixed (noise wears corners down)
MOVED_PX = 2.0  # frame px: a fixed camera's checks measure less (synthetic clips: under 1)
MOVED_CHECKS = 2  # the camera moves once this many checks in a row measure MOVED_PX or more...
STILL_FRAMES = 50  # ...and is fixed again once its view stayed within MOVED_PX for this many frames
CHECK_EVERY = 5  # while fixed, the view is measured every this many frames
MAX_FAILED = 5  # measurements in a row without agreement: a new reference (the shift kept as it was)
# what is not scene around each face box (in face widths / heights): the face and the body below it
_MASK_SIDE, _MASK_ABOVE, _MASK_BELOW = 0.8, 0.3, 4.0


class ViewMotion:
    """The view's shift over the scene, frame by frame, for one source (frames in order).

    ``observe`` returns the shift (x, y) in frame pixels since the camera was first found moving (0
    before; constant while it is fixed again): a point of the scene seen at ``p`` then is seen at
    ``p - shift`` in this frame, so ``p_frame + shift`` are scene coordinates. ``moved`` is the change
    of the shift since the previous frame (0 on the first frame after a reset).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the reference (the next frame starts at shift 0, as a fixed camera)."""
        self._ref: np.ndarray | None = None  # sampled reference frame
        self._ref_points = np.zeros((0, 1, 2), np.float32)
        self._ref_shift = np.zeros(2)  # where the view was at the reference frame (``_at``)
        self._at = np.zeros(2)  # where the view is, as measured (drifts a little with each reference)
        self._base = np.zeros(2)  # ``_at`` of the fixed camera before it moved: shift = _at - _base
        self._ref_age = 0  # frames since the reference was taken
        self._failed = 0  # measurements in a row that found no agreement
        self._size: tuple[int, int] | None = None
        self._step = 1
        self.shift = np.zeros(2)
        self.moved = np.zeros(2)
        self.moving = False  # MOVED_CHECKS checks in a row measured MOVED_PX or more (see STILL_FRAMES)
        self._moved_checks = 0
        self._recent: deque[np.ndarray] = deque(maxlen=STILL_FRAMES)  # ``_at`` while moving
        self.frames = 0
        self.measured = 0  # frames measured (every one once moving)

    def observe(self, image_bgr: np.ndarray, faces_xyxy: np.ndarray) -> np.ndarray:
        """The shift (2,) at this frame, in frame pixels (see the class docstring).

        Args:
            image_bgr: (H, W, 3) uint8 frame.
            faces_xyxy: (n, 4) this frame's face boxes (their faces and bodies are not scene).
        """
        h, w = image_bgr.shape[:2]
        if self._size != (w, h):  # a new source or size: start again
            self.reset()
            self._size, self._step = (w, h), max(1, round(w / SAMPLE_WIDTH_PX))
        before = self.shift.copy()
        self._measure(image_bgr, faces_xyxy)
        self.moved = self.shift - before
        return self.shift.copy()

    def _measure(self, image_bgr: np.ndarray, faces_xyxy: np.ndarray) -> None:
        due = self.moving or self.frames % CHECK_EVERY == 0
        self.frames += 1
        if not due:
            return
        small = _sample(image_bgr, self._step)
        self.measured += 1
        not_scene = self._not_scene(small.shape, faces_xyxy)
        flow = None if self._ref is None else self._flow(small, not_scene)
        if flow is not None:
            mean = flow[1]
            self._failed = 0
            # where the view is, followed through every reference (while the camera is fixed too,
            # so that a reference taken before it moved is placed right)
            self._at = self._ref_shift - mean * self._step
            if not self.moving:  # moved against a reference of at most 25 analysed frames: not drift
                big = np.abs(mean * self._step).max() >= MOVED_PX
                self._moved_checks = self._moved_checks + 1 if big else 0
                self.moving = self._moved_checks >= MOVED_CHECKS
                # the shift goes on from where it is (no jump: the frames between checks are unknown)
                self._base = self._at - self.shift
                self._recent.clear()
            elif self._still_again():  # fixed again (a bus that filled the view has passed)
                self.moving, self._moved_checks = False, 0
            if self.moving:
                self.shift = self._at - self._base
        else:
            self._failed += 1
            self._moved_checks = 0
        self._ref_age += 1 if self.moving else CHECK_EVERY
        refresh = REFRESH_FRAMES if self.moving else STEADY_REFRESH_FRAMES
        worn = flow is not None and (flow[0] < MIN_POINTS or self._ref_age >= refresh)
        if self._ref is None or worn or self._failed >= MAX_FAILED:  # failed: the place is a guess
            self._new_reference(small, not_scene)

    def _still_again(self) -> bool:
        """Whether the view, moving, stayed within MOVED_PX over the last STILL_FRAMES frames."""
        self._recent.append(self._at.copy())
        return len(self._recent) == STILL_FRAMES and bool((np.ptp(self._recent, axis=0) < MOVED_PX).all())

    def _flow(self, small: np.ndarray, not_scene: np.ndarray) -> tuple[int, np.ndarray] | None:
        """(corners that agree, their mean flow in sampled px) from the reference, or None. Corners
        that are now under a face or a body (``not_scene`` > 0: someone walked over them) are left
        out."""
        assert self._ref is not None
        if len(self._ref_points) < MIN_AGREE:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            self._ref, small, self._ref_points, None, winSize=(11, 11), maxLevel=2
        )
        h, w = small.shape
        x, y = (np.clip(moved[:, 0, k], 0, lim - 1).astype(np.int64) for k, lim in ((0, w), (1, h)))
        ok = (status[:, 0] == 1) & (not_scene[y, x] == 0)
        d = (moved - self._ref_points)[ok, 0]
        if len(d) < MIN_AGREE:
            return None
        agree = np.linalg.norm(d - np.median(d, axis=0), axis=1) < INLIER_SAMPLED_PX
        if agree.sum() < max(MIN_AGREE, AGREE_SHARE * len(d)):
            return None
        return int(agree.sum()), d[agree].mean(axis=0).astype(np.float64)

    def _not_scene(self, shape: tuple[int, ...], faces_xyxy: np.ndarray) -> np.ndarray:
        """(h, w) uint8 of the sampled frame: 1 over the faces and the bodies below them, else 0."""
        mask = np.zeros(shape[:2], np.uint8)
        for x1, y1, x2, y2 in np.asarray(faces_xyxy, np.float64).reshape(-1, 4) / self._step:
            fw, fh = x2 - x1, y2 - y1
            top, bottom = int(max(y1 - _MASK_ABOVE * fh, 0)), int(max(y2 + _MASK_BELOW * fh, 0)) + 1
            left, right = int(max(x1 - _MASK_SIDE * fw, 0)), int(max(x2 + _MASK_SIDE * fw, 0)) + 1
            mask[top:bottom, left:right] = 1
        return mask

    def _new_reference(self, small: np.ndarray, not_scene: np.ndarray) -> None:
        scene = (not_scene == 0).astype(np.uint8)  # corners only where the scene shows
        points = cv2.goodFeaturesToTrack(small, MAX_POINTS, 0.01, 6, mask=scene)
        self._ref = small
        self._ref_points = np.zeros((0, 1, 2), np.float32) if points is None else points.astype(np.float32)
        self._ref_shift = self._at.copy()
        self._ref_age = 0


def _sample(image_bgr: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th pixel of the green channel."""
    return np.ascontiguousarray(image_bgr[::step, ::step, 1])
