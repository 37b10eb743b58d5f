"""The per-person study's bookkeeping on hand-made detections (no ../shared, no model)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_fusion import attach_persons, person_answers, summarise


def _peak(age: int) -> np.ndarray:
    p = np.full(101, 1e-8)
    p[age] = 1.0
    return p / p.sum()


def _det(frame: int, x: float, age: int, female: float) -> dict:
    return {"frame_index": frame, "box": np.array([x, 0.0, x + 40, 40.0]), "weight": 1.0, "face_px": 40.0,
            "probs": _peak(age), "female": female}  # fmt: skip


def test_persons_get_their_own_detections_and_the_summary_separates_bias_from_scatter() -> None:
    gt = pd.DataFrame(
        [{"frame_index": f, "person_id": pid, "x1": x, "y1": 0.0, "x2": x + 40, "y2": 40.0}
         for f in range(4) for pid, x in ((0, 0.0), (1, 200.0))]
    )  # fmt: skip
    det = pd.DataFrame(
        [_det(f, 0.0, 30 + (2 if f % 2 else -2), 0.2) for f in range(4)]  # person 0: 28/32, male
        + [_det(f, 201.0, 50, 0.9 if f else 0.1) for f in range(4)]  # person 1: 50, 3 of 4 frames female
        + [_det(2, 600.0, 10, 0.5)]  # a false positive
    )
    det = attach_persons(det, gt)
    assert det["person_id"].tolist() == [0] * 4 + [1] * 4 + [-1]
    people = person_answers(det)
    assert people.loc[0, "mean"] == pytest.approx(30.0, abs=0.1) and people.loc[1, "median"] == pytest.approx(
        50, abs=0.1
    )
    assert bool(people.loc[1, "g_vote"]) and not bool(people.loc[0, "g_fusion"])
    truth = pd.DataFrame(
        {"true_age": [30.0, 40.0], "true_female": [False, True], "oracle_age": [31.0, 45.0],
         "oracle_female": [False, True]}, index=[0, 1]
    )  # fmt: skip
    res = summarise(people, truth)
    assert res["persons"] == 2
    assert res["age_mae"]["mean"] == pytest.approx((0 + 10) / 2, abs=0.1)
    assert res["frame_rows"][0] == pytest.approx((2 * 4 + 10 * 4) / 8, abs=0.1)
    assert res["bias_mean_minus_oracle"] == pytest.approx(((30 - 31) + (50 - 45)) / 2, abs=0.1)
    assert res["frame_sd"] == pytest.approx(np.sqrt((4 + 0) / 2), abs=0.05)
    assert res["gender_acc"]["g_fusion"] == 1.0 and res["wrong_gender_persons"] == 0
