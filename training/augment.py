"""Batched, vectorised augmentation and ``tf.data`` pipelines over images preloaded in RAM.

Training images are cached at ``load_size`` (a little larger than the model input); each batch gets
a random crop box (scale and shift jitter, zoom-out allowed), horizontal flip, brightness/contrast/
saturation jitter and random erasing, then is resized to ``image_size``. A box of scale 1 and no
shift reproduces the validation framing (the whole face chip resized to the input size).

``degrade_batch`` (``augment.degrade``) makes a share of the faces look like CCTV crops: gamma,
Gaussian or motion blur, shrinking to 16-64 px, sensor noise and JPEG at the small size, then
bilinear enlargement back to the input size (what the pipeline does with a small detector crop).

What real cameras add (issue 21; ``training/camera.py``, ``training/h264.py``): a share of the images
swapped for their real H.264 copy (``codec``), occluders drawn on the aligned chip (``occlude``),
in-plane roll with the larger, off-centre crop box that comes with it (``roll``), and colour casts
and low light after the colour jitter (``light``). All are off unless a recipe sets them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from facelog.training.camera import light_batch, occlude_batch, roll_batch, roll_crop
from facelog.training.config import AugmentConfig, DegradeConfig

_FILL = 127.0  # grey for zoomed-out borders


def _uniform(shape: tf.TensorShape | list[int] | tf.Tensor, lo: float, hi: float) -> tf.Tensor:
    return tf.random.uniform(shape, lo, hi, dtype=tf.float32)


def augment_batch(
    images: tf.Tensor, cfg: AugmentConfig, image_size: int, codec_images: tf.Tensor | None = None
) -> tf.Tensor:
    """(B, S, S, 3) uint8 -> (B, image_size, image_size, 3) float32 in 0..255, augmented.

    ``codec_images``: the same faces after H.264 (``h264.Pool.images``), swapped in with
    ``cfg.codec.prob``; those skip ``degrade``.
    """
    x = tf.cast(images, tf.float32)
    b = tf.shape(x)[0]
    coded = tf.zeros([b], tf.bool)
    if codec_images is not None and cfg.codec.prob:
        coded = _uniform([b], 0, 1) < cfg.codec.prob
        x = tf.where(coded[:, None, None, None], tf.cast(codec_images, tf.float32), x)
    if cfg.occlude.prob:
        x = occlude_batch(x, cfg.occlude)
    s = _uniform([b], cfg.scale[0], cfg.scale[1])
    cy = 0.5 + _uniform([b], -cfg.shift, cfg.shift)
    cx = 0.5 + _uniform([b], -cfg.shift, cfg.shift)
    if cfg.roll.prob:
        x, angle = roll_batch(x, cfg.roll)
        grow, dx, dy = roll_crop(angle, cfg.roll)
        s, cx, cy = s * grow, cx + dx, cy + dy
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
    if cfg.light.cast_prob or cfg.light.dark_prob:
        x = light_batch(x, cfg.light)
    if cfg.degrade.prob:
        x = degrade_batch(x, cfg.degrade, image_size, skip=coded)
    if cfg.erase_prob:
        x = _random_erase(x, cfg, image_size)
    return x


_KERNEL = 7  # blur kernel side (px); the config caps sigma and motion length to fit it


def blur_kernels(sigma_px: tf.Tensor, motion_px: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """(B,) Gaussian sigmas, motion lengths and angles (radians) -> (B, 7, 7) kernels summing to 1.

    Per image: a Gaussian where ``sigma_px > 0``, else a line of ``motion_px`` where that is > 0,
    else the identity (a centred delta).
    """
    r = _KERNEL // 2
    grid = tf.range(-r, r + 1, dtype=tf.float32)
    v, u = tf.meshgrid(grid, grid, indexing="ij")  # v: rows (y), u: columns (x)
    u, v = u[None], v[None]
    sig = tf.maximum(sigma_px, 1e-3)[:, None, None]
    gauss = tf.exp(-(u * u + v * v) / (2.0 * sig * sig))
    c, s = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    along, across = u * c + v * s, -u * s + v * c
    half = (motion_px / 2.0)[:, None, None]
    line = tf.nn.relu(1.0 - tf.abs(across)) * tf.clip_by_value(half + 0.5 - tf.abs(along), 0.0, 1.0)
    delta = tf.cast((u == 0) & (v == 0), tf.float32) + tf.zeros_like(gauss)
    k = tf.where((sigma_px > 0)[:, None, None], gauss, tf.where((motion_px > 0)[:, None, None], line, delta))
    return k / tf.reduce_sum(k, axis=[1, 2], keepdims=True)


def apply_kernels(x: tf.Tensor, kernels: tf.Tensor) -> tf.Tensor:
    """Convolve image i of (B, H, W, C) ``x`` with kernel i of (B, k, k) (reflect padding), in one op."""
    b, h, w, ch = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2], x.shape[3]
    r = _KERNEL // 2
    xp = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    # images as channels: (1, H, W, B*C) with a (k, k, B*C, 1) depthwise kernel
    xc = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, h + 2 * r, w + 2 * r, b * ch])
    kc = tf.repeat(tf.transpose(kernels, [1, 2, 0])[:, :, :, None], ch, axis=3)  # (k, k, B, C)
    kc = tf.reshape(kc, [_KERNEL, _KERNEL, b * ch, 1])
    y = tf.nn.depthwise_conv2d(xc, kc, [1, 1, 1, 1], "VALID")
    return tf.transpose(tf.reshape(y, [h, w, b, ch]), [2, 0, 1, 3])


def _pick(on: tf.Tensor, p: float) -> tf.Tensor:
    return on & (_uniform(tf.shape(on), 0, 1) < p)


def degrade_batch(
    x: tf.Tensor, cfg: DegradeConfig, image_size: int, skip: tf.Tensor | None = None
) -> tf.Tensor:
    """(B, S, S, 3) float32 0..255 -> same shape, a random share degraded like CCTV face crops.

    ``skip``: (B,) bool, images left alone (already through a real codec).
    """
    b = tf.shape(x)[0]
    on = _uniform([b], 0, 1) < cfg.prob
    if skip is not None:
        on = on & ~skip
    gamma = tf.where(
        _pick(on, cfg.gamma_prob), tf.exp(_uniform([b], np.log(cfg.gamma[0]), np.log(cfg.gamma[1]))), 1.0
    )
    x = 255.0 * tf.pow(tf.maximum(x, 0.0) / 255.0, gamma[:, None, None, None])
    use_blur = _pick(on, cfg.blur_prob)
    sigma = tf.where(use_blur, _uniform([b], *cfg.blur_sigma_px), 0.0)
    motion = tf.where(_pick(on, cfg.motion_prob) & ~use_blur, _uniform([b], *cfg.motion_px), 0.0)
    angle = _uniform([b], 0.0, np.pi)
    x = apply_kernels(x, blur_kernels(sigma, motion, angle))
    lo, hi = cfg.resize_px
    side = tf.random.uniform([b], lo, hi + 1, dtype=tf.int32)
    side = tf.where(_pick(on, cfg.resize_prob), tf.minimum(side, image_size), image_size)
    quality = tf.random.uniform([b], cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, dtype=tf.int32)
    quality = tf.where(_pick(on, cfg.jpeg_prob), quality, 0)  # 0 = no JPEG
    noise = tf.where(_pick(on, cfg.noise_prob), _uniform([b], *cfg.noise_std), 0.0)

    def one(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        img, s, q, n = args
        small = tf.image.resize(img, tf.stack([s, s]), method="area")
        small = tf.clip_by_value(small + n * tf.random.normal(tf.shape(small)), 0.0, 255.0)
        small = tf.cond(q > 0, lambda: 255.0 * tf.image.adjust_jpeg_quality(small / 255.0, q), lambda: small)
        return tf.image.resize(small, [image_size, image_size], method="bilinear")

    y = tf.map_fn(one, (x, side, quality, noise), fn_output_signature=tf.float32)
    y = tf.ensure_shape(y, x.shape)
    return tf.clip_by_value(y, 0.0, 255.0)


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
    codec_images: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Endless shuffled, augmented batches (use with ``steps_per_epoch``).

    ``codec_images``: (n, S, S, 3) uint8 H.264 copies of ``images`` (same order), or None.
    """
    if codec_images is None:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        if codec_images.shape != images.shape:
            raise ValueError(f"codec_images must match images {images.shape}, got {codec_images.shape}")
        ds = tf.data.Dataset.from_tensor_slices(((images, codec_images), labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    if codec_images is None:
        ds = ds.map(
            lambda x, y: (normalise(augment_batch(x, cfg, image_size), mean, std), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        ds = ds.map(
            lambda xc, y: (normalise(augment_batch(xc[0], cfg, image_size, xc[1]), mean, std), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)
