"""report.html in a real browser: headless Chromium (Debian's ``chromium``) takes a screenshot of the page
opened from disk with networking off; the charts must be there (not a blank or broken page)."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.report import make_report

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from report_speed import write_live_camera

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install chromium, or .ci/install_browser.sh)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
)  # fmt: skip


def screenshot(page: Path, png: Path, profile: Path, size: tuple[int, int] = (1280, 1000)) -> np.ndarray:
    """Open ``page`` in headless Chromium (no network: ``--proxy-server`` points nowhere) and read its
    screenshot back as an (H, W, 3) uint8 RGB array."""
    import cv2

    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", f"--screenshot={png}",
        page.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-2000:]
    img = cv2.imread(str(png))
    assert img is not None
    return img[:, :, ::-1]


@needs_chromium
def test_report_page_shows_its_charts_in_chromium(tmp_path: Path) -> None:
    live = tmp_path / "live"
    rng = random.Random(3)
    start = dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)
    write_live_camera(live, "door", start, 24, rng, busy=12.0, down_hours=frozenset({3, 4}))
    res = make_report([live], tmp_path / "out", by="hour", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert res.table["persons"].sum() > 20
    img = screenshot(res.html_path, tmp_path / "shot.png", tmp_path / "profile")
    assert img.shape[:2] == (1000, 1280)
    grey = img.astype(np.float64).mean(axis=2)
    not_white = (grey < 235).mean()
    assert grey.std() > 20 and 0.05 < not_white < 0.8, (grey.std(), not_white)
    # the bars are drawn: the chart colours (matplotlib's male blue, female orange) cover real area
    blue = (np.abs(img.astype(int) - (0x4C, 0x72, 0xB0)).sum(axis=2) < 40).mean()
    orange = (np.abs(img.astype(int) - (0xDD, 0x84, 0x52)).sum(axis=2) < 40).mean()
    assert blue > 0.005 and orange > 0.005, (blue, orange)


@needs_chromium
def test_a_blank_page_fails_the_same_check(tmp_path: Path) -> None:
    """The check above can fail: an empty report page is mostly white."""
    page = tmp_path / "blank.html"
    page.write_text("<!doctype html><html><body></body></html>")
    grey = screenshot(page, tmp_path / "blank.png", tmp_path / "profile").astype(np.float64).mean(axis=2)
    assert (grey < 235).mean() < 0.01
