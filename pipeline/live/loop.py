"""The processing loop over many live cameras (used through ``facelog.pipeline.live.rtsp``).

Each camera has a reader thread (:class:`~facelog.pipeline.live.source.RtspSource`) that keeps only
its newest frame. :class:`CameraLoop` works on the run's ``InferenceSession`` (the object a file run
takes too). It takes the newest frame of every camera, detects faces, sends
the faces of *all* cameras through one shared analyzer call (one backend, shared batches) and writes
each camera's rows to its own rotated CSV (:class:`~facelog.pipeline.live.rotating_sink.RotatingCsvSink`)
and its persons (tracks that ended: lost, reconnect, end of the run) to a rotated tracks CSV beside it
(:class:`~facelog.pipeline.live.rotating_sink.RotatingTracksSink`). When it stops it writes one
``LiveSummary`` from the counts it and the readers own (``facelog.pipeline.live.summary``), atomically.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from facelog.pipeline.live.detectors import CameraDetectors
from facelog.pipeline.live.monitoring import (
    BEHIND_REPEAT_S,
    BEHIND_SHARE,
    RATE_WINDOW_S,
    FpsMeter,
    Metrics,
    MetricsServer,
    RateCheck,
)
from facelog.pipeline.live.redact import redact_text, redact_url, url_secrets
from facelog.pipeline.live.rotating_sink import RotatingCsvSink, RotatingTracksSink
from facelog.pipeline.live.source import RtspSource, Sampler, ensure_ffmpeg_options
from facelog.pipeline.live.summary import SUMMARY_NAME, CameraSummary, LiveSummary, LoopCounts
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.types import Faces, Frame, PersonResult

log = logging.getLogger(__name__)

# A batch that fails is skipped (its frames have no rows); this many failures in a row stop the run.
MAX_ANALYZE_FAILURES = 10


def _usable_cpus() -> int:
    """CPUs this process may run on (Linux affinity; elsewhere the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


class CameraLoop:
    """The processing loop over many cameras (see the module docstring).

    Args:
        cameras: the cameras, with unique names.
        session: the run's inference session, the object a file run takes too; the loop reads its
            config (``rtsp``, ``sampling``, ``output``), builds one analyzer for every camera and one
            detector per camera (``CameraDetectors``). The caller closes it.
        out_dir: ``<out_dir>/<camera>/`` CSVs and ``SUMMARY_NAME``.
        stop_event: set it to stop the run.
        rate_window_s: how often each camera's analysed rate is checked.

    Raises:
        ValueError: no camera, or two with the same name.
    """

    def __init__(
        self,
        cameras: Sequence[Camera],
        session: InferenceSession,
        out_dir: Path,
        stop_event: threading.Event | None = None,
        *,
        rate_window_s: float = RATE_WINDOW_S,
    ) -> None:
        names = [c.name for c in cameras]
        if not cameras:
            raise ValueError("need at least one camera, got none")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique, got duplicates {dupes}")
        self.session = session
        self.rtsp = session.cfg.rtsp  # held, never copied: its values are the run's
        sampling = session.cfg.sampling
        self.analyzer = session.analyzer(live=True)  # one for every camera, with their ignore zones
        self.detect_threads = min(self.rtsp.detect_threads or _usable_cpus(), len(cameras))
        self.detectors = CameraDetectors(session, self.detect_threads)
        self._pool: ThreadPoolExecutor | None = None  # detect threads, while run() runs
        self._in_flight: list[tuple[Frame, Future[Faces | None]]] = []  # frames detected, not yet analysed
        self._cv_threads: int | None = None
        self.out_dir = Path(out_dir)
        self.metrics = Metrics()
        self.stop_event = stop_event or threading.Event()
        self._notify = threading.Event()
        self._fps = FpsMeter()
        self._rates = RateCheck(
            sampling.target_fps, sampling.stride, rate_window_s, BEHIND_SHARE, BEHIND_REPEAT_S
        )
        self._heartbeat = time.monotonic()
        self._connections: dict[str, int] = {}
        self._analyze_failures = 0
        self.counts = {c.name: LoopCounts() for c in cameras}
        self.sources = [
            RtspSource(
                c.name, c.url, self.rtsp, self.metrics, self._notify,
                Sampler(sampling.stride, sampling.target_fps), sampling.deinterlace,
            )
            for c in cameras
        ]  # fmt: skip
        model = self.analyzer.model_id
        sink_args = (model, session.cfg.output.decimals, self.rtsp.rotate_s, self.rtsp.flush_s)
        self.sinks = {c.name: RotatingCsvSink(self.out_dir, c.name, *sink_args) for c in cameras}
        self.track_sinks = {c.name: RotatingTracksSink(self.out_dir, c.name, *sink_args) for c in cameras}
        self.secrets = set().union(*(url_secrets(c.url) for c in cameras))
        self.server: MetricsServer | None = None
        for c in cameras:
            self.metrics.add_camera(c.name)
        r = session.resolved
        log.info(
            "event=inference detector=%s full_every=%s detect_threads=%d backend=%s model=%s gender_faces=%d",
            r.detector.name, self.detectors.cfg.full_every or "auto", self.detect_threads, r.backend.name,
            model, self.analyzer.tracking.gender_faces if self.analyzer.tracking else 0,
        )  # fmt: skip

    # -- health ----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Liveness of the loop plus each camera's state (served on ``/healthz``)."""
        age = time.monotonic() - self._heartbeat
        cams = {s.name: s.status() for s in self.sources}
        if age > self.rtsp.stall_after_s:
            status = "stalled"
        elif all(c["state"] == "connected" for c in cams.values()):
            status = "ok"
        else:
            status = "degraded"
        return {"status": status, "loop_age_s": round(age, 3), "cameras": cams}

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until :attr:`stop_event` is set; return 0, or 1 when every camera gave up."""
        ensure_ffmpeg_options(self.rtsp.ffmpeg_options)
        if self.rtsp.metrics_port is not None:
            host, port = self.rtsp.metrics_host, self.rtsp.metrics_port
            try:
                self.server = MetricsServer(self.metrics, self.health, host, port).start()
            except OSError as exc:
                raise MetricsPortError(
                    f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                    "set rtsp.metrics_port to a free port, 0 (any) or null (off)"
                ) from exc
        code = 0
        try:
            if self.detect_threads > 1:
                # cameras are detected at once, each call on one OpenCV thread: two threads of one
                # call cost 1.36x the CPU of one (docs/BENCHMARKS.md, issue 23, eighth session)
                self._cv_threads = cv2.getNumThreads()
                cv2.setNumThreads(1)
            self._pool = ThreadPoolExecutor(self.detect_threads, thread_name_prefix="detect")
            for src in self.sources:
                log.info("event=camera_start camera=%s url=%s", src.name, src.safe_url)
                src.start()
            while not self.stop_event.is_set():
                self._notify.wait(0.2)
                self._notify.clear()
                now = time.monotonic()
                self._heartbeat = now
                frames = [f for s in self.sources if (f := s.slot.take()) is not None]
                self.metrics.queue_depth.set(len(frames))
                for src in self.sources:
                    src.check_stall(now)
                if frames or self._in_flight:
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
            try:
                self._shutdown()
            finally:  # whatever the shutdown raised: no detect thread left, OpenCV as it was
                if self._pool is not None:
                    self._pool.shutdown()
                    self._pool = None
                if self._cv_threads is not None:
                    cv2.setNumThreads(self._cv_threads)
                    self._cv_threads = None
        return code

    def _detect(self, frame: Frame) -> Faces | None:
        """The frame's faces, None when detection failed (one odd frame must not stop the others)."""
        try:
            return self.detectors.detect(frame)
        except Exception as exc:
            log.error("event=detect_failed camera=%s frame=%d error=%r", frame.source_id, frame.index, exc)
            self.metrics.errors.labels(frame.source_id, "detect").inc()
            return None

    def _process(self, frames: list[Frame]) -> None:
        """Detect ``frames`` (one per camera) and analyse them.

        While the loop runs, detection is pipelined: the frames go to the detect threads and this call
        analyses the frames of the call before (detected meanwhile), so inference and tracking in this
        thread overlap detection of the next frames; ``frames`` empty only finishes those. Outside
        ``run`` (no detect threads) both happen here, in order.
        """
        reconnected = [f.source_id for f in frames if self._reconnected(f.source_id)]
        if self._pool is None:
            for cam in reconnected:
                self._reset_camera(cam)
            self._analyze([(f, faces) for f in frames if (faces := self._detect(f)) is not None])
            return
        done = [(f, faces) for f, fut in self._in_flight if (faces := fut.result()) is not None]
        for cam in reconnected:  # its detector is idle now; its tracks end after its older frames
            self.detectors.reset(cam)
        # a camera has one frame here, so its frames still reach its detector one at a time, in order
        self._in_flight = [(f, self._pool.submit(self._detect, f)) for f in frames]
        try:
            self._analyze(done)
        finally:
            for cam in reconnected:
                self.track_sinks[cam].write_persons(self.analyzer.reset_source(cam))

    def _analyze(self, items: list[tuple[Frame, Faces]]) -> None:
        if not items:
            return
        n_faces = sum(len(faces) for _, faces in items)
        if n_faces:
            self.metrics.batch_faces.observe(n_faces)
        try:
            results = self.analyzer.analyze(items)
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
            counts = self.counts[cam]
            counts.frames_processed += 1
            counts.faces += len(result.predictions)
            counts.faces_ignored += len(result.ignored)
            self.metrics.frames_processed.labels(cam).inc()
            self.metrics.faces.labels(cam).inc(len(result.predictions))
            self.metrics.faces_ignored.labels(cam).inc(len(result.ignored))
            self.metrics.rows.labels(cam).inc(rows)
            self.metrics.latency.labels(cam).observe(max(0.0, (done_ns - result.wall_ns) / 1e9))
            self.metrics.fps.labels(cam).set(self._fps.tick(cam))
            self._rates.analysed(cam, time.monotonic())

    def _reconnected(self, camera: str) -> bool:
        """Whether this camera's frame is the first of a new connection after an earlier one (stream
        time restarted: its old tracks are stale)."""
        src = next(s for s in self.sources if s.name == camera)
        if self._connections.get(camera) == src.connections:
            return False
        seen = camera in self._connections
        self._connections[camera] = src.connections
        return seen

    def _reset_camera(self, camera: str) -> None:
        """End the camera's tracks (written as persons) and forget its known faces."""
        self.detectors.reset(camera)
        self.track_sinks[camera].write_persons(self.analyzer.reset_source(camera))

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
        # Readers blocked in read() return within the read timeout.
        deadline = time.monotonic() + 1.0
        for src in self.sources:
            src.join(max(0.0, deadline - time.monotonic()))
        # A reader still inside FFmpeg (an open, a read) when the process exits aborts it: "terminate
        # called without an active exception", exit -6 after the outputs were written (seen with a
        # camera reconnecting at the stop). Wait for those calls to time out.
        busy = [s for s in self.sources if s.alive]
        if busy:
            wait_s = max(self.rtsp.open_timeout_s, self.rtsp.read_timeout_s) + 1.0
            log.info("event=waiting_for_readers cameras=%s max_s=%g", ",".join(s.name for s in busy), wait_s)
            deadline = time.monotonic() + wait_s
            for src in busy:
                src.join(max(0.0, deadline - time.monotonic()))
        # Frames read before the stop are real rows: process what is waiting.
        leftovers = [f for s in self.sources if (f := s.slot.take()) is not None]
        try:
            if leftovers or self._in_flight:
                self._process(leftovers)
            if self._in_flight:
                self._process([])
        except Exception as exc:
            log.error("event=final_batch_failed error=%r", exc)
        self._in_flight = []
        try:
            self._write_persons(self.analyzer.finish())  # every track still live ends with the run
        except Exception as exc:
            log.error("event=finish_tracks_failed error=%r", exc)
        for name, sink in (*self.sinks.items(), *self.track_sinks.items()):
            try:
                sink.close()
            except OSError as exc:  # keep closing the others
                log.error("event=csv_close_failed camera=%s error=%r", name, exc)
        if self.server is not None:
            self.server.close()
        self._write_summary()

    def summary(self) -> LiveSummary:
        """Per-camera counts and files of this run (no credentials), from the counts the run owns."""
        cams = {}
        for src in self.sources:
            n = src.name
            rate = self._rates.run_rate(src)
            cams[n] = CameraSummary(
                url=src.safe_url,
                state=src.state,
                last_error=src.last_error,
                connections=src.connections,
                reconnects=src.reconnects,
                frames_read=src.frames_read,
                frames_dropped=src.frames_dropped,
                frames_skipped=src.frames_skipped,
                frames_processed=self.counts[n].frames_processed,
                analysed_fps=round(rate.analysed_fps, 3),
                target_fps=None if rate.target_fps is None else round(rate.target_fps, 3),
                dropped_share=round(rate.dropped_share, 4),
                keeping_up=not rate.behind,
                faces=self.counts[n].faces,
                faces_ignored=self.counts[n].faces_ignored,
                rows=self.sinks[n].rows_written,
                files=[str(p) for p in self.sinks[n].files],
                persons=self.track_sinks[n].statuses["person"],
                tracks_rows=self.track_sinks[n].rows_written,
                left_out={k: v for k, v in sorted(self.track_sinks[n].statuses.items()) if k != "person"},
                joined=self.track_sinks[n].pieces,
                tracks_files=[str(p) for p in self.track_sinks[n].files],
                detector=self.detectors.describe(n),
                interlaced_from=src.deinterlacer.since_frame,
                sample_aspect=round(src.square.sar, 4),
            )
        return LiveSummary(cams)

    def _write_summary(self) -> None:
        summary = self.summary()
        summary.write(self.out_dir, self.secrets)
        for name, c in summary.cameras.items():
            log.info(
                "event=camera_summary camera=%s frames_read=%d processed=%d dropped=%d faces=%d"
                " faces_ignored=%d rows=%d persons=%d reconnects=%d state=%s analysed_fps=%.2f target_fps=%s"
                " keeping_up=%s",
                name, c.frames_read, c.frames_processed, c.frames_dropped, c.faces, c.faces_ignored, c.rows,
                c.persons,
                c.reconnects, c.state, c.analysed_fps, c.target_fps, c.keeping_up,
            )  # fmt: skip
        behind = sorted(n for n, c in summary.cameras.items() if not c.keeping_up)
        if behind:
            log.warning(
                "event=run_behind cameras=%s: over the run this machine dropped more than %.0f%% of the "
                "frames sampling kept for them (see analysed_fps and target_fps in %s)",
                ",".join(behind), 100 * self._rates.behind_share, SUMMARY_NAME,
            )  # fmt: skip
