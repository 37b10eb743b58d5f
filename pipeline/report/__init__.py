"""People per camera and period from facelog outputs: ``report.csv`` and a self-contained ``report.html``.

``make_report(paths, out_dir)`` finds the outputs under ``paths`` (``read``: file runs, batch trees,
live camera folders), aggregates them per camera and hour or day (``table``) and writes both files
atomically (``page`` renders the HTML). ``facelog report`` (``pipeline/cli/report.py``) and the
batch's report (``pipeline/archive/report.py``) are its two users. Columns: docs/REPORT.md.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from facelog.engines.fileio import write_text_atomic
from facelog.pipeline.report.find import NS, Recording, ReportInputError, discover
from facelog.pipeline.report.page import render_page
from facelog.pipeline.report.read import Readout, read
from facelog.pipeline.report.table import AGE_BIN_EDGES, AGE_BIN_LABELS, COLUMNS, Period, build_table

__all__ = [
    "AGE_BIN_EDGES", "AGE_BIN_LABELS", "COLUMNS", "REPORT_CSV", "REPORT_HTML", "Period", "Recording",
    "ReportInputError", "ReportResult", "make_report", "report_recordings", "write_page",
    "write_report_files",
]  # fmt: skip

LIVE_MARGIN_NS = 86400 * NS  # a live file holds people first seen up to a day before its period
REPORT_CSV = "report.csv"
REPORT_HTML = "report.html"


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What a report run read and wrote."""

    table: pd.DataFrame  # one row per camera and period, columns COLUMNS
    readout: Readout
    csv_path: Path
    html_path: Path

    @property
    def skipped(self) -> Counter[str]:
        return self.readout.skipped


def _iso_ns(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp()) * NS


def _ns(t: dt.datetime | None) -> int | None:
    return None if t is None else int(t.timestamp() * NS)


def report_recordings(
    recordings: list[Recording],
    by: Period = "day",
    tz: ZoneInfo | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    skipped: Counter[str] | None = None,
    now: dt.datetime | None = None,
) -> tuple[pd.DataFrame, Readout]:
    """Read ``recordings`` and build the table (``since``/``until``: aware datetimes, whole periods)."""
    tz = tz or ZoneInfo("UTC")
    now_ns = _ns(now) or int(dt.datetime.now(dt.UTC).timestamp() * NS)
    readout = read(recordings, skipped if skipped is not None else Counter(), now_ns)
    table = build_table(readout, by, tz, _ns(since), _ns(until), now_ns)
    return table, readout


def write_page(
    table: pd.DataFrame, readout: Readout, html_path: Path, by: Period, tz: ZoneInfo, sources: Sequence[str]
) -> None:
    """Write ``report.html`` atomically (its dwell chart shows the people inside the table's periods)."""
    persons = readout.persons[readout.persons["status"] == "person"]
    if len(table):
        first = min(_iso_ns(s) for s in table["period_start"])
        last = max(_iso_ns(s) for s in table["period_end"])
        persons = persons[(persons["t_ns"] >= first) & (persons["t_ns"] < last)]
    html_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(html_path, render_page(table, persons, by, str(tz), readout.skipped, list(sources)))


def write_report_files(
    table: pd.DataFrame,
    readout: Readout,
    csv_path: Path,
    html_path: Path,
    by: Period,
    tz: ZoneInfo,
    sources: Sequence[str],
) -> None:
    """Write ``report.csv`` and ``report.html`` atomically."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(csv_path, table.to_csv(index=False))
    write_page(table, readout, html_path, by, tz, sources)


def make_report(
    paths: Sequence[Path],
    out_dir: Path,
    by: Period = "day",
    tz: ZoneInfo | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ReportResult:
    """Find, read, aggregate and write ``out_dir/report.csv`` and ``out_dir/report.html``.

    Raises:
        ReportInputError: a path is missing, empty, or holds no facelog output.
        OSError: the outputs cannot be written.
    """
    tz = tz or ZoneInfo("UTC")
    skipped: Counter[str] = Counter()
    out_dir = Path(out_dir)
    recordings = discover([Path(p) for p in paths], tz, skipped)
    own = {(out_dir / REPORT_CSV).resolve()}
    recordings = [r for r in recordings if r.frame_csv.name != REPORT_CSV or r.frame_csv.resolve() not in own]
    lo, hi = _ns(since), _ns(until)
    if lo is not None or hi is not None:  # live period files far outside the range hold none of its people
        lo = -(2**62) if lo is None else lo - LIVE_MARGIN_NS
        hi = 2**62 if hi is None else hi + LIVE_MARGIN_NS
        recordings = [r for r in recordings if r.kind != "live" or lo <= r.start_ns < hi]
    table, readout = report_recordings(recordings, by, tz, since, until, skipped, now)
    csv_path, html_path = out_dir / REPORT_CSV, out_dir / REPORT_HTML
    write_report_files(table, readout, csv_path, html_path, by, tz, [str(p) for p in paths])
    return ReportResult(table, readout, csv_path, html_path)
