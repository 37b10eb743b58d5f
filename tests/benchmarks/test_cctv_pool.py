"""Pooling of per-clip CCTV results (no ../shared, no model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_pool import main, pool_bench, pool_fusion


def _clip(rows: int, frame_mae: float, people: int, person_mae: float, person_ok: float) -> dict:
    return {
        "preset": "walk720",
        "detection": {"per_frame": {"n": rows, "age_mae": frame_mae, "gender_acc": 0.9}},
        "per_person": {
            "tracks_csv": {"n": people, "age_mae": person_mae, "gender_acc": person_ok},
            "per_frame_by_person": {"n": people, "age_mae": frame_mae + 0.5, "gender_acc": 0.8},
        },
    }


def test_frames_pool_by_rows_and_people_by_people() -> None:
    # 1,000 rows at 6 and 3,000 at 8: 7.5 by rows (a mean of clip MAEs would say 7.0);
    # 10 people at 5 and 30 at 7: 6.5 by people
    p = pool_bench([_clip(1000, 6.0, 10, 5.0, 1.0), _clip(3000, 8.0, 30, 7.0, 0.9)])
    assert p["rows"] == 4000 and p["people"] == 40
    assert p["frame_age_mae"] == pytest.approx(7.5)
    assert p["person_age_mae"] == pytest.approx(6.5)
    assert p["person_gender_acc"] == pytest.approx((10 * 1.0 + 30 * 0.9) / 40)
    assert p["frame_by_person_age_mae"] == pytest.approx((10 * 6.5 + 30 * 8.5) / 40)


def test_fusion_results_pool_by_people() -> None:
    a = {"persons": 10, "age_mae": {"oracle_age": 5.0, "fusion": 6.0}, "gender_acc": {"g_fusion": 1.0}}
    b = {"persons": 30, "age_mae": {"oracle_age": 7.0, "fusion": 8.0}, "gender_acc": {"g_fusion": 0.8}}
    f = pool_fusion([a, b])
    assert f["people"] == 40 and f["age_mae.oracle_age"] == pytest.approx(6.5)
    assert f["gender_acc.g_fusion"] == pytest.approx(0.85)


def test_nothing_to_pool_and_wrong_files_are_one_line_errors(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="no matched rows"):
        pool_bench([])
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"preset": "walk720"}]))
    assert main([str(other)]) == 2
    assert main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a cctv_bench" in err[0] and "missing.json" in err[1]


def test_the_table_has_a_pooled_row(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s0.json"
    path.write_text(json.dumps([_clip(1000, 6.0, 10, 5.0, 1.0), _clip(3000, 8.0, 30, 7.0, 0.9)]))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "| **pooled, 2 clips** | 4000 | 7.50 / 90.0% | 40 | 6.50 / 92.5% |" in out
    assert out.count("| s0 walk720 |") == 2


def test_per_frame_by_person_pools_over_every_matched_person() -> None:
    # 12 matched people of whom 10 have a tracks CSV row: the by-person column weighs by 12
    a, b = _clip(1000, 6.0, 10, 5.0, 1.0), _clip(1000, 8.0, 30, 7.0, 0.9)
    a["per_person"]["per_frame_by_person"]["n"] = 12
    p = pool_bench([a, b])
    assert p["people"] == 40
    assert p["frame_by_person_age_mae"] == pytest.approx((12 * 6.5 + 30 * 8.5) / 42)
    assert p["frame_by_person_gender_acc"] == pytest.approx(0.8)
