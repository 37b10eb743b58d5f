"""Masked losses and metrics (TensorFlow). A missing label (age NaN, class -1) contributes nothing.

Each loss returns a per-sample vector rescaled by ``batch / n_valid`` so Keras' batch mean equals
the mean over the labelled samples only.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from facelog.training.config import HeadConfig

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
_EPS = 1e-7


def _rescale(per_sample: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    m = tf.cast(valid, tf.float32)
    n = tf.cast(tf.shape(m)[0], tf.float32)
    return per_sample * m * (n / tf.maximum(tf.reduce_sum(m), 1.0))


def _age_parts(
    y_true: tf.Tensor, y_pred: tf.Tensor, n: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    y = tf.reshape(tf.cast(y_true, tf.float32), [-1])
    valid = tf.logical_not(tf.math.is_nan(y))
    y0 = tf.where(valid, y, 0.0)
    p = tf.cast(y_pred, tf.float32)
    expected = tf.reduce_sum(p * tf.range(n, dtype=tf.float32), axis=-1)
    return y0, valid, p, expected


def age_loss(n: int, sigma: float, l1_weight: float) -> LossFn:
    """Cross-entropy to a Gaussian label distribution (width ``sigma`` years) + L1 on the expected age."""
    ages = tf.range(n, dtype=tf.float32)

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y0, valid, p, expected = _age_parts(y_true, y_pred, n)
        target = tf.exp(-tf.square(ages[None, :] - y0[:, None]) / (2.0 * sigma * sigma))
        target = target / tf.reduce_sum(target, axis=-1, keepdims=True)
        ce = -tf.reduce_sum(target * tf.math.log(tf.clip_by_value(p, _EPS, 1.0)), axis=-1)
        return _rescale(ce + l1_weight * tf.abs(expected - y0), valid)

    loss.__name__ = "age_ldl"
    return loss


def categorical_loss(n: int, label_smoothing: float) -> LossFn:
    """Cross-entropy with label smoothing over ``n`` classes; class -1 = missing."""

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y = tf.reshape(tf.cast(y_true, tf.int64), [-1])
        valid = y >= 0
        onehot = tf.one_hot(tf.maximum(y, 0), n) * (1.0 - label_smoothing) + label_smoothing / n
        p = tf.clip_by_value(tf.cast(y_pred, tf.float32), _EPS, 1.0)
        return _rescale(-tf.reduce_sum(onehot * tf.math.log(p), axis=-1), valid)

    loss.__name__ = "ce"
    return loss


def age_mae_metric(n: int) -> LossFn:
    """Masked MAE of the expected age (batch-weighted mean over labelled samples)."""

    def mae(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y0, valid, _, expected = _age_parts(y_true, y_pred, n)
        return _rescale(tf.abs(expected - y0), valid)

    mae.__name__ = "mae"
    return mae


def accuracy_metric() -> LossFn:
    """Masked top-1 accuracy; class -1 = missing."""

    def acc(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y = tf.reshape(tf.cast(y_true, tf.int64), [-1])
        hit = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), y), tf.float32)
        return _rescale(hit, y >= 0)

    acc.__name__ = "acc"
    return acc


def head_loss(head: HeadConfig) -> LossFn:
    """The loss for one head per its config."""
    if head.kind == "age":
        return age_loss(head.n_classes, head.sigma, head.l1_weight)
    return categorical_loss(head.n_classes, head.label_smoothing)


def head_metric(head: HeadConfig) -> LossFn:
    """The training metric shown for one head."""
    return age_mae_metric(head.n_classes) if head.kind == "age" else accuracy_metric()
