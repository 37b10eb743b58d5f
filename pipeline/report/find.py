"""Find facelog outputs under the paths given to ``facelog report``: which recordings, of which camera, when.

Three kinds are recognised by their files (never by the command that made them):

- **run**: ``X.csv`` + ``X.summary.json`` (+ ``X.tracks.csv``): one ``facelog run`` (or one file of a
  batch). Camera = ``X``; the recording starts at the date-time in its source path or name, else at its
  video's mtime minus its length, else at the time it was analysed (logged).
- **batch**: a folder holding ``facelog_state.sqlite3`` or ``batch_summary.json``: its runs get camera =
  the first folder under it (``(root)`` for files at its top) and, without a date in their path, the
  video mtime the batch recorded.
- **live**: ``<camera>_<YYYYmmddTHHMMSSZ>[_N].csv`` (+ ``..._tracks.csv``) written by a live run, one file
  per camera and period; people are placed by their wall-clock first sighting.

What cannot be counted right is skipped and counted by reason (``Readout.skipped``), one log line each:
a half-written last row (dropped, the rest of the file kept), a CSV of another schema version, a tracks
CSV without its frame CSV, a run without its summary (it did not finish) or without a tracks CSV
(tracking off: no people to count). A skipped recording adds no video hours either, so a period never
reads "no one came" for video whose people were not read.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from facelog.pipeline.live.rotating_sink import LIVE_HEADER
from facelog.pipeline.sinks import HEADER

log = logging.getLogger(__name__)

ROOT_CAMERA = "(root)"
BATCH_MARKERS = ("facelog_state.sqlite3", "batch_summary.json")
OWN_OUTPUTS = ("report.csv",)  # what the reports themselves write: never an input
TRACKS_COLUMNS = ("first_pts_ms", "age", "gender", "dwell_s", "status", "schema_version")
LIVE_NAME = re.compile(r"^(?P<camera>.+)_(?P<ts>\d{8}T\d{6}Z)(?:_\d+)?(?P<tracks>_tracks)?\.csv$")
_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_/.]?(0[1-9]|1[0-2])[-_/.]?(0[1-9]|[12]\d|3[01])")
_TIME = re.compile(r"[T _-]?([01]\d|2[0-3])[-_:.]?([0-5]\d)(?:[-_:.]?([0-5]\d))?(Z)?(?!\d)")
NS = 1_000_000_000


class ReportInputError(ValueError):
    """A path given to the report holds nothing it can read (missing, empty, no facelog output)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One output to read: a file run's CSVs, or one live period file (and its tracks file)."""

    camera: str
    kind: str  # "run" | "live"
    frame_csv: Path
    tracks_csv: Path | None  # live: None when no person ended in that period
    start_ns: int  # UTC ns: the first frame (run) or the period start (live)
    video_ns: int  # media time analysed (run) or the period length (live)
    frames: int | None = None  # frames read (runs; from the summary)


# ---------------------------------------------------------------------------- times
def time_in_path(text: str, tz: ZoneInfo) -> tuple[int, bool] | None:
    """UTC ns of the first date (and time, when one follows) in ``text``; (ns, has_time) or None.

    A time without ``Z`` is read in ``tz``; invalid dates (2026-02-30) are skipped.
    """
    for m in _DATE.finditer(text):
        try:
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
        t = _TIME.match(text, m.end())
        if t:
            clock = dt.time(int(t[1]), int(t[2]), int(t[3] or 0))
            zone = dt.UTC if t[4] else tz
            return int(dt.datetime.combine(day, clock, zone).timestamp()) * NS, True
        return int(dt.datetime.combine(day, dt.time(), tz).timestamp()) * NS, False
    return None


def recording_start(
    name: str, video_ns: int, mtime_ns: int | None, analysed_ns: int | None, tz: ZoneInfo
) -> tuple[int, str]:
    """Start (UTC ns) of a recording and how it was found.

    A date-time in ``name`` wins; a date alone gives midnight of that date in ``tz`` unless the video's
    mtime (its end) minus its length falls on that date; then the mtime; then when it was analysed.
    """
    found = time_in_path(name, tz)
    by_mtime = mtime_ns - video_ns if mtime_ns is not None else None
    if found is not None:
        ns, has_time = found
        if has_time or by_mtime is None or _local_day(by_mtime, tz) != _local_day(ns, tz):
            return ns, "path"
        return by_mtime, "path date + mtime"
    if by_mtime is not None:
        return by_mtime, "mtime"
    if analysed_ns is not None:
        return analysed_ns - video_ns, "analysed at"
    raise ValueError(f"{name}: no recording time")


def _local_day(ns: int, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ns / NS, tz).date()


# ---------------------------------------------------------------------------- discovery
def discover(paths: Iterable[Path], tz: ZoneInfo, skipped: Counter[str]) -> list[Recording]:
    """The recordings under ``paths`` (files or folders).

    Raises:
        ReportInputError: a path is missing, an empty folder, or holds no facelog output.
    """
    recordings: list[Recording] = []
    for path in paths:
        if not path.exists():
            raise ReportInputError(f"{path}: no such file or folder")
        before = sum(skipped.values())
        found = _discover_one(path, tz, skipped)
        if not found and sum(skipped.values()) == before:
            if path.is_dir() and not any(path.iterdir()):
                raise ReportInputError(f"{path}: empty folder")
            raise ReportInputError(
                f"{path}: no facelog output (expected X.csv + X.tracks.csv + X.summary.json of facelog run, "
                "a batch output folder, or a live camera folder of <camera>_<YYYYmmddTHHMMSSZ>.csv files)"
            )
        recordings += found
    return recordings


def _discover_one(path: Path, tz: ZoneInfo, skipped: Counter[str]) -> list[Recording]:
    files = [path] if path.is_file() else [Path(f) for f in sorted(_walk(path))]  # str sort: fast
    names = {str(f) for f in files}
    batch_roots = {f.parent for f in files if f.name in BATCH_MARKERS}
    mtimes: dict[Path, dict[str, int]] = {}  # batch root -> its state database's video mtimes
    live_frames: dict[tuple[str, str], list[Path]] = {}
    live_tracks: dict[Path, Path] = {}
    out: list[Recording] = []
    for f in files:
        m = LIVE_NAME.match(f.name)
        if m:
            if m["tracks"]:
                live_tracks[f.with_name(f.name.removesuffix("_tracks.csv") + ".csv")] = f
            else:
                live_frames.setdefault((m["camera"], m["ts"]), []).append(f)
        elif f.name.endswith(".summary.json"):
            rec = _run_recording(f, batch_roots, tz, skipped, mtimes)
            if rec is not None:
                out.append(rec)
        elif f.name.endswith(".left_out.csv") and _header(f) == HEADER:
            # a run's rows of tracks that are not persons (sinks.left_out_path): evidence, not a recording
            if str(f.with_name(f.name.removesuffix(".left_out.csv") + ".csv")) not in names:
                skip(skipped, "left-out rows without their frame CSV", f)
        elif f.name.endswith(".tracks.csv"):
            stem = f.name.removesuffix(".tracks.csv")
            if (
                str(f.with_name(stem + ".csv")) not in names
                and str(f.with_name(stem + ".summary.json")) not in names
            ):
                skip(skipped, "tracks CSV without its frame CSV", f)
        elif f.suffix == ".csv" and f.name not in OWN_OUTPUTS:
            summary = f.with_name(f.stem + ".summary.json")
            if str(summary) not in names and _header(f) in (HEADER, LIVE_HEADER):
                skip(skipped, "frame CSV without its summary (the run did not finish)", f)
    for frame_path, tracks in live_tracks.items():
        if str(frame_path) not in names:
            skip(skipped, "tracks CSV without its frame CSV", tracks)
    out += _live_recordings(live_frames, live_tracks)
    return out


def _walk(root: Path) -> Iterable[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):  # temporary files of writes in progress
                yield os.path.join(folder, name)


def _header(path: Path) -> tuple[str, ...]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return tuple(next(csv.reader(f), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return ()


def skip(skipped: Counter[str], reason: str, path: Path) -> None:
    """Count ``path`` as skipped for ``reason`` and log it (one line)."""
    skipped[reason] += 1
    log.warning("skipped %s: %s", path, reason)


def _batch_root(path: Path, roots: set[Path]) -> Path | None:
    for parent in path.parents:
        if parent in roots:
            return parent
    return None


def _run_recording(
    summary_path: Path,
    batch_roots: set[Path],
    tz: ZoneInfo,
    skipped: Counter[str],
    mtimes: dict[Path, dict[str, int]],
) -> Recording | None:
    stem = summary_path.name.removesuffix(".summary.json")
    frame = summary_path.with_name(stem + ".csv")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        video_ns = int(float(summary["video_s"]) * NS)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        skip(skipped, f"unreadable run summary ({type(exc).__name__})", summary_path)
        return None
    tracks = frame.with_name(stem + ".tracks.csv")
    if not frame.is_file():
        why = "tracks CSV without its frame CSV" if tracks.is_file() else "run summary without its frame CSV"
        skip(skipped, why, summary_path)
        return None
    if not tracks.is_file():
        skip(skipped, "run without a tracks CSV (tracking off: no people to count)", frame)
        return None
    root = _batch_root(summary_path, batch_roots)
    mtime_ns: int | None = None
    if root is not None:
        rel = frame.relative_to(root).as_posix().removesuffix(".csv")
        parts = rel.split("/")
        camera, name = (parts[0] if len(parts) > 1 else ROOT_CAMERA), rel
        if root not in mtimes:
            mtimes[root] = _batch_mtimes(root)
        mtime_ns = mtimes[root].get(rel)
    else:
        camera, name = stem, f"{stem} {Path(str(summary.get('source', ''))).name}"
        src = Path(str(summary.get("source", "")))
        if src.is_file():
            mtime_ns = src.stat().st_mtime_ns
    analysed_ns = _analysed_ns(summary)
    try:
        start_ns, how = recording_start(name, video_ns, mtime_ns, analysed_ns, tz)
    except ValueError:
        skip(skipped, "no recording time (no date in its path, video gone, no finished_utc)", frame)
        return None
    if how == "analysed at":
        log.warning(
            "%s: no date in its path and its video is gone: placed at the time it was analysed", frame
        )
    frames = summary.get("frames_read")
    return Recording(camera, "run", frame, tracks, start_ns, video_ns, int(frames) if frames else None)


def _analysed_ns(summary: dict[str, object]) -> int | None:
    try:
        end = dt.datetime.fromisoformat(str(summary["finished_utc"]))
        wall = float(summary.get("timings", {}).get("wall_s", 0.0))  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    end = end if end.tzinfo else end.replace(tzinfo=dt.UTC)
    return int((end.timestamp() - wall) * NS)


def _batch_mtimes(root: Path) -> dict[str, int]:
    """rel_path -> video mtime from a batch's state database (read-only; empty when unreadable)."""
    db = root / BATCH_MARKERS[0]
    if not db.is_file():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return dict(con.execute("SELECT rel_path, mtime_ns FROM files WHERE status = 'done'"))
        finally:
            con.close()
    except sqlite3.Error as exc:
        log.warning("%s: cannot read the video mtimes (%s): dates from paths only", db, exc)
        return {}


def _live_recordings(frames: dict[tuple[str, str], list[Path]], tracks: dict[Path, Path]) -> list[Recording]:
    out = []
    by_camera: dict[str, list[int]] = {}
    for camera, ts in frames:
        by_camera.setdefault(camera, []).append(_live_ns(ts))
    periods = {}  # the rotation: the shortest step between a camera's files (one file: an hour)
    for camera, starts in by_camera.items():
        steps = np.diff(sorted(set(starts)))
        periods[camera] = int(min(steps.min(), 86400 * NS)) if len(steps) else 3600 * NS
    for (camera, ts), paths in frames.items():
        start = _live_ns(ts)
        out += [Recording(camera, "live", p, tracks.get(p), start, periods[camera]) for p in paths]
    return out


def _live_ns(ts: str) -> int:
    """UTC ns of a live file's ``YYYYmmddTHHMMSSZ`` stamp (parsed by hand: strptime is slow per file)."""
    y, mo, d, h, mi, s = (int(ts[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15)))
    return int(dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC).timestamp()) * NS
