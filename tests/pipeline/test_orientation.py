"""A phone's portrait video: the pixels are stored sideways and a display matrix says to turn them.
The reader gives frames as they are shown (OpenCV's ``CAP_PROP_ORIENTATION_AUTO``), so the faces are
upright, found and read as in the same clip stored upright."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facelog.cli.sample import sample_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runs import facelog_run  # facelog run in a subprocess


def test_a_portrait_phone_video_is_read_upright(tmp_path: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("needs the ffmpeg binary (Debian: apt-get install ffmpeg)")
    sideways, phone = tmp_path / "sideways.mp4", tmp_path / "phone.mp4"
    # the sample (480x270) turned a quarter clockwise into 270x480 pixels, as a sensor held upright
    # stores them; then a display matrix that turns it back (the container's rotate tag)
    steps = [
        ["-i", str(sample_path()), "-vf", "transpose=1", "-c:v", "libx264", "-crf", "18", str(sideways)],
        ["-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(phone)],
    ]
    for args in steps:
        subprocess.run([ffmpeg, "-v", "error", "-y", *args], check=True, timeout=120)
    _, rows, people = facelog_run(phone, tmp_path / "phone.csv")
    _, plain_rows, plain_people = facelog_run(sample_path(), tmp_path / "plain.csv")
    assert len(people) == len(plain_people) == 3
    assert sorted(p["gender"] for p in people) == sorted(p["gender"] for p in plain_people)
    assert len(rows) >= 0.9 * len(plain_rows)
    # boxes in the frame as shown: 480 wide, 270 high, as the plain clip's
    assert max(float(r["x2"]) for r in rows) <= 480 and max(float(r["y2"]) for r in rows) <= 270
    assert max(float(r["x2"]) for r in rows) > 300  # not the stored 270 x 480 frame
