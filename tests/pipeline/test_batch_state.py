"""Batch building blocks without video: state DB, fingerprints, decisions, discovery, report."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from facelog.pipeline.archive import batch, discovery, report
from facelog.pipeline.archive import state as st
from facelog.pipeline.sinks import HEADER, SCHEMA_VERSION, TRACKS_HEADER, TRACKS_SCHEMA_VERSION, tracks_path

MiB = 1 << 20

# configs/batch.yaml's output hash at eeb876b, before ignore zones (test_shipped_batch_config_...)
BATCH_YAML_HASH_EEB876B = "2b4051164ac2579b9fc304b4b858f373b2508dad65814ea888c3eb05b27bf438"
# ... and since people seen 10 s or more are answered by the mean of their frames' ages (832981d)
BATCH_YAML_HASH_MEAN_AFTER = "cec5157ccfc688a3fed917f434c1858f5dad12498305caf8e3578b04366540bf"
# ... and with ``sampling.deinterlace: auto`` (thirty-first session): the default config's digest now
BATCH_YAML_HASH_DEINTERLACE = "5fd9744f44110af690f61910680d5f1db69a309594f43e08ac47932962586c96"
# ... and with ``tracking.min_evidence_s`` 0.2 (thirty-second session): the default config's digest now
BATCH_YAML_HASH_EVIDENCE_SPAN = "9b4cab9f9e7f28f0b5d26563950dfe52c85643acefac3cb8fe01220b6098b2f2"
# ... and with ``tracking.join_max_distance`` 0.4 (thirty-third session): the default config's digest now
BATCH_YAML_HASH_JOIN = "be44793bdae14da73128634973eecb0889a58a57b3e6cc07d4320d599e2efdb5"
# ... and with ``tracking.identity_cohort_z`` 2.5 (forty-first session): the default config's digest now
BATCH_YAML_HASH_COHORT = "f6eef641b233f19919b45e65f6479d1c0a214fcb7dce3fac20f7d0b2c14f93d5"


# ---------------------------------------------------------------- fingerprints and hashes
def test_fingerprint_sees_size_head_and_tail_changes(tmp_path: Path) -> None:
    p = tmp_path / "v.bin"
    data = bytearray(os.urandom(3 * MiB))
    p.write_bytes(data)
    base = st.fingerprint(p)
    assert st.fingerprint(p) == base  # deterministic
    for offset in (0, len(data) - 1):  # first and last MiB
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        p.write_bytes(changed)
        assert st.fingerprint(p) != base, offset
    p.write_bytes(data + b"x")  # appended
    assert st.fingerprint(p) != base
    # Documented blind spot: a same-size change in the middle is not read.
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF
    p.write_bytes(changed)
    assert st.fingerprint(p) == base


@pytest.mark.parametrize("size", [0, 10, MiB, MiB + 1], ids=["empty", "tiny", "one-chunk", "chunk+1"])
def test_fingerprint_small_files_differ_by_content(tmp_path: Path, size: int) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"\0" * size)
    b.write_bytes(b"\0" * max(size - 1, 0) + (b"\1" if size else b""))
    assert (st.fingerprint(a) == st.fingerprint(b)) is (size == 0)


def test_fingerprint_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        st.fingerprint(tmp_path / "nope.mp4")


def test_config_hash_ignores_key_order_not_values() -> None:
    assert st.config_hash({"a": 1, "b": {"c": 2}}) == st.config_hash({"b": {"c": 2}, "a": 1})
    assert st.config_hash({"a": 1}) != st.config_hash({"a": 2})


# ---------------------------------------------------------------- decisions
IDENT = st.FileIdentity(size=10, mtime_ns=5, fingerprint="f", model_id="m", config_hash="c")


def _row(status: str = "done", **changes: object) -> st.FileRow:
    d: dict[str, object] = dict(
        rel_path="cam/a.mp4",
        status=status,
        size=10,
        mtime_ns=5,
        fingerprint="f",
        model_id="m",
        config_hash="c",
        output="cam/a.mp4.csv",
        rows=3,
        frames=3,
        faces=3,
        video_s=1.0,
        wall_s=1.0,
        error=None,
        attempts=1,
        run_id="r",
        updated_at=0.0,
    )
    d.update(changes)
    return st.FileRow(**d)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "row, retry, out_exists, expected",
    [
        (None, False, False, (st.Action.PROCESS, "new")),
        (_row(), False, True, (st.Action.SKIP, "unchanged")),
        (_row(mtime_ns=99), False, True, (st.Action.SKIP, "unchanged")),  # touched, same content
        (_row(fingerprint="g"), False, True, (st.Action.PROCESS, "file changed")),
        (_row(size=11), False, True, (st.Action.PROCESS, "file changed")),
        (_row(model_id="m2"), False, True, (st.Action.PROCESS, "model changed")),
        (_row(config_hash="c2"), False, True, (st.Action.PROCESS, "config changed")),
        (_row(), False, False, (st.Action.PROCESS, "output missing")),
        (_row("running"), False, True, (st.Action.PROCESS, "interrupted")),
        (_row("failed"), False, False, (st.Action.SKIP, "failed before")),
        (_row("failed"), True, False, (st.Action.PROCESS, "retry failed")),
        (_row("failed", fingerprint="g"), False, False, (st.Action.PROCESS, "file changed")),
        (_row("failed", model_id="m2"), False, False, (st.Action.SKIP, "failed before")),
        (_row("skipped"), False, False, (st.Action.PROCESS, "previously skipped")),
    ],
    ids=[
        "new",
        "unchanged",
        "touched",
        "content",
        "size",
        "model",
        "config",
        "output-gone",
        "interrupted",
        "failed",
        "retry",
        "failed-changed",
        "failed-new-model",
        "skipped",
    ],
)
def test_decide(
    row: st.FileRow | None, retry: bool, out_exists: bool, expected: tuple[st.Action, str]
) -> None:
    assert st.decide(row, IDENT, retry_failed=retry, output_exists=out_exists) == expected


# ---------------------------------------------------------------- state DB
def test_state_db_roundtrip_wal_and_attempts(tmp_path: Path) -> None:
    path = tmp_path / "out" / st.STATE_DB_NAME
    with st.StateDB(path) as db:
        assert db.get("x.mp4") is None and db.counts() == {}
        db.mark("x.mp4", "running", IDENT, "r1", attempt=True)
        db.mark("x.mp4", "done", IDENT, "r1", output="x.mp4.csv", rows=7, frames=9, faces=7, video_s=0.7)
        db.mark("y.mp4", "failed", IDENT, "r1", error="bad", attempt=True)
        row = db.get("x.mp4")
        assert row is not None and (row.status, row.rows, row.frames, row.attempts) == ("done", 7, 9, 1)
        assert db.counts() == {"done": 1, "failed": 1}
        assert [r.rel_path for r in db.rows("failed")] == ["y.mp4"]
        db.start_run("r1")
        db.finish_run("r1", {"processed": 1})
        assert db.runs()[0]["summary"] == {"processed": 1}
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with st.StateDB(path) as db:  # reopened: data persisted
        assert db.get("y.mp4").error == "bad"  # type: ignore[union-attr]


def test_state_db_rejects_bad_status_and_other_schema(tmp_path: Path) -> None:
    path = tmp_path / st.STATE_DB_NAME
    with st.StateDB(path) as db, pytest.raises(ValueError, match="status must be one of"):
        db.mark("x", "finished", IDENT, "r")
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(st.StateError, match="schema version 99, expected 1"):
        st.StateDB(path)


# ---------------------------------------------------------------- discovery
@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("**/*.mp4", "a.mp4", True),
        ("**/*.mp4", "cam1/2026-11-20/a.MP4", True),
        ("**/*.mp4", "cam1/a.mkv", False),
        ("cam1/*.mp4", "cam1/a.mp4", True),
        ("cam1/*.mp4", "cam1/x/a.mp4", False),
        ("cam[12]/**/*.mp4", "cam2/x/y/a.mp4", True),
        ("cam[!12]/*.mp4", "cam2/a.mp4", False),
        ("cam?/a.mp4", "cam3/a.mp4", True),
    ],
)
def test_glob_regex(pattern: str, path: str, hit: bool) -> None:
    assert bool(discovery.glob_regex(pattern).match(path)) is hit


def test_discover_filters_hidden_output_and_since(tmp_path: Path) -> None:
    arch = tmp_path / "arch"
    for rel in (
        "cam1/a.mp4",
        "cam1/.partial.mp4",
        "cam2/d/b.MP4",
        "c.mp4",
        ".trash/x.mp4",
        "notes.txt",
        "out/o.mp4",
    ):
        (arch / rel).parent.mkdir(parents=True, exist_ok=True)
        (arch / rel).write_bytes(b"x")
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    os.utime(arch / "c.mp4", (old, old))
    got = discovery.discover(arch, ["**/*.mp4"], exclude=[arch / "out"])
    assert [f.rel_path for f in got] == ["c.mp4", "cam1/a.mp4", "cam2/d/b.MP4"]
    assert all(f.size == 1 and f.path.is_file() for f in got)
    recent = discovery.discover(
        arch, ["**/*.mp4"], since=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), exclude=[arch / "out"]
    )
    assert [f.rel_path for f in recent] == ["cam1/a.mp4", "cam2/d/b.MP4"]
    assert discovery.discover(arch, ["**/*.avi"]) == []
    with pytest.raises(discovery.BatchError, match="archive must be a folder"):
        discovery.discover(arch / "missing", ["**/*.mp4"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-20", dt.datetime(2026, 11, 20, tzinfo=dt.UTC)),
        ("2026-11-20T03:00:00+01:00", dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC)),
    ],
)
def test_parse_since_dates(text: str, expected: dt.datetime) -> None:
    assert discovery.parse_since(text) == expected


def test_parse_since_spans_and_garbage() -> None:
    ago = dt.datetime.now(dt.UTC) - discovery.parse_since("36h")
    assert abs(ago.total_seconds() - 36 * 3600) < 60
    assert abs((dt.datetime.now(dt.UTC) - discovery.parse_since("2d")).total_seconds() - 48 * 3600) < 60
    with pytest.raises(ValueError, match="--since must be"):
        discovery.parse_since("yesterday")


def test_clean_stale_temps_keeps_outputs(tmp_path: Path) -> None:
    keep = [tmp_path / "cam/a.mp4.csv", tmp_path / "cam/a.mp4.csv.summary.json", tmp_path / "report.csv"]
    stale = [
        tmp_path / "cam/.a.mp4.csv.tmp",
        tmp_path / "cam/b.mp4.csv.tmp-1234",
        tmp_path / ".report.png.tmp.png",
    ]
    for p in keep + stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    assert sorted(discovery.clean_stale_temps(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)


def test_exclusive_lock_refuses_a_second_run(tmp_path: Path) -> None:
    with (
        discovery.exclusive_lock(tmp_path),
        pytest.raises(discovery.BatchError, match="another facelog batch is running"),
        discovery.exclusive_lock(tmp_path),
    ):
        pass
    with discovery.exclusive_lock(tmp_path):  # released
        pass


# ---------------------------------------------------------------- report
@pytest.mark.parametrize(
    "rel, camera, day",
    [
        ("cam1/2026-11-20/a.mp4", "cam1", "2026-11-20"),
        ("cam1/2026/11/19/a.mp4", "cam1", "2026-11-19"),
        ("door/clip_20261118T031500.mp4", "door", "2026-11-18"),
        ("door/2026-02-30/x_20261117.mp4", "door", "2026-11-17"),  # invalid date skipped
        ("a.mp4", report.ROOT_CAMERA, "2026-01-02"),  # no date in path: mtime (UTC)
    ],
)
def test_camera_and_day_conventions(rel: str, camera: str, day: str) -> None:
    mtime_ns = int(dt.datetime(2026, 1, 2, 23, 30, tzinfo=dt.UTC).timestamp() * 1e9)
    assert (report.camera_of(rel), report.day_of(rel, mtime_ns)) == (camera, day)


def _face_csv(path: Path, ages: list[float], genders: list[str], tracks: list[int]) -> Path:
    """A frame CSV of the file schema (``sinks.HEADER``): one row per face."""
    rows = {"frame_index": range(len(ages)), "pts_ms": [80.0 * i for i in range(len(ages))],
            "track_id": tracks, "age": ages, "gender": genders, "schema_version": SCHEMA_VERSION}  # fmt: skip
    pd.DataFrame(rows).reindex(columns=list(HEADER)).to_csv(path, index=False)
    return path


def _tracks_csv(csv_path: Path, ages: list[float], genders: list[str]) -> None:
    """The file's person log (``sinks.tracks_path``, ``sinks.TRACKS_HEADER``): one row per person."""
    n = len(ages)
    rows = {"track_id": range(n), "first_pts_ms": [0.0] * n, "dwell_s": [1.5] * n, "age": ages,
            "gender": genders, "status": ["person"] * n, "schema_version": TRACKS_SCHEMA_VERSION}  # fmt: skip
    pd.DataFrame(rows).reindex(columns=list(TRACKS_HEADER)).to_csv(tracks_path(csv_path), index=False)


def test_build_and_write_report(tmp_path: Path) -> None:
    """People come from the tracks CSVs (not rows); faces from the frame CSVs; a file without a tracks
    CSV (tracking off) is skipped and counted, not read as a file without people."""
    a = _face_csv(tmp_path / "a.csv", [5.0, 25.0, 75.0], ["male", "female", "female"], [1, 2, 2])
    _tracks_csv(a, [6.0, 71.0], ["male", "female"])  # 3 face rows, 2 people
    b = _face_csv(tmp_path / "b.csv", [33.0, 34.0, 35.0], ["male"] * 3, [1, 1, 1])
    _tracks_csv(b, [34.0], ["male"])
    c = _face_csv(tmp_path / "c.csv", [12.0], ["female"], [4])
    _tracks_csv(c, [12.0], ["female"])
    d = _face_csv(tmp_path / "d.csv", [50.0], ["male"], [-1])  # tracking off: no tracks CSV
    inputs = [
        report.ReportInput("cam1/2026-11-20/a.mp4", 0, a, frames=4, video_s=0.32),
        report.ReportInput("cam1/2026-11-20/b.mp4", 0, b, frames=3, video_s=0.24),
        report.ReportInput("cam2/2026-11-21/c.mp4", 0, c, frames=1, video_s=0.08),
        report.ReportInput("cam2/2026-11-21/d.mp4", 0, d, frames=1, video_s=0.08),
    ]
    rep = report.build_report(inputs)
    assert list(rep.columns) == list(report.REPORT_COLUMNS)
    cols = ["camera", "day", "files", "frames", "faces", "persons", "female", "male"]
    assert rep[cols].values.tolist() == [
        ["cam1", "2026-11-20", 2, 7, 6, 3, 1, 2],
        ["cam2", "2026-11-21", 1, 1, 1, 1, 1, 0],  # d.csv (no tracks CSV) is not counted ...
    ]
    assert rep["skipped_files"].sum() == 0 and rep.attrs["page"][1].skipped == {  # ... but said
        "no tracks CSV (tracking off: no people to count)": 1
    }
    first = rep.iloc[0]
    assert first["female_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert first["age_mean"] == pytest.approx((6 + 71 + 34) / 3, abs=0.01)
    assert [first[k] for k in report.AGE_BIN_LABELS] == [1, 0, 0, 1, 0, 0, 0, 1]
    report.write_report(rep, tmp_path / "r.csv", tmp_path / "r.png")
    assert pd.read_csv(tmp_path / "r.csv").shape == (2, len(report.REPORT_COLUMNS))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "r.html").read_text().count("<svg") == 2  # the shared page, one figure per camera


def test_report_empty_and_bad_csv(tmp_path: Path) -> None:
    rep = report.build_report([])
    assert rep.empty and list(rep.columns) == list(report.REPORT_COLUMNS)
    report.write_report(rep, tmp_path / "r.csv", tmp_path / "r.png")  # still a valid (empty) chart
    assert (tmp_path / "r.png").stat().st_size > 0
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    tracks_path(bad).write_text("x,y\n1,2\n")
    noon_ns = int(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC).timestamp()) * 10**9
    rep = report.build_report([report.ReportInput("cam/a.mp4", noon_ns, bad, 1, 0.1)])  # another schema
    assert rep[["persons", "video_s", "skipped_files"]].values.tolist() == [[0, 0.0, 1]]


def test_ray_missing_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from facelog.pipeline.archive import executors

    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the [ray] extra looks like
    with pytest.raises(executors.ExecutorUnavailable, match=r"pip install 'facelog\[ray\]'"):
        executors.import_ray()


def test_shipped_batch_config_loads_and_hash_ignores_batch_section() -> None:
    from facelog.pipeline.config import load_config

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs" / "batch.yaml")
    assert cfg.batch.workers == 2 and cfg.batch.executor == "local" and cfg.sampling.stride == 2
    same = load_config(
        repo / "configs" / "batch.yaml",
        {
            "batch.workers": 1,
            "model.path": "/elsewhere.onnx",
            "batching.detect_workers": 2,
            "backend.threads": 2,
            "rtsp.read_timeout_s": 9.0,
        },
    )
    other = load_config(repo / "configs" / "batch.yaml", {"sampling.stride": 3})
    ident = {"detector": "yunet", "detector_sha256": "ab", "backend": "onnxruntime", "precision": "fp32"}
    assert batch.output_config_hash(same, ident) == batch.output_config_hash(cfg, ident)
    assert batch.output_config_hash(other, ident) != batch.output_config_hash(cfg, ident)
    # a zone changes the outputs (a new hash); no zones hash as the config did before zones existed, so
    # an archive processed then is not redone after the upgrade
    zone = [[[0, 0], [0.5, 0], [0.5, 0.5]]]
    zoned = load_config(repo / "configs" / "batch.yaml", {"detector.ignore_zones": zone})
    assert batch.output_config_hash(zoned, ident) != batch.output_config_hash(cfg, ident)
    # the digest eeb876b (before zones) gave for this config: when it changes, every archive already
    # processed is redone on the next run after the upgrade; change it only on purpose. Changed on
    # purpose five times: people seen 10 s or more get a new age (``fusion.mean_after_s``), interlaced
    # frames keep one field (``sampling.deinterlace``), a person needs 0.2 s of faces
    # (``tracking.min_evidence_s``), pieces of a person are joined (``tracking.join_max_distance``),
    # the identity limit follows the camera's people (``tracking.identity_cohort_z``); with all five
    # off the config hashes as before, so an archive processed that way is not redone
    no_cohort = {"tracking.identity_cohort_z": 0.0}
    span_off = {"tracking.min_evidence_s": 0.0, "tracking.join_max_distance": 0.0} | no_cohort
    off = load_config(
        repo / "configs" / "batch.yaml",
        {"fusion.mean_after_s": 0.0, "sampling.deinterlace": "off"} | span_off,
    )
    assert batch.output_config_hash(off, ident) == BATCH_YAML_HASH_EEB876B
    fields = load_config(repo / "configs" / "batch.yaml", {"sampling.deinterlace": "off"} | span_off)
    assert batch.output_config_hash(fields, ident) == BATCH_YAML_HASH_MEAN_AFTER
    one_field = load_config(repo / "configs" / "batch.yaml", span_off)
    assert batch.output_config_hash(one_field, ident) == BATCH_YAML_HASH_DEINTERLACE
    no_join = load_config(repo / "configs" / "batch.yaml", {"tracking.join_max_distance": 0.0} | no_cohort)
    assert batch.output_config_hash(no_join, ident) == BATCH_YAML_HASH_EVIDENCE_SPAN
    joined = load_config(repo / "configs" / "batch.yaml", no_cohort)
    assert batch.output_config_hash(joined, ident) == BATCH_YAML_HASH_JOIN
    assert batch.output_config_hash(cfg, ident) == BATCH_YAML_HASH_COHORT


def test_state_hashes_what_auto_resolved_to_not_auto(tiny_model: Path) -> None:
    """A new detector file or backend changes the hash though the config still says ``auto``."""
    from facelog.pipeline.config import load_config
    from facelog.pipeline.session import resolve, resolved_identity

    auto = load_config(None, {"model.path": str(tiny_model), "backend.kind": "auto"})
    ident = resolved_identity(resolve(auto), auto)
    assert ident["backend"] != "auto" and ident["detector"] != "auto" and len(ident["detector_sha256"]) == 64
    kinds = {"backend.kind": ident["backend"], "detector.kind": ident["detector"]}
    explicit = load_config(None, {"model.path": str(tiny_model), **kinds})
    assert resolved_identity(resolve(explicit), explicit) == ident
    assert batch.output_config_hash(explicit, ident) == batch.output_config_hash(auto, ident)  # same setup
    for key, value in (("backend", "tensorrt"), ("precision", "int8"), ("detector_sha256", "0" * 64)):
        changed = {**ident, key: value}
        assert batch.output_config_hash(auto, changed) != batch.output_config_hash(auto, ident), key
