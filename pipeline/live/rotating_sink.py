"""One CSV file per camera and period, flushed every few seconds and fsynced when it closes.

Files are named ``<out_dir>/<camera>/<camera>_<YYYYmmddTHHMMSSZ>.csv`` after the UTC start of
their period (periods are aligned to the epoch, so hourly files start on the hour). A row goes to
the file of its frame's wall-clock time. A restarted process never appends to an existing file
(a crash may have left a half-written last line there): it opens ``..._1.csv``, ``..._2.csv``.
Each file starts with the header, so every file parses on its own. Its only input is
``FrameResult``: the columns are the file schema's (``sinks.HEADER``) plus ``WALL_COLUMNS``.

``RotatingTracksSink`` writes the per-person log beside it, ``<camera>_<YYYYmmddTHHMMSSZ>_tracks.csv``
with the same periods: one row per person when its track ends (lost, reconnect, end of the run), in
the file of the period of its last sighting; the columns are the file tracks schema's
(``sinks.TRACKS_HEADER``) plus ``TRACK_WALL_COLUMNS`` (wall-clock first and last seen) and
``PIECES_COLUMN`` (the ids of the tracks joined to the person: their frame rows are its too).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from facelog.pipeline.sinks import HEADER, TRACKS_HEADER, result_rows, to_cells, track_row
from facelog.pipeline.types import FrameResult, PersonResult

# Live CSVs: the file schema's columns plus two at the end (wall-clock time, the ordering key).
WALL_COLUMNS = ("wall_time_utc", "wall_ns")
LIVE_HEADER = (*HEADER, *WALL_COLUMNS)
TRACK_WALL_COLUMNS = ("first_seen_utc", "last_seen_utc", "first_wall_ns", "last_wall_ns")
# the ids of tracks joined to this person as its pieces (``PersonResult.pieces``), space-separated: a
# live CSV's rows are written as they come, so theirs keep those ids
PIECES_COLUMN = "pieces"
LIVE_TRACKS_HEADER = (*TRACKS_HEADER, *TRACK_WALL_COLUMNS, PIECES_COLUMN)

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def wall_time_utc(wall_ns: int) -> str:
    """``2026-11-23T06:13:00.736Z`` (ms precision) for a wall-clock time in ns since the epoch."""
    t = dt.datetime.fromtimestamp(wall_ns // 1_000_000 / 1000, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def safe_file_stem(name: str) -> str:
    """A camera name reduced to characters that are safe in file names on every OS."""
    stem = _SAFE_NAME.sub("_", name).strip("._")
    if not stem:
        raise ValueError(f"camera name must contain a letter or digit, got {name!r}")
    return stem


class RotatingCsvSink:
    """Append one camera's rows, switching files every ``rotate_s`` seconds of wall-clock time.

    Args:
        out_dir: root folder; the camera gets its own sub-folder.
        camera: camera name (used for the folder and file names).
        model: the ``model`` column value (``name@version``).
        decimals: rounding of boxes and ages (``output.decimals``).
        rotate_s: period length in seconds (3600 = hourly; ``rtsp.rotate_s``); must be > 0.
        flush_s: flush buffered rows to the OS at least this often (via :meth:`tick` or writes;
            ``rtsp.flush_s``). No defaults here: the config holds them (this module stays light, the
            report reads its headers).

    Use as a context manager, or call :meth:`close` (which flushes and fsyncs).
    """

    COLUMNS: Sequence[str] = LIVE_HEADER
    FILE_SUFFIX = ""  # file name suffix before .csv (the tracks sink: "_tracks")

    def __init__(
        self,
        out_dir: Path,
        camera: str,
        model: str,
        decimals: int,
        rotate_s: float,
        flush_s: float,
    ) -> None:
        if rotate_s <= 0:
            raise ValueError(f"rotate_s must be > 0, got {rotate_s}")
        if flush_s <= 0:
            raise ValueError(f"flush_s must be > 0, got {flush_s}")
        self.camera = camera
        self.folder = Path(out_dir) / safe_file_stem(camera)
        self.header = list(self.COLUMNS)
        self.suffix = self.FILE_SUFFIX
        self.model = model
        self.decimals = decimals
        self.rotate_ns = int(rotate_s * 1e9)
        self.flush_s = flush_s
        self.files: list[Path] = []  # every file this sink opened, in order
        self.rows_written = 0
        self._fh: IO[str] | None = None
        self._period = -1
        self._last_flush = time.monotonic()
        self._dirty = False

    # -- files -----------------------------------------------------------------------------------
    def _path_for(self, period: int) -> Path:
        start = dt.datetime.fromtimestamp(period * self.rotate_ns / 1e9, tz=dt.UTC)
        stem = f"{safe_file_stem(self.camera)}_{start:%Y%m%dT%H%M%SZ}"
        path, n = self.folder / f"{stem}{self.suffix}.csv", 0
        while path.exists():
            n += 1
            path = self.folder / f"{stem}_{n}{self.suffix}.csv"
        return path

    def _open(self, period: int) -> None:
        self._close_file()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path_for(period)
        # "x": never clobber; newline="" as the csv module wants.
        self._fh = open(path, "x", newline="", encoding="utf-8")  # noqa: SIM115 - lives across calls
        self._write_text(self._format([self.header]))
        self._period = period
        self.files.append(path)
        log.info("event=csv_open camera=%s path=%s", self.camera, path)

    def _close_file(self) -> None:
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        self._dirty = False
        log.info("event=csv_close camera=%s path=%s", self.camera, self.files[-1])

    # -- rows ------------------------------------------------------------------------------------
    @staticmethod
    def _format(rows: Iterable[Sequence[object]]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()

    def _write_text(self, text: str) -> None:
        assert self._fh is not None
        self._fh.write(text)  # whole rows per write: a flush never splits a row in our buffer
        self._dirty = True

    def write(self, result: FrameResult) -> int:
        """Write one frame's rows to the file of its period (by ``result.wall_ns``); returns how many.

        A frame without faces writes no row, but still opens the period's file (so the file exists).
        """
        extra = [wall_time_utc(result.wall_ns), result.wall_ns]
        rows = [to_cells(row) + extra for row in result_rows(result, self.model, self.decimals)]
        return self._write_rows(result.wall_ns, rows)

    def _write_rows(self, wall_ns: int, rows: Sequence[Sequence[object]]) -> int:
        period = wall_ns // self.rotate_ns
        if self._fh is None or period != self._period:
            if self._fh is not None and period < self._period:
                # The wall clock stepped back (NTP): stay in the current file, never reopen a past period.
                period = self._period
            else:
                self._open(period)
        if rows:
            self._write_text(self._format(rows))
            self.rows_written += len(rows)
        self.tick()
        return len(rows)

    def tick(self, now_mono: float | None = None) -> None:
        """Flush to the OS when the last flush is older than ``flush_s`` (call it often)."""
        now_mono = time.monotonic() if now_mono is None else now_mono
        if self._dirty and self._fh is not None and now_mono - self._last_flush >= self.flush_s:
            self._fh.flush()
            self._dirty = False
            self._last_flush = now_mono

    def flush(self, fsync: bool = False) -> None:
        """Flush buffered rows now (and fsync when asked)."""
        if self._fh is not None:
            self._fh.flush()
            if fsync:
                os.fsync(self._fh.fileno())
            self._dirty = False
            self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, fsync and close the current file. Safe to call twice."""
        self._close_file()

    def __enter__(self) -> RotatingCsvSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RotatingTracksSink(RotatingCsvSink):
    """Append one camera's person rows (tracks CSV + wall-clock first/last seen), rotated like the
    frame CSV; a file is opened only when a person is written. Same arguments as ``RotatingCsvSink``.
    """

    COLUMNS = LIVE_TRACKS_HEADER
    FILE_SUFFIX = "_tracks"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: Counter[str] = Counter()  # rows written by ``status``: person, static, no_face
        self.pieces = 0  # tracks joined to the persons written (their ``pieces``)

    def write_persons(self, persons: Sequence[PersonResult]) -> int:
        """Write ended persons, each to the file of its last sighting's period; returns how many."""
        for p in persons:
            extra = [
                wall_time_utc(p.first_wall_ns),
                wall_time_utc(p.last_wall_ns),
                p.first_wall_ns,
                p.last_wall_ns,
                " ".join(map(str, sorted(p.pieces))),
            ]
            self._write_rows(p.last_wall_ns, [to_cells(track_row(p, self.model, self.decimals)) + extra])
            self.statuses[p.status] += 1  # counted once on its way to the file, as rows_written
            self.pieces += len(p.pieces)
        return len(persons)
