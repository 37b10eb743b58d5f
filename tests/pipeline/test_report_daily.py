"""The daily report of a live run (``rtsp.report_daily``): yesterday's hours after UTC midnight, written
atomically by a background thread; no camera, no ../shared (the live folder is generated)."""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from pathlib import Path

import pandas as pd

from facelog.pipeline.config import load_config
from facelog.pipeline.report import make_report
from facelog.pipeline.report.daily import DailyReporter, write_day

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from report_speed import write_live_camera

DAY = dt.date(2026, 11, 20)
START = dt.datetime(2026, 11, 19, 20, tzinfo=dt.UTC)  # 20:00 the day before, for 30 hours


def _live(tmp_path: Path) -> Path:
    out = tmp_path / "live"
    write_live_camera(out, "door", START, 30, random.Random(2), busy=8.0)
    return out


def test_write_day_is_the_report_of_that_day(tmp_path: Path) -> None:
    out = _live(tmp_path)
    html = write_day(out, DAY)
    assert html == out / "reports" / "2026-11-20" / "report.html" and html.is_file()
    got = pd.read_csv(html.with_name("report.csv"))
    assert len(got) == 24 and got["period_start"].iloc[0] == "2026-11-20T00:00:00+00:00"
    assert (got["video_h"] == 1).all()
    since = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    full = make_report([out], tmp_path / "all", by="hour", until=since + dt.timedelta(days=2)).table
    same = full[full["period_start"].str.startswith("2026-11-20")].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, same, check_dtype=False)
    assert write_day(tmp_path / "nothing", DAY) is None  # a missing folder: logged, never raised


def test_reporter_writes_yesterday_after_midnight_and_stops(tmp_path: Path) -> None:
    out = _live(tmp_path)
    now = [dt.datetime(2026, 11, 20, 23, 59, 59, 900000, tzinfo=dt.UTC).timestamp()]
    reporter = DailyReporter(out, delay_s=0.0, clock=lambda: now[0]).start()
    time.sleep(0.3)
    assert reporter.written == []  # before midnight: nothing
    now[0] = dt.datetime(2026, 11, 21, 0, 0, 5, tzinfo=dt.UTC).timestamp()
    deadline = time.monotonic() + 60
    while not reporter.written and time.monotonic() < deadline:
        time.sleep(0.1)
    reporter.stop()
    assert reporter.written == [out / "reports" / "2026-11-20" / "report.html"]
    assert not [p for p in (out / "reports" / "2026-11-20").iterdir() if p.name.startswith(".")]


def test_report_daily_is_a_config_switch(tmp_path: Path) -> None:
    cfg = tmp_path / "rtsp.yaml"
    cfg.write_text("rtsp:\n  report_daily: true\n")
    assert load_config(cfg).rtsp.report_daily is True
    assert load_config(None).rtsp.report_daily is False
