"""``facelog batch`` end to end on a fixture archive of real clips plus corrupt files.

Real parts only: the shared 12.5 fps clips, YuNet, ONNX Runtime with the tiny model, SQLite,
spawned worker processes, a real ``facelog batch`` subprocess killed with SIGKILL, local Ray.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from facelog.pipeline.archive import batch, discovery
from facelog.pipeline.archive import state as st
from facelog.pipeline.config import AppConfig, load_config

REPO = Path(__file__).resolve().parents[2]
GOOD = {  # archive path -> shared clip
    "cam1/2026-11-20/walking.mp4": "face-demographics-walking.mp4",
    "cam1/2026-11-20/female.mp4": "head-pose-face-detection-female.mp4",
    "cam2/2026-11-21/classroom.mp4": "classroom.mp4",
    "cam2/2026-11-21/sub/walk-pause.mp4": "face-demographics-walking-and-pause.mp4",
}
BAD = ("cam1/2026-11-20/zero.mp4", "cam2/2026-11-21/truncated.mp4", "cam3/notes.mp4")


def _conftest() -> Any:
    """tests/conftest.py as a module (for ``make_tiny_model``; pytest imports it under another name)."""
    spec = importlib.util.spec_from_file_location("facelog_tests_conftest", REPO / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)  # a copy, not a link: tests change and touch these files


def build_archive(root: Path, videos: Path, good: dict[str, str] = GOOD, bad: bool = True) -> Path:
    """The fixture archive: cameras as first-level folders, days below, plus three corrupt files."""
    for rel, clip in good.items():
        _copy(videos / clip, root / rel)
    if bad:
        (root / BAD[0]).touch()  # zero bytes
        data = (videos / "classroom.mp4").read_bytes()
        (root / BAD[1]).write_bytes(data[: len(data) // 3])  # recorder killed: no moov atom
        (root / BAD[2]).parent.mkdir(parents=True, exist_ok=True)
        (root / BAD[2]).write_text("not a video, just text renamed to .mp4\n" * 20)
    (root / "cam1" / "readme.txt").write_text("ignored: not a video pattern")
    return root


def write_config(path: Path, model: Path, yunet: Path, **batch_cfg: object) -> Path:
    """A batch config: the tiny model, YuNet from ../shared, every 2nd frame (keeps the tests fast)."""
    cfg = {
        "detector": {"kind": "yunet", "yunet_path": str(yunet)},
        "model": {"path": str(model)},
        "sampling": {"stride": 2},
        "batch": {"workers": 2, "min_age_s": 0, **batch_cfg},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def load(path: Path, model: Path | None = None, **batch_over: object) -> AppConfig:
    return load_config(path, {"batch": batch_over, "model.path": str(model) if model else None})


def outputs(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` except the state DB, lock and run-level files: path -> bytes."""
    run_level = {batch.SUMMARY_NAME, batch.REPORT_CSV, batch.REPORT_PNG, "report.html"}  # every run rewrites
    skip = {st.STATE_DB_NAME, discovery.LOCK_NAME, *run_level}
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(st.STATE_DB_NAME) and p.name not in skip
    }


def csvs(out: Path) -> dict[str, bytes]:
    return {k: v for k, v in outputs(out).items() if k.endswith(".csv")}


def statuses(out: Path) -> dict[str, str]:
    with st.StateDB(out / st.STATE_DB_NAME) as db:
        return {r.rel_path: r.status for r in db.rows()}


@pytest.fixture(scope="module")
def videos(shared: Path) -> Path:
    return shared / "data" / "videos"


@pytest.fixture(scope="module")
def cfg_path(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, yunet_path: Path) -> Path:
    return write_config(tmp_path_factory.mktemp("cfg") / "batch.yaml", tiny_model, yunet_path)


@pytest.fixture(scope="module")
def clean(
    tmp_path_factory: pytest.TempPathFactory, videos: Path, cfg_path: Path
) -> tuple[Path, Path, batch.RunReport]:
    """One clean run over the fixture archive (2 workers): (archive, out, report)."""
    root = tmp_path_factory.mktemp("clean")
    archive = build_archive(root / "archive", videos)
    out = root / "out"
    run = batch.run_batch(archive, out, load(cfg_path), progress=False)
    return archive, out, run


def test_clean_run_outputs_failures_and_report(clean: tuple[Path, Path, batch.RunReport]) -> None:
    archive, out, run = clean
    assert (run.discovered, run.processed, run.failed, run.skipped) == (
        len(GOOD) + len(BAD),
        len(GOOD),
        len(BAD),
        0,
    )
    expected = [f"{rel}{ext}" for rel in GOOD for ext in (".csv", ".tracks.csv")]
    # rows of tracks that are not persons (a far face seen a few times) go beside, in OUT.left_out.csv
    left_out = [f"{rel}.left_out.csv" for rel in GOOD if (out / f"{rel}.left_out.csv").is_file()]
    assert sorted(csvs(out)) == sorted(expected + left_out)  # tree mirrored, none for bad files
    for name in left_out:  # same columns; its tracks are not in the frame CSV
        rows = (out / name).read_text().splitlines()
        frame_rows = (out / name.replace(".left_out", "")).read_text().splitlines()
        assert rows[0] == frame_rows[0] and len(rows) > 1
        track_ids = {line.split(",")[4] for line in rows[1:]} - {"-1"}
        assert track_ids.isdisjoint(line.split(",")[4] for line in frame_rows[1:])
    n_rows = 0
    for rel in GOOD:  # header + complete rows (classroom's small seated faces may give none: still done)
        lines = (out / f"{rel}.csv").read_text().splitlines()
        assert lines[0].startswith("source,frame_index") and {line.count(",") for line in lines} == {16}
        assert all(line.startswith(f"{rel},") for line in lines[1:])  # source = archive-relative path
        n_rows += len(lines) - 1
    assert n_rows == run.rows > 0
    state = statuses(out)
    assert state == {**dict.fromkeys(GOOD, "done"), **dict.fromkeys(BAD, "failed")}
    with st.StateDB(out / st.STATE_DB_NAME) as db:
        for rel in BAD:
            row = db.get(rel)
            assert row is not None and row.error and row.output is None, rel
        done = db.get("cam1/2026-11-20/female.mp4")  # one large face a frame: rows with any detector setting
        assert done is not None and done.frames and done.rows and done.model_id and done.config_hash
        assert done.fingerprint == st.fingerprint(archive / "cam1/2026-11-20/female.mp4")
    summary = json.loads((out / batch.SUMMARY_NAME).read_text())
    assert summary["processed"] == len(GOOD) and {f["rel_path"] for f in summary["failures"]} == set(BAD)
    assert summary["files_per_hour"] > 0 and summary["video_hours_per_hour"] > 0
    report = (out / batch.REPORT_CSV).read_text().splitlines()
    assert [line.split(",")[:3] for line in report[1:]] == [
        ["cam1", "2026-11-20", "2"],
        ["cam2", "2026-11-21", "2"],
    ]
    header = report[0].split(",")
    persons = sum(len((out / f"{rel}.tracks.csv").read_text().splitlines()) - 1 for rel in GOOD)
    assert sum(int(line.split(",")[header.index("persons")]) for line in report[1:]) == persons  # people
    assert (out / batch.REPORT_PNG).read_bytes()[:4] == b"\x89PNG"


def test_rerun_unchanged_skips_everything(clean: tuple[Path, Path, batch.RunReport], cfg_path: Path) -> None:
    archive, out, _ = clean
    before = {p: (out / p).stat().st_mtime_ns for p in outputs(out)}
    run = batch.run_batch(archive, out, load(cfg_path), progress=False)
    assert (run.processed, run.failed, run.skipped) == (0, 0, len(GOOD) + len(BAD))
    assert run.reasons == {"failed before": len(BAD), "unchanged": len(GOOD)}
    assert {p: (out / p).stat().st_mtime_ns for p in outputs(out)} == before  # nothing rewritten


def test_changed_file_model_and_retry(
    tmp_path: Path, videos: Path, cfg_path: Path, clean: tuple[Path, Path, batch.RunReport]
) -> None:
    archive = build_archive(tmp_path / "archive", videos)
    out = tmp_path / "out"
    shutil.copytree(clean[1], out)  # start from the clean run's state and outputs
    # 1. a fixed file (the zero-byte one now holds a real clip) is processed, the rest skipped
    _copy(videos / "head-pose-face-detection-male.mp4", archive / BAD[0])
    run = batch.run_batch(archive, out, load(cfg_path), progress=False)
    assert (run.processed, run.failed) == (1, 0) and run.reasons["file changed"] == 1
    assert statuses(out)[BAD[0]] == "done"
    # 2. failures are retried only when asked
    run = batch.run_batch(archive, out, load(cfg_path, retry_failed=True), progress=False)
    assert (run.processed, run.failed, run.reasons["retry failed"]) == (0, 2, 2)
    # 3. another model (same architecture, other weights) re-processes every good file
    model2 = tmp_path / "tiny-seed1.onnx"
    _conftest().make_tiny_model(model2, seed=1)
    before = csvs(out)
    run = batch.run_batch(archive, out, load(cfg_path, model2), progress=False)
    assert run.processed == len(GOOD) + 1 and run.reasons["model changed"] == len(GOOD) + 1
    after = csvs(out)
    assert after.keys() == before.keys() and any(after[k] != before[k] for k in after)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "facelog.cli", "batch", *args]


def _wait_for(cond: Any, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"facelog batch ended (rc {proc.returncode}) before the kill point")
        if time.monotonic() > deadline:
            pytest.fail("kill point not reached in time")
        time.sleep(0.005)


@pytest.mark.parametrize("kill_point", ["temp-file-open", "first-output-renamed"])
def test_kill9_midrun_then_rerun_is_exactly_once(
    tmp_path: Path, videos: Path, cfg_path: Path, clean: tuple[Path, Path, batch.RunReport], kill_point: str
) -> None:
    archive = build_archive(tmp_path / "archive", videos)
    out = tmp_path / "out"
    cmd = _cli(str(archive), "-o", str(out), "-c", str(cfg_path), "--no-progress")
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if kill_point == "temp-file-open":  # a CSV is being written under its temporary name
            _wait_for(
                lambda: out.is_dir() and any(discovery.STALE_TEMP.search(p.name) for p in out.rglob("*")),
                proc,
            )
        else:
            _wait_for(lambda: out.is_dir() and any(out.rglob("*.mp4.csv")), proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, like a machine crash
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p for p in out.rglob("*") if discovery.STALE_TEMP.search(p.name)]
    if kill_point == "temp-file-open":  # killed while writing: a truncated temporary CSV stays behind
        assert leftovers
    assert len(csvs(out)) < len(GOOD) or any(s != "done" for s in statuses(out).values())  # really mid-run

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 1, rerun.stderr  # the corrupt files fail again
    assert csvs(out) == csvs(clean[1])  # every CSV once, complete, identical to a clean run's
    expected = (
        {f"{rel}.csv" for rel in GOOD}
        | {f"{rel}.tracks.csv" for rel in GOOD}
        | {batch.summary_path(Path(f"{rel}.csv")).as_posix() for rel in GOOD}
        | {name for name in csvs(clean[1]) if name.endswith(".left_out.csv")}
    )
    assert set(outputs(out)) == expected  # no temporary or duplicate files left
    assert statuses(out) == {**dict.fromkeys(GOOD, "done"), **dict.fromkeys(BAD, "failed")}


def test_ray_local_matches_local_executor(
    tmp_path: Path, videos: Path, cfg_path: Path, clean: tuple[Path, Path, batch.RunReport]
) -> None:
    pytest.importorskip("ray")
    two = dict(list(GOOD.items())[:2])
    archive = build_archive(tmp_path / "archive", videos, two, bad=False)
    out = tmp_path / "out"
    run = batch.run_batch(archive, out, load(cfg_path, executor="ray", workers=2), progress=False)
    assert (run.processed, run.failed, run.executor) == (2, 0, "ray")
    mine = {
        k: v
        for k, v in csvs(clean[1]).items()
        if k.removesuffix(".csv").removesuffix(".tracks").removesuffix(".left_out") in two
    }
    assert csvs(out) == mine
    assert statuses(out) == dict.fromkeys(two, "done")


def test_cli_bad_archive_is_one_line_error(tmp_path: Path, cfg_path: Path) -> None:
    res = subprocess.run(
        _cli(str(tmp_path / "missing"), "-o", str(tmp_path / "out"), "-c", str(cfg_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert (
        res.stderr.strip().startswith("facelog: error: archive must be a folder")
        and "Traceback" not in res.stderr
    )


@pytest.mark.parametrize("kills, victim_ok", [(1, True), (2, False)], ids=["retried", "gives-up"])
def test_worker_death_is_retried_once_then_failed(
    tmp_path: Path,
    cfg_path: Path,
    clean: tuple[Path, Path, batch.RunReport],
    kills: int,
    victim_ok: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SIGKILL the worker process while it holds one file (what the OOM killer or a decoder crash does)."""
    import multiprocessing as mp
    import threading

    from facelog.pipeline.archive.executors import MAX_WORKER_DEATHS, FileTask, run_local

    archive = clean[0]
    rels = list(GOOD)[:2]
    tasks = [FileTask(r, str(archive / r), str(tmp_path / f"{r}.csv")) for r in rels]
    done_kills: list[int] = []

    def kill_workers() -> None:
        for child in mp.active_children():
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]

    def on_dispatch(task: FileTask) -> None:
        if task.rel_path == rels[0] and len(done_kills) < kills:
            done_kills.append(1)
            threading.Timer(0.3, kill_workers).start()  # the worker is still starting or processing it

    with caplog.at_level("WARNING", logger="facelog.pipeline.archive.executors"):
        results = {
            r.rel_path: r for r in run_local(load(cfg_path), tasks, workers=1, on_dispatch=on_dispatch)
        }
    assert f"{rels[0]}: worker process died; retrying on a fresh worker" in caplog.text  # it was in flight
    assert sorted(results) == sorted(rels) and results[rels[1]].ok
    victim = results[rels[0]]
    assert victim.ok is victim_ok
    if not victim_ok:
        assert victim.error == f"worker process died while processing this file ({MAX_WORKER_DEATHS} times)"
    assert (tmp_path / f"{rels[0]}.csv").is_file() is victim_ok


def test_worker_that_cannot_start_stops_the_run(
    tmp_path: Path, cfg_path: Path, clean: tuple[Path, Path, batch.RunReport]
) -> None:
    from facelog.pipeline.archive.executors import FileTask, WorkerInitError, run_local
    from facelog.pipeline.errors import ModelError
    from facelog.pipeline.session import resolve, resolved_identity

    # the driver resolves the detector first: a missing file stops the run before any worker or state
    cfg = load_config(cfg_path, {"detector.yunet_path": str(tmp_path / "missing-yunet.onnx")})
    with pytest.raises(ModelError, match=r"missing-yunet\.onnx"):
        batch.run_batch(clean[0], tmp_path / "out", cfg, progress=False)
    assert not (tmp_path / "out").exists()
    # a worker that resolves to another setup than the driver recorded in the state refuses to start
    good = load(cfg_path)
    ident = {**resolved_identity(resolve(good), good), "backend": "tensorrt"}
    task = FileTask("x.mp4", str(clean[0] / "x.mp4"), str(tmp_path / "x.csv"))
    with pytest.raises(WorkerInitError, match=r"another setup than the driver recorded: backend onnxruntime"):
        list(run_local(good, [task], workers=1, identity=ident))
