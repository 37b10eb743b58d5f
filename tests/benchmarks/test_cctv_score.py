"""The CCTV benchmark's scorer on hand-made ground truth and facelog-style rows (no ../shared)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_common import GT_BOX_ASPECT, GroundTruthError
from cctv_identity import replacement_events
from cctv_score import score

W = 50  # face_px of every GT face here
H = W * GT_BOX_ASPECT


def _gt_row(frame: int, pid: int, x: float, y: float = 100.0, age: float = 30, gender: str = "male") -> dict:
    return {"frame_index": frame, "person_id": pid, "x1": x, "y1": y, "x2": x + W, "y2": y + H,
            "age": age, "gender": gender, "face_px": W}  # fmt: skip


def _det_row(
    frame: int, track: int, x: float, y: float = 100.0, age: float = 30, gender: str = "male"
) -> dict:
    return {"frame_index": frame, "track_id": track, "x1": x, "y1": y, "x2": x + W, "y2": y + H,
            "age": age, "gender": gender, "age_smooth": age, "gender_smooth": gender}  # fmt: skip


def _write(tmp_path: Path, gt: list[dict], det: list[dict]) -> tuple[Path, Path]:
    g, d = tmp_path / "c.gt.csv", tmp_path / "out.csv"
    pd.DataFrame(gt).to_csv(g, index=False)
    pd.DataFrame(det).to_csv(d, index=False)
    return g, d


def test_replacement_with_continued_track_is_counted(tmp_path: Path) -> None:
    # person 0 stands at x=200 for frames 0-9; person 1 appears there at frame 12 (age 60, female).
    gt = [_gt_row(f, 0, 200) for f in range(10)] + [
        _gt_row(f, 1, 202, age=60, gender="female") for f in range(12, 20)
    ]
    det = [_det_row(f, 7, 201) for f in range(10)] + [_det_row(f, 7, 203, age=58) for f in range(12, 20)]
    res = score(*_write(tmp_path, gt, det), None)
    assert replacement_events(pd.read_csv(tmp_path / "c.gt.csv"), 10) == [(0, 1)]
    ident = res["identity"]
    assert ident["replacement_new_id"] == {"events": 1, "scored": 1, "new_id": 0, "new_id_share": 0.0}
    assert ident["tracks_multi_person"] == 1.0
    assert ident["people_split"] == 0.0
    assert res["detection"]["recall"] == 1.0
    assert res["detection"]["precision"] == 1.0
    assert res["per_person"]["last_smooth"]["gender_acc"] == 0.5  # the man's track answers "male" for both


def test_split_person_false_positive_and_miss(tmp_path: Path) -> None:
    gt = [_gt_row(f, 0, 100 + 5 * f) for f in range(10)]
    det = [_det_row(f, 1 if f < 5 else 2, 100 + 5 * f) for f in range(10) if f != 3]
    det.append(_det_row(4, 9, 600))  # a false positive far away
    res = score(*_write(tmp_path, gt, det), None)
    d = res["detection"]
    assert (d["tp"], d["fp"], d["gt"]) == (9, 1, 10)
    assert d["by_size"]["48-63"]["recall"] == 0.9
    assert res["identity"]["people_split"] == 1.0
    assert res["identity"]["id_switches"] == 1


def test_edge_faces_are_dont_care(tmp_path: Path) -> None:
    # a face cut to a fifth of its width by the left edge: a detection on it is neither hit nor miss.
    gt = [_gt_row(0, 0, 0) | {"x2": W / 5}, _gt_row(0, 1, 300)]
    det = [_det_row(0, 1, 0) | {"x2": W / 5}, _det_row(0, 2, 300)]
    d = score(*_write(tmp_path, gt, det), None)["detection"]
    assert (d["tp"], d["fp"], d["gt"]) == (1, 0, 1)


def test_tracks_csv_answer_per_person(tmp_path: Path) -> None:
    gt = [_gt_row(f, 0, 100, age=40, gender="female") for f in range(6)]
    det = [_det_row(f, 3, 100, age=30, gender="male") for f in range(6)]
    g, d = _write(tmp_path, gt, det)
    tracks = tmp_path / "out.tracks.csv"
    pd.DataFrame([{"track_id": 3, "age": 41.0, "gender": "female"}]).to_csv(tracks, index=False)
    pp = score(g, d, tracks)["per_person"]
    assert pp["per_frame_by_person"]["age_mae"] == 10.0
    assert pp["tracks_csv"]["age_mae"] == 1.0
    assert pp["tracks_csv"]["gender_acc"] == 1.0


def test_missing_column_is_reported(tmp_path: Path) -> None:
    g, d = _write(tmp_path, [_gt_row(0, 0, 0)], [_det_row(0, 0, 0)])
    pd.read_csv(d).drop(columns=["track_id"]).to_csv(d, index=False)
    with pytest.raises(GroundTruthError, match="lacks columns \\['track_id'\\]"):
        score(g, d, None)


def test_detection_only_needs_boxes_only(tmp_path: Path) -> None:
    gt = [_gt_row(f, 0, 100) for f in range(4)]
    det = [
        {k: r[k] for k in ("frame_index", "x1", "y1", "x2", "y2")}
        for r in (_det_row(f, 0, 100) for f in range(3))
    ]
    res = score(*_write(tmp_path, gt, det), None, detection_only=True)
    assert res["detection"]["recall"] == 0.75
    assert res["detection"]["per_frame"]["age_mae"] is None
    assert "identity" not in res


def test_frames_majority_is_what_most_frames_say(tmp_path: Path) -> None:
    # a woman read male in 2 of 3 frames, at ages 20, 30, 70: her frames' majority is male, age 30
    gt = [_gt_row(f, 0, 100, age=35, gender="female") for f in range(3)]
    det = [
        _det_row(0, 1, 100, age=20, gender="male"),
        _det_row(1, 1, 100, age=30, gender="male"),
        _det_row(2, 1, 100, age=70, gender="female"),
    ]
    pp = score(*_write(tmp_path, gt, det), None)["per_person"]
    assert pp["frames_majority"] == {"n": 1, "age_mae": 5.0, "gender_acc": 0.0}
    assert pp["per_frame_by_person"]["gender_acc"] == round(1 / 3, 4)


def test_a_run_that_sampled_frames_is_scored_on_the_frames_it_analysed(tmp_path: Path) -> None:
    gt = [_gt_row(f, 0, 100 + 5 * f) for f in range(20)]
    det = [_det_row(f, 1, 100 + 5 * f) for f in range(0, 20, 5)]  # ``--fps 5`` of a 25-fps clip
    g, d = _write(tmp_path, gt, det)
    summary = d.with_suffix(".summary.json")
    every = {"sampling": {"stride": 1, "target_fps": None}, "processed_frames": [[0, 20, 1]]}
    summary.write_text(json.dumps(every))  # every frame analysed: the 15 without a row are misses
    assert score(g, d, None)["detection"]["recall"] == 0.2
    sampled = {"sampling": {"stride": 1, "target_fps": 5.0}, "processed_frames": [[0, 16, 5]]}
    summary.write_text(json.dumps(sampled))
    res = score(g, d, None)
    assert res["detection"]["recall"] == 1.0 and res["detection"]["gt"] == 4
    assert res["identity"]["idf1"] == 1.0
