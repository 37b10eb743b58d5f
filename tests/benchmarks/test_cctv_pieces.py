"""``cctv_pieces``: which persons are pieces of a GT person already counted, and what a minimum span
of faces would take from the persons count (hand-made GT and facelog-style CSVs; no ../shared)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_common import GT_BOX_ASPECT
from cctv_pieces import main

W = 50
H = W * GT_BOX_ASPECT
FRAME_MS = 40


def _box(x: float) -> dict:
    return {"x1": x, "y1": 100.0, "x2": x + W, "y2": 100.0 + H}


def _clip(tmp_path: Path) -> tuple[Path, Path]:
    """Walker 0 over frames 0-39 (track 1, but track 2 for frames 20-22: a 3-frame piece); person 1
    seen for 4 frames only (track 3, its main track: someone who crossed a corner)."""
    clips, run = tmp_path / "clips", tmp_path / "runs" / "a"
    clips.mkdir(parents=True), run.mkdir(parents=True)
    gt = [{"frame_index": f, "person_id": 0, **_box(10 + 5 * f), "age": 30, "gender": "male", "face_px": W}
          for f in range(40)]  # fmt: skip
    gt += [{"frame_index": f, "person_id": 1, **_box(600), "age": 50, "gender": "female", "face_px": W}
           for f in range(10, 14)]  # fmt: skip
    pd.DataFrame(gt).to_csv(clips / "c.gt.csv", index=False)
    det = []
    for g in gt:
        piece = 20 <= g["frame_index"] <= 22
        track = 3 if g["person_id"] else (2 if piece else 1)
        cols = {k: g[k] for k in ("frame_index", "x1", "y1", "x2", "y2", "age", "gender")}
        det.append(cols | {"track_id": track, "age_smooth": 30, "gender_smooth": "male"})
    pd.DataFrame(det).to_csv(run / "c.csv", index=False)
    tracks = [(1, 0, 39, 38), (2, 20, 22, 3), (3, 10, 13, 4)]  # id, first and last frame, frames
    rows = [
        {"track_id": t, "frames": n, "dwell_s": (b - a) * FRAME_MS / 1000, "face_px": W, "status": "person"}
        for t, a, b, n in tracks
    ]
    pd.DataFrame(rows).to_csv(run / "c.tracks.csv", index=False)
    return run, clips


def test_a_piece_and_a_brief_person_are_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, clips = _clip(tmp_path)
    assert main([f"{run}:{clips}", "--spans", "0.1,0.2", "--list"]) == 0
    out = capsys.readouterr().out
    assert "1 clips, 2 main tracks, 1 pieces" in out
    assert "| none | 0 | 0 | 1 | 0 |" in out  # 3 persons for 2 people
    assert "| 0.1 s | 1 | 0 | 0 | 1 |" in out  # the piece (0.08 s) goes, the brief person (0.12 s) stays
    assert "| 0.2 s | 1 | 1 | 1 | 0 |" in out  # now the brief person goes too
    assert "a/c" in out.split("|")[-1]  # --list names the brief person's clip


def test_no_run_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"{tmp_path}:{tmp_path}"]) == 2
    assert capsys.readouterr().err.strip() == "cctv_pieces: no run with a tracks CSV and a GT file"
