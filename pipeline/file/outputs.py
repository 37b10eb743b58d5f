"""The files a file run writes, and their commit: CSV, tracks CSV, left-out rows, annotated mp4,
then the summary.

Every output is written under a temporary name and renamed when complete (``engines.fileio``); the
summary is renamed last, so a CSV is complete exactly when its summary exists. Stale outputs of an
earlier run (every path of ``output_paths``: also ``.partial`` files and the annotated mp4) are
removed first, so no older output may pass for this run's. The tracks CSV (``OUT.tracks.csv``, one
row per person track, with tracking on) is committed with the frame CSV; a truncated input keeps the
frame rows before the break as ``OUT.csv.partial`` and their persons (tracks ended at the break) as
``OUT.tracks.csv.partial``, and no summary.

With tracking on, the frame rows of tracks that are not persons are moved at commit from ``OUT.csv``
to ``OUT.left_out.csv`` (same columns, same order), unless ``output.left_out_rows: keep``: tracks
found ``static`` (a poster, a screen, a face-like pattern) or ``no_face`` (a head seen from behind;
their tracks CSV row says so) and tracks with too little evidence to be a person (no tracks CSV row:
``persons``). Every track id left in
``OUT.csv`` is then a person of the tracks CSV, the frame log holds what the persons count counts,
and nothing is lost. Only a complete run is split (a ``.partial`` keeps every row).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from facelog.engines.fileio import write_text_atomic
from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.annotate import AnnotatedVideo
from facelog.pipeline.file.summary import RunSummary
from facelog.pipeline.sinks import (
    HEADER,
    AtomicCsv,
    CsvSink,
    TracksSink,
    left_out_path,
    partial_path,
    tracks_path,
)
from facelog.pipeline.types import Frame, FrameResult, PersonResult


def summary_path(out_csv: str | Path) -> Path:
    """``out.csv`` -> ``out.summary.json`` (its presence marks a complete CSV)."""
    p = Path(out_csv)
    return p.with_name(f"{p.stem}.summary.json")


def output_paths(out_csv: str | Path, annotate: str | Path | None = None) -> list[Path]:
    """Every file a run may write or replace: the CSV, its summary, the tracks CSV, their ``.partial``
    files, the left-out rows' CSV and the annotated mp4."""
    out = Path(out_csv)
    tracks = tracks_path(out)
    paths = [out, summary_path(out), partial_path(out), tracks, partial_path(tracks), left_out_path(out)]
    return [*paths, Path(annotate)] if annotate is not None else paths


def check_outputs_spare_inputs(inputs: list[str | Path], outputs: list[Path]) -> None:
    """Refuse outputs that are inputs: a run removes stale outputs first and would delete the video.

    Raises:
        ValueError: naming the output and the input it would overwrite.
    """
    sources = {Path(i).resolve(): str(i) for i in inputs}
    for out in outputs:
        hit = sources.get(out.resolve())
        if hit is None and out.exists():
            hit = next((s for p, s in sources.items() if p.exists() and out.samefile(p)), None)
        if hit is not None:
            raise ValueError(f"output {out} is the input {hit}: choose another -o / --annotate path")


class RunOutputs:
    """The CSVs (and the annotated mp4) of one file run, open until ``commit`` or ``abort``.

    Args:
        out_csv: the CSV path; stale outputs of an earlier run (CSV, summary) are removed first.
        model_id: the CSV's ``model`` column.
        decimals: rounding of boxes, scores and ages.
        annotate: also write an mp4 here, at ``annotate_fps`` frames/s and ``size`` (width, height).
        tracks: also write the per-person ``tracks_path(out_csv)`` (tracking on).
        separate_left_out: at commit, move the frame rows of tracks that are not persons to
            ``left_out_path(out_csv)`` (with ``tracks`` only).
        min_evidence_frames: ``tracking.min_evidence_frames``: an input with fewer processed frames
            (a still image) cannot give a track that much evidence, so only its static tracks' rows
            move.
        min_evidence_s: ``tracking.min_evidence_s``: likewise for an input whose processed frames
            span less time than that (but more than none: frames without timestamps).
    """

    def __init__(
        self,
        out_csv: Path,
        model_id: str,
        decimals: int,
        annotate: Path | None = None,
        annotate_fps: float = 10.0,
        size: tuple[int, int] = (0, 0),
        tracks: bool = False,
        separate_left_out: bool = True,
        min_evidence_frames: int = 0,
        min_evidence_s: float = 0.0,
    ) -> None:
        self.out_csv = out_csv
        self.sink = CsvSink(out_csv, model_id, decimals)
        self.video: AnnotatedVideo | None = None
        self.tracks: TracksSink | None = None
        self.separate_left_out = separate_left_out
        self.min_evidence_frames = min_evidence_frames
        self.min_evidence_ns = min_evidence_s * 1e9
        self.pts_span: tuple[int, int] | None = None  # first and last processed frame's pts_ns
        self.person_ids: set[int] = set()  # tracks written to the tracks CSV as persons...
        self.static_ids: set[int] = set()  # ... as static...
        self.no_face_ids: set[int] = set()  # ... and as no_face
        self.pieces: dict[int, int] = {}  # a joined track's id -> the id its person was reported under
        self.left_out: AtomicCsv | None = None  # the frame rows of the others, made at commit
        try:
            if tracks:
                self.tracks = TracksSink(tracks_path(out_csv), model_id, decimals)
            if annotate is not None:
                self.video = AnnotatedVideo(annotate, annotate_fps, size)
        except BaseException:
            self.abort()
            raise

    @staticmethod
    def remove_stale(out_csv: Path, annotate: Path | None = None) -> None:
        """Delete an earlier run's outputs (``output_paths``): whatever happens next, none of them can
        pass for this run's (an old mp4 beside a new ``.partial``, an old ``.partial`` beside a new CSV)."""
        for stale in output_paths(out_csv, annotate):
            stale.unlink(missing_ok=True)

    @property
    def rows(self) -> int:
        return self.sink.rows

    @property
    def tracks_csv(self) -> Path | None:
        """The tracks CSV's final path (None without one)."""
        return self.tracks.path if self.tracks is not None else None

    def write_persons(self, persons: tuple[PersonResult, ...]) -> None:
        """Persons whose tracks ended (at the end of input: ``FaceAnalyzer.finish()``)."""
        if self.tracks is not None and persons:
            self.tracks.write(persons)
            ids = {"person": self.person_ids, "static": self.static_ids, "no_face": self.no_face_ids}
            for p in persons:
                ids[p.status].add(p.track_id)
                self.pieces.update(dict.fromkeys(p.pieces, p.track_id))

    def write(self, frame: Frame, result: FrameResult) -> None:
        """One processed frame: its CSV rows, its ended tracks and, with ``annotate``, its drawn image."""
        self.sink.write(result)
        first = frame.pts_ns if self.pts_span is None else self.pts_span[0]
        self.pts_span = (first, frame.pts_ns)
        self.write_persons(result.ended)
        if self.video is not None:
            self.video.write(frame.image, result)

    def commit(self, summary: RunSummary) -> RunSummary:
        """Rename the mp4 and the CSVs into place, then write the summary (which marks completion).

        If any step fails (a full disk, Ctrl-C), what was renamed already is removed again and the
        temporary files with it: a run is committed whole or not at all.

        Returns:
            ``summary`` with ``persons``, ``tracks`` (the tracks CSV), ``rows``, ``left_out_rows`` and
            ``left_out_csv`` filled in.
        """
        tracks = self.tracks_csv
        persons = len(self.person_ids) if self.tracks is not None else None  # not static, not no_face
        done: list[Path] = []
        try:
            counts: dict[str, int] = {}
            if self.separate_left_out and self.tracks is not None:
                self.left_out = AtomicCsv(left_out_path(self.out_csv), HEADER)
                span = self.pts_span[1] - self.pts_span[0] if self.pts_span is not None else 0
                short = summary.frames_processed < self.min_evidence_frames or 0 < span < self.min_evidence_ns
                keep, marked = self.person_ids, self.static_ids | self.no_face_ids
                moved = self.sink.split_off(
                    lambda t: t in marked or (not short and t not in keep), self.left_out, self.pieces
                )
                if not moved:  # nothing to leave out: no empty file
                    self.left_out.abort()
                    self.left_out = None
                static_rows = sum(n for t, n in moved.items() if t in self.static_ids)
                no_face_rows = sum(n for t, n in moved.items() if t in self.no_face_ids)
                counts = {
                    "static": static_rows,
                    "no_face": no_face_rows,
                    "low_evidence": moved.total() - static_rows - no_face_rows,
                }
            elif self.pieces:  # rows of joined pieces under their person's id, nothing left out
                self.sink.split_off(lambda t: False, None, self.pieces)
            summary = replace(
                summary, persons=persons, tracks=str(tracks) if tracks else None, rows=self.sink.rows,
                left_out_rows=counts or None,
                left_out_csv=str(self.left_out.path) if self.left_out is not None else None,
            )  # fmt: skip
            if self.video is not None:
                done.append(self.video.commit())
            if self.tracks is not None:
                done.append(self.tracks.commit())
            if self.left_out is not None:
                done.append(self.left_out.commit())
            done.append(self.sink.commit())
            write_text_atomic(summary_path(self.out_csv), json.dumps(summary.to_dict(), indent=2) + "\n")
        except BaseException:
            self.abort()
            for path in done:
                path.unlink(missing_ok=True)
            raise
        return summary

    def abort(self) -> None:
        """Remove every temporary file; nothing appears under a final name."""
        self.sink.abort()
        if self.tracks is not None:
            self.tracks.abort()
        if self.left_out is not None:
            self.left_out.abort()
        if self.video is not None:
            self.video.abort()

    def abort_truncated(self, error: SourceError, last_frame: int | None) -> SourceError:
        """A truncated input: keep the rows so far as ``<csv>.partial`` and the persons written so far
        as ``<tracks csv>.partial`` (if any frame was processed) and say so. Write the persons of the
        tracks still live first (``FaceAnalyzer.finish()``), so every track id of the rows has its row.

        Returns:
            The error to raise: ``error`` itself, or one whose message names the partial files.
        """
        if last_frame is None:
            self.abort()
            return error
        if self.video is not None:
            self.video.abort()
        if self.pieces:  # rows of joined pieces under their person's id, as a whole run's
            self.sink.split_off(lambda t: False, None, self.pieces)
        kept = self.sink.abort(keep_partial=True)
        kept_tracks = self.tracks.abort(keep_partial=True) if self.tracks is not None else None
        partial = str(kept) if kept else None
        msg = f"{error}; {self.sink.rows} rows from frames 0..{last_frame} kept in {partial}"
        if kept_tracks is not None and self.tracks is not None:
            msg += f", their {self.tracks.rows} person tracks in {kept_tracks}"
        return SourceError(
            msg, path=error.path, partial=partial, partial_tracks=str(kept_tracks) if kept_tracks else None
        )
