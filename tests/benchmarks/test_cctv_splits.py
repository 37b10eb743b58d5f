"""Where people split, on hand-made ground truth and facelog-style rows (no ../shared)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_common import GT_BOX_ASPECT
from cctv_splits import main

W = 50
H = W * GT_BOX_ASPECT


def _rows(tmp_path: Path, tracks_of_walker: list[int], left_out: dict[int, int] | None = None) -> Path:
    """A walker (person 1) 10 px a frame for 8 frames under the given track per frame, and a person
    who stands (person 2, track 9) the whole time; ``left_out``: frame -> track of rows written to the
    left-out CSV instead."""
    gt, det, out = [], [], []
    for f, track in enumerate(tracks_of_walker):
        for pid, x, tid in ((1, 100 + 10 * f, track), (2, 600, 9)):
            gt.append({"frame_index": f, "person_id": pid, "x1": x, "y1": 100, "x2": x + W, "y2": 100 + H,
                       "age": 30, "gender": "male", "face_px": W})  # fmt: skip
            row = {"frame_index": f, "track_id": tid, "x1": x, "y1": 100, "x2": x + W, "y2": 100 + H,
                   "age": 30, "gender": "male", "age_smooth": 30, "gender_smooth": "male"}  # fmt: skip
            (out if pid == 1 and left_out and f in left_out else det).append(row)
    pd.DataFrame(gt).to_csv(tmp_path / "c.gt.csv", index=False)
    pd.DataFrame(det).to_csv(tmp_path / "c.csv", index=False)
    if left_out:
        pd.DataFrame(out).to_csv(tmp_path / "c.left_out.csv", index=False)
    return tmp_path / "c.csv"


def test_a_walker_split_in_three_pieces_is_listed_in_time_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _rows(tmp_path, [3, 3, 3, 5, 5, 3, 3, 3])
    assert main(["--gt", str(tmp_path / "c.gt.csv"), "--frames", str(frames)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["person 1 ~50 px: [3 f0-2 x125->145 w50]  [5 f3-4 x155->165 w50]  [3 f5-7 x175->195 w50]"]


def test_a_young_track_given_back_shows_only_with_the_left_out_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _rows(tmp_path, [3, 3, 3, 5, 5, 3, 3, 3], left_out={3: 5, 4: 5})
    main(["--gt", str(tmp_path / "c.gt.csv"), "--frames", str(frames)])
    assert capsys.readouterr().out == ""  # the scoring's view: one track
    main(["--gt", str(tmp_path / "c.gt.csv"), "--frames", str(frames), "--left-out"])
    assert capsys.readouterr().out.startswith("person 1 ~50 px: [3 f0-2")


def test_a_missing_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--gt", str(tmp_path / "none.gt.csv"), "--frames", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cctv_splits: ground truth not found") and len(err.strip().splitlines()) == 1
