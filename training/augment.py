"""Batched, vectorised augmentation and ``tf.data`` pipelines over images preloaded in RAM.

Training images are cached at ``load_size`` (a little larger than the model input); each batch gets
a random crop box (scale and shift jitter, zoom-out allowed), horizontal flip, brightness/contrast/
saturation jitter and random erasing, then is resized to ``image_size``. A box of scale 1 and no
shift reproduces the validation framing (the whole face chip resized to the input size).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from facelog.training.config import AugmentConfig

_FILL = 127.0  # grey for zoomed-out borders


def _uniform(shape: tf.TensorShape | list[int] | tf.Tensor, lo: float, hi: float) -> tf.Tensor:
    return tf.random.uniform(shape, lo, hi, dtype=tf.float32)


def augment_batch(images: tf.Tensor, cfg: AugmentConfig, image_size: int) -> tf.Tensor:
    """(B, S, S, 3) uint8 -> (B, image_size, image_size, 3) float32 in 0..255, augmented."""
    x = tf.cast(images, tf.float32)
    b = tf.shape(x)[0]
    s = _uniform([b], cfg.scale[0], cfg.scale[1])
    cy = 0.5 + _uniform([b], -cfg.shift, cfg.shift)
    cx = 0.5 + _uniform([b], -cfg.shift, cfg.shift)
    boxes = tf.stack([cy - s / 2, cx - s / 2, cy + s / 2, cx + s / 2], axis=1)
    x = tf.image.crop_and_resize(x, boxes, tf.range(b), [image_size, image_size], extrapolation_value=_FILL)
    if cfg.flip:
        flip = _uniform([b, 1, 1, 1], 0, 1) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    if cfg.brightness:
        x = x + 255.0 * _uniform([b, 1, 1, 1], -cfg.brightness, cfg.brightness)
    if cfg.contrast:
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * _uniform([b, 1, 1, 1], 1 - cfg.contrast, 1 + cfg.contrast) + mean
    if cfg.saturation:
        gray = tf.reduce_mean(x, axis=3, keepdims=True)
        x = (x - gray) * _uniform([b, 1, 1, 1], 1 - cfg.saturation, 1 + cfg.saturation) + gray
    x = tf.clip_by_value(x, 0.0, 255.0)
    if cfg.erase_prob:
        x = _random_erase(x, cfg, image_size)
    return x


def _random_erase(x: tf.Tensor, cfg: AugmentConfig, size: int) -> tf.Tensor:
    b = tf.shape(x)[0]
    area = _uniform([b], cfg.erase_area[0], cfg.erase_area[1])
    log_ratio = _uniform([b], np.log(0.3), np.log(3.3))
    h = tf.minimum(tf.sqrt(area * tf.exp(log_ratio)), 1.0)
    w = tf.minimum(tf.sqrt(area / tf.exp(log_ratio)), 1.0)
    y0 = _uniform([b], 0, 1) * (1 - h)
    x0 = _uniform([b], 0, 1) * (1 - w)
    grid = (tf.range(size, dtype=tf.float32) + 0.5) / size
    in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + h)[:, None])  # (B, size)
    in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + w)[:, None])
    on = _uniform([b], 0, 1) < cfg.erase_prob
    mask = in_y[:, :, None] & in_x[:, None, :] & on[:, None, None]
    noise = _uniform(tf.shape(x), 0, 255)
    return tf.where(mask[:, :, :, None], noise, x)


def normalise(x: tf.Tensor, mean: float, std: float) -> tf.Tensor:
    """0..255 pixels -> model input."""
    return (tf.cast(x, tf.float32) - mean) / std


def train_dataset(
    images: np.ndarray,
    labels: dict[str, np.ndarray],
    cfg: AugmentConfig,
    image_size: int,
    batch_size: int,
    mean: float,
    std: float,
    seed: int,
) -> tf.data.Dataset:
    """Endless shuffled, augmented batches (use with ``steps_per_epoch``)."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(
        lambda x, y: (normalise(augment_batch(x, cfg, image_size), mean, std), y),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)
