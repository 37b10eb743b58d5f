"""The faces a region detector looks around: each box found, frames since it was found, its velocity.

``KnownFaces`` is ``roi.RoiDetector``'s memory between frames. ``regions`` turns it into the regions to
look at on the next region frame; ``remember`` takes the boxes a frame found. Regions are
``(x1, y1, x2, y2, smallest face width)`` in frame pixels, overlapping ones merged.
"""

from __future__ import annotations

import numpy as np

ROI_MAX_GROWTH = 3  # a missed face's margin grows with the frames since it was seen, up to this many
# the body below a known face, for the frame-change regions: its motion is not a new face's
ROI_BODY_WIDTHS = 3.0  # face widths, centred on the face
ROI_BODY_HEIGHTS = 6.0  # face heights below the face
ROI_SAME_FACE_WIDTH_RATIO = 1.5  # an old and a new box wider than this apart are not one moving face

Region = tuple[int, int, int, int, float]


class KnownFaces:
    """Boxes to look around, with their ages (source frames since each was last found) and velocities.

    Args:
        margin: region margin per side, in box widths per frame of gap (>= 0).
        min_margin_px: the least margin per side per frame of gap, in frame pixels (>= 0).
        hold_frames: frames a face missed keeps its region (>= 0).
        moving_share: None: regions stay where the faces were, ``margin`` wide. A share (0-1]: a face
            whose velocity is known (found in two frames) is looked for where it will be, with this
            share of ``margin``, while it keeps being found; once missed, where it was last seen, with
            the whole margin.
    """

    def __init__(
        self, margin: float, min_margin_px: float, hold_frames: int, moving_share: float | None
    ) -> None:
        self.margin, self.min_margin_px = margin, min_margin_px
        self.hold_frames, self.moving_share = hold_frames, moving_share
        self.reset()

    def reset(self) -> None:
        """Forget every face."""
        self.boxes = np.zeros((0, 4), np.float32)  # faces to look around
        self._ages = np.zeros(0, np.int64)  # frames since each was last detected
        self.velocities = np.zeros((0, 2), np.float32)  # px per source frame of each; NaN: unknown

    def shift(self, dx: float, dy: float) -> None:
        """Move every box with the view (a shaking camera: the known faces moved with it)."""
        self.boxes = self.boxes - np.array([dx, dy, dx, dy], np.float32)

    def regions(self, wh: tuple[int, int], gap: int = 1) -> list[Region]:
        """The regions to look at on the next region frame: (x1, y1, x2, y2, smallest face width).

        Each known box grown by ``max(margin x width, min_margin_px) x (gap + age)`` per side (at most
        ``ROI_MAX_GROWTH x gap``; age: source frames since it was last found); a box whose velocity
        is known (``moving_share`` set) and that was found in the last frame is moved by it first and
        gets ``moving_share x margin``; clipped to the frame; overlapping regions merged.
        """
        w, h = wh
        if len(self.boxes) == 0:
            return []
        boxes, m = self._grown(gap)
        bw = boxes[:, 2] - boxes[:, 0]
        rects = [
            [max(0.0, b[0] - mi), max(0.0, b[1] - mi), min(float(w), b[2] + mi), min(float(h), b[3] + mi), wi]
            for b, mi, wi in zip(boxes.tolist(), m.tolist(), bw.tolist(), strict=True)
        ]
        return merged_regions(rects)

    def bodies(self, wh: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """Where the bodies of the known faces are (``ROI_BODY_WIDTHS`` face widths wide, down to
        ``ROI_BODY_HEIGHTS`` face heights below the face): their motion is the known people's own."""
        out = []
        for x1, y1, x2, y2 in self.boxes.tolist():
            fw, fh = x2 - x1, y2 - y1
            cx = (x1 + x2) / 2
            half = ROI_BODY_WIDTHS * fw / 2
            bottom = min(wh[1], y2 + ROI_BODY_HEIGHTS * fh)
            out.append((int(max(0.0, cx - half)), int(max(0.0, y1)), int(min(wh[0], cx + half)), int(bottom)))
        return out

    def remember(self, xyxy: np.ndarray, gap: int) -> None:
        """New boxes (age 0) plus earlier ones not found again, aged by ``gap``. A new box whose centre
        is in an old box's region (with ``moving_share``: the region where it was expected) found that
        face again; with ``moving_share`` new boxes get velocities (``_step_velocities``). A followed
        face that stopped and is found outside its narrow region keeps its old box as a missed face
        (a wide region for ``hold_frames``): a few more pixels, no face lost (measured: treating any
        box in the wide region as found lost 0.9 points of recall, docs/BENCHMARKS.md)."""
        boxes, ages = xyxy.astype(np.float32), np.zeros(len(xyxy), np.int64)
        vel = np.full((len(xyxy), 2), np.nan, np.float32)
        if len(self.boxes):  # key frames too: a weak face missed on a key frame keeps its region
            old_age = self._ages + gap
            cx, cy = (xyxy[None, :, 0] + xyxy[None, :, 2]) / 2, (xyxy[None, :, 1] + xyxy[None, :, 3]) / 2
            b, m = self._grown(gap)  # with moving_share: a followed face's narrow region ahead
            inside = centres_inside(b, m, cx, cy)  # (old, new)
            if self.moving_share is not None and inside.shape[1]:
                vel = self._step_velocities(xyxy, b, inside, old_age)
            found = inside.any(axis=1)
            lost = ~found & (old_age <= self.hold_frames * gap)  # hold counts processed frames
            boxes = np.concatenate([boxes, self.boxes[lost]])
            ages = np.concatenate([ages, old_age[lost]])
            vel = np.concatenate([vel, self.velocities[lost]])
        self.boxes, self._ages, self.velocities = boxes, ages, vel

    def _wide(self, gap: int) -> np.ndarray:
        """Each known box's margin per side where its motion is unknown (see ``regions``)."""
        bw = self.boxes[:, 2] - self.boxes[:, 0]
        frames = self._ages + gap
        return np.maximum(self.margin * bw, self.min_margin_px) * np.minimum(frames, ROI_MAX_GROWTH * gap)

    def _grown(self, gap: int) -> tuple[np.ndarray, np.ndarray]:
        """The known boxes where they are expected ``gap`` source frames on (moved by their velocity
        where known) and their margins per side (see ``regions``)."""
        if self.moving_share is None:
            return self.boxes, self._wide(gap)
        frames = self._ages + gap
        # followed: velocity known and found in the last frame; a face missed since may have turned,
        # stopped or been hidden: its region is the wide one around where it was last seen
        followed = ~np.isnan(self.velocities[:, 0]) & (self._ages == 0)
        shift = np.where(followed[:, None], self.velocities, 0.0) * frames[:, None]
        boxes = self.boxes + np.tile(shift, 2).astype(np.float32)
        return boxes, np.where(followed, self.moving_share * self._wide(gap), self._wide(gap))

    def _step_velocities(
        self, xyxy: np.ndarray, expected: np.ndarray, inside: np.ndarray, old_age: np.ndarray
    ) -> np.ndarray:
        """Velocity (px per source frame) of each new box paired with an old one, NaN for the rest.

        Pairs: the new centre in the old box's region where it was expected (``inside``: the narrow
        region ahead of a followed face, the wide one around any other), widths within
        ``ROI_SAME_FACE_WIDTH_RATIO``, one to one, the nearest first (to where the old face was
        expected or last seen). So a face that appears beside a followed one is not given its motion.
        """
        old_c = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        exp_c = (expected[:, :2] + expected[:, 2:]) / 2
        new_c = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        ow, nw = self.boxes[:, 2] - self.boxes[:, 0], xyxy[:, 2] - xyxy[:, 0]
        ratio = np.maximum(ow[:, None], nw[None, :]) / np.maximum(np.minimum(ow[:, None], nw[None, :]), 1e-3)
        dist = np.minimum(
            np.linalg.norm(new_c[None, :, :] - exp_c[:, None, :], axis=2),
            np.linalg.norm(new_c[None, :, :] - old_c[:, None, :], axis=2),
        )
        dist = np.where(inside & (ratio <= ROI_SAME_FACE_WIDTH_RATIO), dist, np.inf)
        vel = np.full((len(xyxy), 2), np.nan, np.float32)
        used_old, used_new = set(), set()
        for flat in np.argsort(dist, axis=None):
            i, j = divmod(int(flat), dist.shape[1])
            if not np.isfinite(dist[i, j]):
                break  # sorted: no pair left
            if i in used_old or j in used_new:
                continue
            used_old.add(i)
            used_new.add(j)
            vel[j] = (new_c[j] - old_c[i]) / np.float32(old_age[i])  # the last step: a turn counts at once
        return vel


def centres_inside(boxes: np.ndarray, margins: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """(old, new): whether each new box's centre (``cx``, ``cy``: shape (1, new)) lies in each old
    box grown by its margin."""
    m = margins[:, None]
    inside = (cx >= boxes[:, :1] - m) & (cx <= boxes[:, 2:3] + m)
    return np.asarray(inside & (cy >= boxes[:, 1:2] - m) & (cy <= boxes[:, 3:4] + m))


def merged_regions(rects: list[list[float]]) -> list[Region]:
    """Overlapping rectangles ``[x1, y1, x2, y2, smallest face width]`` merged (their union box, the
    smaller face width), as integer pixel boxes."""
    rects = [list(r) for r in rects]
    merged = True
    while merged:  # a handful of regions: quadratic is fine
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]),
                                min(a[4], b[4])]  # fmt: skip
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return [(int(r[0]), int(r[1]), int(np.ceil(r[2])), int(np.ceil(r[3])), r[4]) for r in rects]
