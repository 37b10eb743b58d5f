"""Degradation-aware augmentation (TF ops): blur kernels, per-image convolution, CCTV-like batches."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import tensorflow as tf

from facelog.training.augment import apply_kernels, augment_batch, blur_kernels, degrade_batch, train_dataset
from facelog.training.config import AugmentConfig, ConfigError, DegradeConfig, recipe_from_dict

OFF = dict(resize_prob=0.0, blur_prob=0.0, motion_prob=0.0, jpeg_prob=0.0, noise_prob=0.0, gamma_prob=0.0)


def _noise_images(n: int = 4, size: int = 32, seed: int = 0) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32))


def _detail(x: np.ndarray) -> float:
    """Mean absolute difference of horizontal neighbours: high for noise, low after blur or shrink."""
    return float(np.mean(np.abs(np.diff(x, axis=2))))


def test_blur_kernels_sum_to_one_and_pick_their_kind() -> None:
    k = blur_kernels(tf.constant([0.0, 1.0, 0.0]), tf.constant([0.0, 0.0, 5.0]), tf.constant([0.0, 0.0, 0.0]))
    k = k.numpy()
    assert k.shape == (3, 7, 7)
    np.testing.assert_allclose(k.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    assert k[0, 3, 3] == pytest.approx(1.0)  # identity
    np.testing.assert_allclose(k[1], k[1].T, atol=1e-6)  # Gaussian: symmetric
    assert k[1, 3, 3] < 0.5
    assert np.all(k[2, [0, 1, 2, 4, 5, 6], :] == 0)  # angle 0: a horizontal line in the centre row
    assert np.count_nonzero(k[2, 3]) >= 5


def test_apply_kernels_is_per_image() -> None:
    x = _noise_images(2)
    k = blur_kernels(tf.constant([0.0, 1.5]), tf.constant([0.0, 0.0]), tf.constant([0.0, 0.0]))
    y = apply_kernels(x, k).numpy()
    assert y.shape == x.shape
    np.testing.assert_allclose(y[0], x.numpy()[0], atol=1e-3)  # identity kernel leaves image 0 alone
    assert _detail(y[1]) < 0.5 * _detail(x.numpy()[1])


def test_degrade_prob_zero_is_identity() -> None:
    x = _noise_images()
    y = degrade_batch(x, DegradeConfig(prob=0.0), 32).numpy()
    np.testing.assert_allclose(y, x.numpy(), atol=1e-2)


def test_degrade_shrink_removes_detail_and_keeps_shape_and_range() -> None:
    x = _noise_images()
    cfg = DegradeConfig(prob=1.0, **{**OFF, "resize_prob": 1.0}, resize_px=(8, 8))
    y = degrade_batch(x, cfg, 32).numpy()
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 255
    assert _detail(y) < 0.3 * _detail(x.numpy())


def test_degrade_jpeg_and_noise_change_pixels() -> None:
    x = _noise_images()
    jpeg = degrade_batch(x, DegradeConfig(prob=1.0, **{**OFF, "jpeg_prob": 1.0}, jpeg_quality=(10, 10)), 32)
    noisy = degrade_batch(x, DegradeConfig(prob=1.0, **{**OFF, "noise_prob": 1.0}, noise_std=(20, 20)), 32)
    assert float(tf.reduce_mean(tf.abs(jpeg - x))) > 5.0
    diff = (noisy - x).numpy()
    assert 10 < diff.std() < 30


def test_train_dataset_with_degradation_yields_model_input() -> None:
    imgs = np.random.default_rng(1).integers(0, 255, (8, 36, 36, 3), dtype=np.uint8)
    labels = {"age": np.arange(8, dtype=np.float32)}
    cfg = AugmentConfig(degrade=DegradeConfig(prob=1.0))
    x, y = next(iter(train_dataset(imgs, labels, cfg, 32, 4, 127.5, 127.5, seed=0)))
    assert x.shape == (4, 32, 32, 3) and x.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(x))) <= 1.0 + 1e-6
    assert y["age"].shape == (4,)


def test_augment_batch_runs_degradation_in_graph() -> None:
    f = tf.function(lambda im: augment_batch(im, AugmentConfig(degrade=DegradeConfig(prob=0.5)), 32))
    out = f(tf.constant(np.zeros((3, 36, 36, 3), np.uint8)))
    assert out.shape == (3, 32, 32, 3)


@pytest.mark.parametrize(
    "degrade, match",
    [
        ({"jpeg_quality": [0, 50]}, "jpeg_quality"),
        ({"resize_px": [40, 20]}, "resize_px"),
        ({"motion_px": [2, 9]}, "motion_px"),
        ({"prob": 1.5}, "prob"),
        ({"probb": 0.5}, "did you mean 'prob'"),
    ],
    ids=["jpeg-range", "resize-order", "motion-too-long", "prob>1", "typo"],
)
def test_degrade_config_rejects_bad_values(degrade: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        recipe_from_dict({"augment": {"degrade": degrade}})
