"""``facelog report`` on outputs made in tmp_path (no ../shared): numbers equal pandas on the same CSVs,
periods without video differ from periods without people, and every bad input is a clear line."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from facelog.cli import main
from facelog.pipeline.live.rotating_sink import LIVE_TRACKS_HEADER
from facelog.pipeline.report import COLUMNS, ReportInputError, make_report
from facelog.pipeline.report.answer import people_lines
from facelog.pipeline.sinks import HEADER, TRACKS_HEADER

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from report_speed import write_live_camera

START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # the tests' "now": every period is in the past


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """Two cameras, 30 hours each from START; door is down in hours 5 and 6 (no files)."""
    root = tmp_path / "live"
    rng = random.Random(1)
    write_live_camera(root, "door", START, 30, rng, busy=6.0, down_hours=frozenset({5, 6}))
    write_live_camera(root, "hall", START, 30, rng, busy=3.0)
    return root


def _tracks(root: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in sorted(root.rglob("*_tracks.csv"))], ignore_index=True)


def _expected(tracks: pd.DataFrame, freq: str, tz: str) -> pd.DataFrame:
    """What pandas says directly: people per camera and period (first sighting), gender, dwell."""
    people = tracks[tracks["status"] == "person"].copy()
    t = pd.to_datetime(people["first_wall_ns"], unit="ns", utc=True).dt.tz_convert(tz)
    period = t.dt.floor(freq) if freq == "h" else t.dt.normalize()
    people["key"] = period.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M")
    g = people.groupby(["source", "key"])
    return pd.DataFrame({
        "persons": g.size(),
        "female": g["gender"].apply(lambda s: int((s == "female").sum())),
        "male": g["gender"].apply(lambda s: int((s == "male").sum())),
        "dwell_median_s": g["dwell_s"].median().round(2),
        "dwell_p90_s": g["dwell_s"].quantile(0.9).round(2),
        "age_mean": g["age"].mean().round(2),
    })  # fmt: skip


def _indexed(table: pd.DataFrame) -> pd.DataFrame:
    t = table.copy()
    t["key"] = pd.to_datetime(t["period_start"], format="ISO8601", utc=True).dt.strftime("%Y-%m-%dT%H:%M")
    return t.set_index(["camera", "key"])


@pytest.mark.parametrize("by, freq, tz", [("hour", "h", "UTC"), ("day", "D", "Europe/Berlin")])
def test_live_numbers_equal_pandas(live: Path, tmp_path: Path, by: str, freq: str, tz: str) -> None:
    res = make_report(
        [live], tmp_path / "out", by="hour" if by == "hour" else "day", tz=ZoneInfo(tz), now=NOW
    )
    assert list(res.table.columns) == list(COLUMNS)
    assert not res.skipped
    want = _expected(_tracks(live), freq, tz)
    want.index.names = ["camera", "key"]
    got = _indexed(res.table)
    with_people = got[got["persons"] > 0]
    assert len(with_people) == len(want) > 1
    joined = with_people.merge(want, left_index=True, right_index=True, suffixes=("", "_pd"), how="outer")
    for col in ("persons", "female", "male", "dwell_median_s", "dwell_p90_s", "age_mean"):
        np.testing.assert_allclose(joined[col].astype(float), joined[f"{col}_pd"].astype(float), atol=0.011)
    static = _tracks(live)["status"].eq("static").sum()
    assert res.table["static"].sum() == static > 0  # static tracks are counted apart, never as people


def test_no_video_differs_from_no_people(live: Path, tmp_path: Path) -> None:
    t = make_report([live], tmp_path / "out", by="hour", now=NOW).table
    door = t[t["camera"] == "door"].reset_index(drop=True)
    assert len(door) == 30
    down = door.iloc[[5, 6]]
    assert (down["video_h"] == 0).all() and (down["no_video_h"] == 1).all() and (down["persons"] == 0).all()
    up = door.drop(index=[5, 6])
    assert (up["video_h"] == 1).all() and (up["no_video_h"] == 0).all()
    assert (up["persons"] == 0).any()  # quiet night hours: video, nobody came
    faces = sum(len(pd.read_csv(p)) for p in (live / "door").glob("door_*Z.csv"))
    assert door["faces"].sum() == faces


def test_since_until_and_tz(live: Path, tmp_path: Path) -> None:
    tz = ZoneInfo("America/New_York")
    since = dt.datetime(2026, 11, 20, 3, tzinfo=tz)
    until = dt.datetime(2026, 11, 20, 9, tzinfo=tz)
    t = make_report([live], tmp_path / "out", by="hour", tz=tz, since=since, until=until, now=NOW).table
    assert len(t) == 2 * 6 and set(t["camera"]) == {"door", "hall"}
    assert t["period_start"].iloc[0] == "2026-11-20T03:00:00-05:00"
    # hours before the first file (START is 19:00 the day before in New York) are outside; 03:00-09:00
    # New York = 08:00-14:00 UTC, all recorded
    assert (t["video_h"] == 1).all()


def _write(path: Path, header: tuple[str, ...] | list[str], rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(r.get(c, "")) for c in header) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_outputs(
    folder: Path, stem: str, people: list[tuple[float, str, float, str]], video_s: float
) -> Path:
    """A facelog run's three files: people = (age, gender, dwell_s, status); faces = 2 rows each."""
    frames, tracks = [], []
    for k, (age, gender, dwell, status) in enumerate(people):
        first_ms = 1000.0 * k
        tracks.append({"source": "v.mp4", "track_id": k, "first_frame": k, "last_frame": k + 1,
                       "first_pts_ms": first_ms, "last_pts_ms": first_ms + dwell * 1000, "frames": 2,
                       "age": age, "age_low": age - 5, "age_high": age + 5, "gender": gender,
                       "gender_score": 0.9, "face_px": 50.0, "dwell_s": dwell, "status": status,
                       "model": "m@1", "schema_version": 2})  # fmt: skip
        for j in range(2):
            frames.append({"source": "v.mp4", "frame_index": k + j, "pts_ms": first_ms + j, "face_index": 0,
                           "track_id": k, "age": age, "gender": gender, "model": "m@1",
                           "schema_version": 1})  # fmt: skip
    csv = _write(folder / f"{stem}.csv", HEADER, frames)
    _write(folder / f"{stem}.tracks.csv", TRACKS_HEADER, tracks)
    summary = {"source": str(folder / "gone.mp4"), "video_s": video_s, "frames_read": 100,
               "finished_utc": "2026-11-30T12:00:00+00:00", "timings": {"wall_s": 3.0}}  # fmt: skip
    (folder / f"{stem}.summary.json").write_text(json.dumps(summary))
    return csv


def test_run_outputs_placed_by_the_time_in_their_name(tmp_path: Path) -> None:
    people = [(30.0, "female", 4.0, "person"), (50.0, "male", 8.0, "person"), (40.0, "male", 900.0, "static")]
    _run_outputs(tmp_path / "runs", "shop_2026-11-20_14-30-00", people, video_s=3600.0)
    t = make_report([tmp_path / "runs"], tmp_path / "out", by="hour", now=NOW).table
    assert t["period_start"].tolist() == ["2026-11-20T14:00:00+00:00", "2026-11-20T15:00:00+00:00"]
    assert t["persons"].tolist() == [2, 0] and t["static"].tolist() == [1, 0]
    assert t["video_h"].tolist() == [0.5, 0.5]  # 14:30-15:30
    assert t["faces"].tolist() == [6, 0]
    assert (t.loc[0, "female"], t.loc[0, "male"], t.loc[0, "dwell_median_s"]) == (1, 1, 6.0)
    assert t["camera"].unique().tolist() == ["shop_2026-11-20_14-30-00"]


def test_batch_tree_cameras_are_first_folders(tmp_path: Path) -> None:
    root = tmp_path / "batch_out"
    _run_outputs(root / "door" / "2026-11-20", "a.mp4", [(20.0, "female", 3.0, "person")], 60.0)
    _run_outputs(root / "door" / "2026-11-21", "b.mp4", [(25.0, "male", 5.0, "person")] * 2, 60.0)
    _run_outputs(root / "yard" / "2026-11-21", "c.mp4", [(70.0, "male", 2.0, "person")], 60.0)
    (root / "batch_summary.json").write_text("{}")
    t = make_report([root], tmp_path / "out", by="day", now=NOW).table
    got = t[["camera", "period_start", "persons", "female", "male"]].values.tolist()
    assert got == [
        ["door", "2026-11-20T00:00:00+00:00", 1, 1, 0],
        ["door", "2026-11-21T00:00:00+00:00", 2, 0, 2],
        ["yard", "2026-11-21T00:00:00+00:00", 1, 0, 1],
    ]


# ---------------------------------------------------------------- bad input
def test_half_written_last_row_is_dropped_and_counted(live: Path, tmp_path: Path) -> None:
    last = sorted((live / "door").glob("*_tracks.csv"))[-1]
    complete = _tracks(live)
    last.write_bytes(last.read_bytes() + b"door,999,1,2,3.0,4.0,1,33.0,30.0,36.0,fem")  # the crash
    res = make_report([live], tmp_path / "out", by="day", now=NOW)
    assert res.skipped == {"half-written last row dropped (rows before it kept)": 1}
    people = complete[complete["status"] == "person"]
    assert res.table["persons"].sum() == len(people)
    assert res.table["female"].sum() == (people["gender"] == "female").sum()


def test_other_schema_version_is_skipped_not_counted_as_nobody(live: Path, tmp_path: Path) -> None:
    victim = sorted((live / "door").glob("*_tracks.csv"))[10]
    old = pd.read_csv(victim).drop(columns=["dwell_s", "status"]).assign(schema_version=1)
    old.to_csv(victim, index=False)
    res = make_report([live], tmp_path / "out", by="hour", now=NOW)
    assert res.skipped == {"tracks CSV of another schema (this facelog reads version 2)": 1}
    hour = victim.name.split("_")[1]
    start = dt.datetime.strptime(hour, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).isoformat()
    row = res.table[(res.table["camera"] == "door") & (res.table["period_start"] == start)].iloc[0]
    # the hour's people were not read, so its video does not count as analysed either
    assert (row["skipped_files"], row["video_h"], row["persons"]) == (1, 0.0, 0)


def test_tracks_csv_without_frame_csv_and_run_without_summary(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _run_outputs(root, "good_20261120T100000", [(30.0, "female", 4.0, "person")], 60.0)
    _run_outputs(root, "orphan_20261120T110000", [(30.0, "male", 4.0, "person")], 60.0)
    (root / "orphan_20261120T110000.csv").unlink()  # tracks + summary, no frame CSV
    _run_outputs(root, "unfinished_20261120T120000", [(30.0, "male", 4.0, "person")], 60.0)
    (root / "unfinished_20261120T120000.summary.json").unlink()
    header = (root / "good_20261120T100000.csv").read_text().splitlines()[0] + "\n"
    (root / "good_20261120T100000.left_out.csv").write_text(header)  # beside its run: not a recording
    (root / "gone_20261120T130000.left_out.csv").write_text(header)  # its run is gone
    live = tmp_path / "live"
    write_live_camera(live, "gate", START + dt.timedelta(hours=12), 3, random.Random(0), busy=20.0)
    next(iter(sorted((live / "gate").glob("gate_*Z.csv")))).unlink()
    res = make_report([root, live], tmp_path / "out", by="day", now=NOW)
    assert res.skipped == {
        "tracks CSV without its frame CSV": 2,
        "frame CSV without its summary (the run did not finish)": 1,
        "left-out rows without their frame CSV": 1,
    }
    assert res.table.set_index("camera").loc["good_20261120T100000", "persons"] == 1


@pytest.mark.parametrize("kind", ["missing", "empty", "no_output"])
def test_paths_without_outputs_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / kind
    if kind != "missing":
        path.mkdir()
    if kind == "no_output":
        (path / "notes.txt").write_text("hello\n")
        (path / "other.csv").write_text("a,b\n1,2\n")
    reasons = {"missing": "no such file or folder", "empty": "empty folder", "no_output": "no facelog output"}
    want = reasons[kind]
    with pytest.raises(ReportInputError, match=want):
        make_report([path], tmp_path / "out")
    assert main(["report", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("facelog: error: ") and want in err[0]
    assert not (tmp_path / "out" / "report.csv").exists()


def test_cli_writes_both_files_and_says_what_it_read(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["report", str(live), "-o", str(out), "--by", "hour", "--tz", "Europe/Berlin"]) == 0
    err = capsys.readouterr().err
    assert "report: 2 camera(s)" in err and "Traceback" not in err
    table = pd.read_csv(out / "report.csv")
    assert list(table.columns) == list(COLUMNS) and table["period_start"].str.endswith("+01:00").all()
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 2 and "<script" not in page and "<link" not in page  # charts inline
    assert not re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page)  # nothing to fetch
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    assert main(["report", str(live), "-o", str(out), "--tz", "Mars/Olympus"]) == 2
    assert main(["report", str(live), "-o", str(out), "--since", "yesterday"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("facelog: error: ") for line in lines)


def test_live_tracks_header_is_what_the_report_reads() -> None:
    assert {"dwell_s", "status", "first_wall_ns", "schema_version"} <= set(LIVE_TRACKS_HEADER)


def test_people_lines_of_one_run(tmp_path: Path) -> None:
    people = [
        (50.0, "male", 8.25, "person"),
        (31.0, "female", 4.0, "person"),
        (40.0, "male", 900.0, "static"),
    ]
    csv = _run_outputs(tmp_path, "clip", people, video_s=20.0)
    lines = people_lines(csv.with_name("clip.tracks.csv"), "clip.mp4")
    assert lines == [
        "2 people in clip.mp4 (1 static track left out):",
        "  1. male, age 50 (45-55), 8.2 s in view from 0:00.0 (track 0)",
        "  2. female, age 31 (26-36), 4.0 s in view from 0:01.0 (track 1)",
    ]
    assert people_lines(tmp_path / "absent.tracks.csv", "x.mp4") == []  # tracking off
    (tmp_path / "old.tracks.csv").write_text("track_id,age,gender\n1,30,male\n")
    assert people_lines(tmp_path / "old.tracks.csv", "x.mp4") == []  # another schema: nothing made up


def test_batch_tree_without_dates_uses_the_state_databases_mtimes(tmp_path: Path) -> None:
    from facelog.pipeline.archive import state as st

    root = tmp_path / "batch_out"
    _run_outputs(root / "door", "a.mp4", [(20.0, "female", 3.0, "person")], 600.0)
    end = dt.datetime(2026, 11, 20, 15, 10, tzinfo=dt.UTC)  # the video's mtime: its recording ended then
    ident = st.FileIdentity(1, int(end.timestamp()) * 10**9, "f", "m", "c")
    with st.StateDB(root / st.STATE_DB_NAME) as db:
        db.mark("door/a.mp4", "done", ident, "run1", output="door/a.mp4.csv")
    t = make_report([root], tmp_path / "out", by="hour", now=NOW).table
    assert t[["camera", "period_start", "persons", "video_h"]].values.tolist() == [
        ["door", "2026-11-20T15:00:00+00:00", 1, round(600 / 3600, 6)]  # started 15:00 (mtime - 600 s)
    ]
