"""Progress on stderr: a bar on a terminal, plain lines (never a carriage return) in a log file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from facelog.pipeline.file.progress import BarProgress, LineProgress, make_progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_file_gets_one_plain_line_per_interval() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = LineProgress(400, "clip.mp4", out, interval_s=10.0, clock=clock)
    clock.t += 5
    p.update(50, 3)  # before the first interval: nothing
    assert out.getvalue() == ""
    clock.t += 5
    p.update(100, 7)
    clock.t += 3
    p.update(130, 9)  # 3 s after the last line: nothing
    clock.t += 7
    p.update(200, 12)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "facelog: progress: clip.mp4: 100/400 frames (25%), 10.0 fps, 7 faces, ETA 30 s",
        "facelog: progress: clip.mp4: 200/400 frames (50%), 10.0 fps, 12 faces, ETA 20 s",
    ]
    assert "\r" not in out.getvalue()


def test_unknown_total_has_no_percentage_or_eta() -> None:
    p = LineProgress(0, "cam.mkv", io.StringIO(), clock=FakeClock())
    assert p.line(30, 2, 3.0) == "facelog: progress: cam.mkv: 30 frames, 10.0 fps, 2 faces"


def test_terminal_gets_the_bar_and_a_file_the_lines() -> None:
    assert isinstance(make_progress(True, 10, "a.mp4", Tty()), BarProgress)
    assert isinstance(make_progress(True, 10, "a.mp4", io.StringIO()), LineProgress)
    assert make_progress(False, 10, "a.mp4", Tty()) is None


def test_run_with_stderr_to_a_file_leaves_no_carriage_return(
    synthetic_video: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """``facelog run clip.mp4 -o out.csv 2>log``: the log holds lines, not bar frames."""
    log = tmp_path / "log"
    cmd = [sys.executable, "-m", "facelog.cli", "run", str(synthetic_video), "-o",
           str(tmp_path / "out.csv"), "--model", str(tiny_model), "--detector", "blazeface"]  # fmt: skip
    with log.open("w") as err:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, log.read_text()
    text = log.read_bytes()
    assert b"\r" not in text
    assert b"10/10 frames" in text  # the result line is still there
