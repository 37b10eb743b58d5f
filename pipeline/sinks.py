"""The CSV outputs: one row per face per processed frame (``CsvSink``), one row per person track
(``TracksSink``); headers from ``CsvRow``'s and ``TrackRow``'s field names.

Frame CSV schema (``SCHEMA_VERSION`` 1; a change to the columns bumps it):

source, frame_index, pts_ms, face_index, track_id, x1, y1, x2, y2, det_score, age, gender,
gender_score, age_smooth, gender_smooth, model, schema_version

Tracks CSV schema (``TRACKS_SCHEMA_VERSION`` 2), one row per person when its track ends:

source, track_id, first_frame, last_frame, first_pts_ms, last_pts_ms, dwell_s, frames, age, age_low,
age_high, gender, gender_score, face_px, status, model, schema_version

A frame with no face has no row (in a file run, nor one whose faces were all left out at commit:
``CsvSink.split_off``); the run summary JSON says which frames were processed. Both sinks
write under a temporary name and rename on ``commit()`` (after fsync), so a CSV with the final name
is always complete.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from facelog.engines.fileio import commit_file, temp_path
from facelog.pipeline.types import FrameResult, PersonResult

SCHEMA_VERSION = 1
TRACKS_SCHEMA_VERSION = 2  # 2: dwell_s and status (issues 20, 22)
# rounding of boxes, scores and ages; written here once: ``output.decimals`` takes its default from here
# (this module stays free of the config, which the report readers do not load)
DECIMALS = 2


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One CSV row. The field order is the column order."""

    source: str
    frame_index: int
    pts_ms: float  # presentation time of the frame in the stream (ms)
    face_index: int  # 0-based within the frame, left to right
    track_id: int  # -1 without tracking
    x1: float  # box in pixels of the decoded frame
    y1: float
    x2: float
    y2: float
    det_score: float
    age: float  # years (expected value of the age distribution)
    gender: str  # "male" | "female"
    gender_score: float  # probability of ``gender``
    age_smooth: float  # the track's fused age so far (empty without tracking)
    gender_smooth: str  # the track's fused gender so far (empty without tracking)
    model: str  # model name@version
    schema_version: int


HEADER: tuple[str, ...] = tuple(f.name for f in fields(CsvRow))


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One tracks-CSV row (one person). The field order is the column order."""

    source: str
    track_id: int  # the frame CSV's track_id of this person's rows
    first_frame: int
    last_frame: int
    first_pts_ms: float
    last_pts_ms: float
    dwell_s: float  # seconds from the first to the last sighting
    frames: int  # frames with a detection of this person
    age: float  # fused expected age (years)
    age_low: float  # central 80% interval of the fused age
    age_high: float
    gender: str  # "male" | "female"
    gender_score: float  # fused probability of ``gender``
    face_px: float  # median face size (sqrt of the box area, px)
    # "person" | "static" (never moved) | "no_face" (a head never seen from the front); the last two
    # are left out of person counts
    status: str
    model: str
    schema_version: int


TRACKS_HEADER: tuple[str, ...] = tuple(f.name for f in fields(TrackRow))


def track_row(person: PersonResult, model: str, decimals: int = DECIMALS) -> TrackRow:
    """The tracks-CSV row of one person."""
    return TrackRow(
        source=person.source_id,
        track_id=person.track_id,
        first_frame=person.first_frame,
        last_frame=person.last_frame,
        first_pts_ms=round(person.first_pts_ns / 1e6, 3),
        last_pts_ms=round(person.last_pts_ns / 1e6, 3),
        dwell_s=round(person.dwell_s, 3),
        frames=person.frames,
        age=round(person.age, decimals),
        age_low=round(person.age_low, decimals),
        age_high=round(person.age_high, decimals),
        gender=person.gender,
        gender_score=round(person.gender_score, 4),
        face_px=round(person.face_px, 1),
        status=person.status,
        model=model,
        schema_version=TRACKS_SCHEMA_VERSION,
    )


def tracks_path(csv_path: str | Path) -> Path:
    """``out.csv`` -> ``out.tracks.csv``: the per-person log beside the frame CSV."""
    p = Path(csv_path)
    return p.with_name(f"{p.stem}.tracks{p.suffix or '.csv'}")


def result_rows(result: FrameResult, model: str, decimals: int = DECIMALS) -> list[CsvRow]:
    """The rows of one frame (none for a frame without faces)."""

    def r(x: float) -> float:
        return round(x, decimals)

    rows = []
    for p in result.predictions:
        rows.append(
            CsvRow(
                source=result.source_id,
                frame_index=result.frame_index,
                pts_ms=round(result.pts_ns / 1e6, 3),
                face_index=p.face_index,
                track_id=p.track_id,
                x1=r(p.xyxy[0]),
                y1=r(p.xyxy[1]),
                x2=r(p.xyxy[2]),
                y2=r(p.xyxy[3]),
                det_score=round(p.det_score, 4),
                age=r(p.age),
                gender=p.gender,
                gender_score=round(p.gender_score, 4),
                age_smooth=r(p.age_smooth),
                gender_smooth=p.gender_smooth or "",
                model=model,
                schema_version=SCHEMA_VERSION,
            )
        )
    return rows


def to_cells(row: CsvRow | TrackRow) -> list[Any]:
    """Row values in header order; NaN becomes an empty cell. (Not ``dataclasses.astuple``: it
    deep-copies every value, 45 us a frame row against 12 here.)"""
    names = {CsvRow: HEADER, TrackRow: TRACKS_HEADER}[type(row)]
    return ["" if isinstance(v, float) and math.isnan(v) else v for v in (getattr(row, n) for n in names)]


def left_out_path(csv_path: str | Path) -> Path:
    """``out.csv`` -> ``out.left_out.csv``: the frame rows of tracks that are not persons (a file run:
    static and no_face tracks, and tracks with too little evidence)."""
    p = Path(csv_path)
    return p.with_name(f"{p.stem}.left_out.csv")


def partial_path(csv_path: str | Path) -> Path:
    """``out.csv`` -> ``out.csv.partial``: the rows kept from an input that broke off (truncated)."""
    p = Path(csv_path)
    return p.with_name(p.name + ".partial")


class AtomicCsv:
    """A CSV written under a temporary name, renamed into place on ``commit()`` (after fsync).

    Use as a context manager: leaving the block normally commits; an exception removes the
    temporary file (or keeps it as ``<path>.partial`` when ``abort(keep_partial=True)`` was called).

    Args:
        path: the final CSV path.
        header: the column names (written at once).
    """

    def __init__(self, path: str | Path, header: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.rows = 0
        self._tmp = temp_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self._tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in commit/abort)
        except OSError as exc:  # name the output the user gave, not our temporary file
            raise OSError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        try:
            self._w = csv.writer(self._f)
            self._w.writerow(header)
        except BaseException:  # Ctrl-C or SIGTERM right after the open: leave no temporary file
            self._f.close()
            self._tmp.unlink(missing_ok=True)
            raise
        self._done = False

    def write_rows(self, rows: list[CsvRow] | list[TrackRow]) -> int:
        """Append rows; returns how many."""
        self._w.writerows(to_cells(r) for r in rows)
        self.rows += len(rows)
        return len(rows)

    def write_cells(self, cells: list[str]) -> None:
        """Append one row given as its CSV cells (a row read back from a file of the same header)."""
        self._w.writerow(cells)
        self.rows += 1

    def commit(self) -> Path:
        """Flush, fsync and rename to the final name."""
        if self._done:
            return self.path
        self._f.close()
        commit_file(self._tmp, self.path)
        self._done = True
        return self.path

    def abort(self, keep_partial: bool = False) -> Path | None:
        """Drop the output; with ``keep_partial`` keep the rows so far as ``<path>.partial``."""
        if self._done:
            return None
        self._f.close()
        self._done = True
        if keep_partial:
            return commit_file(self._tmp, partial_path(self.path))
        self._tmp.unlink(missing_ok=True)
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.commit()
        else:
            self.abort()


class CsvSink(AtomicCsv):
    """Writes ``FrameResult`` rows to ``path`` atomically (see ``AtomicCsv``).

    Args:
        path: the final CSV path.
        model: the ``model`` column value.
        decimals: rounding of boxes and ages.
    """

    def __init__(self, path: str | Path, model: str, decimals: int = DECIMALS) -> None:
        super().__init__(path, HEADER)
        self.model = model
        self.decimals = decimals

    def write(self, result: FrameResult) -> int:
        """Write one frame's rows; returns how many."""
        return self.write_rows(result_rows(result, self.model, self.decimals))

    def split_off(
        self,
        leave_out: Callable[[int], bool],
        other: AtomicCsv | None,
        relabel: Mapping[int, int] | None = None,
    ) -> Counter[int]:
        """Move the rows of the tracks ``leave_out(track_id)`` picks (never untracked rows, id -1) from
        this CSV, not yet committed, to ``other`` (same header; None: move nothing); returns the rows
        moved per track id. ``relabel`` first gives the rows of some track ids another id (pieces of a
        person joined to a later track: ``PersonResult.pieces``). One pass over the written rows; their
        order is kept in both files."""
        if self._done:
            raise ValueError(f"{self.path}: already committed or aborted")
        self._f.close()
        col = HEADER.index("track_id")
        # a temporary name of engines.fileio's form, so a batch run removes it after a hard kill
        kept = temp_path(self.path.with_name(f"{self.path.stem}.kept{self.path.suffix}"))
        moved: Counter[int] = Counter()
        try:
            with (
                self._tmp.open(newline="", encoding="utf-8") as src,
                kept.open("w", newline="", encoding="utf-8") as dst,
            ):
                reader, writer = csv.reader(src), csv.writer(dst)
                writer.writerow(next(reader))
                for row in reader:
                    tid = int(row[col]) if row[col] else -1
                    if relabel and tid in relabel:
                        tid = relabel[tid]
                        row[col] = str(tid)
                    if other is not None and tid != -1 and leave_out(tid):
                        other.write_cells(row)
                        moved[tid] += 1
                    else:
                        writer.writerow(row)
            kept.replace(self._tmp)
        except BaseException:
            kept.unlink(missing_ok=True)
            raise
        finally:
            self._f = self._tmp.open("a", newline="", encoding="utf-8")  # commit/abort close it
            self._w = csv.writer(self._f)
        self.rows -= moved.total()
        return moved


class TracksSink(AtomicCsv):
    """Writes ``PersonResult`` rows (the tracks CSV) to ``path`` atomically (see ``AtomicCsv``).

    Args:
        path: the final CSV path (``tracks_path`` of the frame CSV).
        model: the ``model`` column value.
        decimals: rounding of ages.
    """

    def __init__(self, path: str | Path, model: str, decimals: int = DECIMALS) -> None:
        super().__init__(path, TRACKS_HEADER)
        self.model = model
        self.decimals = decimals

    def write(self, persons: tuple[PersonResult, ...]) -> int:
        """Write persons' rows; returns how many."""
        return self.write_rows([track_row(p, self.model, self.decimals) for p in persons])
