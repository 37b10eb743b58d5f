"""Where the batch job's per-file tasks run: a local process pool, or Ray tasks on actors.

Both executors run the same :class:`Worker`: one per process (or Ray actor), built once, holding
its own config, detector and backend, and calling ``runner.process_video`` for one file at a time.
Executors only move :class:`FileTask` in and :class:`FileResult` out; the driver (``batch.py``)
owns the state database. A worker process that dies (a decoder segfault, the OOM killer) breaks
only the files it had in flight: they are retried once on a fresh worker, then recorded as failed.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from facelog.pipeline.errors import FacelogError, first_line

if TYPE_CHECKING:
    from facelog.pipeline.config import AppConfig

log = logging.getLogger(__name__)

MAX_WORKER_DEATHS = 2  # a file in flight when its worker died this many times is recorded as failed


class WorkerInitError(FacelogError, RuntimeError):
    """A worker could not start (bad model file, missing backend): the whole run stops."""


class ExecutorUnavailable(FacelogError, RuntimeError):
    """The requested executor cannot run here (e.g. Ray is not installed)."""


@dataclass(frozen=True, slots=True)
class FileTask:
    """One archive file to process into one CSV."""

    rel_path: str  # relative to the archive, posix separators: the state key
    source: str  # absolute path of the video
    out_csv: str  # absolute path of the CSV to write (atomically, by process_video)


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one task produced. ``ok`` False: ``error`` says why; the run goes on."""

    rel_path: str
    ok: bool
    rows: int = 0
    frames: int = 0
    faces: int = 0
    faces_ignored: int = 0  # in detector.ignore_zones
    video_s: float = 0.0
    wall_s: float = 0.0
    error: str | None = None
    worker: str = ""  # host:pid that ran it


@dataclass(slots=True)
class _Pending:
    task: FileTask
    deaths: int = 0
    started: float = field(default_factory=time.monotonic)


def _error_text(exc: BaseException) -> str:
    """``Type: first line`` (the type helps when a library's message alone is vague)."""
    line = first_line(exc)
    return type(exc).__name__ if line == type(exc).__name__ else f"{type(exc).__name__}: {line}"


class Worker:
    """Holds one config and one set of models; processes files one at a time.

    Args:
        cfg: the run's config (as given to ``process_video``).
        threads: intra-op threads for this worker's backend (cores / workers), 0 = library default.
        identity: what the driver resolved and recorded in the state (``session.resolved_identity``);
            a worker that resolves to something else refuses to start.
    """

    def __init__(self, cfg: AppConfig, threads: int = 0, identity: dict[str, str] | None = None) -> None:
        from facelog.pipeline.session import InferenceSession, resolved_identity

        self.cfg = cfg
        self.name = f"{os.uname().nodename}:{os.getpid()}"
        try:
            self._session = InferenceSession(cfg, threads=threads)
        except Exception as exc:
            raise WorkerInitError(f"worker {self.name} could not start: {_error_text(exc)}") from exc
        got = resolved_identity(self._session.resolved, cfg)
        if identity is not None and got != identity:
            self._session.close()
            diff = ", ".join(
                f"{k} {got[k]} (driver: {identity.get(k)})" for k in got if got[k] != identity.get(k)
            )
            raise WorkerInitError(
                f"worker {self.name} resolves to another setup than the driver recorded: {diff}; "
                "set detector.kind / backend.kind explicitly"
            )

    def run(self, task: FileTask) -> FileResult:
        """Process one file. Never raises for a bad file: the result carries the error."""
        from facelog.pipeline.errors import SourceError
        from facelog.pipeline.file import process as runner

        t0 = time.perf_counter()
        try:
            s = runner.process_video(
                task.source, task.out_csv, self.cfg, session=self._session, source_id=task.rel_path
            )
        except SourceError as exc:
            return FileResult(
                task.rel_path, False, wall_s=time.perf_counter() - t0, error=str(exc), worker=self.name
            )
        except Exception as exc:  # any failure on one file is that file's failure, not the run's
            log.exception("processing %s failed", task.source)
            return FileResult(
                task.rel_path,
                False,
                wall_s=time.perf_counter() - t0,
                error=_error_text(exc),
                worker=self.name,
            )
        return FileResult(
            task.rel_path,
            True,
            rows=s.rows,
            frames=s.frames,
            faces=s.faces,
            faces_ignored=s.faces_ignored,
            video_s=s.video_s,
            wall_s=time.perf_counter() - t0,
            worker=self.name,
        )

    def close(self) -> None:
        self._session.close()


# ---------------------------------------------------------------- local process pool
_LOCAL_WORKER: Worker | None = None
_LOCAL_INIT_ERROR: str | None = None


def _init_local(
    cfg_json: str, threads: int, gpu_ids: Sequence[str], counter: Any, identity: dict[str, str] | None
) -> None:
    """Process-pool initializer: build this process's Worker once."""
    global _LOCAL_WORKER, _LOCAL_INIT_ERROR
    from facelog.pipeline.config import AppConfig

    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if gpu_ids:  # one GPU per worker, round robin
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_ids[index % len(gpu_ids)])
    try:
        _LOCAL_WORKER = Worker(AppConfig.model_validate_json(cfg_json), threads, identity)
    except WorkerInitError as exc:
        _LOCAL_INIT_ERROR = str(exc)


def _run_local(task: FileTask) -> FileResult:
    if _LOCAL_WORKER is None:
        raise WorkerInitError(_LOCAL_INIT_ERROR or "worker was not initialised")
    return _LOCAL_WORKER.run(task)


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def run_local(
    cfg: AppConfig,
    tasks: Sequence[FileTask],
    *,
    workers: int,
    gpu_ids: Sequence[str] = (),
    on_dispatch: Callable[[FileTask], None] | None = None,
    identity: dict[str, str] | None = None,
) -> Iterator[FileResult]:
    """Run ``tasks`` on ``workers`` spawned processes; yield results in completion order.

    At most ``workers`` tasks are in flight, so a dying process takes down only the files it holds.
    With ``gpu_ids`` (``CUDA_VISIBLE_DEVICES`` entries), worker *i* sees only ``gpu_ids[i % len]``.

    Raises:
        WorkerInitError: a worker could not build its detector/backend.
    """
    import multiprocessing as mp

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    ctx = mp.get_context("spawn")
    queue: deque[_Pending] = deque(_Pending(t) for t in tasks)
    cfg_json = cfg.model_dump_json()
    threads = _threads_per_worker(workers)
    while queue:
        counter = ctx.Value("i", 0)
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_local,
            initargs=(cfg_json, threads, tuple(gpu_ids), counter, identity),
        )  # fmt: skip
        inflight: dict[Future[FileResult], _Pending] = {}
        broken = False
        try:
            while (queue or inflight) and not broken:
                while queue and len(inflight) < workers:
                    p = queue.popleft()
                    if on_dispatch:
                        on_dispatch(p.task)
                    p.started = time.monotonic()
                    inflight[pool.submit(_run_local, p.task)] = p
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    p = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        inflight[fut] = p  # handled below with the others in flight
                        broken = True
            if broken:
                yield from _requeue_after_death(list(inflight.values()), queue, "worker process died")
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)


def _requeue_after_death(victims: list[_Pending], queue: deque[_Pending], why: str) -> Iterator[FileResult]:
    for p in reversed(victims):  # keep their order at the front of the queue
        p.deaths += 1
        if p.deaths >= MAX_WORKER_DEATHS:
            log.error("%s: %s %d times while processing it; giving up", p.task.rel_path, why, p.deaths)
            yield FileResult(
                p.task.rel_path, False, wall_s=time.monotonic() - p.started,
                error=f"{why} while processing this file ({p.deaths} times)",
            )  # fmt: skip
        else:
            log.warning("%s: %s; retrying on a fresh worker", p.task.rel_path, why)
            queue.appendleft(p)


# ---------------------------------------------------------------- Ray
class _RayWorker:
    """Ray actor body: one Worker per actor (Ray gives each its own process and, with num_gpus, GPU)."""

    def __init__(self, cfg_json: str, threads: int, identity: dict[str, str] | None = None) -> None:
        from facelog.pipeline.config import AppConfig

        self.worker = Worker(AppConfig.model_validate_json(cfg_json), threads, identity)

    def run(self, task: FileTask) -> FileResult:
        return self.worker.run(task)


def import_ray() -> Any:
    """Import Ray or raise ExecutorUnavailable with the install hint."""
    try:
        import ray
    except ImportError as exc:
        raise ExecutorUnavailable("--executor ray needs Ray: pip install 'facelog[ray]'") from exc
    return ray


def run_ray(
    cfg: AppConfig,
    tasks: Sequence[FileTask],
    *,
    workers: int,
    address: str | None = None,
    gpus_per_worker: float | None = None,
    on_dispatch: Callable[[FileTask], None] | None = None,
    identity: dict[str, str] | None = None,
) -> Iterator[FileResult]:
    """Run ``tasks`` on ``workers`` Ray actors; yield results in completion order.

    Connects to the cluster at ``address`` (e.g. "ray://head:10001" or "auto"), or starts a local
    one with ``num_cpus=workers``. Each actor asks for ``gpus_per_worker`` GPUs (None: 1 when the
    cluster has GPUs, else 0). Workers read the archive and write the CSVs themselves, so on a
    multi-node cluster both folders must be on a filesystem mounted at the same path everywhere.

    Raises:
        ExecutorUnavailable: Ray is not installed.
        WorkerInitError: an actor could not build its detector/backend.
    """
    ray = import_ray()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        cluster_gpus = float(ray.cluster_resources().get("GPU", 0.0))
        num_gpus = gpus_per_worker if gpus_per_worker is not None else (1.0 if cluster_gpus >= 1 else 0.0)
        cpus = float(ray.cluster_resources().get("CPU", workers))
        threads = max(1, int(cpus // workers)) if not address else 0
        actor_cls = ray.remote(num_cpus=1, num_gpus=num_gpus)(_RayWorker)
        cfg_json = cfg.model_dump_json()
        log.info("ray: %d actors, %.2g GPU each (cluster: %s)", workers, num_gpus, ray.cluster_resources())
        new_actor = lambda: actor_cls.remote(cfg_json, threads, identity)  # noqa: E731
        yield from _ray_loop(ray, new_actor, tasks, workers, on_dispatch)
    finally:
        if started_here:
            ray.shutdown()


def _ray_loop(
    ray: Any,
    new_actor: Callable[[], Any],
    tasks: Sequence[FileTask],
    workers: int,
    on_dispatch: Callable[[FileTask], None] | None,
) -> Iterator[FileResult]:
    queue: deque[_Pending] = deque(_Pending(t) for t in tasks)
    idle = [new_actor() for _ in range(min(workers, len(queue)))]
    inflight: dict[Any, tuple[Any, _Pending]] = {}
    while queue or inflight:
        while queue and idle:
            actor, p = idle.pop(), queue.popleft()
            if on_dispatch:
                on_dispatch(p.task)
            p.started = time.monotonic()
            inflight[actor.run.remote(p.task)] = (actor, p)
        ready, _ = ray.wait(list(inflight), num_returns=1)
        for ref in ready:
            actor, p = inflight.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                init = [ln for ln in str(exc).splitlines() if "WorkerInitError: " in ln]
                if init:  # the actor's constructor failed: every actor would, so stop the run
                    raise WorkerInitError(init[-1].split("WorkerInitError: ", 1)[1].strip()) from exc
                yield from _requeue_after_death([p], queue, "ray actor died")
                idle.append(new_actor())
                continue
            idle.append(actor)
            yield result
