"""Live RTSP cameras: many cameras, one process, one shared inference stage, runs until stopped.

``facelog run rtsp://user:pass@host:554/path`` and a YAML config listing cameras (``rtsp.cameras``)
both end in :func:`run_cameras`. Cameras drop, freeze and come back: each reader reconnects with
bounded backoff (``rtsp_source``), the loop (``rtsp_runner``) keeps logging the others, and
SIGINT/SIGTERM flush, fsync and close every CSV and exit 0. Credentials never leave unmasked
(``redact``). Behaviour, metrics and files: docs/RTSP.md.

Example:
    >>> cfg = load_config("configs/rtsp.yaml")  # doctest: +SKIP
    >>> run_cameras(cfg, ["rtsp://user:pass@10.0.0.5:554/stream1"], out_dir="logs")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from facelog.pipeline.errors import FacelogError
from facelog.pipeline.live.loop import (
    MAX_ANALYZE_FAILURES,
    SUMMARY_NAME,
    AnalyzerFailing,
    Camera,
    CameraRunner,
    MetricsPortError,
    RunOptions,
    Stages,
)
from facelog.pipeline.live.redact import install_log_redaction, redact_url, url_secrets
from facelog.pipeline.live.rotating_sink import safe_file_stem
from facelog.pipeline.live.source import Backoff, SourceOptions
from facelog.pipeline.types import FrameResult

if TYPE_CHECKING:
    from facelog.pipeline.config import AppConfig, RtspConfig, SamplingConfig

__all__ = [
    "MAX_ANALYZE_FAILURES",
    "SUMMARY_NAME",
    "AnalyzerFailing",
    "Camera",
    "CameraRunner",
    "RtspError",
    "RunOptions",
    "Stages",
    "build_stages",
    "cameras_for_run",
    "cameras_from_urls",
    "options_from_config",
    "run_cameras",
    "run_with_stages",
    "stop_on_signals",
]

log = logging.getLogger(__name__)


class RtspError(FacelogError):
    """A camera run cannot start (no cameras, metrics port taken...); the CLI prints one line."""


def camera_name_from_url(url: str) -> str:
    """A readable default name: host, port and path, e.g. ``10.0.0.5_554_stream1`` (no credentials)."""
    safe = redact_url(url)
    rest = safe.split("://", 1)[-1].rpartition("@")[2].split("?", 1)[0]
    try:
        return safe_file_stem(rest.replace(":", "_").replace("/", "_"))
    except ValueError:
        return "camera"


def cameras_from_urls(urls: Sequence[str]) -> list[Camera]:
    """Name cameras given only as URLs (``facelog run rtsp://...``); duplicate names get ``_2``, ``_3``."""
    out: list[Camera] = []
    seen: dict[str, int] = {}
    for url in urls:
        base = camera_name_from_url(url)
        seen[base] = seen.get(base, 0) + 1
        out.append(Camera(base if seen[base] == 1 else f"{base}_{seen[base]}", url))
    return out


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("event=signal signal=%s action=stop", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, prev)


def run_with_stages(
    cameras: Sequence[Camera],
    stages: Stages,
    out_dir: Path,
    options: RunOptions,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run the cameras with ready-made stages until stopped (signal or ``stop``); return the exit code."""
    install_log_redaction(set().union(*(url_secrets(c.url) for c in cameras)))
    runner = CameraRunner(cameras, stages, out_dir, options, stop_event=stop)
    try:
        with stop_on_signals(runner.stop_event):
            return runner.run()
    except MetricsPortError as exc:
        raise RtspError(str(exc)) from exc


def cameras_for_run(rtsp: RtspConfig, urls: Sequence[str] = ()) -> list[Camera]:
    """The cameras of ``rtsp.cameras`` followed by ``urls`` (named from host/port/path, kept unique).

    Raises:
        RtspError: no camera at all.
    """
    cams = [Camera(c.name, c.url.get_secret_value()) for c in rtsp.cameras]
    taken = {c.name for c in cams}
    for cam in cameras_from_urls(urls):
        name, n = cam.name, 1
        while name in taken:
            n += 1
            name = f"{cam.name}_{n}"
        taken.add(name)
        cams.append(Camera(name, cam.url))
    if not cams:
        raise RtspError("no camera to run: give rtsp:// URLs or list them under rtsp.cameras in the config")
    return cams


def options_from_config(rtsp: RtspConfig, sampling: SamplingConfig | None = None) -> RunOptions:
    """The runtime options of the ``rtsp`` config section (and ``sampling``: stride/target_fps per camera)."""
    backoff = Backoff(rtsp.backoff_initial_s, rtsp.backoff_max_s, 2.0, rtsp.backoff_jitter)
    source = SourceOptions(rtsp.open_timeout_s, rtsp.read_timeout_s, backoff, rtsp.max_reconnects)
    return RunOptions(
        source=source,
        rotate_s=rtsp.rotate_s,
        flush_s=rtsp.flush_s,
        metrics_host=rtsp.metrics_host,
        metrics_port=rtsp.metrics_port,
        ffmpeg_options=rtsp.ffmpeg_options,
        stall_after_s=rtsp.stall_after_s,
        stride=sampling.stride if sampling else 1,
        target_fps=sampling.target_fps if sampling else None,
    )


# Live CSVs: the file schema's columns (facelog.pipeline.sinks.HEADER) plus two at the end.
WALL_COLUMNS = ("wall_time_utc", "wall_ns")


def wall_time_utc(wall_ns: int) -> str:
    """``2026-11-23T06:13:00.736Z`` (ms precision) for a wall-clock time in ns since the epoch."""
    t = dt.datetime.fromtimestamp(wall_ns // 1_000_000 / 1000, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def build_stages(cfg: AppConfig) -> Stages:
    """Detector, one backend and one analyzer shared by every camera, and the CSV row format.

    Raises:
        ModelError: the model or the detector weights cannot be loaded.
        BackendUnavailable: the configured backend cannot run here.
    """
    from facelog.pipeline.file.process import build_components
    from facelog.pipeline.session import FaceAnalyzer
    from facelog.pipeline.sinks import HEADER, result_rows, to_cells

    comp = build_components(cfg)
    analyzer = FaceAnalyzer(
        comp.backend,
        cfg.crop,
        framing=comp.detector.framing,
        batch_size=cfg.batching.batch_size,
        tracking=cfg.tracking,
    )
    decimals = cfg.output.decimals
    name, backend, model = comp.detector.name, comp.backend_name, analyzer.model_id
    log.info("event=stages detector=%s backend=%s model=%s", name, backend, model)

    def to_rows(result: FrameResult) -> list[list[Any]]:
        extra = [wall_time_utc(result.wall_ns), result.wall_ns]
        return [to_cells(row) + extra for row in result_rows(result, analyzer.model_id, decimals)]

    return Stages(
        detect=comp.detector.detect,
        analyze=analyzer.analyze,
        header=(*HEADER, *WALL_COLUMNS),
        to_rows=to_rows,
        reset_source=analyzer.reset_source,
        close=comp.close,
    )


def run_cameras(
    cfg: AppConfig,
    urls: Sequence[str] = (),
    out_dir: str | Path = "facelog_rtsp",
    *,
    stop: threading.Event | None = None,
) -> int:
    """Log every camera of ``cfg.rtsp.cameras`` and ``urls`` until SIGINT/SIGTERM (or ``stop``).

    Args:
        cfg: the loaded config (detector, model, backend, batching, tracking, output, rtsp).
        urls: extra ``rtsp://`` URLs (``facelog run rtsp://...``).
        out_dir: root folder: ``<out_dir>/<camera>/<camera>_<period>.csv`` and ``rtsp_summary.json``.
        stop: set it to stop the run from another thread (tests, embedding).

    Returns:
        0 after a stop; 1 when every camera gave up (``rtsp.max_reconnects``), inference kept failing
        or the output cannot be written.

    Raises:
        RtspError: no cameras, or the metrics port cannot be bound.
        ModelError, BackendUnavailable: the model/detector/backend cannot be loaded.
    """
    cameras = cameras_for_run(cfg.rtsp, urls)
    install_log_redaction(set().union(*(url_secrets(c.url) for c in cameras)))
    options = options_from_config(cfg.rtsp, cfg.sampling)
    out = Path(out_dir)
    check_writable_folder(out)
    return run_with_stages(cameras, build_stages(cfg), out, options, stop=stop)


def check_writable_folder(folder: Path) -> None:
    """Create ``folder`` and prove a file can be written there, before any camera is opened.

    A camera may show its first face hours after the start; an unwritable output must fail now.

    Raises:
        RtspError: the folder cannot be created or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".facelog-write-check-"):
            pass
    except OSError as exc:
        raise RtspError(f"output folder {folder} is not writable: {exc.strerror or exc}") from exc
