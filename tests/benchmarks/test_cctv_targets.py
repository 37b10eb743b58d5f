"""Issue 20's targets counted from hand-made cctv_bench results (no ../shared, no clip)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_targets import main, misses


def _result(preset: str, gt_file: str, **over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "preset": preset,
        "gt_file": gt_file,
        "gt": {"persons": 30},
        "run": {"persons_reported": 31},
        "identity": {
            "tracks_multi_person": 0.0,
            "people_split": 0.0,
            "idf1": 0.95,
            "replacement_new_id": {"new_id": 10, "scored": 10, "new_id_share": 1.0},
        },
        "per_person": {
            "tracks_csv": {"gender_acc": 0.9, "age_mae": 6.0},
            "per_frame_by_person": {"gender_acc": 0.88, "age_mae": 7.0},
        },
    }
    for key, value in over.items():
        section, _, name = key.partition("__")
        r[section][name] = value
    return r


def test_a_clip_meeting_every_target_misses_none() -> None:
    assert all(v is None for v in misses(_result("walk720", "c/walk720.gt.csv")).values())


def test_each_target_is_missed_past_its_limit() -> None:
    r = _result(
        "cross720",
        "c/cross720.gt.csv",
        identity__tracks_multi_person=0.031,
        identity__people_split=0.06,
        identity__idf1=0.89,
        identity__replacement_new_id={"new_id": 9, "scored": 10, "new_id_share": 0.9},
        run__persons_reported=34,  # 30 people: 10% is 3
        per_person__tracks_csv={"gender_acc": 0.87, "age_mae": 7.5},
    )
    m = misses(r)
    assert m == {
        "multi": "multi 0.031",
        "new_id": "new id 9/10",
        "split": "split 0.060",
        "idf1": "IDF1 0.890",
        "persons": "persons 34/30",
        "gender": "gender 0.870 < 0.880",
        "age": "age 7.50 > 7.00",
    }


def test_targets_that_do_not_apply_are_left_out() -> None:
    r = _result("counter720", "c/counter720.gt.csv", per_person__tracks_csv=None)
    r["identity"]["replacement_new_id"] = {"new_id": 0, "scored": 0, "new_id_share": None}
    assert set(misses(r)) == {"multi", "split", "idf1", "persons"}


def test_the_table_counts_each_clip_once_and_leaves_the_still_queue_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(
        json.dumps(
            [
                _result("walk720", "c/walk720.gt.csv", identity__idf1=0.5),
                _result("queue720_still", "c/queue720_still.gt.csv", identity__idf1=0.0),
            ]
        )
    )
    # the same clip run again later (it counts, not the first run), and another clip that splits
    second.write_text(
        json.dumps(
            [
                _result("walk720", "c/walk720.gt.csv"),
                _result("static720", "c/static720.gt.csv", identity__people_split=0.2),
            ]
        )
    )
    assert main(["--world", f"as made={first},{second}", "--misses"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| as made"))
    assert row.split(" | ")[1:4] == ["2", "2", "2"]  # 2 clips; both under 3% multi; new id on both
    assert row.split(" | ")[4] == "1"  # one clip splits
    assert "as made, c/static720: split 0.200" in out
    assert "walk720:" not in out and "queue720_still" not in out


def test_an_unreadable_result_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["--world", f"x={bad}"]) == 2
    assert "cctv_targets:" in capsys.readouterr().err


def _detection(recall: float, small: float | None, age: float | None, gender: float | None) -> dict[str, Any]:
    return {
        "recall": recall,
        "by_size": {"32-47": {"recall": small}},
        "per_frame": {"age_mae": age, "gender_acc": gender},
    }


def test_means_over_a_worlds_clips_of_the_presets_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.json"
    rows = [
        _result("walk720", "c/walk720.gt.csv", identity__people_split=0.1, identity__idf1=0.9),
        _result("static720", "c/static720.gt.csv", identity__idf1=0.8, run__persons_reported=27),
        _result("poster720", "c/poster720.gt.csv", identity__idf1=0.1),  # left out by --presets
    ]
    for r, det, no_face in zip(
        rows,
        [_detection(0.9, 0.8, 6.0, 0.9), _detection(0.7, None, 8.0, 0.8), _detection(0.0, 0.0, 0.0, 0.0)],
        [1, 2, 5],
        strict=True,
    ):
        r["detection"] = det
        r["run"]["persons_dropped"] = {"no_face": no_face}
    results.write_text(json.dumps(rows))
    assert main(["--world", f"w={results}", "--means", "--presets", "walk720,static720"]) == 0
    out = capsys.readouterr().out
    mean_row = [line for line in out.splitlines() if line.startswith("| w |")][-1]
    # recall, 32-47 px (the clip without such faces left out), IDF1, split, age, gender,
    # |31 - 30| + |27 - 30|, no_face
    assert mean_row.split(" | ")[1:] == ["2", "0.800", "0.800", "0.850", "0.050", "7.00", "0.850", "4", "3 |"]


def test_means_leave_out_a_clip_that_matched_no_detection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a clip whose detections match none of its GT faces has no per-frame age or gender (None)
    results = tmp_path / "r.json"
    rows = [_result("walk720", "c/walk720.gt.csv"), _result("static720", "c/static720.gt.csv")]
    rows[0]["detection"] = _detection(0.9, 0.8, 6.0, 0.9)
    rows[1]["detection"] = _detection(0.0, 0.0, None, None)
    for r in rows:
        r["run"]["persons_dropped"] = {}
    results.write_text(json.dumps(rows))
    assert main(["--world", f"w={results}", "--means"]) == 0
    mean_row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| w |")][-1]
    assert mean_row.split(" | ")[1:] == ["2", "0.450", "0.400", "0.950", "0.000", "6.00", "0.900", "2", "0 |"]
