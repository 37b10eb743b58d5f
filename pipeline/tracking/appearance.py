"""Appearance cues for the tracker that need the frame: the colour of the clothes below each face.

The region below a face is a body only where it differs from that spot of the scene without the
person: ``BackgroundModel`` keeps a running, low-resolution picture of the scene (updated where no
face or body is), and ``body_histogram`` gives a row of zeros (unknown) for a region that looks like
it. On a head-and-shoulders camera, at a counter, or below a face whose body is out of view, the
colour below the face is the scene behind, the same for everyone who stands there: as a cue it would
vouch for merging two people, so it must not count.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facelog.pipeline.boxes import intersection_matrix

BODY_OCCLUDED = 0.25  # share of a body region covered by others above which its colour is unknown
NEARER_FACE = 1.2  # a face this many times wider is nearer the camera: its body hides ours
BODY_MIN_CHANGE = 18.0  # mean absolute difference (0-255, over B, G, R) from the scene for a body
BACKGROUND_PX = 160  # width of the background model (every k-th pixel of the frame, about this wide)
BACKGROUND_RATE = 0.05  # share of each new frame blended into the background where nobody is


class BackgroundModel:
    """A running picture of one source's scene without its people, about ``BACKGROUND_PX`` wide.

    ``update`` blends each frame in at ``BACKGROUND_RATE`` except under the faces and body regions
    of that frame's detections (so a person who stands still is not learnt as scene while detected);
    the first frame is taken as it is (people in it are unknown bodies until they leave).
    """

    def __init__(self) -> None:
        self._scene: np.ndarray | None = None
        self._scale = 1.0
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (frame, its small copy)

    def _small(self, image_bgr: np.ndarray) -> np.ndarray:
        """Every ``step``-th pixel of the frame (a plain subsample: the regions compared average
        dozens of them, and an area resize cost ~20x more at 720p); computed once per frame."""
        if self._last is not None and self._last[0] is image_bgr:
            return self._last[1]
        step = max(1, int(np.ceil(image_bgr.shape[1] / BACKGROUND_PX)))
        self._scale = 1.0 / step
        small = image_bgr[::step, ::step].astype(np.float32)
        self._last = (image_bgr, small)
        return small

    def update(self, image_bgr: np.ndarray, xyxy: np.ndarray) -> None:
        """Blend the frame in, except under the faces ``xyxy`` (n, 4) and their body regions."""
        small = self._small(np.asarray(image_bgr))
        if self._scene is None or self._scene.shape != small.shape:
            self._scene = small
            return
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
        blend = self._scene + BACKGROUND_RATE * (small - self._scene)
        for x1, y1, x2, y2 in (np.concatenate([boxes, _body_boxes(boxes)]) * self._scale).tolist():
            keep = np.s_[max(0, int(y1)) : max(0, math.ceil(y2)), max(0, int(x1)) : max(0, math.ceil(x2))]
            blend[keep] = self._scene[keep]  # under a face or its body the scene stays as it was
        self._scene = blend

    def change(self, image_bgr: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """(n,) mean absolute difference (0-255) of each region (n, 4) of the frame from the scene;
        NaN before the first ``update`` or for a region outside the frame."""
        out = np.full(len(regions), np.nan)
        if self._scene is None:
            return out
        small = self._small(np.asarray(image_bgr))
        if small.shape != self._scene.shape:
            return out
        h, w = small.shape[:2]
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(regions, np.float64).tolist()):
            top, bottom = max(0, int(y1 * self._scale)), min(h, math.ceil(y2 * self._scale))
            left, right = max(0, int(x1 * self._scale)), min(w, math.ceil(x2 * self._scale))
            if bottom > top and right > left:  # only the regions: the whole frame cost ~10x more
                region = np.s_[top:bottom, left:right]
                # per pixel over B, G, R first, then over the region: the sums' order of before
                out[i] = float(cv2.absdiff(small[region], self._scene[region]).mean(axis=2).mean())
        return out


def body_histogram(
    image_bgr: np.ndarray, xyxy: np.ndarray, background: BackgroundModel | None = None
) -> np.ndarray:
    """Colour descriptor of the body below each face: (n, 48) float32, a row of zeros if unseen.

    The region spans two face widths around the face centre, from 0.3 to 2 face heights below the
    box. A hue (12 circular bins, each pixel split between the two nearest) x saturation (4 bins)
    histogram of its pixels, square-rooted and L2-normalised (so the cosine is the Bhattacharyya
    coefficient). A region that would not show this person's clothes gives zeros, which the body gate
    ignores: under half of it inside the image (a face at the bottom edge), more than
    ``BODY_OCCLUDED`` of it covered by other faces' boxes or by the body region of a person whose face
    is ``NEARER_FACE`` times larger (nearer the camera, so in front), under 64 px, or (with a
    ``background``) differing from the scene there by less than ``BODY_MIN_CHANGE`` on average (no
    body, the scene behind: the same for everyone standing there).

    Args:
        image_bgr: (H, W, 3) uint8 frame.
        xyxy: (n, 4) face boxes in its pixels.
        background: the source's scene model (``update`` it after this call); None: every visible
            region counts as a body.

    Raises:
        ValueError: wrong shapes.
    """
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {img.shape}")
    boxes = np.asarray(xyxy, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"xyxy must be (n, 4), got {boxes.shape}")
    body = _body_boxes(boxes)
    seen = _body_visible(body, boxes, img.shape[0], img.shape[1])
    if background is not None and len(boxes):
        with np.errstate(invalid="ignore"):  # NaN (no scene yet): unknown
            seen &= background.change(img, body) >= BODY_MIN_CHANGE
    regions, owner = [], []
    for i, (bx1, by1, bx2, by2) in enumerate(body):
        top, bottom = int(max(0.0, by1)), int(min(img.shape[0], by2))
        left, right = int(max(0.0, bx1)), int(min(img.shape[1], bx2))
        if (bottom - top) * (right - left) < 64 or not seen[i]:
            continue
        step = max(1, int(np.sqrt((bottom - top) * (right - left) / 1024)))  # ~1,000 pixels suffice
        regions.append(img[top:bottom:step, left:right:step].reshape(-1, 3))
        owner.append(np.full(len(regions[-1]), i))
    hist = np.zeros(len(boxes) * 48)
    if regions:  # all faces at once: per-call numpy overhead dominates for small regions
        px = np.concatenate(regions).astype(np.float32).reshape(-1, 1, 3)
        base = np.concatenate(owner) * 48
        hsv = cv2.cvtColor(px, cv2.COLOR_BGR2HSV).reshape(-1, 3)  # float: H in degrees, S in 0..1
        sat_bin = np.minimum((hsv[:, 1] * 4).astype(np.intp), 3)
        pos = hsv[:, 0] / 30.0 - 0.5  # 12 circular hue bins: split each pixel between its two nearest
        low = np.floor(pos)
        upper = pos - low
        low_bin = low.astype(np.intp)
        for shift, share in ((0, 1 - upper), (1, upper)):
            idx = base + (low_bin + shift) % 12 * 4 + sat_bin
            hist += np.bincount(idx, share, minlength=len(hist))
    hist = np.sqrt(hist.reshape(len(boxes), 48))
    norm = np.linalg.norm(hist, axis=1, keepdims=True)
    return np.where(norm > 0, hist / np.maximum(norm, 1e-12), 0.0).astype(np.float32)


def _body_boxes(boxes: np.ndarray) -> np.ndarray:
    """(n, 4) body region of each face (see ``body_histogram``), not clipped to the image."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    return np.stack([cx - w, boxes[:, 3] + 0.3 * h, cx + w, boxes[:, 3] + 2.0 * h], axis=1)


def _body_visible(body: np.ndarray, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(n,) bool: whether each face's body region ``body`` shows that person (see ``body_histogram``)."""
    w = boxes[:, 2] - boxes[:, 0]
    area = np.maximum((body[:, 2] - body[:, 0]) * (body[:, 3] - body[:, 1]), 1e-9)
    inside = intersection_matrix(body, np.array([[0.0, 0.0, width, height]], body.dtype))[:, 0]
    covered = intersection_matrix(body, boxes)
    covered += intersection_matrix(body, body) * (w[None, :] > NEARER_FACE * w[:, None])
    np.fill_diagonal(covered, 0.0)
    return np.asarray((inside >= 0.5 * area) & (covered.sum(axis=1) <= BODY_OCCLUDED * area))
