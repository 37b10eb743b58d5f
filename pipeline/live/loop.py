"""The processing loop over many live cameras (used through ``facelog.pipeline.live.rtsp``).

Each camera has a reader thread (:class:`~facelog.pipeline.live.source.RtspSource`) that keeps only
its newest frame. :class:`CameraLoop` takes the newest frame of every camera, detects faces, sends
the faces of *all* cameras through one shared analyzer call (one backend, shared batches) and writes
each camera's rows to its own rotated CSV (:class:`~facelog.pipeline.live.rotating_sink.RotatingCsvSink`)
and its persons (tracks that ended: lost, reconnect, end of the run) to a rotated tracks CSV beside it
(:class:`~facelog.pipeline.live.rotating_sink.RotatingTracksSink`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facelog.engines.fileio import write_text_atomic
from facelog.pipeline.live.monitoring import FpsMeter, Metrics, MetricsServer, RateCheck
from facelog.pipeline.live.redact import redact_text, redact_url, url_secrets
from facelog.pipeline.live.rotating_sink import RotatingCsvSink, RotatingTracksSink
from facelog.pipeline.live.source import RtspSource, Sampler, SourceOptions, ensure_ffmpeg_options
from facelog.pipeline.types import Faces, Frame, FrameResult, PersonResult

log = logging.getLogger(__name__)

SUMMARY_NAME = "rtsp_summary.json"
# A batch that fails is skipped (its frames have no rows); this many failures in a row stop the run.
MAX_ANALYZE_FAILURES = 10
# Keeping up: every RATE_WINDOW_S the loop compares, per camera, the frames it analysed with the frames
# sampling kept for it; a camera whose reader dropped more than BEHIND_SHARE of them falls behind.
RATE_WINDOW_S = 10.0
BEHIND_SHARE = 0.1
BEHIND_REPEAT_S = 60.0  # the warning is repeated this often while some camera stays behind


class MetricsPortError(RuntimeError):
    """The metrics/health HTTP server cannot bind its address."""


class AnalyzerFailing(RuntimeError):
    """Inference kept failing; the run stops with exit code 1."""


@dataclass(frozen=True)
class Camera:
    """One camera of a run: a unique ``name`` (rows, files, metrics) and its URL."""

    name: str
    url: str

    def __repr__(self) -> str:  # never show the password, even in a debugger or a traceback
        return f"Camera(name={self.name!r}, url={redact_url(self.url)!r})"


@dataclass
class LiveInference:
    """What the loop needs from the run's inference session (built by ``rtsp.live_inference``).

    Attributes:
        detect: a frame of one camera -> its faces (per-camera state: detection around the faces of
            that camera's frames before; frames of a camera come in index order).
        analyze: one call for the frames of all cameras -> one FrameResult per frame, same order.
        model: the CSV's ``model`` column (``name@version``).
        decimals: rounding of boxes, scores and ages in the CSV.
        reset_source: end per-camera tracks (and forget the camera's known faces) after a reconnect
            (called with the camera name): the persons they were.
        finish: end every camera's tracks at the end of the run: the persons they were.
        close: release the backend.
        describe: a camera's detector summary for ``rtsp_summary.json`` (key/region frames).
    """

    detect: Callable[[Frame], Faces]
    analyze: Callable[[Sequence[tuple[Frame, Faces]]], list[FrameResult]]
    model: str
    decimals: int = 2
    reset_source: Callable[[str], tuple[PersonResult, ...]] = lambda name: ()
    finish: Callable[[], tuple[PersonResult, ...]] = lambda: ()
    close: Callable[[], None] = lambda: None
    describe: Callable[[str], dict[str, Any]] = lambda name: {}


@dataclass(frozen=True)
class RunOptions:
    """How a camera run behaves (from ``AppConfig.rtsp``)."""

    source: SourceOptions = field(default_factory=SourceOptions)
    rotate_s: float = 3600.0
    flush_s: float = 2.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9108  # None: no HTTP endpoint
    ffmpeg_options: str = "rtsp_transport;tcp|analyzeduration;1000000"
    stall_after_s: float = 30.0  # /healthz answers 503 when the loop has not ticked for this long
    stride: int = 1  # analyse every stride-th frame read from a camera (sampling.stride)
    target_fps: float | None = None  # or about this many frames per second per camera (sampling.target_fps)
    rate_window_s: float = RATE_WINDOW_S  # how often each camera's analysed rate is checked


class CameraLoop:
    """The processing loop over many cameras (see the module docstring)."""

    def __init__(
        self,
        cameras: Sequence[Camera],
        inference: LiveInference,
        out_dir: Path,
        options: RunOptions,
        stop_event: threading.Event | None = None,
    ) -> None:
        names = [c.name for c in cameras]
        if not cameras:
            raise ValueError("need at least one camera, got none")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique, got duplicates {dupes}")
        self.inference = inference
        self.out_dir = Path(out_dir)
        self.options = options
        self.metrics = Metrics()
        self.stop_event = stop_event or threading.Event()
        self._notify = threading.Event()
        self._fps = FpsMeter()
        self._rates = RateCheck(
            options.target_fps, options.stride, options.rate_window_s, BEHIND_SHARE, BEHIND_REPEAT_S
        )
        self._heartbeat = time.monotonic()
        self._connections: dict[str, int] = {}
        self._analyze_failures = 0
        self.sources = [
            RtspSource(
                c.name, c.url, options.source, self.metrics, self._notify,
                Sampler(options.stride, options.target_fps),
            )
            for c in cameras
        ]  # fmt: skip
        self.sinks = {
            c.name: RotatingCsvSink(
                self.out_dir, c.name, inference.model, inference.decimals, options.rotate_s, options.flush_s
            )
            for c in cameras
        }
        self.track_sinks = {
            c.name: RotatingTracksSink(
                self.out_dir, c.name, inference.model, inference.decimals, options.rotate_s, options.flush_s
            )
            for c in cameras
        }
        self.secrets = set().union(*(url_secrets(c.url) for c in cameras))
        self.server: MetricsServer | None = None
        for c in cameras:
            self.metrics.add_camera(c.name)

    # -- health ----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Liveness of the loop plus each camera's state (served on ``/healthz``)."""
        age = time.monotonic() - self._heartbeat
        cams = {s.name: s.status() for s in self.sources}
        if age > self.options.stall_after_s:
            status = "stalled"
        elif all(c["state"] == "connected" for c in cams.values()):
            status = "ok"
        else:
            status = "degraded"
        return {"status": status, "loop_age_s": round(age, 3), "cameras": cams}

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until :attr:`stop_event` is set; return 0, or 1 when every camera gave up."""
        ensure_ffmpeg_options(self.options.ffmpeg_options)
        if self.options.metrics_port is not None:
            host, port = self.options.metrics_host, self.options.metrics_port
            try:
                self.server = MetricsServer(self.metrics, self.health, host, port).start()
            except OSError as exc:
                raise MetricsPortError(
                    f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                    "set rtsp.metrics_port to a free port, 0 (any) or null (off)"
                ) from exc
        for src in self.sources:
            log.info("event=camera_start camera=%s url=%s", src.name, src.safe_url)
            src.start()
        code = 0
        try:
            while not self.stop_event.is_set():
                self._notify.wait(0.2)
                self._notify.clear()
                now = time.monotonic()
                self._heartbeat = now
                frames = [f for s in self.sources if (f := s.slot.take()) is not None]
                self.metrics.queue_depth.set(len(frames))
                for src in self.sources:
                    src.check_stall(now)
                if frames:
                    self._process(frames)
                self._rates.check(now, self.sources, self.metrics)
                for sink in (*self.sinks.values(), *self.track_sinks.values()):
                    sink.tick(now)
                if all(s.state == "failed" for s in self.sources):
                    log.error("event=run_failed reason=%r", "every camera gave up; see the errors above")
                    code = 1
                    break
        except (OSError, AnalyzerFailing) as exc:  # disk full, unwritable folder, broken backend
            log.error("event=run_failed error=%r", redact_text(str(exc), self.secrets))
            code = 1
        finally:
            self._shutdown()
        return code

    def _process(self, frames: list[Frame]) -> None:
        items: list[tuple[Frame, Faces]] = []
        for frame in frames:
            self._maybe_reset(frame.source_id)
            try:
                items.append((frame, self.inference.detect(frame)))
            except Exception as exc:  # one odd frame must not stop the other cameras
                log.error(
                    "event=detect_failed camera=%s frame=%d error=%r", frame.source_id, frame.index, exc
                )
                self.metrics.errors.labels(frame.source_id, "detect").inc()
        if not items:
            return
        n_faces = sum(len(faces) for _, faces in items)
        if n_faces:
            self.metrics.batch_faces.observe(n_faces)
        try:
            results = self.inference.analyze(items)
        except Exception as exc:
            self._analyze_failures += 1
            log.error(
                "event=analyze_failed frames=%d consecutive=%d error=%r",
                len(items),
                self._analyze_failures,
                exc,
            )
            if self._analyze_failures >= MAX_ANALYZE_FAILURES:
                raise AnalyzerFailing(
                    f"inference failed {self._analyze_failures} times in a row "
                    f"(limit {MAX_ANALYZE_FAILURES}); last error: {exc!r}"
                ) from exc
            return
        self._analyze_failures = 0
        done_ns = time.time_ns()
        for result in results:
            cam = result.source_id
            log.debug(
                "event=frame_analysed camera=%s frame=%d faces=%d", cam, result.frame_index,
                len(result.predictions),
            )  # fmt: skip
            rows = self.sinks[cam].write(result)
            self.track_sinks[cam].write_persons(result.ended)
            self.metrics.frames_processed.labels(cam).inc()
            self.metrics.faces.labels(cam).inc(len(result.predictions))
            self.metrics.rows.labels(cam).inc(rows)
            self.metrics.latency.labels(cam).observe(max(0.0, (done_ns - result.wall_ns) / 1e9))
            self.metrics.fps.labels(cam).set(self._fps.tick(cam))
            self._rates.analysed(cam, time.monotonic())

    def _maybe_reset(self, camera: str) -> None:
        src = next(s for s in self.sources if s.name == camera)
        if self._connections.get(camera) != src.connections:
            if camera in self._connections:  # a reconnect: stream time restarted, old tracks are stale
                self.track_sinks[camera].write_persons(self.inference.reset_source(camera))
            self._connections[camera] = src.connections

    def _write_persons(self, persons: Sequence[PersonResult]) -> None:
        """Persons of any camera, each to its camera's tracks CSV (the run's end: every live track)."""
        for p in persons:
            try:
                self.track_sinks[p.source_id].write_persons((p,))
            except OSError as exc:  # keep writing the others
                log.error("event=tracks_write_failed camera=%s error=%r", p.source_id, exc)

    def _shutdown(self) -> None:
        for src in self.sources:
            src.stop()
        # Readers blocked in read() return within the read timeout; they are daemons, so don't wait long.
        deadline = time.monotonic() + 1.0
        for src in self.sources:
            src.join(max(0.0, deadline - time.monotonic()))
        # Frames read before the stop are real rows: process what is waiting.
        leftovers = [f for s in self.sources if (f := s.slot.take()) is not None]
        if leftovers:
            try:
                self._process(leftovers)
            except Exception as exc:
                log.error("event=final_batch_failed error=%r", exc)
        try:
            self._write_persons(self.inference.finish())  # every track still live ends with the run
        except Exception as exc:
            log.error("event=finish_tracks_failed error=%r", exc)
        for name, sink in (*self.sinks.items(), *self.track_sinks.items()):
            try:
                sink.close()
            except OSError as exc:  # keep closing the others
                log.error("event=csv_close_failed camera=%s error=%r", name, exc)
        self.inference.close()
        if self.server is not None:
            self.server.close()
        self._write_summary()

    def summary(self) -> dict[str, Any]:
        """Per-camera counts and files of this run (no credentials)."""

        reg = self.metrics.registry

        def val(name: str, cam: str) -> int:
            return int(reg.get_sample_value(f"{name}_total", {"camera": cam}) or 0)

        cams = {}
        for src in self.sources:
            n = src.name
            rate = self._rates.run_rate(src)
            cams[n] = {
                "url": src.safe_url,
                "state": src.state,
                "last_error": src.last_error,
                "connections": src.connections,
                "reconnects": val("facelog_rtsp_reconnects", n),
                "frames_read": val("facelog_rtsp_frames_read", n),
                "frames_dropped": val("facelog_rtsp_frames_dropped", n),
                "frames_skipped": val("facelog_rtsp_frames_skipped", n),
                "frames_processed": val("facelog_frames_processed", n),
                # keeping up: analysed rate (first to last analysed frame) against the target
                "analysed_fps": round(rate.analysed_fps, 3),
                "target_fps": None if rate.target_fps is None else round(rate.target_fps, 3),
                "dropped_share": round(rate.dropped_share, 4),
                "keeping_up": not rate.behind,
                "faces": val("facelog_faces", n),
                "rows": self.sinks[n].rows_written,
                "files": [str(p) for p in self.sinks[n].files],
                "persons": self.track_sinks[n].rows_written,
                "tracks_files": [str(p) for p in self.track_sinks[n].files],
                "detector": self.inference.describe(n),
            }
        return {"cameras": cams}

    def _write_summary(self) -> None:
        doc = self.summary()
        text = redact_text(json.dumps(doc, indent=2, sort_keys=True), self.secrets)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.out_dir / SUMMARY_NAME, text + "\n")  # never half a summary
        for name, c in doc["cameras"].items():
            log.info(
                "event=camera_summary camera=%s frames_read=%d processed=%d dropped=%d faces=%d rows=%d"
                " reconnects=%d state=%s analysed_fps=%.2f target_fps=%s keeping_up=%s",
                name, c["frames_read"], c["frames_processed"], c["frames_dropped"], c["faces"], c["rows"],
                c["reconnects"], c["state"], c["analysed_fps"], c["target_fps"], c["keeping_up"],
            )  # fmt: skip
        behind = sorted(n for n, c in doc["cameras"].items() if not c["keeping_up"])
        if behind:
            log.warning(
                "event=run_behind cameras=%s: over the run this machine dropped more than %.0f%% of the "
                "frames sampling kept for them (see analysed_fps and target_fps in %s)",
                ",".join(behind), 100 * self._rates.behind_share, SUMMARY_NAME,
            )  # fmt: skip
