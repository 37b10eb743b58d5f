"""Two sets of hand-made cctv_bench results compared clip by clip (no ../shared, no clip)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_compare import main


def _result(gt_file: str, split: float = 0.0, persons: int = 31) -> dict[str, Any]:
    return {
        "gt_file": gt_file,
        "gt": {"persons": 30},
        "identity": {
            "people_split": split,
            "tracks_multi_person": 0.0,
            "idf1": 0.95,
            "replacement_new_id": {"new_id": 10, "scored": 10, "new_id_share": 1.0},
        },
        "per_person": {"tracks_csv": {"tracks_rows_person": persons}},
    }


def test_only_the_clips_that_changed_are_listed_and_the_persons_error_is_summed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = [_result("c/walk720.gt.csv"), _result("c/cross720.gt.csv", 0.1, 34), _result("c/old.gt.csv")]
    after = [_result("c/walk720.gt.csv"), _result("c/cross720.gt.csv", 0.05, 32)]
    (tmp_path / "a.json").write_text(json.dumps(before))
    (tmp_path / "b.json").write_text(json.dumps(after))
    assert main(["--before", str(tmp_path / "a.json"), "--after", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| c/")]
    assert rows == ["| c/cross720 | 0.1000 -> 0.0500 | 0.0000 | 0.9500 | 34 -> 32 | 10/10 |"]
    assert "summed over 2 clips: 5 -> 3" in out  # |31 - 30| + |34 - 30|, then 1 + 2
    assert "only before: c/old" in out


def test_an_unreadable_result_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["--before", str(bad), "--after", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cctv_compare: ") and str(bad) in err and len(err.strip().splitlines()) == 1
