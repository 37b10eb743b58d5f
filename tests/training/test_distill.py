"""Teacher targets (file round trip, alignment), label packing, distillation loss, weight averaging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facelog.engines.base import HeadMeta, ModelMeta
from facelog.training.distill import (
    DistillError,
    pack_labels,
    read_targets,
    teacher_probs,
    write_targets,
)


def _probs(n: int, k: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).uniform(0.1, 1, (n, k)).astype(np.float32)
    return p / p.sum(1, keepdims=True)


def test_targets_round_trip_in_requested_order(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    age, gender = _probs(3, 101, 0), _probs(3, 2, 1)
    write_targets(path, ["a.jpg", "b.jpg", "c.jpg"], {"age": age, "gender": gender})
    got = read_targets(path, ["c.jpg", "a.jpg"], ["age", "gender"])
    np.testing.assert_array_equal(got["age"], age[[2, 0]])
    np.testing.assert_array_equal(got["gender"], gender[[2, 0]])


@pytest.mark.parametrize(
    "names, heads, match",
    [
        (["a.jpg", "zzz.jpg"], ["age"], "1 training faces have no target, e.g. 'zzz.jpg'"),
        (["a.jpg"], ["race"], "no targets for head 'race'"),
    ],
    ids=["missing-face", "missing-head"],
)
def test_read_targets_refuses_gaps(tmp_path: Path, names: list[str], heads: list[str], match: str) -> None:
    path = tmp_path / "t.npz"
    write_targets(path, ["a.jpg"], {"age": _probs(1, 101, 0)})
    with pytest.raises(DistillError, match=match):
        read_targets(path, names, heads)


def test_read_targets_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DistillError, match="not found"):
        read_targets(tmp_path / "nope.npz", ["a"], ["age"])


def test_pack_labels_puts_the_hard_label_first() -> None:
    packed = pack_labels(
        {"age": np.array([30.0, np.nan], np.float32), "gender": np.array([1, -1])},
        {"age": _probs(2, 101, 0), "gender": _probs(2, 2, 1)},
    )
    assert packed["age"].shape == (2, 102) and packed["gender"].shape == (2, 3)
    assert packed["age"][0, 0] == 30.0 and np.isnan(packed["age"][1, 0])
    assert packed["gender"][:, 0].tolist() == [1.0, -1.0]
    with pytest.raises(DistillError, match="3 targets for 2 labels"):
        pack_labels({"gender": np.array([0, 1])}, {"gender": _probs(3, 2, 0)})


class _FakeBackend:
    """Returns the mean pixel of the left half as P(female): a mirror image changes the answer."""

    def __init__(self) -> None:
        self.meta = ModelMeta(
            name="t",
            version="0",
            input_name="input",
            input_hw=(4, 4),
            layout="NHWC",
            max_batch=0,
            outputs=("gender",),
            mean=0.0,
            std=1.0,
            heads=(HeadMeta(name="gender", kind="categorical", labels=("male", "female")),),
        )
        self.calls = 0
        self.closed = False

    def infer(self, x: np.ndarray) -> dict[str, Any]:
        self.calls += 1
        f = x[:, :, :2].mean(axis=(1, 2, 3))
        return {"gender": np.stack([1 - f, f], axis=1)}

    def close(self) -> None:
        self.closed = True


def test_teacher_probs_flip_averages_and_closes() -> None:
    img = np.zeros((1, 4, 4, 3), np.uint8)
    img[:, :, :2] = 1  # left half 1, right half 0
    be = _FakeBackend()
    plain = teacher_probs(be, img, flip=False)["gender"]
    be2 = _FakeBackend()
    flipped = teacher_probs(be2, img, flip=True)["gender"]
    assert plain[0, 1] == pytest.approx(1.0)
    assert flipped[0, 1] == pytest.approx(0.5)  # (1 + 0) / 2
    assert be.closed and be2.calls == 2


def test_teacher_probs_rejects_wrong_size() -> None:
    be = _FakeBackend()
    with pytest.raises(DistillError, match=r"faces must be \(4, 4\)"):
        teacher_probs(be, np.zeros((1, 8, 8, 3), np.uint8), flip=False)


def test_distill_loss_blends_hard_and_soft() -> None:
    tf = pytest.importorskip("tensorflow")
    from facelog.training.config import HeadConfig
    from facelog.training.distill import distill_loss, hard_part
    from facelog.training.losses import accuracy_metric, head_loss

    head = HeadConfig(name="gender", kind="categorical", labels=("male", "female"))
    hard = head_loss(head)
    y = np.array([0.0, 1.0], np.float32)
    soft = np.array([[0.8, 0.2], [0.3, 0.7]], np.float32)
    pred = tf.constant([[0.6, 0.4], [0.1, 0.9]])
    packed = tf.constant(np.concatenate([y[:, None], soft], axis=1))
    h = hard(tf.constant(y), pred).numpy()
    s = -(soft * np.log(pred.numpy())).sum(1)
    np.testing.assert_allclose(distill_loss(hard, 0.0)(packed, pred).numpy(), h, rtol=1e-5)
    np.testing.assert_allclose(distill_loss(hard, 1.0)(packed, pred).numpy(), s, rtol=1e-5)
    np.testing.assert_allclose(distill_loss(hard, 0.25)(packed, pred).numpy(), 0.75 * h + 0.25 * s, rtol=1e-5)
    assert hard_part(accuracy_metric())(packed, pred).numpy().tolist() == [1.0, 1.0]


def test_weight_average_tracks_and_restores(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from facelog.training.averaging import WeightAverage

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    avg = WeightAverage(decay=0.5, every=1, start_epoch=0, state_path=tmp_path / "ema.npz")
    avg.set_model(model)
    model.set_weights([np.zeros((2, 1), np.float32)])
    avg.on_train_batch_end(0)  # first update copies
    model.set_weights([np.ones((2, 1), np.float32)])
    avg.on_train_batch_end(1)  # 0.5 * 0 + 0.5 * 1
    scores = avg.evaluate_and_save(
        lambda: {"w": float(model.get_weights()[0][0, 0])}, tmp_path / "e.weights.h5"
    )
    assert scores == {"w": 0.5}
    assert model.get_weights()[0][0, 0] == 1.0  # live weights restored
    assert (tmp_path / "e.weights.h5").is_file() and (tmp_path / "ema.npz").is_file()
    fresh = WeightAverage(decay=0.5, every=1, start_epoch=0, state_path=tmp_path / "ema.npz")
    fresh.load()
    assert fresh.avg is not None and fresh.avg[0][0, 0] == 0.5
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(decay=1.0, every=1, start_epoch=0, state_path=tmp_path / "x.npz")
