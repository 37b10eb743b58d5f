"""Real-camera augmentation (issue 21): roll, occlusion, colour casts and low light, in augment_batch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import tensorflow as tf

from facelog.training.augment import augment_batch, train_dataset
from facelog.training.camera import EYE_X, EYE_Y, light_batch, occlude_batch, roll_batch, roll_crop
from facelog.training.config import (
    AugmentConfig,
    CodecConfig,
    ConfigError,
    DegradeConfig,
    LightConfig,
    OccludeConfig,
    RollConfig,
    recipe_from_dict,
)


def _faces(n: int = 4, size: int = 48, seed: int = 0) -> tf.Tensor:
    """Smooth images with structure (a gradient plus a bright vertical bar right of centre)."""
    rng = np.random.default_rng(seed)
    g = np.linspace(0, 1, size, dtype=np.float32)
    base = 60 + 120 * g[None, :, None] + 20 * g[:, None, None]
    x = np.repeat(base[None], n, axis=0) + rng.uniform(-5, 5, (n, size, size, 3)).astype(np.float32)
    x[:, :, size // 2 + 4 : size // 2 + 8] = 250.0
    return tf.constant(np.clip(x, 0, 255).astype(np.float32))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, s: roll_batch(x, RollConfig(prob=1.0), seed=s)[0],
        lambda x, s: occlude_batch(x, OccludeConfig(prob=1.0), seed=s),
        lambda x, s: light_batch(x, LightConfig(cast_prob=1.0, dark_prob=1.0), seed=s),
    ],
    ids=["roll", "occlude", "light"],
)
def test_camera_ops_keep_shape_dtype_range_and_are_deterministic_with_a_seed(fn: Any) -> None:
    x = _faces()
    a, b, c = fn(x, 3).numpy(), fn(x, 3).numpy(), fn(x, 4).numpy()
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 255.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.allclose(a, x.numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: roll_batch(x, RollConfig(prob=0.0), seed=1)[0],
        lambda x: occlude_batch(x, OccludeConfig(prob=0.0), seed=1),
        lambda x: light_batch(x, LightConfig(), seed=1),
    ],
    ids=["roll", "occlude", "light"],
)
def test_camera_ops_at_prob_zero_are_identity(fn: Any) -> None:
    x = _faces()
    np.testing.assert_allclose(fn(x).numpy(), x.numpy(), atol=1e-4)


def test_camera_ops_accept_an_empty_batch_and_reject_a_wrong_rank() -> None:
    empty = tf.zeros([0, 32, 32, 3])
    assert roll_batch(empty, RollConfig(prob=1.0))[0].shape == (0, 32, 32, 3)
    assert occlude_batch(empty, OccludeConfig(prob=1.0)).shape == (0, 32, 32, 3)
    assert light_batch(empty, LightConfig(cast_prob=1.0, dark_prob=1.0)).shape == (0, 32, 32, 3)
    with pytest.raises(ValueError, match=r"images must be \(B, H, W, 3\)"):
        roll_batch(tf.zeros([32, 32, 3]), RollConfig(prob=1.0))


def test_roll_rotates_by_the_returned_angle() -> None:
    """A vertical bar right of the centre moves up or down by the sine of the angle."""
    x = _faces(8, 64)
    y, angle = roll_batch(x, RollConfig(prob=1.0, max_deg=45.0, center_jitter=0.0), seed=0)
    a = angle.numpy()
    assert np.all(np.abs(a) <= math.radians(45.0) + 1e-6) and np.any(np.abs(a) > math.radians(10))
    y = y.numpy()
    for i in np.flatnonzero(np.abs(a) > math.radians(15)):
        bright = y[i, :, :, 0] > 200
        rows, cols = np.nonzero(bright)
        slope = np.polyfit(rows, cols, 1)[0]  # columns per row of the tilted bar
        assert slope == pytest.approx(math.tan(a[i]), abs=0.15)  # y grows downwards


def test_roll_crop_grows_the_box_with_the_angle_only() -> None:
    angle = tf.constant([0.0, math.radians(45.0)] * 50)
    scale, dx, dy = (t.numpy() for t in roll_crop(angle, RollConfig(prob=1.0, crop_error=0.3), seed=0))
    assert np.all(scale[0::2] == 1.0) and np.all(dx[0::2] == 0.0) and np.all(dy[0::2] == 0.0)
    assert (
        np.all(scale[1::2] >= 1.0)
        and scale[1::2].max() > 1.1
        and scale[1::2].max() <= 1 + 0.3 * math.sin(math.pi / 4) + 1e-6
    )


@pytest.mark.parametrize(
    "kind, rows, cols",
    [
        ("glasses", (EYE_Y - 0.05, EYE_Y + 0.05), (EYE_X - 0.3, EYE_X + 0.3)),
        ("mask", (0.6, 0.8), (0.3, 0.7)),
        ("hair", (0.0, 0.15), (0.0, 1.0)),
    ],
)
def test_occluders_cover_their_part_of_the_face(
    kind: str, rows: tuple[float, float], cols: tuple[float, float]
) -> None:
    weights = {k: 1.0 if k == kind else 0.0 for k in ("glasses", "mask", "hand", "hair")}
    x = tf.fill([16, 64, 64, 3], 128.0)
    y = occlude_batch(x, OccludeConfig(prob=1.0, **weights), seed=2).numpy()
    changed = np.abs(y - 128.0).max(axis=3) > 8  # (B, H, W)
    r0, r1, c0, c1 = int(rows[0] * 64), int(rows[1] * 64), int(cols[0] * 64), int(cols[1] * 64)
    inside = changed[:, r0:r1, c0:c1].mean()
    assert inside > 0.2, f"{kind} covers only {inside:.2f} of its area"
    assert changed.mean() < 0.6  # a part of the face, not all of it


def test_light_cast_scales_channels_and_low_light_adds_noise() -> None:
    x = tf.fill([8, 32, 32, 3], 120.0)
    cast = light_batch(x, LightConfig(cast_prob=1.0, cast=(0.7, 1.3)), seed=0).numpy()
    per_channel = cast.mean(axis=(1, 2))  # (B, 3)
    assert np.all(cast.std(axis=(1, 2)) < 1e-2)  # a gain per channel, no noise
    assert np.all(per_channel.max(axis=1) - per_channel.min(axis=1) > 1.0)
    dark = light_batch(x, LightConfig(dark_prob=1.0), seed=0).numpy()
    assert np.all(dark.std(axis=(1, 2, 3)) > 2.0)  # amplified shot and read noise


def test_light_config_rejects_bad_ranges() -> None:
    with pytest.raises(ConfigError, match="dim"):
        recipe_from_dict({"augment": {"light": {"dark_prob": 0.5, "dim": [0.5, 1.5]}}})
    with pytest.raises(ConfigError, match="qp"):
        recipe_from_dict({"augment": {"codec": {"prob": 0.5, "qp": [30, 60]}}})
    with pytest.raises(ConfigError, match="occlude"):
        recipe_from_dict(
            {"augment": {"occlude": {"prob": 0.5, "glasses": 0, "mask": 0, "hand": 0, "hair": 0}}}
        )


def test_old_recipes_keep_their_hash() -> None:
    """New augmentation keys default to off and are left out of the hash (1.3.0's metadata names it)."""
    r = recipe_from_dict({"augment": {"degrade": {"prob": 0.5}}})
    assert r.augment.roll.prob == 0 and r.augment.codec.prob == 0
    assert (
        r.config_hash()
        == recipe_from_dict({"augment": {"degrade": {"prob": 0.5}, "roll": {"prob": 0.0}}}).config_hash()
    )


def test_augment_batch_swaps_in_codec_copies_and_skips_degrade_for_them() -> None:
    x = tf.fill([6, 40, 40, 3], 50.0)
    coded = tf.fill([6, 40, 40, 3], 200.0)
    plain = dict(
        flip=False, scale=(1.0, 1.0), shift=0.0, brightness=0.0, contrast=0.0, saturation=0.0, erase_prob=0.0
    )
    cfg = AugmentConfig(
        **plain,
        codec=CodecConfig(prob=1.0),
        degrade=DegradeConfig(prob=1.0, gamma_prob=1.0, gamma=(2.0, 2.0)),
    )
    y = augment_batch(x, cfg, 32, coded).numpy()
    assert y.shape == (6, 32, 32, 3)
    np.testing.assert_allclose(y, 200.0, atol=0.5)  # all coded, none gamma-shifted
    y0 = augment_batch(x, AugmentConfig(**plain, codec=CodecConfig(prob=0.0)), 32, coded).numpy()
    np.testing.assert_allclose(y0, 50.0, atol=0.5)


def test_train_dataset_carries_codec_copies() -> None:
    imgs = np.full((8, 40, 40, 3), 10, np.uint8)
    labels = {"age": np.zeros(8, np.float32)}
    cfg = AugmentConfig(
        flip=False,
        scale=(1.0, 1.0),
        shift=0.0,
        brightness=0.0,
        contrast=0.0,
        saturation=0.0,
        erase_prob=0.0,
        codec=CodecConfig(prob=1.0),
    )
    ds = train_dataset(imgs, labels, cfg, 32, 4, 0.0, 1.0, seed=0, codec_images=np.full_like(imgs, 90))
    x, _ = next(iter(ds))
    np.testing.assert_allclose(x.numpy(), 90.0, atol=0.5)
    with pytest.raises(ValueError, match="codec_images must match"):
        train_dataset(imgs, labels, cfg, 32, 4, 0.0, 1.0, seed=0, codec_images=imgs[:4])
