"""Evaluation metrics against hand-computed values; the JSON + PNG report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facelog.engines.base import HeadMeta, ModelMeta
from facelog.training import metrics as M
from facelog.training.datasets import FaceTable
from facelog.training.evaluate import evaluate_predictions, write_report


def test_age_metrics_by_hand() -> None:
    pred = np.array([10.0, 22.0, 33.0, 70.0, 5.0])
    true = np.array([12.0, 20.0, 40.0, 64.0, np.nan])  # last one unlabelled
    assert M.age_mae(pred, true) == pytest.approx((2 + 2 + 7 + 6) / 4)
    assert M.cumulative_score(pred, true, 5) == pytest.approx(2 / 4)
    buckets = {b["range"]: b for b in M.age_buckets(pred, true)}
    assert buckets["0-12"] == {"range": "0-12", "n": 1, "mae": pytest.approx(2.0)}
    assert buckets["60-69"]["mae"] == pytest.approx(6.0)
    assert buckets["13-19"]["n"] == 0 and np.isnan(buckets["13-19"]["mae"])
    assert np.isnan(M.age_mae(np.zeros(2), np.full(2, np.nan)))


def test_expected_age_and_shape_check() -> None:
    p = np.zeros((2, 101))
    p[0, 30] = 1.0
    p[1, [20, 40]] = 0.5
    np.testing.assert_allclose(M.expected_age(p), [30.0, 30.0])
    with pytest.raises(ValueError, match=r"must be \(B, N\), got \(101,\)"):
        M.expected_age(np.zeros(101))


def test_class_metrics_by_hand() -> None:
    pred = np.array([0, 1, 1, 0, 1, 0])
    true = np.array([0, 1, 0, 0, -1, 1])
    assert M.accuracy(pred, true) == pytest.approx(3 / 5)
    per = M.per_class_accuracy(pred, true, ("male", "female"))
    assert per["male"] == {"n": 3, "acc": pytest.approx(2 / 3)}
    assert per["female"] == {"n": 2, "acc": pytest.approx(1 / 2)}
    np.testing.assert_array_equal(M.confusion(pred, true, 2), [[2, 1], [1, 1]])


def test_report_json_and_plots(tmp_path: Path) -> None:
    meta = ModelMeta(
        "m",
        "1",
        "input",
        (8, 8),
        "NHWC",
        0,
        ("age", "gender"),
        127.5,
        127.5,
        heads=(HeadMeta("age", "age"), HeadMeta("gender", "categorical", ("male", "female"))),
    )
    table = FaceTable(
        tuple(Path(f"{i}.jpg") for i in range(3)),
        {"age": np.array([10, 30, 50], np.float32), "gender": np.array([0, 1, 1])},
    )
    age = np.zeros((3, 101))
    age[[0, 1, 2], [12, 30, 40]] = 1.0  # errors 2, 0, 10
    gender = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    report = evaluate_predictions({"age": age, "gender": gender}, table, meta)
    assert report["age"]["mae"] == pytest.approx(4.0)
    assert report["age"]["cs5"] == pytest.approx(2 / 3)
    assert report["gender"]["acc"] == pytest.approx(2 / 3)
    assert report["gender"]["confusion"] == [[1, 0], [1, 1]]
    paths = write_report(report, {"age": age, "gender": gender}, table, meta, tmp_path / "ev")
    assert [p.name for p in paths] == ["metrics.json", "error_vs_age.png", "confusion_gender.png"]
    assert json.loads(paths[0].read_text())["age"]["mae"] == pytest.approx(4.0)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths[1:])
    with pytest.raises(ValueError, match="2 predictions for 3 rows"):
        evaluate_predictions({"age": age[:2]}, table, meta)
