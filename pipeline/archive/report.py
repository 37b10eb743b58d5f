"""The batch report: people, gender share and age histogram per camera folder and day (CSV + PNG).

Conventions (documented in docs/BATCH.md):

- **camera** = the first path component under the archive (``ARCHIVE/cam-entrance/...`` ->
  ``cam-entrance``); files directly in the archive root belong to camera ``(root)``.
- **day** = the first date found in the file's path relative to the archive (``2026-11-20``,
  ``2026_11_20``, ``2026/11/20`` or ``20261120``), else the UTC date of the file's mtime.

People come from each file's tracks CSV (``sinks.tracks_path`` of its CSV: one row per confirmed
person track, with the fused age and gender): ``persons``, ``female``, ``male``, ``female_share``,
``age_mean`` and the age histogram count people, not rows. ``faces`` still counts face observations
(frame-CSV rows). A file without a tracks CSV (tracking off) adds to ``files``, ``frames`` and
``faces`` only (logged). A person seen in two files (a recording cut in two) counts twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from facelog.engines.fileio import commit_file, temp_path, write_text_atomic
from facelog.pipeline.sinks import tracks_path

log = logging.getLogger(__name__)

ROOT_CAMERA = "(root)"
AGE_BIN_EDGES = (0, 10, 20, 30, 40, 50, 60, 70, 200)  # last bin is 70+
AGE_BIN_LABELS = tuple(
    f"age_{lo}_{hi - 1}" if hi < 200 else f"age_{lo}_plus" for lo, hi in itertools.pairwise(AGE_BIN_EDGES)
)
REPORT_COLUMNS = (
    "camera", "day", "files", "frames", "video_s", "faces", "persons", "female", "male",
    "female_share", "age_mean", *AGE_BIN_LABELS,
)  # fmt: skip

_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_/.]?(0[1-9]|1[0-2])[-_/.]?(0[1-9]|[12]\d|3[01])")


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
    for m in _DATE.finditer(rel_path):
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:  # 2026-02-30: not a date, keep looking
            continue
    return dt.datetime.fromtimestamp(mtime_ns / 1e9, tz=dt.UTC).date().isoformat()


def _read(csv_path: Path) -> pd.DataFrame:
    df = pd.read_csv(csv_path)
    missing = {"age", "gender"} - set(df.columns)
    if missing:
        raise ValueError(f"{csv_path}: expected columns age and gender, missing {sorted(missing)}")
    return df[df["age"].notna()]  # rows without a face (frame seen, nothing found) carry no age


@dataclass(slots=True)
class _Group:
    files: int = 0
    frames: int = 0
    video_s: float = 0.0
    faces: int = 0
    female: int = 0
    male: int = 0
    ages: list[np.ndarray] = field(default_factory=list)


def build_report(inputs: Iterable[ReportInput]) -> pd.DataFrame:
    """Aggregate the per-file CSVs into one row per (camera, day), sorted; columns REPORT_COLUMNS.

    Raises:
        ValueError: a CSV or tracks CSV without ``age`` and ``gender`` columns.
    """
    groups: dict[tuple[str, str], _Group] = {}
    untracked = 0
    for item in inputs:
        g = groups.setdefault((camera_of(item.rel_path), day_of(item.rel_path, item.mtime_ns)), _Group())
        g.files += 1
        g.frames += item.frames
        g.video_s += item.video_s
        g.faces += len(_read(item.csv_path))
        tracks = tracks_path(item.csv_path)
        if not tracks.is_file():
            untracked += 1
            continue
        persons = _read(tracks)
        g.female += int((persons["gender"] == "female").sum())
        g.male += int((persons["gender"] == "male").sum())
        g.ages.append(persons["age"].to_numpy(np.float64))
    if untracked:
        log.warning("%d file(s) without a tracks CSV (tracking off?): files and faces only", untracked)
    rows = []
    for (camera, day), g in sorted(groups.items()):
        a = np.concatenate(g.ages) if g.ages else np.zeros(0)
        hist, _ = np.histogram(a, bins=AGE_BIN_EDGES)
        n = g.female + g.male
        rows.append({
            "camera": camera, "day": day, "files": g.files, "frames": g.frames,
            "video_s": round(g.video_s, 3), "faces": g.faces, "persons": len(a),
            "female": g.female, "male": g.male,
            "female_share": round(g.female / n, 4) if n else float("nan"),
            "age_mean": round(float(a.mean()), 2) if len(a) else float("nan"),
            **dict(zip(AGE_BIN_LABELS, (int(h) for h in hist), strict=True)),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def write_report(report: pd.DataFrame, csv_path: Path, png_path: Path) -> None:
    """Write the report CSV and its chart (faces by gender, age histogram) atomically."""
    write_text_atomic(csv_path, report.to_csv(index=False))
    tmp_png = temp_path(png_path)
    _plot(report, tmp_png)
    commit_file(tmp_png, png_path)


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
