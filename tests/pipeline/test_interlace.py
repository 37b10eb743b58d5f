"""Interlaced frames: the comb test, the decision per source, the field kept, and a run end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.cli.sample import sample_path
from facelog.pipeline.file.reader import VideoSource
from facelog.pipeline.frames.interlace import (
    COMB_FRAMES,
    COMB_RATIO,
    PROGRESSIVE_FRAMES,
    Deinterlacer,
    comb_ratio,
    keep_field,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runs import facelog_run  # facelog run in a subprocess

RNG = np.random.default_rng(7)
SCENE = cv2.GaussianBlur(RNG.integers(0, 255, (120, 400, 3), np.uint8), (0, 0), 2.0)


def _shot(k: int) -> np.ndarray:
    """A textured scene with a bright textured block 6 px further right each frame (progressive)."""
    img = SCENE.copy()
    block = cv2.GaussianBlur(np.random.default_rng(1).integers(100, 255, (50, 60, 3), np.uint8), (0, 0), 1.5)
    img[30:80, 20 + 6 * k : 80 + 6 * k] = block
    return img


def _woven(k: int) -> np.ndarray:
    """Shot k + 1's even rows and shot k's odd rows: what an interlaced camera records."""
    img = _shot(k + 1)
    img[1::2] = _shot(k)[1::2]
    return img


def test_keep_field_keeps_the_even_rows_and_fills_the_odd_ones_from_them() -> None:
    for shape in [(7, 5, 3), (8, 5, 3), (6, 4), (1, 3, 3)]:
        img = RNG.integers(0, 255, shape, np.uint8)
        out = keep_field(img)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out[0::2], img[0::2])
        mean = (img[0:-2:2].astype(int) + img[2::2]) / 2
        assert len(mean) == 0 or np.abs(out[1 : 2 * len(mean) : 2] - mean).max() <= 0.5 + 1e-9
        if shape[0] % 2 == 0:
            assert np.array_equal(out[-1], img[-2])


def test_comb_ratio_tells_woven_frames_from_progressive_ones_where_something_moves() -> None:
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (_shot(3), _shot(4), _woven(3), _woven(4))]
    progressive = comb_ratio(grey[0], grey[1])
    woven = comb_ratio(grey[2], grey[3])
    assert progressive is not None and progressive < 1.0
    assert woven is not None and woven > COMB_RATIO
    assert comb_ratio(grey[0], grey[0]) is None, "nothing moved: nothing to judge"


def test_auto_keeps_one_field_once_comb_frames_are_combed() -> None:
    d = Deinterlacer("auto")
    inputs = [_woven(k) for k in range(COMB_FRAMES + 3)]
    outs = [d(img) for img in inputs]
    assert d.interlaced and d.since_frame == COMB_FRAMES  # the first frame has nothing to compare with
    assert all(o is i for o, i in zip(outs[:COMB_FRAMES], inputs, strict=False)), "untouched until decided"
    assert all(
        np.array_equal(o, keep_field(i))
        for o, i in zip(outs[COMB_FRAMES:], inputs[COMB_FRAMES:], strict=True)
    )


def test_auto_leaves_a_progressive_source_alone_and_stops_testing() -> None:
    d = Deinterlacer("auto")
    # back and forth: about half the frames show enough motion to be judged
    frames = [_shot(k % 40 if (k // 40) % 2 == 0 else 39 - k % 40) for k in range(4 * PROGRESSIVE_FRAMES)]
    for img in frames:
        assert d(img) is img
    assert not d.interlaced and d.since_frame is None
    for k in range(COMB_FRAMES + 2):  # judged progressive: no more tests, combed frames pass untouched
        woven = _woven(k)
        assert d(woven) is woven
    assert not d.interlaced


def test_on_and_off_decide_without_a_test() -> None:
    img = _woven(2)
    on, off = Deinterlacer("on"), Deinterlacer("off")
    assert on.interlaced and on.since_frame == 0 and np.array_equal(on(img), keep_field(img))
    for k in range(COMB_FRAMES + 2):
        woven = _woven(k)
        assert off(woven) is woven
    assert not off.interlaced
    with pytest.raises(ValueError, match="auto, on or off"):
        Deinterlacer("yes")  # type: ignore[arg-type]


def _interlaced_sample(tmp_path: Path) -> Path:
    """The shipped sample recorded by an interlaced camera (``cctv_bench --camera interlaced``'s weave)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("needs the ffmpeg binary (Debian: apt-get install ffmpeg)")
    out = tmp_path / "interlaced.mp4"
    cmd = [ffmpeg, "-loglevel", "error", "-y", "-i", str(sample_path()), "-vf",
           "tblend=all_expr='if(mod(Y,2),B,A)'", "-c:v", "libx264", "-crf", "18", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def test_the_reader_keeps_one_field_of_an_interlaced_file_and_none_of_a_progressive_one(
    tmp_path: Path,
) -> None:
    clip = _interlaced_sample(tmp_path)
    src = VideoSource(clip, deinterlace="auto")
    frames = [f.image for f in src]
    since = src.deinterlacer.since_frame
    assert since is not None and since <= 5
    later = frames[since:]
    assert all(
        np.abs(f[1:-1:2].astype(int) - (f[0:-2:2].astype(int) + f[2::2]) / 2).max() <= 1 for f in later
    )
    plain = VideoSource(sample_path(), deinterlace="auto")
    raw = VideoSource(sample_path(), deinterlace="off")
    for a, b in zip(plain, raw, strict=True):
        assert np.array_equal(a.image, b.image)
    assert plain.deinterlacer.since_frame is None


def test_a_run_on_an_interlaced_clip_says_so_and_finds_its_people(tmp_path: Path) -> None:
    clip = _interlaced_sample(tmp_path)
    out = tmp_path / "out.csv"
    stderr, _, persons = facelog_run(clip, out)
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert "one field of each frame kept" in summary["extra"]["interlaced"]
    assert f"{clip}: interlaced video: one field of each frame kept" in stderr
    assert len(persons) == 3, persons  # the sample's three people, as in the progressive clip


@pytest.mark.parametrize(("text", "mode"), [("off", "off"), ("on", "on"), ("auto", "auto"), ("'off'", "off")])
def test_a_config_file_may_write_deinterlace_bare(tmp_path: Path, text: str, mode: str) -> None:
    """YAML reads a bare on / off as a boolean: the setting still means what it says."""
    from facelog.pipeline.config import load_config

    p = tmp_path / "c.yaml"
    p.write_text(f"sampling:\n  deinterlace: {text}\n")
    assert load_config(p).sampling.deinterlace == mode
