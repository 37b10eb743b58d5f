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
    row = live_cpu.measure(frames, {"tracking.use_identity": False})
    assert row["frames"] == 4 and row["faces"] >= 4  # three people walk through the sample
    assert row["cpu_ms_per_frame"] > 0 and row["identity_embeddings"] == 0
    assert live_cpu.decode_cpu_ms(SAMPLE, gap=3, n=30) > 0


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot open"):
        live_cpu.read_frames(tmp_path / "missing.mp4", 3, 4)
    with pytest.raises(SystemExit, match=r"section\.key=value"):
        live_cpu.parse_sets(["use_identity"])
    assert live_cpu.parse_sets(["tracking.use_identity=false"]) == {"tracking.use_identity": False}
