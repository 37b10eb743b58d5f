"""benchmarks/live_cpu.py on the shipped sample clip: it runs the live detector and analyzer per
frame, counts the identity embeddings it computed, and refuses bad input with one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import live_cpu

SAMPLE = (
    Path(__file__).resolve().parents[2] / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
)


def test_measures_a_configuration_on_the_sample(tmp_path: Path) -> None:
    frames, fps = live_cpu.read_frames(SAMPLE, gap=2, n=4)
    assert len(frames) == 4 + live_cpu.WARM_UP and fps > 0
    assert [f.index for f in frames[:3]] == [0, 2, 4]
    row = live_cpu.measure(frames, {"tracking.use_identity": False, "tracking.gender_faces": 0})
    assert row["frames"] == 4 and row["faces"] >= 4  # three people walk through the sample
    assert row["cpu_ms_per_frame"] > 0 and row["identity_embeddings"] == 0
    assert live_cpu.decode_cpu_ms(SAMPLE, gap=3, n=30) > 0


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot open"):
        live_cpu.read_frames(tmp_path / "missing.mp4", 3, 4)
    with pytest.raises(SystemExit, match=r"section\.key=value"):
        live_cpu.parse_sets(["use_identity"])
    assert live_cpu.parse_sets(["tracking.use_identity=false"]) == {"tracking.use_identity": False}


def test_recall_counts_ground_truth_faces_a_box_overlaps(tmp_path: Path) -> None:
    gt = tmp_path / "gt.csv"
    gt.write_text(
        "frame_index,person_id,x1,y1,x2,y2,age,gender,face_px\n"
        "0,0,10,10,50,50,30,male,40\n0,1,100,10,140,50,30,male,40\n3,0,12,10,52,50,30,male,40\n"
        "3,2,200,10,220,30,30,male,20\n9,0,0,0,40,40,30,male,40\n"
    )
    found = {0: [(10.0, 10.0, 50.0, 50.0)], 3: [(14.0, 10.0, 54.0, 50.0), (100.0, 10.0, 140.0, 50.0)]}
    # frame 9 was not analysed; the 20-px face is under 32 px; person 1 at frame 0 was missed
    assert live_cpu.recall(found, gt) == pytest.approx(2 / 3)
