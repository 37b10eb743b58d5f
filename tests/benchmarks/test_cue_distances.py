"""The cue-distance tool on hand-made records (no clip, no ../shared)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cue_distances import Seen, distances, main, nearest


def _seen(emb: list[list[float]], body: list[list[float]], desc: list[np.ndarray | None]) -> Seen:
    n = len(emb)
    xyxy = np.array([[100.0 * k, 0.0, 100.0 * k + 40.0, 40.0] for k in range(n)], np.float32)
    look = np.eye(64, dtype=np.float32)  # a thumbnail row: brightness, then 64 unit-norm numbers
    thumbs = np.array([np.concatenate([[50.0 + 40 * k], look[k]]) for k in range(n)], np.float32)
    return Seen(xyxy, np.array(emb, np.float32), np.array(body, np.float32), thumbs, desc)


def test_the_nearest_face_and_its_distances_in_each_cue() -> None:
    d0 = np.zeros(128, np.float32)
    d1 = d0.copy()
    d1[0] = 0.3
    a = _seen([[1, 0], [0, 1]], [[1, 0], [1, 0]], [d0, None])
    b = _seen([[1, 1], [0, 1]], [[0, 0], [0, 1]], [d1, d0])
    assert nearest(a, 120.0, 20.0) == 1 and nearest(a, 10.0, 30.0) == 0
    got = distances(a, 0, b, 0)
    assert got["embedding"] is not None and abs(got["embedding"] - (1 - 1 / np.sqrt(2))) < 1e-6
    assert got["body"] is None  # no body below b's face: unknown
    assert got["descriptor"] is not None and abs(got["descriptor"] - 0.3) < 1e-6
    assert got["thumb"] is not None and got["thumb"] >= 0
    far = distances(a, 1, b, 1)
    assert far["embedding"] is not None and abs(far["embedding"]) < 1e-6
    assert far["body"] is not None and abs(far["body"] - 1.0) < 1e-6
    assert far["descriptor"] is None  # a's face had no descriptor


def test_bad_pairs_and_a_missing_clip_are_one_line_errors(tmp_path: Path, capsys: object) -> None:
    assert main([str(tmp_path / "none.mp4"), "1,2,3,4,5,6"]) == 2
    assert main([str(tmp_path / "none.mp4"), "1,2,3"]) == 2
