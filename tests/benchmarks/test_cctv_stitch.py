"""``cctv_stitch``: two clips joined at a hard cut, their GT with the second clip's people renamed (no
../shared)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_stitch import PERSON_OFFSET, main

from facelog.pipeline.file.reader import VideoSource


def _square_clip(folder: Path, name: str, xs: list[int]) -> Path:
    """A red square at ``xs[k]`` in frame k (25 fps, 320x96); its GT beside it, person 0."""
    raw = b""
    for x in xs:
        img = np.full((96, 320, 3), 60, np.uint8)
        img[30:62, x : x + 32] = (40, 40, 220)
        raw += img.tobytes()
    mp4 = folder / f"{name}.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x96",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    rows = [(k, 0, float(x), 30.0, x + 32.0, 62.0, 30.0, "male", 32) for k, x in enumerate(xs)]
    pd.DataFrame(rows, columns=cols).to_csv(mp4.with_suffix(".gt.csv"), index=False)
    return mp4


def test_the_cut_shows_the_first_clip_then_the_second_and_renames_the_second_clips_people(
    tmp_path: Path,
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    right = _square_clip(tmp_path, "right", [10 * k for k in range(20)])
    left = _square_clip(tmp_path, "left", [280 - 10 * k for k in range(20)])
    out = tmp_path / "cut" / "right.mp4"
    assert main(["--first", str(right), "--then", str(left), "--at", "8", "--out", str(out)]) == 0
    src = VideoSource(out)
    try:
        frames = [f.image for f in src]
    finally:
        src.close()
    assert len(frames) == 20
    red = [np.flatnonzero(((f[:, :, 2].astype(int) - f[:, :, 0]) > 80).any(axis=0))[0] for f in frames]
    want = [10 * k if k < 8 else 280 - 10 * k for k in range(20)]
    assert all(abs(int(a) - b) <= 2 for a, b in zip(red, want, strict=True))
    gt = pd.read_csv(out.with_suffix(".gt.csv")).sort_values("frame_index", ignore_index=True)
    assert gt.frame_index.tolist() == list(range(20)) and gt.x1.tolist() == want
    assert set(gt.person_id[gt.frame_index < 8]) == {0} and set(gt.person_id[gt.frame_index >= 8]) == {
        PERSON_OFFSET
    }
    assert not list(out.parent.glob(".*")), "no temporary file left behind"


def test_a_missing_ground_truth_is_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    clip = _square_clip(tmp_path, "a", [10 * k for k in range(5)])
    clip.with_suffix(".gt.csv").unlink()
    out = tmp_path / "cut" / "a.mp4"
    assert main(["--first", str(clip), "--then", str(clip), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cctv_stitch: GT not found") and "\n" not in err
    assert not out.exists()
