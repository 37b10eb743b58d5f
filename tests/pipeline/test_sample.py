"""The sample that ships (``facelog run --sample``): found in the package, runs with an empty HOME."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facelog.cli.sample import SAMPLE_NAME, sample_path


def facelog(*args: str | Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("FACELOG_YUNET", None)
    cmd = [sys.executable, "-m", "facelog.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_the_sample_ships_with_its_licence_and_attribution() -> None:
    clip = sample_path()
    assert clip.name == SAMPLE_NAME and 0 < clip.stat().st_size < 150_000
    notice = (clip.parent / "NOTICE").read_text()
    assert "Intel IoT DevKit sample-videos" in notice and "CC-BY-4.0" in notice
    assert "Attribution 4.0 International" in (clip.parent / "LICENSE.CC-BY-4.0").read_text()


def test_run_sample_with_an_empty_home_writes_rows_and_shows_them(tmp_path: Path) -> None:
    """README's first command: no ../shared, no cache, no config; the shipped detector and model."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    r = facelog("run", "--sample", "-o", "out.csv", cwd=work, home=home)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((work / "out.csv").open()))
    assert len(rows) >= 41  # 41 frames, about 3 faces each
    assert json.loads((work / "out.summary.json").read_text())["frames_read"] == 41
    assert "wrote out.csv" in r.stdout and "wrote out.summary.json" in r.stdout
    assert "Intel IoT DevKit sample-videos" in r.stdout
    first = rows[0]
    shown = r.stdout.split("first rows of out.csv:\n", 1)[1].splitlines()
    assert shown[0].split() == ["frame_index", "pts_ms", "track_id", "x1", "y1", "x2", "y2", "age",
                                "gender", "gender_score"]  # fmt: skip
    assert shown[1].split()[3:5] == [first["x1"], first["y1"]] and len(shown) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample", "x.mp4"], "--sample runs on the clip that ships with facelog: give no INPUT with it"),
        (
            ["--sample", "--blur-faces"],
            "--blur-faces blurs the --annotate video: give --annotate OUT.mp4 too",
        ),
    ],
)
def test_sample_and_blur_usage_errors_are_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    r = facelog("run", *args, "-o", "o.csv", cwd=tmp_path, home=tmp_path)
    assert (r.returncode, r.stderr) == (2, f"facelog: error: {message}\n")
    assert not (tmp_path / "o.csv").exists()
