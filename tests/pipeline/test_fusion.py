"""Per-person fusion of age/gender distributions and the frame quality weights."""

from __future__ import annotations

import itertools
from contextlib import nullcontext

import numpy as np
import pytest

from facelog.pipeline.tracking.fusion import (
    N_AGES,
    FusionParams,
    PersonFusion,
    central_interval,
    frontalness,
    quality_weight,
    sharpness,
)

AGES = np.arange(N_AGES, dtype=np.float64)


def _gauss(mean: float, sd: float) -> np.ndarray:
    p = np.exp(-0.5 * ((AGES - mean) / sd) ** 2)
    return p / p.sum()


def _width(f: PersonFusion) -> float:
    e = f.estimate()
    return e.age_high - e.age_low


def _texture(side: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (side, side, 3)).astype(np.uint8)


def _box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    out = img.astype(np.float64)
    for axis in (0, 1):
        out = np.mean([np.roll(out, s, axis=axis) for s in range(-radius, radius + 1)], axis=0)
    return out.astype(np.uint8)


def test_a_single_frame_gives_that_frames_answer() -> None:
    p = _gauss(37.0, 6.0) * np.linspace(1.0, 2.0, N_AGES)  # skewed, so a shifted estimate would show
    p /= p.sum()
    f = PersonFusion()
    f.add(p, 0.3, weight=0.8, face_px=50.0)
    e = f.estimate()
    assert e.age == pytest.approx(float(p @ AGES), abs=0.05)
    low, high = central_interval(p, 0.8)
    assert (e.age_low, e.age_high) == pytest.approx((low, high), abs=0.05)
    assert e.gender == "male" and e.gender_score == pytest.approx(0.7)
    assert (e.frames, e.face_px, e.weight) == (1, 50.0, 0.8)


def test_a_sharp_large_frame_outweighs_a_blurred_small_one() -> None:
    sharp_crop, blurred_crop = _texture(120), _box_blur(_box_blur(_texture(28, seed=1), 2), 2)
    s_sharp, s_blur = sharpness(sharp_crop), sharpness(blurred_crop)
    assert s_sharp > 4 * s_blur
    w_good = quality_weight(120.0, 0.95, 1.0, s_sharp)
    w_bad = quality_weight(28.0, 0.95, 1.0, s_blur)
    assert w_good > 5 * w_bad
    f = PersonFusion()
    f.add(_gauss(60.0, 5.0), 0.9, w_bad, 28.0)  # blurred small frame: old, female
    f.add(_gauss(30.0, 5.0), 0.2, w_good, 120.0)  # sharp large frame: young, male
    e = f.estimate()
    assert abs(e.age - 30.0) < 5.0 and e.gender == "male"
    assert e.face_px == pytest.approx(74.0)


def test_the_interval_narrows_with_consistent_frames_but_does_not_collapse() -> None:
    rng = np.random.default_rng(0)
    f = PersonFusion()
    widths = []
    for _ in range(200):
        f.add(_gauss(30.0 + rng.normal(0, 2.0), 6.0), 0.8, weight=1.0, face_px=64.0)
        widths.append(_width(f))
    assert widths[30] < 0.92 * widths[0]
    assert all(b <= a + 0.5 for a, b in itertools.pairwise(widths)), "no widening on agreement"
    cap = FusionParams().max_observations
    assert widths[-1] >= 0.9 * widths[0] / np.sqrt(cap), "correlated frames are not independent evidence"
    assert f.estimate().gender_score > 0.8


def test_disagreement_still_lands_between_frames() -> None:
    f = PersonFusion()
    for mean in (25.0, 35.0):
        for _ in range(5):
            f.add(_gauss(mean, 5.0), 0.5, 1.0, 40.0)
    e = f.estimate()
    assert e.age == pytest.approx(30.0, abs=0.5)
    assert e.age_low < 30.0 < e.age_high
    assert 0.5 <= e.gender_score <= 1.0


@pytest.mark.parametrize("female", [0.0, 1e-9, 0.2, 0.5, 0.8, 1.0])
def test_gender_score_is_a_probability_of_the_chosen_gender(female: float) -> None:
    f = PersonFusion()
    for _ in range(30):
        f.add(_gauss(40.0, 8.0), female, 1.0, 64.0)
    e = f.estimate()
    assert 0.5 <= e.gender_score <= 1.0
    assert e.gender == ("female" if female >= 0.5 else "male")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weight": 0.0}, "weight must be finite and > 0"),
        ({"weight": -1.0}, "weight must be finite and > 0"),
        ({"weight": float("nan")}, "weight must be finite and > 0"),
        ({"female_prob": 1.5}, r"female_prob must be in \[0, 1\]"),
        ({"female_prob": float("nan")}, r"female_prob must be in \[0, 1\]"),
        ({"age_probs": np.ones(100)}, r"age_probs must be \(101,\), got \(100,\)"),
        ({"age_probs": -_gauss(30, 5)}, "age_probs must be finite, >= 0"),
        ({"age_probs": np.zeros(N_AGES)}, "not all 0"),
        ({"face_px": float("inf")}, "face_px must be finite"),
    ],
    ids=[
        "zero-weight",
        "negative-weight",
        "nan-weight",
        "prob>1",
        "nan-prob",
        "100-ages",
        "negative",
        "zeros",
        "inf-px",
    ],
)
def test_add_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"age_probs": _gauss(30, 5), "female_prob": 0.5, "weight": 1.0, "face_px": 40.0}
    args.update(kwargs)
    f = PersonFusion()
    with pytest.raises(ValueError, match=match):
        f.add(**args)
    assert f.frames == 0


def test_estimate_without_frames_raises() -> None:
    with pytest.raises(ValueError, match="no frames added"):
        PersonFusion().estimate()


def test_quality_weight_is_positive_bounded_and_ordered() -> None:
    assert quality_weight(0.0, 0.0, 0.0, 0.0) == FusionParams().min_weight, "never 0"
    assert quality_weight(200.0, 1.0, 1.0, 5.0) == 1.0
    assert quality_weight(200.0, 1.0, None, None) == 1.0, "unknown frontalness/sharpness is neutral"
    assert quality_weight(200.0, 1.0, float("nan"), float("nan")) == 1.0
    sizes = [quality_weight(px, 0.9) for px in (16, 24, 32, 48, 64, 80, 120)]
    assert sizes == sorted(sizes) and sizes[-1] == sizes[-2], "saturates at full_face_px"
    assert quality_weight(64, 0.9, frontalness=0.0) < quality_weight(64, 0.9, frontalness=1.0)
    with pytest.raises(ValueError, match="face_px must be finite"):
        quality_weight(float("nan"), 0.9)


def _landmarks(yaw_shift: float, swap: bool = False) -> np.ndarray:
    """Eyes at x 40/60, nose and mouth shifted sideways by yaw_shift (px)."""
    lm = np.array(
        [[40, 50], [60, 50], [50 + yaw_shift, 62], [43 + yaw_shift, 72], [57 + yaw_shift, 72]], float
    )
    if swap:
        lm[[0, 1]] = lm[[1, 0]]
        lm[[3, 4]] = lm[[4, 3]]
    return lm


def test_frontalness_from_landmarks() -> None:
    lm = np.stack([_landmarks(0), _landmarks(0, swap=True), _landmarks(5), _landmarks(10), _landmarks(-10)])
    lm = np.concatenate([lm, np.full((1, 5, 2), np.nan), _landmarks(0)[None] * [0.0, 1.0] + [50, 0]])
    box = np.tile([[30.0, 35.0, 70.0, 85.0]], (len(lm), 1))
    f = frontalness(lm, box)
    assert f.shape == (7,)
    assert f[0] == pytest.approx(1.0) and f[1] == pytest.approx(1.0), "eye order does not matter"
    assert 0.3 < f[2] < 0.7 and f[3] == 0.0 and f[4] == 0.0, "nose at an eye = profile"
    assert np.isnan(f[5]), "unknown landmarks"
    assert f[6] == 0.0, "eyes on top of each other"
    assert frontalness(np.zeros((0, 5, 2)), np.zeros((0, 4))).shape == (0,)


@pytest.mark.parametrize(
    "lm_shape, box_shape, match",
    [
        ((2, 5, 2), (2, 4), None),
        ((2, 6, 2), (2, 4), r"landmarks must be \(n, 5, 2\)"),
        ((2, 5, 2), (3, 4), r"xyxy must be \(2, 4\)"),
    ],
    ids=["ok", "six-points", "box-count"],
)
def test_frontalness_validates_shapes(
    lm_shape: tuple[int, ...], box_shape: tuple[int, ...], match: str | None
) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        frontalness(np.ones(lm_shape), np.ones(box_shape))


def test_sharpness_is_size_normalised_and_contrast_free() -> None:
    small = _box_blur(_texture(32, seed=2), 1)
    big = np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)  # the same picture at 128 px
    assert sharpness(big) == pytest.approx(sharpness(small), rel=0.02)
    assert sharpness(_box_blur(big, 6)) < 0.5 * sharpness(big)
    dim = (small.astype(np.float64) * 0.3).astype(np.uint8)
    assert sharpness(dim) == pytest.approx(sharpness(small), rel=0.1)
    assert sharpness(np.full((40, 40, 3), 128, np.uint8)) == 0.0, "flat crop: no division by zero"
    assert sharpness(small[:, :, 0]) > 0, "grey crops are fine"


@pytest.mark.parametrize(
    "shape, match",
    [
        ((2, 40, 3), "at least 3x3"),
        ((40, 40, 4), r"crop must be \(H, W, 3\) or \(H, W\)"),
        ((40,), "crop must be"),
    ],
    ids=["too-thin", "four-channels", "rank-1"],
)
def test_sharpness_rejects_bad_crops(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sharpness(np.zeros(shape, np.uint8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_face_px": 90.0},
        {"interval": 1.0},
        {"max_observations": 0.5},
        {"floor": 2.0},
        {"min_weight": 0.0},
        {"mean_after_s": -1.0},
    ],
)
def test_params_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FusionParams(**kwargs)


def _skewed(mode: float) -> np.ndarray:
    """An age distribution with its mode at ``mode`` and a long tail towards the young: its mean is
    years under its mode (as the model's reads of older faces are)."""
    sd = np.where(mode < AGES, 3.0, 12.0)
    p = np.exp(-0.5 * ((AGES - mode) / sd) ** 2)
    return p / p.sum()


def _seen(seconds: float, params: FusionParams | None = None, frames: int = 50) -> PersonFusion:
    f = PersonFusion(params)
    for k in range(frames):  # the same face read the same way in every frame, over ``seconds``
        f.add(_skewed(64.0), 0.2, 1.0, 80.0, pts_ns=round(k * seconds * 1e9 / (frames - 1)))
    return f


def test_a_person_seen_ten_seconds_is_answered_by_the_mean_of_the_frames() -> None:
    frame_age = float(_skewed(64.0) @ AGES)
    long, short = _seen(12.0), _seen(5.0)
    assert long.seen_long() and not short.seen_long()
    # pooling near-identical skewed frames moves the answer towards their mode; the mean stays put
    pooled = short.estimate().age
    assert pooled > frame_age + 1.0
    e = long.estimate()
    assert e.age == pytest.approx(frame_age) and long.age_gender()[0] == pytest.approx(frame_age)
    assert e.age_low <= e.age <= e.age_high  # the interval holds the answer
    assert e.gender == short.estimate().gender == "male"  # only the age changes


def test_the_mean_after_a_long_time_can_be_turned_off_and_needs_timestamps() -> None:
    off = _seen(12.0, FusionParams(mean_after_s=0.0))
    assert not off.seen_long() and off.estimate().age == pytest.approx(_seen(5.0).estimate().age)
    untimed = PersonFusion()
    for _ in range(50):
        untimed.add(_skewed(64.0), 0.2, 1.0, 80.0)
    assert not untimed.seen_long()
