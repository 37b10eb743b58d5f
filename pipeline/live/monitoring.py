"""Prometheus metrics and a health endpoint for long-running camera jobs.

Every metric lives in a private :class:`prometheus_client.CollectorRegistry` (several runs in one
process, e.g. tests, never collide). Labels carry the camera *name*, never its URL, so credentials
cannot reach a scrape. :class:`MetricsServer` serves ``/metrics`` (Prometheus text format) and
``/healthz`` (JSON; 200 while the processing loop is alive, 503 when it has stalled).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from facelog.pipeline.config import RtspConfig, default_of

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """All counters, gauges and histograms of a camera run, in one registry.

    Attributes (label ``camera`` unless noted):
        reconnects: connection attempts after the first one (failed opens and lost streams).
        disconnects: established connections that were lost (EOF, read timeout, stall).
        frames_read: frames decoded by the reader thread.
        frames_dropped: frames replaced by a newer one before inference took them.
        frames_skipped: frames left out on purpose by sampling (``stride``/``target_fps``).
        frames_processed: frames that went through detection and inference.
        faces: faces logged.
        faces_ignored: faces dropped in the camera's ignore zones (``detect/zones.py``).
        rows: CSV rows written.
        connected: 1 while the camera delivers frames, else 0.
        fps: frames processed per second over the last few seconds.
        target_fps: the rate the camera should be analysed at (``sampling.target_fps``, or the
            camera's frame rate / ``stride``).
        behind: 1 while the camera falls behind (its reader dropped more than ``BEHIND_SHARE`` of the
            frames sampling kept, over the last rate window), else 0.
        queue_depth (no label): frames waiting for inference across all cameras.
        latency: seconds from a frame's read to its rows being written.
        batch_faces (no label): faces per shared inference batch.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, cam = self.registry, ["camera"]
        self.reconnects = Counter("facelog_rtsp_reconnects", "Reconnection attempts", cam, registry=r)
        self.disconnects = Counter(
            "facelog_rtsp_disconnects", "Established streams that were lost", cam, registry=r
        )
        self.frames_read = Counter(
            "facelog_rtsp_frames_read", "Frames decoded from the camera", cam, registry=r
        )
        self.frames_dropped = Counter(
            "facelog_rtsp_frames_dropped", "Frames dropped because inference lagged", cam, registry=r
        )
        self.frames_skipped = Counter(
            "facelog_rtsp_frames_skipped", "Frames left out by sampling (stride/target_fps)", cam, registry=r
        )
        self.frames_processed = Counter("facelog_frames_processed", "Frames analysed", cam, registry=r)
        self.faces = Counter("facelog_faces", "Faces logged", cam, registry=r)
        self.faces_ignored = Counter(
            "facelog_faces_ignored", "Faces dropped in ignore zones", cam, registry=r
        )
        self.rows = Counter("facelog_csv_rows", "CSV rows written", cam, registry=r)
        self.errors = Counter(
            "facelog_rtsp_errors", "Failed opens and reads, by kind", [*cam, "kind"], registry=r
        )
        self.connected = Gauge(
            "facelog_rtsp_connected", "1 while the camera delivers frames", cam, registry=r
        )
        self.fps = Gauge("facelog_fps", "Frames analysed per second (recent)", cam, registry=r)
        self.target_fps = Gauge(
            "facelog_target_fps", "Frames per second the camera should be analysed at", cam, registry=r
        )
        self.behind = Gauge(
            "facelog_camera_behind", "1 while the machine does not keep up with the camera", cam, registry=r
        )
        self.queue_depth = Gauge("facelog_queue_depth", "Frames waiting for inference", registry=r)
        self.latency = Histogram(
            "facelog_latency_seconds",
            "Frame read to rows written",
            cam,
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.batch_faces = Histogram(
            "facelog_inference_batch_faces",
            "Faces per shared inference batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )

    def add_camera(self, camera: str) -> None:
        """Create the camera's series at zero so dashboards see it before its first event."""
        for metric in (
            self.reconnects,
            self.disconnects,
            self.frames_read,
            self.frames_dropped,
            self.frames_skipped,
        ):
            metric.labels(camera)
        for metric in (self.frames_processed, self.faces, self.faces_ignored, self.rows):
            metric.labels(camera)
        self.connected.labels(camera).set(0)
        self.fps.labels(camera).set(0)
        self.target_fps.labels(camera).set(0)
        self.behind.labels(camera).set(0)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class FpsMeter:
    """Frames per second over a sliding window, per camera (main-thread use only)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._stamps: dict[str, deque[float]] = {}

    def tick(self, camera: str, now: float | None = None) -> float:
        """Record one frame for ``camera``; return its current rate."""
        now = time.monotonic() if now is None else now
        stamps = self._stamps.setdefault(camera, deque())
        stamps.append(now)
        return self.rate(camera, now)

    def rate(self, camera: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        stamps = self._stamps.setdefault(camera, deque())
        cut = now - self.window_s
        while stamps and stamps[0] < cut:
            stamps.popleft()
        return len(stamps) / self.window_s


class CameraCounts(Protocol):
    """What :class:`RateCheck` reads from a camera's reader (``source.RtspSource``)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...  # read only, so a reader's Literal state fits

    frames_read: int
    frames_due: int  # kept by sampling: analysed, dropped or waiting
    frames_dropped: int


@dataclass(frozen=True)
class CameraRate:
    """One camera's rates over a window (or the whole run)."""

    analysed_fps: float
    target_fps: float | None  # None: not known yet (stride only, no frame read)
    dropped_share: float  # of the frames sampling kept, the share the reader dropped
    behind: bool

    def text(self) -> str:
        target = "?" if self.target_fps is None else f"{self.target_fps:.2f}"
        return f"{self.analysed_fps:.2f}/{target} fps, {self.dropped_share:.0%} dropped"


# Keeping up: every RATE_WINDOW_S the loop compares, per camera, the frames it analysed with the frames
# sampling kept for it; a camera whose reader dropped more than BEHIND_SHARE of them falls behind.
RATE_WINDOW_S = 10.0
BEHIND_SHARE = 0.1
BEHIND_REPEAT_S = 60.0  # the warning is repeated this often while some camera stays behind


class RateCheck:
    """Does the machine keep up with each camera? Checked every ``window_s`` by the processing loop.

    A camera falls behind when, in two windows in a row, its reader dropped more than ``behind_share``
    of the frames sampling kept for it (the loop did not take them before a newer one came): the
    analysed rate is then below the target because of this machine, not because of the camera (a
    camera that sends fewer frames than the target is not behind; one slow start-up window is not).
    Over the whole run (:meth:`run_rate`) a camera is behind when the reader dropped more than that
    share and the analysed rate stayed under ``1 - behind_share`` of the target. The first window
    that finds cameras behind logs a warning naming them, repeated every ``repeat_s`` while any stays
    behind; their recovery is logged at INFO.

    Args:
        target_fps: ``sampling.target_fps`` (None: the camera's own rate / ``stride``, measured).
        stride: ``sampling.stride``.
    """

    def __init__(
        self,
        target_fps: float | None,
        stride: int = 1,
        window_s: float = RATE_WINDOW_S,
        behind_share: float = BEHIND_SHARE,
        repeat_s: float = BEHIND_REPEAT_S,
    ) -> None:
        self.target_fps, self.stride = target_fps, stride
        self.window_s, self.behind_share, self.repeat_s = window_s, behind_share, repeat_s
        self.processed: dict[str, int] = {}  # frames analysed per camera (the loop counts them)
        self.behind: set[str] = set()
        self.latest: dict[str, CameraRate] = {}
        self._t0: float | None = None
        self._start: dict[str, tuple[int, int, int, int]] = {}
        self._warned_at = float("-inf")
        self._lagging: set[str] = set()  # cameras that dropped too much in the last window
        self._first: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def analysed(self, camera: str, now: float) -> None:
        """Count one analysed frame of ``camera``."""
        self.processed[camera] = self.processed.get(camera, 0) + 1
        self._first.setdefault(camera, now)
        self._last[camera] = now

    def rate(
        self, dt_s: float, processed: int, due: int, dropped: int, read: int, connected: bool = True
    ) -> CameraRate:
        """Rates from the counts of ``dt_s`` seconds."""
        target = self.target_fps
        if target is None and read and dt_s > 0:
            target = read / dt_s / self.stride
        share = min(1.0, dropped / due) if due else 0.0
        analysed = processed / dt_s if dt_s > 0 else 0.0
        return CameraRate(analysed, target, share, connected and due > 0 and share > self.behind_share)

    def check(self, now: float, cameras: Sequence[CameraCounts], metrics: Metrics) -> None:
        """Called every loop turn; does its work once per window."""
        counts = {
            c.name: (self.processed.get(c.name, 0), c.frames_due, c.frames_dropped, c.frames_read)
            for c in cameras
        }
        if self._t0 is None:
            self._t0, self._start = now, counts
            return
        dt = now - self._t0
        if dt < self.window_s:
            return
        behind, lagging = set(), set()
        for c in cameras:
            d = [a - b for a, b in zip(counts[c.name], self._start.get(c.name, (0, 0, 0, 0)), strict=True)]
            r = self.rate(dt, d[0], d[1], d[2], d[3], connected=c.state in ("connected", "stalled"))
            self.latest[c.name] = r
            if r.behind:
                lagging.add(c.name)
            # two windows in a row: a start-up (model warm-up, first key frames) is not falling behind
            if r.behind and c.name in self._lagging:
                behind.add(c.name)
            metrics.target_fps.labels(c.name).set(r.target_fps or 0.0)
            metrics.behind.labels(c.name).set(int(c.name in behind))
        self._lagging = lagging
        new, gone = behind - self.behind, self.behind - behind
        if behind and (new or now - self._warned_at >= self.repeat_s):
            self._warned_at = now
            names = sorted(behind)
            log.warning(
                "event=cameras_behind cameras=%s detail=%r: this machine does not keep up with %d of %d "
                "camera(s) (analysed/target fps over the last %.0f s); fewer cameras, a lower "
                "sampling.target_fps or a larger detector.min_face_px would help",
                ",".join(names), "; ".join(f"{n} {self.latest[n].text()}" for n in names),
                len(names), len(cameras), dt,
            )  # fmt: skip
        if gone:
            log.info("event=cameras_caught_up cameras=%s", ",".join(sorted(gone)))
        self.behind = behind
        self._t0, self._start = now, counts

    def run_rate(self, camera: CameraCounts) -> CameraRate:
        """The camera's rates over the run: from its first to its last analysed frame."""
        n = self.processed.get(camera.name, 0)
        span = self._last.get(camera.name, 0.0) - self._first.get(camera.name, 0.0)
        if n < 2 or span <= 0:
            return CameraRate(0.0, self.target_fps, 0.0, False)
        r = self.rate(span, n - 1, camera.frames_due, camera.frames_dropped, 0)  # n - 1 intervals
        target = self.target_fps if self.target_fps is not None else camera.frames_due / span
        slow = r.analysed_fps < (1 - self.behind_share) * target
        return CameraRate(r.analysed_fps, target, r.dropped_share, r.behind and slow)


class MetricsServer:
    """Serve ``/metrics`` and ``/healthz`` from a daemon thread.

    Args:
        metrics: the registry holder to expose.
        health: returns the JSON-able health document; its ``"status"`` key decides the code
            (``"stalled"`` -> 503, anything else -> 200).
        host: interface to bind (``0.0.0.0`` to let a remote Prometheus scrape).
        port: TCP port; 0 picks a free one (read it back from :attr:`port`).
    """

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], dict[str, Any]],
        host: str = default_of(RtspConfig, "metrics_host"),
        port: int = 0,
    ) -> None:
        self.metrics = metrics
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, outer.metrics.exposition(), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/health"):
                    doc = outer.health()
                    code = 503 if doc.get("status") == "stalled" else 200
                    self._send(code, json.dumps(doc, sort_keys=True).encode(), "application/json")
                else:
                    self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
                return

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="facelog-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
