"""Live RTSP cameras: many cameras, one process, one shared inference stage, runs until stopped.

``facelog run rtsp://user:pass@host:554/path`` and a YAML config listing cameras (``rtsp.cameras``)
both end in :func:`run_cameras`, which loads the run's ``InferenceSession`` (the object a file run
uses) and hands it to the loop (``live.loop.CameraLoop``). Cameras drop, freeze and come back: each
reader reconnects with bounded backoff (``live.source``), the loop keeps logging the others, and
SIGINT/SIGTERM flush, fsync and close every CSV, write the summary (``live.summary``) and exit 0.
Credentials never leave unmasked (``redact``). Behaviour, metrics and files: docs/RTSP.md.

Example:
    >>> cfg = load_config("configs/rtsp.yaml")  # doctest: +SKIP
    >>> run_cameras(cfg, ["rtsp://user:pass@10.0.0.5:554/stream1"], out_dir="logs")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from facelog.pipeline.config import ConfigError
from facelog.pipeline.errors import FacelogError
from facelog.pipeline.live.detectors import CameraDetectors
from facelog.pipeline.live.loop import (
    MAX_ANALYZE_FAILURES,
    AnalyzerFailing,
    Camera,
    CameraLoop,
    MetricsPortError,
)
from facelog.pipeline.live.redact import install_log_redaction, redact_url, url_secrets
from facelog.pipeline.live.rotating_sink import safe_file_stem
from facelog.pipeline.live.summary import SUMMARY_NAME, CameraSummary, LiveSummary
from facelog.pipeline.session import InferenceSession

if TYPE_CHECKING:
    from facelog.pipeline.config import AppConfig, RtspConfig

__all__ = [
    "MAX_ANALYZE_FAILURES",
    "SUMMARY_NAME",
    "AnalyzerFailing",
    "Camera",
    "CameraDetectors",
    "CameraLoop",
    "CameraSummary",
    "LiveSummary",
    "RtspError",
    "cameras_for_run",
    "cameras_from_urls",
    "check_live_config",
    "run_cameras",
    "run_with_session",
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


def run_with_session(
    cameras: Sequence[Camera],
    session: InferenceSession,
    out_dir: Path,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Run the cameras on a loaded session until stopped (signal or ``stop``); return the exit code.

    The session stays open (the caller closes it, as with ``process_video(session=...)``).
    """
    install_log_redaction(set().union(*(url_secrets(c.url) for c in cameras)))
    loop = CameraLoop(cameras, session, out_dir, stop_event=stop)
    try:
        with stop_on_signals(loop.stop_event):
            return loop.run()
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


# Keys a live run does not use: the reader keeps only each camera's newest frame and the loop detects
# in its own thread, so there are no frame/face queues, detect workers or batch timers. A value other
# than the default is an error, not a silent no-op (the file and batch runs use them).
UNUSED_BATCHING_KEYS = ("max_wait_ms", "frame_queue", "face_queue", "detect_workers")


def check_live_config(cfg: AppConfig) -> None:
    """Reject keys a live run would ignore (``UNUSED_BATCHING_KEYS`` set to a non-default value).

    Raises:
        ConfigError: naming the key.
    """
    defaults = type(cfg.batching)()
    for key in UNUSED_BATCHING_KEYS:
        if getattr(cfg.batching, key) != getattr(defaults, key):
            raise ConfigError(
                f"batching.{key} is not used by live (rtsp) runs, got {getattr(cfg.batching, key)}; "
                "remove it (live runs batch the newest frame of every camera, see docs/RTSP.md)"
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
    check_live_config(cfg)
    cameras = cameras_for_run(cfg.rtsp, urls)
    install_log_redaction(set().union(*(url_secrets(c.url) for c in cameras)))
    out = Path(out_dir)
    check_writable_folder(out)
    reporter = None
    if cfg.rtsp.report_daily:  # a background thread that only reads the CSVs: never blocks the cameras
        from facelog.pipeline.report.daily import DailyReporter

        reporter = DailyReporter(out).start()
    try:
        with InferenceSession(cfg) as session:
            return run_with_session(cameras, session, out, stop=stop)
    finally:
        if reporter is not None:
            reporter.stop()


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
