"""What real cameras show and UTKFace chips lack: roll, occlusion, colour casts and low light.

Batched TensorFlow ops on float32 0..255 images, used by ``augment.augment_batch`` (issue 21):

- ``roll_batch``: in-plane rotation (+-45 degrees) about a jittered centre, on the cached chip
  before the crop, plus the larger, off-centre crop box a rolled face gets (``roll_crop``).
- ``occlude_batch``: glasses, masks, hand-like blobs or hair, drawn at UTKFace's eye and mouth
  positions before the crop (so they roll and shift with the face).
- ``light_batch``: per-channel white-balance gains, and low light (dim, quantise, shot and read
  noise, then the camera's gain back up: amplified noise and banding).

Each takes an optional ``seed`` (stateless random ops: the same seed gives the same images) so tests
can check determinism; training passes none.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from facelog.training.config import LightConfig, OccludeConfig, RollConfig

# UTKFace "aligned & cropped" chips (pipeline/crop.py YUNET_FRAMING: eye midpoint, eye distance)
EYE_X, EYE_Y, EYE_DIST = 0.485, 0.292, 1 / 2.46
MOUTH_Y = 0.62  # mouth centre, fraction of the side (eye-to-mouth about 0.8 eye distances below)


class _Rng:
    """Uniform draws from ``tf.random`` (seed None) or stateless ops on a counter (seeded)."""

    def __init__(self, seed: int | None) -> None:
        self.seed, self.n = seed, 0

    def uniform(self, shape: tf.Tensor | list[int], lo: float = 0.0, hi: float = 1.0) -> tf.Tensor:
        if self.seed is None:
            return tf.random.uniform(shape, lo, hi, dtype=tf.float32)
        self.n += 1
        return tf.random.stateless_uniform(shape, [self.seed, self.n], lo, hi, dtype=tf.float32)

    def normal(self, shape: tf.Tensor | list[int]) -> tf.Tensor:
        if self.seed is None:
            return tf.random.normal(shape, dtype=tf.float32)
        self.n += 1
        return tf.random.stateless_normal(shape, [self.seed, self.n], dtype=tf.float32)


def _check(x: tf.Tensor) -> tf.Tensor:
    if x.shape.rank != 4 or (x.shape[3] is not None and x.shape[3] != 3):
        raise ValueError(f"images must be (B, H, W, 3), got {x.shape}")
    return tf.cast(x, tf.float32)


def roll_batch(x: tf.Tensor, cfg: RollConfig, seed: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """(B, S, S, 3) -> (same shape rolled, (B,) angles in radians; 0 where not rolled).

    Borders repeat the edge pixels (the pipeline's crop uses ``BORDER_REPLICATE``).
    """
    x = _check(x)
    rng = _Rng(seed)
    b, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    on = rng.uniform([b]) < cfg.prob
    angle = tf.where(on, rng.uniform([b], -1.0, 1.0) * math.radians(cfg.max_deg), 0.0)
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    cx = (0.5 + rng.uniform([b], -cfg.center_jitter, cfg.center_jitter)) * wf
    cy = (0.5 + rng.uniform([b], -cfg.center_jitter, cfg.center_jitter)) * hf
    c, s = tf.cos(angle), tf.sin(angle)
    # output (x', y') samples input (a0 x' + a1 y' + a2, b0 x' + b1 y' + b2): rotation about (cx, cy)
    zeros = tf.zeros_like(c)
    transform = tf.stack([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, zeros, zeros], axis=1)
    y = tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transform,
        output_shape=tf.stack([h, w]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return tf.where(on[:, None, None, None], y, x), angle


def roll_crop(
    angle: tf.Tensor, cfg: RollConfig, seed: int | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Crop-box error of rolled faces: (B,) scale factors >= 1, x, y shifts (side fractions)."""
    rng = _Rng(None if seed is None else seed + 7919)
    b = tf.shape(angle)[0]
    err = cfg.crop_error * tf.abs(tf.sin(angle))
    scale = 1.0 + err * rng.uniform([b])
    dx = 0.5 * err * rng.uniform([b], -1.0, 1.0)
    dy = 0.5 * err * rng.uniform([b], -1.0, 1.0)
    return scale, dx, dy


def _ellipse(
    u: tf.Tensor, v: tf.Tensor, cx: tf.Tensor, cy: tf.Tensor, rx: tf.Tensor, ry: tf.Tensor
) -> tf.Tensor:
    """(B, S, S) soft-edged ellipse masks; u, v: (1, S, S) pixel-centre coordinates in 0..1."""
    d = ((u - cx[:, None, None]) / rx[:, None, None]) ** 2 + (
        (v - cy[:, None, None]) / ry[:, None, None]
    ) ** 2
    return tf.clip_by_value((1.0 - d) * 8.0, 0.0, 1.0)


def occlusion_masks(kind: tf.Tensor, size: int, rng: _Rng) -> tuple[tf.Tensor, tf.Tensor]:
    """(B,) kinds (0 none, 1 glasses, 2 mask, 3 hand, 4 hair) -> (B, S, S) alpha, (B, 3) colour (-1: skin)."""
    b = tf.shape(kind)[0]
    g = (tf.range(size, dtype=tf.float32) + 0.5) / size
    v, u = tf.meshgrid(g, g, indexing="ij")
    u, v = u[None], v[None]
    jx, jy = rng.uniform([b], -0.03, 0.03), rng.uniform([b], -0.03, 0.03)
    ex, ey = EYE_X + jx, EYE_Y + jy
    half = 0.5 * EYE_DIST
    # glasses: two lens rims (ring = outer ellipse minus inner) and a bridge; dark lenses sometimes
    lr = EYE_DIST * rng.uniform([b], 0.38, 0.5)
    lry = lr * rng.uniform([b], 0.65, 0.9)
    rim = rng.uniform([b], 0.07, 0.14)
    lens = tf.zeros_like(u) + 0.0
    ring = tf.zeros_like(u) + 0.0
    for side in (-1.0, 1.0):
        outer = _ellipse(u, v, ex + side * half, ey, lr, lry)
        inner = _ellipse(u, v, ex + side * half, ey, lr * (1 - rim), lry * (1 - rim))
        ring, lens = tf.maximum(ring, outer - inner), tf.maximum(lens, inner)
    bridge = tf.cast(
        (tf.abs(u - ex[:, None, None]) < (half - lr * 0.8)[:, None, None])
        & (tf.abs(v - (ey - 0.2 * lry)[:, None, None]) < (0.6 * rim * lry)[:, None, None]),
        tf.float32,
    )
    dark = tf.cast(rng.uniform([b]) < 0.3, tf.float32)[:, None, None]
    glasses = tf.maximum(tf.maximum(ring, bridge), lens * dark * rng.uniform([b], 0.6, 0.95)[:, None, None])
    # mask: a wide ellipse from below the nose to the chin, cut flat at the top
    my = MOUTH_Y + jy + rng.uniform([b], 0.0, 0.05)
    mask = _ellipse(u, v, ex, my, EYE_DIST * rng.uniform([b], 0.95, 1.2), rng.uniform([b], 0.17, 0.24))
    mask = mask * tf.cast(v > (my - 0.12)[:, None, None], tf.float32)
    # hand: a large blob over the mouth, a cheek or an eye
    hx, hy = rng.uniform([b], 0.2, 0.8), rng.uniform([b], 0.3, 0.8)
    hand = _ellipse(u, v, hx, hy, rng.uniform([b], 0.12, 0.25), rng.uniform([b], 0.15, 0.3))
    # hair: a fringe over the forehead down to the brows, and a lock down one side
    fringe_y = ey - rng.uniform([b], 0.02, 0.09)
    wave = 0.02 * tf.sin(u * rng.uniform([b], 20.0, 40.0)[:, None, None])
    fringe = tf.cast(v < fringe_y[:, None, None] + wave, tf.float32)
    left = tf.cast(rng.uniform([b]) < 0.5, tf.float32)[:, None, None]
    lock_x = rng.uniform([b], 0.15, 0.3)[:, None, None]
    lock = left * tf.cast(u < lock_x, tf.float32) + (1 - left) * tf.cast(u > 1 - lock_x, tf.float32)
    hair = tf.maximum(fringe, lock * tf.cast(rng.uniform([b]) < 0.6, tf.float32)[:, None, None])
    masks = tf.stack([tf.zeros_like(glasses), glasses, mask, hand, hair], axis=1)  # (B, 5, S, S)
    alpha = tf.gather(masks, kind, axis=1, batch_dims=1)
    # colours: dark frames, white/blue/black masks, skin (-1: filled from the face), dark hair
    frame_c = rng.uniform([b, 1], 0.0, 60.0) * tf.ones([1, 3])
    mask_c = tf.gather(
        tf.constant([[235.0, 235.0, 235.0], [120.0, 170.0, 210.0], [30.0, 30.0, 30.0]]),
        tf.cast(rng.uniform([b], 0, 3), tf.int32),
    )  # RGB: white, surgical blue, black
    hair_c = tf.stack([rng.uniform([b], 10, 90)] * 3, axis=1) * tf.constant([[1.0, 0.8, 0.6]])
    colours = tf.stack([frame_c, frame_c, mask_c, -tf.ones([b, 3]), hair_c], axis=1)
    return alpha, tf.gather(colours, kind, axis=1, batch_dims=1)


def occlude_batch(x: tf.Tensor, cfg: OccludeConfig, seed: int | None = None) -> tf.Tensor:
    """(B, S, S, 3) RGB 0..255 aligned chips -> same shape; a share ``cfg.prob`` gets one occluder."""
    x = _check(x)
    if x.shape[1] is None:
        raise ValueError("occlude_batch needs a static image size")
    rng = _Rng(seed)
    b = tf.shape(x)[0]
    weights = np.array([cfg.glasses, cfg.mask, cfg.hand, cfg.hair], np.float64)
    cum = tf.constant(np.cumsum(weights / max(weights.sum(), 1e-9)), tf.float32)
    pick = 1 + tf.minimum(
        tf.reduce_sum(tf.cast(rng.uniform([b])[:, None] >= cum[None, :-1], tf.int32), axis=1), 3
    )
    kind = tf.where(rng.uniform([b]) < cfg.prob, pick, 0)
    alpha, colour = occlusion_masks(kind, int(x.shape[1]), rng)
    skin = tf.reduce_mean(x[:, int(x.shape[1] * 0.45) : int(x.shape[1] * 0.6), :, :], axis=[1, 2])  # cheeks
    colour = tf.where(colour < 0, skin * rng.uniform([b, 1], 0.85, 1.15), colour)
    shade = 1.0 + 0.05 * rng.normal(tf.shape(alpha))[..., None]  # a little texture
    fill = colour[:, None, None, :] * shade
    a = alpha[..., None]
    return tf.clip_by_value(x * (1 - a) + fill * a, 0.0, 255.0)


def light_batch(x: tf.Tensor, cfg: LightConfig, seed: int | None = None) -> tf.Tensor:
    """(B, S, S, 3) 0..255 -> same shape with colour casts and low light (each with its probability)."""
    x = _check(x)
    rng = _Rng(seed)
    b = tf.shape(x)[0]
    cast_on = rng.uniform([b, 1, 1, 1]) < cfg.cast_prob
    gains = tf.exp(rng.uniform([b, 1, 1, 3], math.log(cfg.cast[0]), math.log(cfg.cast[1])))
    x = tf.where(cast_on, tf.clip_by_value(x * gains, 0.0, 255.0), x)
    dark_on = rng.uniform([b, 1, 1, 1]) < cfg.dark_prob
    dim = rng.uniform([b, 1, 1, 1], cfg.dim[0], cfg.dim[1])
    shot = rng.uniform([b, 1, 1, 1], cfg.shot[0], cfg.shot[1])
    read = rng.uniform([b, 1, 1, 1], cfg.read_std[0], cfg.read_std[1])
    low = x * dim
    noisy = low + rng.normal(tf.shape(x)) * tf.sqrt(shot * shot * low + read * read)
    noisy = tf.round(tf.clip_by_value(noisy, 0.0, 255.0))  # the sensor's 8 bits at the dark level
    gain = rng.uniform([b, 1, 1, 1], 0.6, 1.0) / dim  # auto-gain brings most of the level back
    return tf.where(dark_on, tf.clip_by_value(noisy * gain, 0.0, 255.0), x)
