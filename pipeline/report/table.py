"""The report table: one row per camera and period (hour or day, in a time zone) from a ``Readout``.

People are tracks-CSV rows with ``status == "person"``, placed in the period of their first sighting;
``static`` counts the static rows left out (``status == "static"``; ``no_face`` rows, heads seen from
behind, are left out uncounted). ``female_share`` and ``male_share`` are of
the people with a known gender. Video hours are the union of the recordings' spans (a restarted live
camera's two files of one hour count once); ``no_video_h`` is the rest of the period, up to now.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from facelog.pipeline.report.find import NS
from facelog.pipeline.report.read import Readout

Period = Literal["hour", "day"]
AGE_BIN_EDGES = (0, 10, 20, 30, 40, 50, 60, 70, 200)  # last bin is 70+
AGE_BIN_LABELS = tuple(
    f"age_{lo}_{hi - 1}" if hi < 200 else f"age_{lo}_plus" for lo, hi in itertools.pairwise(AGE_BIN_EDGES)
)
COLUMNS = (
    "camera", "period_start", "period_end", "video_h", "no_video_h", "files", "skipped_files", "faces",
    "persons", "static", "female", "male", "unknown", "female_share", "male_share", "age_mean",
    *AGE_BIN_LABELS, "dwell_median_s", "dwell_p90_s",
)  # fmt: skip


def period_edges(first_ns: int, last_ns: int, by: Period, tz: ZoneInfo) -> np.ndarray:
    """UTC ns of the period starts covering ``[first_ns, last_ns]``, plus the end of the last one.

    Days are calendar days in ``tz`` (23 or 25 hours across a DST change).
    """
    lo = pd.Timestamp(first_ns, unit="ns", tz="UTC").tz_convert(tz)
    hi = pd.Timestamp(last_ns, unit="ns", tz="UTC").tz_convert(tz)
    if by == "hour":
        start, freq = lo.floor("h", ambiguous=True, nonexistent="shift_backward"), "h"
    else:
        start, freq = lo.normalize(), "D"
    edges = pd.date_range(start, hi + pd.Timedelta(days=1 if by == "day" else 0, hours=1), freq=freq)
    ns = edges.as_unit("ns").asi8
    return ns[: int(np.searchsorted(ns, last_ns, side="right")) + 1]


def build_table(
    readout: Readout,
    by: Period,
    tz: ZoneInfo,
    since_ns: int | None = None,
    until_ns: int | None = None,
    now_ns: int | None = None,
) -> pd.DataFrame:
    """One row per camera and period, columns ``COLUMNS``, sorted by camera then period.

    Every period from a camera's first to its last data (or from ``since_ns`` to ``until_ns``) gets a
    row, so a period without video reads ``video_h`` 0 rather than being absent.
    """
    now = int(dt.datetime.now(dt.UTC).timestamp() * NS) if now_ns is None else now_ns
    parts = [readout.persons, readout.faces, readout.files, readout.coverage]
    if readout.skipped_at is not None:
        parts.append(readout.skipped_at)
    cameras = sorted({c for df in parts for c in df["camera"].unique()})
    tables = [_camera_rows(readout, cam, by, tz, since_ns, until_ns, now) for cam in cameras]
    tables = [t for t in tables if len(t)]
    if not tables:
        text = ("camera", "period_start", "period_end")
        return pd.DataFrame({c: pd.Series(dtype=object if c in text else float) for c in COLUMNS})
    return pd.concat(tables, ignore_index=True)[list(COLUMNS)]


def _camera_rows(
    r: Readout, cam: str, by: Period, tz: ZoneInfo, since: int | None, until: int | None, now: int
) -> pd.DataFrame:
    persons = r.persons[r.persons["camera"] == cam]
    faces = r.faces[r.faces["camera"] == cam]
    files = r.files[r.files["camera"] == cam]
    cov = r.coverage[r.coverage["camera"] == cam]
    gone = r.skipped_at[r.skipped_at["camera"] == cam] if r.skipped_at is not None else files.iloc[:0]
    times = np.concatenate([persons["t_ns"], faces["t_ns"], files["t_ns"], gone["t_ns"], cov["start_ns"]])
    ends = cov["end_ns"].to_numpy(np.int64) - 1
    first = since if since is not None else int(times.min())
    last = until - 1 if until is not None else int(max(times.max(), ends.max() if len(ends) else 0))
    if last < first:
        return pd.DataFrame()
    edges = period_edges(first, last, by, tz)
    if since is not None or until is not None:  # whole periods inside the range only
        lo = int(np.searchsorted(edges, since, side="left")) if since is not None else 0
        hi = int(np.searchsorted(edges, until, side="right")) if until is not None else len(edges)
        edges = edges[lo:hi]
    n = len(edges) - 1
    if n <= 0:
        return pd.DataFrame()

    def bucket(t: pd.Series) -> np.ndarray:
        i = np.searchsorted(edges, t.to_numpy(np.int64), side="right") - 1
        return np.where((i >= 0) & (i < n), i, -1)

    video = _covered(cov, edges)
    f_idx = bucket(faces["t_ns"])
    keep = f_idx >= 0
    face_n = np.bincount(f_idx[keep], weights=faces["faces"].to_numpy(np.float64)[keep], minlength=n)
    p_idx = bucket(persons["t_ns"])
    status = persons["status"].to_numpy()
    is_person = (status == "person") & (p_idx >= 0)
    people = persons[is_person].assign(i=p_idx[is_person])
    gender = people["gender"].to_numpy()
    idx = people["i"].to_numpy()
    count = np.bincount(idx, minlength=n)
    female = np.bincount(idx[gender == "female"], minlength=n)
    male = np.bincount(idx[gender == "male"], minlength=n)
    known = female + male
    nb = len(AGE_BIN_LABELS)
    age_bin = np.clip(
        np.searchsorted(AGE_BIN_EDGES, people["age"].to_numpy(np.float64), side="right") - 1, 0, nb - 1
    )
    hist = np.bincount(idx * nb + age_bin, minlength=n * nb).reshape(n, nb)
    g = people.groupby("i")
    per = pd.DataFrame(
        {
            "age_mean": g["age"].mean(),
            "dwell_median_s": g["dwell_s"].median(),
            "dwell_p90_s": g["dwell_s"].quantile(0.9),
        }
    ).reindex(range(n))
    span = np.maximum(0, np.minimum(edges[1:], now) - edges[:-1]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "camera": cam,
            "period_start": [_iso(int(t), tz) for t in edges[:-1]],
            "period_end": [_iso(int(t), tz) for t in edges[1:]],
            "video_h": np.round(video / 3600 / NS, 6),
            "no_video_h": np.round(np.maximum(0.0, span - video) / 3600 / NS, 6),
            "files": np.bincount(_ok(bucket(files["t_ns"])), minlength=n),
            "skipped_files": np.bincount(_ok(bucket(gone["t_ns"])), minlength=n),
            "faces": face_n.astype(np.int64),
            "persons": count,
            "static": np.bincount(p_idx[(status == "static") & (p_idx >= 0)], minlength=n),
            "female": female, "male": male, "unknown": count - known,
            "female_share": np.round(np.where(known > 0, female / known, np.nan), 4),
            "male_share": np.round(np.where(known > 0, male / known, np.nan), 4),
            "age_mean": per["age_mean"].round(2).to_numpy(),
            **{lab: hist[:, k] for k, lab in enumerate(AGE_BIN_LABELS)},
            "dwell_median_s": per["dwell_median_s"].round(2).to_numpy(),
            "dwell_p90_s": per["dwell_p90_s"].round(2).to_numpy(),
        })  # fmt: skip
    return out


def _ok(idx: np.ndarray) -> np.ndarray:
    return idx[idx >= 0]


def _iso(ns: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ns // NS, tz).isoformat()


def _covered(cov: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    """ns of each period covered by the union of the ``[start_ns, end_ns)`` spans."""
    out = np.zeros(len(edges) - 1, np.float64)
    merged: list[list[int]] = []
    for s, e in sorted(zip(cov["start_ns"].tolist(), cov["end_ns"].tolist(), strict=True)):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    for s, e in merged:
        i = max(0, int(np.searchsorted(edges, s, side="right")) - 1)
        while i < len(out) and edges[i] < e:
            out[i] += max(0, min(e, int(edges[i + 1])) - max(s, int(edges[i])))
            i += 1
    return out
