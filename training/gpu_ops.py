"""The parts of ``gpu_train`` that run on the device, in ``keras.ops`` (any Keras 3 backend).

``Augment``: crop box, flip, colour jitter and random erasing of uint8 chips, as a layer in front of
the network. ``head_loss``: ``losses.head_loss`` with masked labels and optional distillation.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from facelog.training.config import AugmentConfig, HeadConfig

_EPS = 1e-7
_FILL = 127.0


def _interp(lo: Any, hi: Any, src: int, out: int) -> tuple[Any, Any]:
    """Bilinear weights (B, out, src) of ``tf.image.crop_and_resize`` along one axis, box [lo, hi] in
    0..1 (hi < lo mirrors), and the (B, out) mask of samples inside the image."""
    i = ops.arange(out, dtype="float32")
    pos = lo[:, None] * (src - 1) + i[None, :] * ((hi - lo) * (src - 1) / (out - 1))[:, None]
    inside = ops.cast((pos > -1e-3) & (pos < src - 1 + 1e-3), "float32")  # tolerance: float rounding
    pos = ops.clip(pos, 0.0, src - 1.0)
    j = ops.arange(src, dtype="float32")
    w = ops.relu(1.0 - ops.abs(pos[:, :, None] - j[None, None, :])) * inside[:, :, None]
    return w, inside


class Augment(keras.layers.Layer):
    """(B, S, S, 3) uint8 -> (B, out_px, out_px, 3) float32 model input: random crop box (scale, shift,
    grey outside the image), flip, brightness/contrast/saturation, random erasing, normalisation."""

    def __init__(self, cfg: AugmentConfig, out_px: int, mean: float, std: float, seed: int, **kw: Any):
        super().__init__(dtype="float32", **kw)
        self.cfg, self.out_px, self.mean, self.std = cfg, out_px, mean, std
        self.seeds = keras.random.SeedGenerator(seed)

    def _u(self, shape: tuple[int, ...], lo: float, hi: float) -> Any:
        return keras.random.uniform(shape, lo, hi, seed=self.seeds)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.out_px, self.out_px, 3)

    def call(self, images: Any) -> Any:
        c, size = self.cfg, self.out_px
        x = ops.cast(images, "float32")
        b, src = ops.shape(x)[0], x.shape[1]
        s = self._u((b,), *c.scale)
        cy, cx = 0.5 + self._u((b,), -c.shift, c.shift), 0.5 + self._u((b,), -c.shift, c.shift)
        flip = self._u((b,), 0.0, 1.0) < (0.5 if c.flip else 0.0)
        x0, x1 = cx - s / 2, cx + s / 2
        wy, my = _interp(cy - s / 2, cy + s / 2, src, size)
        wx, mx = _interp(ops.where(flip, x1, x0), ops.where(flip, x0, x1), src, size)
        y = ops.einsum("bjt,bitc->bijc", wx, ops.einsum("bis,bstc->bitc", wy, x))
        y = y + _FILL * (1.0 - my[:, :, None, None] * mx[:, None, :, None])
        y = y + 255.0 * self._u((b, 1, 1, 1), -c.brightness, c.brightness)
        m = ops.mean(y, axis=(1, 2, 3), keepdims=True)
        y = (y - m) * self._u((b, 1, 1, 1), 1 - c.contrast, 1 + c.contrast) + m
        g = ops.mean(y, axis=3, keepdims=True)
        y = ops.clip((y - g) * self._u((b, 1, 1, 1), 1 - c.saturation, 1 + c.saturation) + g, 0.0, 255.0)
        if c.erase_prob:
            area, ratio = self._u((b,), *c.erase_area), ops.exp(self._u((b,), np.log(0.3), np.log(3.3)))
            h, w = ops.minimum(ops.sqrt(area * ratio), 1.0), ops.minimum(ops.sqrt(area / ratio), 1.0)
            ey, ex = self._u((b,), 0.0, 1.0) * (1 - h), self._u((b,), 0.0, 1.0) * (1 - w)
            grid = (ops.arange(size, dtype="float32") + 0.5) / size
            in_y = (grid[None] >= ey[:, None]) & (grid[None] < (ey + h)[:, None])
            in_x = (grid[None] >= ex[:, None]) & (grid[None] < (ex + w)[:, None])
            on = self._u((b,), 0.0, 1.0) < c.erase_prob
            mask = in_y[:, :, None] & in_x[:, None, :] & on[:, None, None]
            y = ops.where(mask[..., None], self._u((b, size, size, 3), 0.0, 255.0), y)
        return (y - self.mean) / self.std


def _rescale(per_sample: Any, valid: Any) -> Any:
    m = ops.cast(valid, "float32")
    return per_sample * m * (ops.cast(ops.shape(m)[0], "float32") / ops.maximum(ops.sum(m), 1.0))


def head_loss(head: HeadConfig, distill_weight: float) -> Any:
    """``losses.head_loss`` in ``keras.ops`` (age NaN / class -1 = masked). With ``distill_weight`` > 0
    the labels are packed (``distill.pack_labels``): (1 - w) * hard loss + w * CE to the teacher."""
    n = head.n_classes
    classes = ops.arange(n, dtype="float32")

    def hard(y: Any, p: Any) -> Any:
        if head.kind == "age":
            valid = ops.logical_not(ops.isnan(y))
            y0 = ops.where(valid, y, 0.0)
            target = ops.exp(-ops.square(classes[None, :] - y0[:, None]) / (2.0 * head.sigma**2))
            target = target / ops.sum(target, axis=-1, keepdims=True)
            ce = -ops.sum(target * ops.log(p), axis=-1)
            return _rescale(ce + head.l1_weight * ops.abs(ops.sum(p * classes, axis=-1) - y0), valid)
        valid = y >= 0
        onehot = ops.one_hot(ops.cast(ops.maximum(y, 0), "int32"), n)
        onehot = onehot * (1.0 - head.label_smoothing) + head.label_smoothing / n
        return _rescale(-ops.sum(onehot * ops.log(p), axis=-1), valid)

    def loss(y_true: Any, y_pred: Any) -> Any:
        y_true = ops.cast(y_true, "float32")
        p = ops.clip(ops.cast(y_pred, "float32"), _EPS, 1.0)
        out = hard(y_true[:, 0], p)
        if distill_weight:
            out = (1.0 - distill_weight) * out - distill_weight * ops.sum(y_true[:, 1:] * ops.log(p), axis=-1)
        return out

    loss.__name__ = f"{head.name}_loss"
    return loss
