"""Evaluation metrics in plain NumPy (no TensorFlow): MAE, CS@k, accuracy, per-bucket breakdowns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facelog.engines.preprocess import decode_age

AGE_BUCKETS: tuple[tuple[int, int], ...] = (
    (0, 12),
    (13, 19),
    (20, 29),
    (30, 39),
    (40, 49),
    (50, 59),
    (60, 69),
    (70, 100),
)


def expected_age(probs: np.ndarray) -> np.ndarray:
    """(B, N) softmax over ages 0..N-1 -> (B,) float64 expected value (``engines.preprocess.decode_age``)."""
    return decode_age(probs, np.float64)


def age_mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error over rows with a label (true not NaN); NaN if none."""
    ok = ~np.isnan(true)
    return float(np.mean(np.abs(pred[ok] - true[ok]))) if ok.any() else float("nan")


def cumulative_score(pred: np.ndarray, true: np.ndarray, k: float = 5.0) -> float:
    """CS@k: fraction of labelled rows with |pred - true| <= k."""
    ok = ~np.isnan(true)
    return float(np.mean(np.abs(pred[ok] - true[ok]) <= k)) if ok.any() else float("nan")


def accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Top-1 accuracy over rows with a label (true >= 0); NaN if none."""
    ok = true >= 0
    return float(np.mean(pred[ok] == true[ok])) if ok.any() else float("nan")


def age_buckets(
    pred: np.ndarray, true: np.ndarray, buckets: Sequence[tuple[int, int]] = AGE_BUCKETS
) -> list[dict[str, Any]]:
    """MAE per inclusive age range of the true age: [{"range": "0-12", "n": .., "mae": ..}, ...]."""
    out = []
    for lo, hi in buckets:
        sel = (true >= lo) & (true <= hi)
        out.append({"range": f"{lo}-{hi}", "n": int(sel.sum()), "mae": age_mae(pred[sel], true[sel])})
    return out


def per_class_accuracy(
    pred: np.ndarray, true: np.ndarray, labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Recall per true class: {"male": {"n": .., "acc": ..}, ...}."""
    return {
        lab: {"n": int((true == i).sum()), "acc": accuracy(pred[true == i], true[true == i])}
        for i, lab in enumerate(labels)
    }


def confusion(pred: np.ndarray, true: np.ndarray, n: int) -> np.ndarray:
    """(n, n) counts, rows = true class, columns = predicted; unlabelled rows ignored."""
    ok = true >= 0
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (true[ok], pred[ok]), 1)
    return m
