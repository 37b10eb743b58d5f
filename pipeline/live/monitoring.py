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
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
        rows: CSV rows written.
        connected: 1 while the camera delivers frames, else 0.
        fps: frames processed per second over the last few seconds.
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
        self.rows = Counter("facelog_csv_rows", "CSV rows written", cam, registry=r)
        self.errors = Counter(
            "facelog_rtsp_errors", "Failed opens and reads, by kind", [*cam, "kind"], registry=r
        )
        self.connected = Gauge(
            "facelog_rtsp_connected", "1 while the camera delivers frames", cam, registry=r
        )
        self.fps = Gauge("facelog_fps", "Frames analysed per second (recent)", cam, registry=r)
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
        for metric in (self.frames_processed, self.faces, self.rows):
            metric.labels(camera)
        self.connected.labels(camera).set(0)
        self.fps.labels(camera).set(0)

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
        self, metrics: Metrics, health: Callable[[], dict[str, Any]], host: str = "127.0.0.1", port: int = 0
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
