"""The files a file run writes, and their commit: CSV, annotated mp4, then the summary, last.

Every output is written under a temporary name and renamed when complete (``engines.fileio``); the
summary is renamed last, so a CSV is complete exactly when its summary exists. Stale outputs of an
earlier run are removed first, so no older output may pass for this run's.
"""

from __future__ import annotations

import json
from pathlib import Path

from facelog.engines.fileio import write_text_atomic
from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.annotate import AnnotatedVideo
from facelog.pipeline.file.summary import RunSummary
from facelog.pipeline.sinks import CsvSink, partial_path
from facelog.pipeline.types import Frame, FrameResult


def summary_path(out_csv: str | Path) -> Path:
    """``out.csv`` -> ``out.summary.json`` (its presence marks a complete CSV)."""
    p = Path(out_csv)
    return p.with_name(f"{p.stem}.summary.json")


def output_paths(out_csv: str | Path, annotate: str | Path | None = None) -> list[Path]:
    """Every file a run may write or replace: the CSV, its summary, ``.partial`` and the annotated mp4."""
    out = Path(out_csv)
    paths = [out, summary_path(out), partial_path(out)]
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
    """The CSV (and the annotated mp4) of one file run, open until ``commit`` or ``abort``.

    Args:
        out_csv: the CSV path; stale outputs of an earlier run (CSV, summary) are removed first.
        model_id: the CSV's ``model`` column.
        decimals: rounding of boxes, scores and ages.
        annotate: also write an mp4 here, at ``annotate_fps`` frames/s and ``size`` (width, height).
    """

    def __init__(
        self,
        out_csv: Path,
        model_id: str,
        decimals: int,
        annotate: Path | None = None,
        annotate_fps: float = 10.0,
        size: tuple[int, int] = (0, 0),
    ) -> None:
        self.out_csv = out_csv
        self.sink = CsvSink(out_csv, model_id, decimals)
        self.video: AnnotatedVideo | None = None
        if annotate is not None:
            try:
                self.video = AnnotatedVideo(annotate, annotate_fps, size)
            except BaseException:
                self.sink.abort()
                raise

    @staticmethod
    def remove_stale(out_csv: Path) -> None:
        """Delete an earlier run's CSV and summary: whatever happens next, they cannot pass for ours."""
        for stale in (out_csv, summary_path(out_csv)):
            stale.unlink(missing_ok=True)

    @property
    def rows(self) -> int:
        return self.sink.rows

    def write(self, frame: Frame, result: FrameResult) -> None:
        """One processed frame: its CSV rows and, with ``annotate``, its drawn image."""
        self.sink.write(result)
        if self.video is not None:
            self.video.write(frame.image, result)

    def commit(self, summary: RunSummary) -> None:
        """Rename the mp4 and the CSV into place, then write the summary (which marks completion)."""
        if self.video is not None:
            self.video.commit()
        self.sink.commit()
        write_text_atomic(summary_path(self.out_csv), json.dumps(summary.to_dict(), indent=2) + "\n")

    def abort(self) -> None:
        """Remove every temporary file; nothing appears under a final name."""
        self.sink.abort()
        if self.video is not None:
            self.video.abort()

    def abort_truncated(self, error: SourceError, last_frame: int | None) -> SourceError:
        """A truncated input: keep the rows so far as ``<csv>.partial`` (if any) and say so.

        Returns:
            The error to raise: ``error`` itself, or one whose message names the partial file.
        """
        kept = self.sink.abort(keep_partial=True) if last_frame is not None else None
        if self.video is not None:
            self.video.abort()
        if last_frame is None:
            self.sink.abort()
            return error
        partial = str(kept) if kept else None
        msg = f"{error}; {self.sink.rows} rows from frames 0..{last_frame} kept in {partial}"
        return SourceError(msg, path=error.path, partial=partial)
