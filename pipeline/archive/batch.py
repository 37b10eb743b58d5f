"""``facelog batch ARCHIVE_DIR -o OUT_DIR``: process a footage archive, resumably and in parallel.

The driver (this module) discovers the videos, decides from the state database (``state.py``)
which need work, hands them to an executor (``executors.py``: local processes or Ray), records
each result as it arrives, and finally writes the run summary and the camera/day report
(``report.py``). One CSV per video mirrors the archive tree: ``ARCHIVE/cam1/a.mp4`` ->
``OUT/cam1/a.mp4.csv`` (the full file name is kept so ``a.mp4`` and ``a.mkv`` cannot collide).

Crash safety: ``process_video`` writes each CSV under a temporary name and renames it when
complete; a row is marked done only after that. A run killed at any moment leaves rows
``running``, at worst a complete CSV whose row is not done yet, and stray temporary files: the
next run removes the temporary files and redoes the unfinished rows, so every output exists
exactly once and complete. An output exists only for a row that is done (a file that now fails
loses its old output; a truncated one keeps the rows before the break as ``<csv>.partial`` and
their persons as ``<tracks csv>.partial``).
Discovery and the output folder's layout are in ``discovery.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facelog.engines.fileio import file_sha256
from facelog.pipeline.archive import state as st
from facelog.pipeline.archive.discovery import (
    ArchiveFile,
    BatchError,
    clean_stale_temps,
    discover,
    exclusive_lock,
    output_path,
    write_json_atomic,
)
from facelog.pipeline.config import backend_options
from facelog.pipeline.file.outputs import summary_path
from facelog.pipeline.session import resolve, resolved_identity
from facelog.pipeline.sinks import left_out_path, partial_path, tracks_path

if TYPE_CHECKING:
    from facelog.pipeline.config import AppConfig

log = logging.getLogger(__name__)

SUMMARY_NAME = "batch_summary.json"
REPORT_CSV = "report.csv"
REPORT_PNG = "report.png"


@dataclass(slots=True)
class RunReport:
    """What one ``facelog batch`` run did (also written to OUT/batch_summary.json)."""

    run_id: str
    archive: str
    out_dir: str
    executor: str
    workers: int
    model_id: str
    config_hash: str
    resolved: dict[str, str] = field(default_factory=dict)  # detector (+ weights sha256), backend, precision
    started_at: str = ""
    wall_s: float = 0.0
    discovered: int = 0
    processed: int = 0
    failed: int = 0  # in this run
    failed_earlier: int = 0  # found, failed in an earlier run and not retried (``--retry-failed``)
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why each file was (not) processed
    frames: int = 0
    rows: int = 0
    faces: int = 0
    faces_ignored: int = 0  # in detector.ignore_zones, over the files processed in this run
    video_s: float = 0.0
    files_per_hour: float = 0.0
    video_hours_per_hour: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)


# ------------------------------------------------------------------ the run
def model_path_of(cfg: AppConfig) -> Path:
    """The age/gender model file the config names (its sha256 is the state's model id)."""
    return Path(cfg.model.path)


# Settings that cannot change a CSV: how the job runs, where the model lives (it is identified by
# its content), threads and queue sizes, live-camera options; and the detector and backend as asked
# for (``auto``): what they resolved to is hashed instead (``session.resolved_identity``).
_NOT_HASHED: dict[str, Any] = {
    "batch": True,
    "rtsp": True,
    "model": {"path"},
    "detector": {"kind", "yunet_path"},
    "backend": True,  # hashed as the options the resolved backend takes (below)
    "batching": {"frame_queue", "face_queue", "detect_workers", "max_wait_ms"},
}


def output_config_hash(cfg: AppConfig, identity: dict[str, str]) -> str:
    """Hash of every setting that can change a CSV (all but ``_NOT_HASHED``) and of what the run
    resolved to (``identity``: detector and its weights' sha256, backend kind and precision)."""
    opts = backend_options(cfg.backend, identity["backend"])
    backend = {k: v for k, v in opts.items() if k not in ("threads", "cache_dir")}  # cannot change a CSV
    values = {**cfg.model_dump(mode="json", exclude=_NOT_HASHED), "backend": backend, "resolved": identity}
    if not cfg.detector.ignore_zones:  # no zones hash as before zones existed: an archive is not redone
        del values["detector"]["ignore_zones"]
    if not cfg.fusion.mean_after_s:  # off: the ages of before it existed, and their hash
        del values["fusion"]["mean_after_s"]
    if cfg.sampling.deinterlace == "off":  # the frames of before it existed, and their hash
        del values["sampling"]["deinterlace"]
    if not cfg.tracking.min_evidence_s:  # off: the persons of before it existed, and their hash
        del values["tracking"]["min_evidence_s"]
    if not cfg.tracking.join_max_distance:  # likewise
        del values["tracking"]["join_max_distance"]
    if not cfg.tracking.identity_cohort_z:  # off: the tracks of before it existed, and their hash
        del values["tracking"]["identity_cohort_z"]
    return st.config_hash(values)


def visible_gpus(cfg: AppConfig) -> list[str]:
    """GPUs the local workers are spread over when ``batch.gpus`` is empty: every visible CUDA device
    (as ``CUDA_VISIBLE_DEVICES`` entries), none for the CPU-only ONNX Runtime backend."""
    if cfg.backend.kind == "onnxruntime":
        return []
    from facelog.engines.gpu import cuda_devices

    devices, _ = cuda_devices()
    visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if "CUDA_VISIBLE_DEVICES" in os.environ:  # indices are relative to what the parent may see
        return [visible[d.index] for d in devices if d.index < len(visible)]
    return [str(d.index) for d in devices]


def _identity(f: ArchiveFile, model_id: str, cfg_hash: str) -> st.FileIdentity:
    return st.FileIdentity(f.size, f.mtime_ns, st.fingerprint(f.path), model_id, cfg_hash)


def run_batch(
    archive: Path,
    out_dir: Path,
    cfg: AppConfig,
    *,
    since: dt.datetime | None = None,
    progress: bool = True,
) -> RunReport:
    """Process every new or changed video of ``archive`` into ``out_dir`` (see the module docstring).

    How the job runs (patterns, workers, executor, retries) comes from ``cfg.batch``.

    Raises:
        BatchError: the archive is missing or another run holds ``out_dir``.
        ModelError, BackendUnavailable, ConfigError: the detector, model or backend cannot be resolved.
        executors.WorkerInitError: workers could not load the model or detector.
        executors.ExecutorUnavailable: ``executor: ray`` without Ray installed.
    """
    from facelog.pipeline.archive import executors

    bc = cfg.batch
    archive, out_dir = archive.resolve(), out_dir.resolve()
    if not archive.is_dir():
        raise BatchError(
            f"archive must be a folder, got {archive} ({'missing' if not archive.exists() else 'a file'})"
        )
    model = model_path_of(cfg)
    if not model.is_file():
        raise BatchError(f"model file not found: {model}")
    identity = resolved_identity(resolve(cfg), cfg)  # what workers must resolve to as well
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run = RunReport(
        run_id=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6],
        archive=str(archive), out_dir=str(out_dir), executor=bc.executor, workers=bc.workers,
        model_id=file_sha256(model), config_hash=output_config_hash(cfg, identity), resolved=identity,
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    with exclusive_lock(out_dir), st.StateDB(out_dir / st.STATE_DB_NAME) as db:
        clean_stale_temps(out_dir)
        db.start_run(run.run_id)
        files = discover(archive, bc.patterns, since=since, exclude=[out_dir])
        run.discovered = len(files)
        tasks, idents = _plan(db, files, out_dir, run, bc.retry_failed, bc.min_age_s)
        log.info("%d file(s) found, %d to process (%s)", len(files), len(tasks), dict(run.reasons))

        def on_dispatch(task: executors.FileTask) -> None:
            db.mark(task.rel_path, "running", idents[task.rel_path], run.run_id, attempt=True)

        if bc.executor == "ray":
            results = executors.run_ray(
                cfg, tasks, workers=bc.workers, address=bc.ray_address,
                gpus_per_worker=bc.gpus_per_worker, on_dispatch=on_dispatch, identity=identity,
            )  # fmt: skip
        else:
            gpu_ids = [str(g) for g in bc.gpus] or visible_gpus(cfg)
            results = executors.run_local(
                cfg, tasks, workers=bc.workers, gpu_ids=gpu_ids, on_dispatch=on_dispatch, identity=identity
            )
        _collect(db, results, len(tasks), idents, out_dir, run, progress)
        run.wall_s = round(time.perf_counter() - t0, 3)
        hours = run.wall_s / 3600
        run.files_per_hour = round(run.processed / hours, 1) if run.processed else 0.0
        run.video_hours_per_hour = round(run.video_s / 3600 / hours, 3) if run.processed else 0.0
        _write_report(db, out_dir)
        summary = asdict(run)
        summary["state"] = db.counts()
        db.finish_run(run.run_id, summary)
    write_json_atomic(out_dir / SUMMARY_NAME, summary)
    return run


def _plan(
    db: st.StateDB,
    files: list[ArchiveFile],
    out_dir: Path,
    run: RunReport,
    retry_failed: bool,
    min_age_s: float,
) -> tuple[list[Any], dict[str, st.FileIdentity]]:
    from facelog.pipeline.archive.executors import FileTask

    tasks, idents, reasons = [], {}, Counter[str]()
    now_ns = time.time_ns()
    for f in files:
        try:
            ident = _identity(f, run.model_id, run.config_hash)
        except OSError as exc:  # unreadable (permissions, I/O error, vanished): failed, not fatal
            ident = st.FileIdentity(max(f.size, 0), f.mtime_ns, "", run.model_id, run.config_hash)
            _record_failure(db, f.rel_path, ident, out_dir, run, f"cannot read file: {exc}")
            reasons["unreadable"] += 1
            continue
        row = db.get(f.rel_path)
        out = output_path(out_dir, f.rel_path)
        action, why = st.decide(row, ident, retry_failed=retry_failed, output_exists=out.is_file())
        if action is st.Action.PROCESS and min_age_s > 0 and (now_ns - f.mtime_ns) / 1e9 < min_age_s:
            action, why = st.Action.SKIP, "too recent"  # probably still being recorded
            if row is None:  # an existing row stays as it is and is decided again next run
                db.mark(
                    f.rel_path, "skipped", ident, run.run_id, error=f"modified less than {min_age_s:g} s ago"
                )
        reasons[why] += 1
        if action is st.Action.SKIP:
            run.skipped += 1
            if row is not None and row.mtime_ns != f.mtime_ns and row.fingerprint == ident.fingerprint:
                db.touch_mtime(f.rel_path, f.mtime_ns)
            continue
        idents[f.rel_path] = ident
        tasks.append(FileTask(f.rel_path, str(f.path), str(out)))
    run.reasons = dict(sorted(reasons.items()))
    run.failed_earlier = reasons["failed before"]
    return tasks, idents


def _record_failure(
    db: st.StateDB, rel_path: str, ident: st.FileIdentity, out_dir: Path, run: RunReport, error: str
) -> None:
    db.mark(rel_path, "failed", ident, run.run_id, error=error)
    out = output_path(out_dir, rel_path)
    for stale in (
        out,
        summary_path(out),
        tracks_path(out),
        left_out_path(out),
    ):  # only a done row has outputs
        stale.unlink(missing_ok=True)
    run.failed += 1
    run.failures.append({"rel_path": rel_path, "error": error})
    log.warning("failed: %s: %s", rel_path, error)


def _collect(
    db: st.StateDB,
    results: Iterator[Any],
    total: int,
    idents: dict[str, st.FileIdentity],
    out_dir: Path,
    run: RunReport,
    progress: bool,
) -> None:
    from tqdm import tqdm

    disable = None if progress else True  # None: on when stderr is a terminal
    with (
        tqdm(total=total, unit="file", desc="files", disable=disable, position=0) as files_bar,
        tqdm(unit="frame", desc="frames", disable=disable, position=1) as frames_bar,
    ):
        for r in results:
            ident = idents[r.rel_path]
            out = output_path(out_dir, r.rel_path)
            if r.ok and not out.is_file():  # the task claims success but its CSV is not there
                r = type(r)(r.rel_path, False, wall_s=r.wall_s, error=f"output missing after success: {out}")
            if r.ok:
                db.mark(
                    r.rel_path, "done", ident, run.run_id, output=out.relative_to(out_dir).as_posix(),
                    rows=r.rows, frames=r.frames, faces=r.faces, video_s=r.video_s, wall_s=round(r.wall_s, 3),
                )  # fmt: skip
                run.processed += 1
                run.frames += r.frames
                run.rows += r.rows
                run.faces += r.faces
                run.faces_ignored += r.faces_ignored
                run.video_s = round(run.video_s + r.video_s, 3)
                frames_bar.update(r.frames)
                partial_path(out).unlink(missing_ok=True)  # rows of an earlier truncated version
            else:
                _record_failure(db, r.rel_path, ident, out_dir, run, r.error or "unknown error")
            files_bar.update(1)
            files_bar.set_postfix(failed=run.failed, refresh=False)


def _write_report(db: st.StateDB, out_dir: Path) -> None:
    from facelog.pipeline.archive import report

    inputs = [
        report.ReportInput(
            row.rel_path, row.mtime_ns, out_dir / row.output, row.frames or 0, row.video_s or 0.0
        )
        for row in db.rows("done")
        if row.output and (out_dir / row.output).is_file()
    ]
    report.write_report(report.build_report(inputs), out_dir / REPORT_CSV, out_dir / REPORT_PNG)
