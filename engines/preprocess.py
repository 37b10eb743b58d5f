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


def decode_age(probs: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Expected value of a (B, N) softmax over ages 0..N-1 (DEX): (B,) of ``dtype``.

    facelog's one expected age: the pipeline decodes with it (float32), training's metrics too
    (float64, ``training.metrics.expected_age``).

    Raises:
        ValueError: ``probs`` is not (B, N).
    """
    if probs.ndim != 2:
        raise ValueError(f"age probabilities must be (B, N), got {probs.shape}")
    ages = np.arange(probs.shape[1], dtype=dtype)
    return np.asarray(probs.astype(dtype) @ ages, dtype=dtype)
