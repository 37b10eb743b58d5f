"""Turn face crops into the model's input, exactly as training fed it."""

from __future__ import annotations

import cv2
import numpy as np

from facelog.engines.base import ModelMeta


def crops_to_pixels(crops_bgr: list[np.ndarray], meta: ModelMeta) -> np.ndarray:
    """Resize BGR uint8 crops to ``meta.input_hw`` and normalise: (B, H, W, 3) float32."""
    h, w = meta.input_hw
    out = np.empty((len(crops_bgr), h, w, 3), np.float32)
    for i, crop in enumerate(crops_bgr):
        if crop.ndim != 3 or crop.shape[2] != 3:
            raise ValueError(f"crop {i} must be (H, W, 3), got {crop.shape}")
        img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        if meta.color == "RGB":
            img = img[:, :, ::-1]
        out[i] = img
    out -= meta.mean
    out /= meta.std
    return out


def decode_age(probs: np.ndarray) -> np.ndarray:
    """Expected value of a (B, N) softmax over ages 0..N-1 (DEX): (B,) float32."""
    ages = np.arange(probs.shape[1], dtype=np.float32)
    return (probs.astype(np.float32) @ ages).astype(np.float32)
