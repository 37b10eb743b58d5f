"""Read the recordings ``find.discover`` found: people (tracks CSVs), faces (frame CSVs), video spans.

Tracks CSVs that share a header are parsed in one pandas call (a month of hourly files is thousands of
small files); live frame CSVs are only counted (one row per face observation). A half-written last row
is dropped (the rows before it kept), a file of another schema version or with broken rows is skipped;
each is counted by reason in ``Readout.skipped`` and logged.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facelog.pipeline.live.rotating_sink import LIVE_HEADER
from facelog.pipeline.report.find import TRACKS_COLUMNS, Recording, skip
from facelog.pipeline.sinks import SCHEMA_VERSION, TRACKS_SCHEMA_VERSION

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Readout:
    """What the report aggregates; times are UTC ns."""

    persons: pd.DataFrame  # camera, t_ns (first sighting), age, gender, dwell_s, status
    faces: pd.DataFrame  # camera, t_ns, faces (face observations = frame-CSV rows)
    coverage: pd.DataFrame  # camera, start_ns, end_ns (video analysed)
    files: pd.DataFrame  # camera, t_ns (start of each recording read), frames (runs; 0 for live)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> files
    skipped_at: pd.DataFrame | None = None  # camera, t_ns of skipped recordings (when known)
    half_rows: int = 0  # half-written last rows dropped (counted also in skipped)


def read(recordings: list[Recording], skipped: Counter[str], now_ns: int) -> Readout:
    """Read every recording's CSVs; bad files are skipped and counted in ``skipped``."""
    bad: set[Path] = set()
    tracks = [r.tracks_csv for r in recordings if r.tracks_csv is not None]
    people, half = _read_csvs(tracks, TRACKS_COLUMNS, TRACKS_SCHEMA_VERSION, skipped, bad, "tracks")
    run_frames = [r.frame_csv for r in recordings if r.kind == "run"]
    run_faces, half2 = _read_csvs(
        run_frames, ("pts_ms", "schema_version"), SCHEMA_VERSION, skipped, bad, "frame"
    )
    live_faces, half3 = _count_rows([r.frame_csv for r in recordings if r.kind == "live"], skipped, bad)
    ok = [r for r in recordings if r.frame_csv not in bad and r.tracks_csv not in bad]
    gone = [r for r in recordings if r.frame_csv in bad or r.tracks_csv in bad]
    by_tracks = {r.tracks_csv: r for r in ok if r.tracks_csv is not None}
    by_frame = {r.frame_csv: r for r in ok}

    person_parts = [
        _placed(df, by_tracks, "first_pts_ms", ("age", "gender", "dwell_s", "status")) for df in people
    ]
    face_parts = [_placed(df, by_frame, "pts_ms", ()).assign(faces=1) for df in run_faces]
    live = [(by_frame[p].camera, by_frame[p].start_ns, n) for p, n in live_faces.items() if p in by_frame]
    face_parts.append(pd.DataFrame(live, columns=["camera", "t_ns", "faces"]))
    cov = [(r.camera, r.start_ns, min(r.start_ns + r.video_ns, max(now_ns, r.start_ns))) for r in ok]
    return Readout(
        persons=_numeric(pd.concat([_empty_persons(), *person_parts], ignore_index=True), ("age", "dwell_s")),
        faces=pd.concat(face_parts, ignore_index=True),
        coverage=pd.DataFrame(cov, columns=["camera", "start_ns", "end_ns"]),
        files=pd.DataFrame(
            [(r.camera, r.start_ns, r.frames or 0) for r in ok], columns=["camera", "t_ns", "frames"]
        ),
        skipped=skipped,
        skipped_at=pd.DataFrame([(r.camera, r.start_ns) for r in gone], columns=["camera", "t_ns"]),
        half_rows=half + half2 + half3,
    )


def _placed(
    df: pd.DataFrame, recs: dict[Path, Recording], pts_col: str, keep: tuple[str, ...]
) -> pd.DataFrame:
    """Rows of the files in ``recs`` with their camera and UTC time: ``first_wall_ns`` for live files,
    the recording's start plus ``pts_col`` for runs."""
    codes, files = pd.factorize(df["file"])
    found = [recs.get(Path(f)) for f in files]
    known = np.array([r is not None for r in found], bool)
    camera = np.array([r.camera if r else "" for r in found], object)
    start = np.array([r.start_ns if r else 0 for r in found], np.int64)
    live = np.array([r is not None and r.kind == "live" for r in found], bool)
    rows = known[codes]
    codes = codes[rows]
    t_ns = start[codes] + (df.loc[rows, pts_col].to_numpy(np.float64) * 1e6).astype(np.int64)
    if "first_wall_ns" in df.columns and live.any():
        t_ns = np.where(live[codes], df.loc[rows, "first_wall_ns"].to_numpy(np.int64), t_ns)
    cols = {c: df.loc[rows, c].to_numpy() for c in keep}
    return pd.DataFrame({"camera": camera[codes], "t_ns": t_ns, **cols})


def _numeric(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` as float (tracks CSVs with no rows concatenate to object columns, which pandas
    cannot take quantiles of)."""
    return df.assign(**{c: pd.to_numeric(df[c], errors="coerce").astype(np.float64) for c in columns})


def _empty_persons() -> pd.DataFrame:
    return pd.DataFrame({"camera": pd.Series(dtype=str), "t_ns": pd.Series(dtype=np.int64),
                         "age": pd.Series(dtype=float), "gender": pd.Series(dtype=str),
                         "dwell_s": pd.Series(dtype=float), "status": pd.Series(dtype=str)})  # fmt: skip


def _body(path: Path, skipped: Counter[str], bad: set[Path]) -> tuple[bytes, bytes, bool] | None:
    """(header line, complete rows, a half-written last row was dropped) or None when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        skip(skipped, f"unreadable ({exc.strerror or exc})", path)
        bad.add(path)
        return None
    head_end = data.find(b"\n")
    if head_end < 0:
        skip(skipped, "no header line (an empty or cut file)", path)
        bad.add(path)
        return None
    body = data[head_end + 1 :]
    half = bool(body) and not body.endswith(b"\n")
    if half:  # a writer that died mid-row: keep the complete rows before it
        body = body[: body.rfind(b"\n") + 1]
        skipped["half-written last row dropped (rows before it kept)"] += 1
        log.warning("%s: half-written last row dropped (rows before it kept)", path)
    return data[:head_end].rstrip(b"\r"), body, half


def _count_rows(paths: list[Path], skipped: Counter[str], bad: set[Path]) -> tuple[dict[Path, int], int]:
    """Rows of live frame CSVs, counted as lines (faces observed); the header must be the live schema's."""
    expected = ",".join(LIVE_HEADER).encode()
    counts, halves = {}, 0
    for p in paths:
        got = _body(p, skipped, bad)
        if got is None:
            continue
        head, body, half = got
        halves += half
        if head != expected:
            skip(skipped, f"frame CSV of another schema (this facelog reads version {SCHEMA_VERSION})", p)
            bad.add(p)
            continue
        first = body[: body.find(b"\n")].rstrip(b"\r")
        if first and not _version_ok(first, expected, SCHEMA_VERSION):
            skip(skipped, f"frame CSV of another schema (this facelog reads version {SCHEMA_VERSION})", p)
            bad.add(p)
            continue
        counts[p] = body.count(b"\n")
    return counts, halves


def _version_ok(line: bytes, header: bytes, version: int) -> bool:
    cols = header.decode().split(",")
    row = next(csv.reader([line.decode("utf-8", "replace")]), [])
    return len(row) == len(cols) and row[cols.index("schema_version")] == str(version)


def _read_csvs(
    paths: list[Path],
    columns: tuple[str, ...],
    version: int,
    skipped: Counter[str],
    bad: set[Path],
    what: str,
) -> tuple[list[pd.DataFrame], int]:
    """Parse CSVs that share a header in one pandas call (one frame per header); a ``file`` column
    names each row's file.

    Files whose header lacks ``columns`` or whose rows carry another ``schema_version`` are skipped.
    """
    groups: dict[bytes, list[tuple[Path, bytes]]] = {}
    halves = 0
    for p in paths:
        got = _body(p, skipped, bad)
        if got is not None:
            groups.setdefault(got[0], []).append((p, got[1]))
            halves += got[2]
    frames = []
    reason = f"{what} CSV of another schema (this facelog reads version {version})"
    for head, items in groups.items():
        names = head.decode("utf-8", "replace").split(",")
        if not set(columns) <= set(names):
            for p, _ in items:
                skip(skipped, reason, p)
                bad.add(p)
            continue
        use = [c for c in (*columns, "first_wall_ns") if c in names]
        df = _parse(head, items, use, skipped, bad, what)
        wrong = df.loc[df["schema_version"] != version, "file"].unique()
        for p in wrong:
            skip(skipped, reason, Path(p))
            bad.add(Path(p))
        frames.append(df[~df["file"].isin(wrong)])
    return frames, halves


def _parse(
    head: bytes,
    items: list[tuple[Path, bytes]],
    use: list[str],
    skipped: Counter[str],
    bad: set[Path],
    what: str,
) -> pd.DataFrame:
    need = [c for c in use if c != "gender"]  # an empty gender reads as unknown; anything else is damage
    try:
        df = pd.read_csv(io.BytesIO(head + b"\n" + b"".join(b for _, b in items)), usecols=use)
        rows = [b.count(b"\n") for _, b in items]
        if len(df) != sum(rows):
            raise ValueError("row count differs")
        df["file"] = np.repeat([str(p) for p, _ in items], rows)
        if df[need].isna().any().any():
            raise ValueError("empty cells")
        return df
    except (ValueError, pd.errors.ParserError):
        pass  # find the culprits file by file
    parts = []
    for p, body in items:
        try:
            one = pd.read_csv(io.BytesIO(head + b"\n" + body), usecols=use)
        except (ValueError, pd.errors.ParserError) as exc:
            skip(skipped, f"malformed {what} CSV ({type(exc).__name__})", p)
            bad.add(p)
            continue
        if one[need].isna().any().any() or len(one) != body.count(b"\n"):
            skip(skipped, f"malformed {what} CSV (empty cells or broken rows)", p)
            bad.add(p)
            continue
        one["file"] = str(p)
        parts.append(one)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in [*use, "file"]})
