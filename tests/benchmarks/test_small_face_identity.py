"""Which detections ``small_face_identity.py --faces K`` compares (hand-made detections, no clip)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from small_face_identity import _runs_of


def _rows(pid: int, frames: list[int], x: float, w: float | list[float]) -> list[dict]:
    ws = w if isinstance(w, list) else [w] * len(frames)
    return [
        {
            "pid": pid,
            "person_id": pid,
            "frame_index": f,
            "x1": x,
            "y1": 100.0,
            "x2": x + wi,
            "y2": 100.0 + wi,
            "w": wi,
        }
        for f, wi in zip(frames, ws, strict=True)
    ]


def test_a_gap_and_a_newcomer_give_one_pair_each_of_k_faces_a_side() -> None:
    rows = (
        _rows(0, [0, 1, 2, 3, 4, 7, 8, 9], 200.0, 25.0)  # a gap of 2 frames (5, 6) facelog missed
        + _rows(1, [11, 12, 13], 200.0, 25.0)  # steps in where person 0 left, 2 frames later
        + _rows(2, [0, 1, 2, 5, 6, 7], 600.0, [25.0, 25.0, 25.0, 40.0, 25.0, 25.0])  # a face out of range
        + _rows(3, [0, 1, 4, 5, 6], 900.0, 25.0)  # two faces before its gap: fewer than K
    )
    tp = pd.DataFrame(rows)
    pairs = _runs_of(tp, tp.drop(columns=["pid", "w"]), 20.0, 32.0, 3, random.Random(0))
    assert sorted(pairs) == [
        ("replace", 0, (7, 8, 9), 1, (11, 12, 13)),
        ("same", 0, (2, 3, 4), 0, (7, 8, 9)),
    ]
