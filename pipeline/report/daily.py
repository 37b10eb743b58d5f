"""The daily report a live run may write by itself (``rtsp.report_daily: true``).

After each UTC midnight (plus ``delay_s``, so that people still in view at midnight have ended their
tracks) a background thread writes ``<out>/reports/<YYYY-MM-DD>/report.csv`` and ``report.html`` for
the day before, by hour, atomically (``make_report``). It only reads the CSVs the cameras write; a
failure is logged and retried the next night, never raised into the cameras' loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from facelog.pipeline.report import ReportInputError, make_report

log = logging.getLogger(__name__)

REPORTS_DIR = "reports"


def write_day(out_dir: Path, day: dt.date) -> Path | None:
    """Write the report of one UTC ``day`` of the live folder ``out_dir``; its HTML path, or None (logged)."""
    since = dt.datetime.combine(day, dt.time(), dt.UTC)
    dest = out_dir / REPORTS_DIR / day.isoformat()
    try:
        res = make_report([out_dir], dest, by="hour", since=since, until=since + dt.timedelta(days=1))
    except (ReportInputError, OSError, ValueError) as exc:
        log.warning("event=daily_report_failed day=%s error=%s", day, exc)
        return None
    people = int(res.table["persons"].sum()) if len(res.table) else 0
    log.info("event=daily_report day=%s people=%d path=%s", day, people, res.html_path)
    return res.html_path


class DailyReporter:
    """A daemon thread that writes yesterday's report after each UTC midnight until ``stop()``.

    Args:
        out_dir: the live run's output folder (camera folders under it).
        delay_s: seconds after midnight to wait before reading the day's files.
        clock: seconds since the epoch (tests pass a fake one).
    """

    def __init__(self, out_dir: Path, delay_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.out_dir = Path(out_dir)
        self.delay_s = delay_s
        self.clock = clock
        self.written: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facelog-daily-report", daemon=True)

    def start(self) -> DailyReporter:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to end and wait a little (a report being written finishes in the background)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _next_due(self, now: float) -> float:
        midnight = dt.datetime.fromtimestamp(now, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        due = midnight.timestamp() + self.delay_s
        return due if due > now else due + 86400

    def _run(self) -> None:
        due = self._next_due(self.clock())
        while not self._stop.is_set():
            if self._stop.wait(min(60.0, max(0.0, due - self.clock()))):
                return
            if self.clock() < due:
                continue
            day = dt.datetime.fromtimestamp(due, dt.UTC).date() - dt.timedelta(days=1)
            try:
                path = write_day(self.out_dir, day)
            except Exception:  # never into the cameras: log and try again tomorrow
                log.exception("event=daily_report_failed day=%s", day)
                path = None
            if path is not None:
                self.written.append(path)
            due = self._next_due(self.clock())
