"""Appearance cues for the tracker that need the frame: the colour of the clothes below each face."""

from __future__ import annotations

import cv2
import numpy as np

from facelog.pipeline.boxes import intersection_matrix

BODY_OCCLUDED = 0.25  # share of a body region covered by others above which its colour is unknown
NEARER_FACE = 1.2  # a face this many times wider is nearer the camera: its body hides ours


def body_histogram(image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Colour descriptor of the body below each face: (n, 48) float32, a row of zeros if unseen.

    The region spans two face widths around the face centre, from 0.3 to 2 face heights below the
    box. A hue (12 circular bins, each pixel split between the two nearest) x saturation (4 bins)
    histogram of its pixels, square-rooted and L2-normalised (so the cosine is the Bhattacharyya
    coefficient). A region that would not show this person's clothes gives zeros, which the body gate
    ignores: under half of it inside the image (a face at the bottom edge), more than
    ``BODY_OCCLUDED`` of it covered by other faces' boxes or by the body region of a person whose face
    is ``NEARER_FACE`` times larger (nearer the camera, so in front), or under 64 px.

    Args:
        image_bgr: (H, W, 3) uint8 frame.
        xyxy: (n, 4) face boxes in its pixels.

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
