"""The fixed, deterministic degradation recipe of the evaluation by face size (no TensorFlow).

Recipe ``shrink-jpeg60`` for a size S (issue 11): the whole face chip is shrunk to S x S pixels
(OpenCV area interpolation), encoded as JPEG at quality 60 and decoded (OpenCV/libjpeg, default
settings: 4:2:0 chroma subsampling), then blown back up to its original size (bilinear). The result
is fed to the model exactly as a clean chip (``engines.preprocess.crops_to_pixels``). "full" means
the clean chip. Nothing is random, so the table can be reproduced bit for bit with the same OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

RECIPE = "shrink-jpeg60"
JPEG_QUALITY = 60
EVAL_SIZES_PX: tuple[int | None, ...] = (None, 64, 48, 32, 24)  # None = the full, clean chip


def degrade_chip(bgr: np.ndarray, size_px: int, jpeg_quality: int = JPEG_QUALITY) -> np.ndarray:
    """One (H, W, 3) uint8 chip -> the same shape after shrink to ``size_px``, JPEG and enlargement.

    Raises:
        ValueError: not an (H, W, 3) uint8 image, or ``size_px`` / ``jpeg_quality`` out of range.
    """
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"chip must be (H, W, 3) uint8, got {bgr.shape} {bgr.dtype}")
    if size_px < 4:
        raise ValueError(f"size_px must be >= 4, got {size_px}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (size_px, size_px), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:  # pragma: no cover - OpenCV without a JPEG codec
        raise RuntimeError("OpenCV could not encode JPEG")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:  # pragma: no cover - OpenCV without a JPEG codec
        raise RuntimeError("OpenCV could not decode its own JPEG")
    return cv2.resize(decoded, (w, h), interpolation=cv2.INTER_LINEAR)


def degrade_chips(chips: Sequence[np.ndarray], size_px: int | None) -> list[np.ndarray]:
    """``degrade_chip`` over a list; ``size_px`` None returns the chips unchanged."""
    if size_px is None:
        return list(chips)
    return [degrade_chip(c, size_px) for c in chips]


def size_label(size_px: int | None) -> str:
    """Row label of the table: ``full`` or ``32px``."""
    return "full" if size_px is None else f"{size_px}px"
