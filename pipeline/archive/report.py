"""The batch report: the shared report (``pipeline/report/``) by UTC day over a batch's done files.

``build_report`` turns the batch's done files into ``report.Recording``s and returns the shared
report's rows by day, in the batch's column names (``REPORT_COLUMNS``: ``day`` for the period,
``frames`` and ``video_s`` as before); ``write_report`` writes ``report.csv``, ``report.png`` and the
shared ``report.html`` beside them. Conventions (docs/BATCH.md):

- **camera** = the first path component under the archive (``ARCHIVE/cam-entrance/...`` ->
  ``cam-entrance``); files directly in the archive root belong to camera ``(root)``.
- **time** = the date (and time) in the file's archive-relative path, else the file's mtime minus its
  length (``report.read.recording_start``); ``day_of`` gives the day a file starts on.

People are tracks-CSV rows with ``status == "person"`` (what the tracks CSV marks as static is left
out and counted in ``static``; ``no_face`` rows, heads seen from behind, are left out); a file
without a tracks CSV (tracking off) or with another schema is skipped and counted (``skipped_files``,
logged), so it adds neither people nor video.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from facelog.engines.fileio import commit_file, temp_path, write_text_atomic
from facelog.pipeline.report import AGE_BIN_EDGES, AGE_BIN_LABELS, Recording, report_recordings, write_page
from facelog.pipeline.report.find import NS, ROOT_CAMERA, recording_start, time_in_path
from facelog.pipeline.sinks import tracks_path

log = logging.getLogger(__name__)

__all__ = ["AGE_BIN_EDGES", "AGE_BIN_LABELS", "REPORT_COLUMNS", "ROOT_CAMERA", "ReportInput", "build_report"]

UTC = ZoneInfo("UTC")
REPORT_COLUMNS = (
    "camera", "day", "files", "frames", "video_s", "faces", "persons", "female", "male",
    "female_share", "age_mean", *AGE_BIN_LABELS,
    "unknown", "static", "dwell_median_s", "dwell_p90_s", "no_video_h", "skipped_files",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One processed file: where it sits in the archive and where its CSV is (its tracks CSV beside)."""

    rel_path: str  # relative to the archive, posix separators
    mtime_ns: int
    csv_path: Path
    frames: int
    video_s: float


def camera_of(rel_path: str) -> str:
    """The camera folder of an archive-relative path (its first component)."""
    parts = PurePosixPath(rel_path).parts
    return parts[0] if len(parts) > 1 else ROOT_CAMERA


def day_of(rel_path: str, mtime_ns: int) -> str:
    """ISO day of a recording: a date in its path, else the UTC date of its mtime."""
    found = time_in_path(rel_path, UTC)
    ns = found[0] if found is not None else mtime_ns
    return dt.datetime.fromtimestamp(ns // NS, dt.UTC).date().isoformat()


def _recording(item: ReportInput) -> Recording:
    video_ns = int(item.video_s * NS)
    start, _ = recording_start(item.rel_path, video_ns, item.mtime_ns, None, UTC)
    tracks = tracks_path(item.csv_path)
    return Recording(camera_of(item.rel_path), "run", item.csv_path, tracks, start, video_ns, item.frames)


def build_report(inputs: Iterable[ReportInput]) -> pd.DataFrame:
    """One row per (camera, UTC day) from a camera's first to its last day, sorted; columns REPORT_COLUMNS.

    The readout (for the HTML page) rides along in ``attrs["readout"]``.
    """
    recordings, skipped = [], Counter[str]()
    for item in inputs:
        if not tracks_path(item.csv_path).is_file():
            skipped["no tracks CSV (tracking off: no people to count)"] += 1
            log.warning("report: %s has no tracks CSV (tracking off?): not counted", item.rel_path)
            continue
        recordings.append(_recording(item))
    table, readout = report_recordings(recordings, "day", UTC, skipped=skipped)
    day = table["period_start"].str.slice(0, 10)
    files = readout.files
    frames = files.groupby([files["camera"], files["t_ns"].map(day_of_ns)])["frames"].sum().to_dict()
    out = table.assign(
        day=day,
        frames=[int(frames.get((c, d), 0)) for c, d in zip(table["camera"], day, strict=True)],
        video_s=(table["video_h"] * 3600).round(3),
    )[list(REPORT_COLUMNS)]
    out.attrs["page"] = (table, readout)  # what write_report's HTML page shows
    return out


def day_of_ns(ns: int) -> str:
    """The UTC day of a time in ns since the epoch."""
    return dt.datetime.fromtimestamp(ns // NS, dt.UTC).date().isoformat()


def write_report(report: pd.DataFrame, csv_path: Path, png_path: Path) -> None:
    """Write the report CSV, its chart (people by gender, age histogram) and, for a report made by
    ``build_report``, the shared ``report.html`` beside the CSV; each atomically."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(csv_path, report.to_csv(index=False))
    tmp_png = temp_path(png_path)
    try:
        _plot(report, tmp_png)
        commit_file(tmp_png, png_path)
    finally:
        tmp_png.unlink(missing_ok=True)
    page = report.attrs.get("page")
    if page is not None:
        table, readout = page
        write_page(table, readout, csv_path.with_suffix(".html"), "day", UTC, ["the batch's done files"])


def _plot(report: pd.DataFrame, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; safe to call repeatedly
    import matplotlib.pyplot as plt

    labels = [f"{c}\n{d}" for c, d in zip(report["camera"], report["day"], strict=True)]
    x = np.arange(len(report))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8.0, 1.2 * len(report) + 6), 4.5))
    ax1.bar(x, report["male"], label="male", color="#4c72b0")
    ax1.bar(x, report["female"], bottom=report["male"], label="female", color="#dd8452")
    for xi, share in zip(x, report["female_share"], strict=True):
        if share == share:  # not NaN
            ax1.annotate(f"{share:.0%} f", (xi, 0), xytext=(0, 2), textcoords="offset points", ha="center")
    ax1.set_xticks(x, labels, fontsize=8)
    ax1.set_ylabel("people")
    ax1.set_title("People per camera and day")
    ax1.legend()
    bins = [lab.removeprefix("age_").replace("_plus", "+").replace("_", "-") for lab in AGE_BIN_LABELS]
    for i, lab in enumerate(labels):
        counts = report.loc[report.index[i], list(AGE_BIN_LABELS)].to_numpy(np.float64)
        total = counts.sum()
        ax2.plot(bins, counts / total if total else counts, marker="o", label=lab.replace("\n", " "))
    ax2.set_ylabel("share of people")
    ax2.set_title("Age histogram")
    if len(report):
        ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100, format="png")
    plt.close(fig)
