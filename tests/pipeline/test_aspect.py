"""Video whose pixels are not square (a DVR's anamorphic D1): frames are widened to the picture a player
shows, so faces keep their shape, in files (``VideoSource``) and in whole runs (``facelog run``).

The made clips are the shipped sample (480x270) stored 360x270 with a sample aspect ratio of 4:3: a
player shows them at 480x270 again, so the run's boxes compare with the plain sample's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facelog.cli.sample import sample_path
from facelog.pipeline.file.reader import VideoSource
from facelog.pipeline.frames.aspect import SAR_TOLERANCE, SquarePixels, square_size

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runs import facelog_run  # facelog run in a subprocess


def _ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("needs the ffmpeg binary (Debian: apt-get install ffmpeg)")
    return ffmpeg


def anamorphic_sample(folder: Path, turned: bool = False) -> Path:
    """The sample stored 360x270 with 4:3 pixels; ``turned``: stored sideways (270x360, 3:4 pixels)
    with a display matrix that turns it upright, as a phone stores a portrait video."""
    ffmpeg = _ffmpeg()
    out = folder / ("phone43.mp4" if turned else "sample43.mp4")
    vf = "transpose=1,scale=270:360,setsar=3/4" if turned else "scale=360:270,setsar=4/3"
    stored = folder / "stored.mp4" if turned else out
    steps = [["-i", str(sample_path()), "-vf", vf, "-c:v", "libx264", "-crf", "18", str(stored)]]
    if turned:
        steps.append(["-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out)])
    for args in steps:
        subprocess.run([ffmpeg, "-v", "error", "-y", *args], check=True, timeout=120)
    return out


@pytest.mark.parametrize(
    ("size", "sar", "shown"),
    [
        ((720, 576), 64 / 45, (1024, 576)),  # PAL D1 at 16:9
        ((704, 576), 12 / 11, (768, 576)),  # PAL 4CIF at 4:3
        ((720, 480), 10 / 11, (720, 528)),  # NTSC D1 at 4:3: pixels taller than wide
        ((1280, 720), 1.0, (1280, 720)),
        ((1280, 720), 1.0 + SAR_TOLERANCE / 2, (1280, 720)),  # within the tolerance: left alone
    ],
)
def test_square_size_stretches_the_narrow_side(
    size: tuple[int, int], sar: float, shown: tuple[int, int]
) -> None:
    assert square_size(*size, sar) == shown


def test_square_pixels_resizes_only_non_square_frames() -> None:
    image = np.zeros((270, 360, 3), np.uint8)
    image[:, 180:] = 200
    wide = SquarePixels(4 / 3)(image)
    assert wide.shape == (270, 480, 3) and wide[:, 250:].mean() > 190 and wide[:, :230].mean() < 10
    assert SquarePixels(1.0)(image) is image
    assert SquarePixels(3 / 4)(image).shape == (360, 360, 3)
    assert SquarePixels(1.0).describe(360, 270) is None
    assert "360x270 to 480x270" in (SquarePixels(4 / 3).describe(360, 270) or "")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="aspect"):
            SquarePixels(bad)


@pytest.mark.parametrize("turned", [False, True], ids=["stored wide", "turned phone"])
def test_reader_gives_the_frames_a_player_shows(tmp_path: Path, turned: bool) -> None:
    src = VideoSource(anamorphic_sample(tmp_path, turned))
    try:
        assert (src.info.width, src.info.height) == (480, 270)
        assert src.info.sample_aspect == pytest.approx(4 / 3, rel=1e-3)
        frame = next(iter(src))
        assert frame.image.shape == (270, 480, 3)
    finally:
        src.close()
    plain = VideoSource(sample_path())
    try:
        assert plain.info.sample_aspect == 1.0 and not plain.square.active
    finally:
        plain.close()


def _box_shape(rows: list[dict[str, str]]) -> float:
    shapes = [(float(r["x2"]) - float(r["x1"])) / (float(r["y2"]) - float(r["y1"])) for r in rows]
    return float(np.median(shapes))


def test_run_on_wide_pixels_sees_faces_as_shown(tmp_path: Path) -> None:
    """The squeezed faces (75% of their width) gave YuNet boxes 12% narrower and read the sample's
    third person as a man; widened, the boxes have the plain sample's shape."""
    clip = anamorphic_sample(tmp_path)
    _, rows, people = facelog_run(clip, tmp_path / "wide.csv")
    _, plain_rows, plain_people = facelog_run(sample_path(), tmp_path / "plain.csv")
    assert len(people) == len(plain_people) == 3
    assert len(rows) >= 0.9 * len(plain_rows)
    assert max(float(r["x2"]) for r in rows) > 370  # boxes in the shown 480-wide picture, not the stored 360
    assert _box_shape(rows) == pytest.approx(_box_shape(plain_rows), rel=0.06)
    summary = json.loads((tmp_path / "wide.summary.json").read_text())
    assert (summary["width"], summary["height"]) == (480, 270)
    assert "360x270 to 480x270" in summary["extra"]["pixels"]
