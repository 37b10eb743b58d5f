"""Masked losses, config-driven heads, backbone loading/freezing, batched augmentation (TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from facelog.training.augment import augment_batch  # noqa: E402
from facelog.training.config import AugmentConfig, HeadConfig, ModelConfig  # noqa: E402
from facelog.training.losses import age_loss, categorical_loss  # noqa: E402
from facelog.training.model import build_model, trunk_of  # noqa: E402

SMALL = ModelConfig(stem_channels=8, widths=(8, 16), blocks=(1, 1), tower_units=8, dropout=0.0)
HEADS = (
    HeadConfig(name="age", kind="age"),
    HeadConfig(name="gender", kind="categorical", labels=("male", "female")),
    HeadConfig(name="emotion", kind="categorical", labels=("neutral", "happy", "sad")),
)


def test_categorical_loss_by_hand_and_masked() -> None:
    loss = categorical_loss(2, label_smoothing=0.05)
    p = tf.constant([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    per = loss(tf.constant([0, -1, 1]), p).numpy()
    row0 = -(0.975 * np.log(0.8) + 0.025 * np.log(0.2))
    row2 = -np.log(0.5)
    # the missing row counts zero; the others are scaled by 3/2 so the batch mean is their mean
    np.testing.assert_allclose(per, [row0 * 1.5, 0.0, row2 * 1.5], rtol=1e-5)
    assert float(np.mean(per)) == pytest.approx((row0 + row2) / 2, rel=1e-5)
    assert float(np.sum(loss(tf.constant([-1, -1, -1]), p).numpy())) == 0.0


def test_age_loss_matches_numpy_and_masks_nan() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(101), size=2).astype(np.float32)
    per = age_loss(101, sigma=2.5, l1_weight=0.1)(tf.constant([30.0, np.nan]), tf.constant(p)).numpy()
    ages = np.arange(101)
    t = np.exp(-((ages - 30) ** 2) / (2 * 2.5**2))
    t /= t.sum()
    want = -(t * np.log(p[0])).sum() + 0.1 * abs(p[0] @ ages - 30)
    np.testing.assert_allclose(per, [want * 2, 0.0], rtol=1e-4)


def test_gender_only_batch_leaves_age_head_untouched() -> None:
    model = build_model(SMALL, HEADS[:2], 16)
    x = tf.random.normal((4, 16, 16, 3))
    ages = tf.constant([np.nan] * 4, tf.float32)
    genders = tf.constant([0, 1, 1, 0])
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        total = tf.reduce_mean(age_loss(101, 2.5, 0.1)(ages, out["age"])) + tf.reduce_mean(
            categorical_loss(2, 0.0)(genders, out["gender"])
        )
    grads = dict(
        zip(
            [v.path for v in model.trainable_variables],
            tape.gradient(total, model.trainable_variables),
            strict=True,
        )
    )
    age_grads = [g for k, g in grads.items() if k.startswith("age_")]
    gender_grads = [g for k, g in grads.items() if k.startswith("gender_")]
    assert age_grads and all(float(tf.reduce_max(tf.abs(g))) == 0.0 for g in age_grads)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0.0 for g in gender_grads)


def test_heads_come_from_config() -> None:
    model = build_model(SMALL, HEADS, 16)
    out = model(np.zeros((2, 16, 16, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "age": (2, 101),
        "gender": (2, 2),
        "emotion": (2, 3),
    }
    np.testing.assert_allclose(np.sum(out["emotion"], axis=1), 1.0, rtol=1e-5)


def test_backbone_weights_load_and_freeze(tmp_path: Path) -> None:
    src = build_model(SMALL, HEADS[:2], 16)
    path = tmp_path / "trunk.weights.h5"
    trunk_of(src).save_weights(path)
    cfg = SMALL.model_copy(update={"backbone_weights": path, "freeze_stages": 1})
    model = build_model(cfg, HEADS[:2], 16)
    trunk = trunk_of(model)
    for a, b in zip(trunk_of(src).get_weights(), trunk.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    frozen = {lyr.name for lyr in trunk.layers if not lyr.trainable}
    assert "stem_conv" in frozen and "stage0_block0_a_conv" in frozen
    assert "stage1_block0_a_conv" not in frozen
    stem, stage1 = trunk.get_layer("stem_conv"), trunk.get_layer("stage1_block0_a_conv")
    before = [np.array(stem.kernel), np.array(stage1.kernel)]
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss={"age": age_loss(101, 2.5, 0.1), "gender": categorical_loss(2, 0.0)},
    )
    model.fit(
        np.random.rand(8, 16, 16, 3).astype(np.float32),
        {"age": np.full(8, 30.0, np.float32), "gender": np.zeros(8, np.int64)},
        epochs=1,
        verbose=0,
    )
    assert np.array_equal(before[0], np.array(stem.kernel))
    assert not np.array_equal(before[1], np.array(stage1.kernel))


def test_backbone_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="backbone weights not found"):
        build_model(SMALL.model_copy(update={"backbone_weights": tmp_path / "no.weights.h5"}), HEADS[:2], 16)
    other = ModelConfig(stem_channels=8, widths=(8, 32), blocks=(1, 1), tower_units=8)
    path = tmp_path / "other.weights.h5"
    trunk_of(build_model(other, HEADS[:2], 16)).save_weights(path)
    with pytest.raises(ValueError, match="do not fit the trunk"):
        build_model(SMALL.model_copy(update={"backbone_weights": path}), HEADS[:2], 16)


def test_augment_identity_and_ranges() -> None:
    img = np.random.default_rng(0).integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    none = AugmentConfig(
        flip=False, scale=(1.0, 1.0), shift=0.0, brightness=0, contrast=0, saturation=0, erase_prob=0
    )
    same = augment_batch(tf.constant(img), none, 20).numpy()
    np.testing.assert_allclose(same, img.astype(np.float32), atol=1e-3)
    out = augment_batch(tf.constant(img), AugmentConfig(erase_prob=1.0), 16).numpy()
    assert out.shape == (3, 16, 16, 3) and out.min() >= 0.0 and out.max() <= 255.0
