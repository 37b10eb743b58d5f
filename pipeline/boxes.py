"""Box geometry shared by the detectors and the trackers: boxes are absolute ``xyxy`` pixels."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every box of ``a`` (n, 4) and of ``b`` (m, 4), xyxy: an (n, m) float32 matrix.

    Empty inputs give an empty (n, m) matrix; degenerate boxes (zero area) have IoU 0.

    Raises:
        ValueError: an input is not (k, 4).
    """
    a = np.asarray(a, np.float32).reshape(-1, 4) if np.size(a) == 0 else np.asarray(a, np.float32)
    b = np.asarray(b, np.float32).reshape(-1, 4) if np.size(b) == 0 else np.asarray(b, np.float32)
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 2 or x.shape[1] != 4:
            raise ValueError(f"{name} must be (n, 4) xyxy boxes, got {x.shape}")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    inter = intersection_matrix(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)).astype(np.float32)


def intersection_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas (n, m) of xyxy boxes ``a`` (n, 4) and ``b`` (m, 4), in their dtype."""
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.maximum(ix, 0) * np.maximum(iy, 0)  # np.clip costs ~5x more on small arrays
