"""One reader thread per RTSP camera: open, read, detect loss, reconnect with backoff.

The reader keeps only the newest decoded frame in a one-slot mailbox; when inference falls behind,
the older frame is replaced and counted as dropped. A lost or frozen stream is released and a new
``cv2.VideoCapture`` is opened (an old capture never recovers after a server restart); nothing is
ever yielded in place of a missing frame.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from facelog.pipeline.frames.aspect import SquarePixels, sample_aspect
from facelog.pipeline.frames.interlace import Deinterlacer, Mode
from facelog.pipeline.live.monitoring import Metrics
from facelog.pipeline.live.probe import diagnose, validate_url
from facelog.pipeline.live.redact import redact_text, redact_url, url_secrets
from facelog.pipeline.types import Frame

if TYPE_CHECKING:
    from facelog.pipeline.config import RtspConfig

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "stalled", "reconnecting", "failed", "stopped"]
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# The probe after a failed open only explains it; keep it short so a recovering camera is not missed.
DIAGNOSE_TIMEOUT_S = 1.5
_env_lock = threading.Lock()


def ensure_ffmpeg_options(options: str) -> str:
    """Set OpenCV's FFmpeg capture options (one process-wide variable) for RTSP; return what is used.

    TCP transport avoids UDP packet loss and works through NAT and firewalls; a 1 s
    ``analyzeduration`` halves the time to the first frame after a reconnect (2.3 s -> 1.1 s on
    loopback). A value the user already exported in ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` wins; it only
    gets ``rtsp_transport;tcp`` added when it names no transport.
    """
    with _env_lock:
        current = os.environ.get(_ENV, "")
        if not current:
            current = options
        elif "rtsp_transport" not in current:
            current = f"{current}|rtsp_transport;tcp"
        os.environ[_ENV] = current
        return current


BACKOFF_FACTOR = 2.0  # each failed attempt in a row doubles the delay (up to rtsp.backoff_max_s)


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff with jitter: ``min(max_s, initial_s * factor**n) * (1 +- jitter)``."""

    initial_s: float
    max_s: float
    factor: float
    jitter: float

    @classmethod
    def of(cls, rtsp: RtspConfig) -> Backoff:
        """The backoff of the ``rtsp`` config section."""
        return cls(rtsp.backoff_initial_s, rtsp.backoff_max_s, BACKOFF_FACTOR, rtsp.backoff_jitter)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based) of a reconnection streak."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        u = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1.0 + u))


class Sampler:
    """Which frames of one camera are analysed: every ``stride``-th (by frame index), or about
    ``target_fps`` a second (by wall-clock time). Runs in the camera's reader thread, so a frame left
    out is only grabbed (demuxed and decoded), never converted to BGR or copied.

    With ``target_fps``, slots come every 1/target_fps s; the next slot counts from the last one (no
    drift to a lower rate), or from this frame after a gap (an outage) or a clock step back.
    """

    def __init__(self, stride: int = 1, target_fps: float | None = None) -> None:
        if stride < 1 or (target_fps is not None and target_fps <= 0):
            raise ValueError(f"need stride >= 1 and target_fps > 0 or None, got {stride}, {target_fps}")
        self.stride, self.target_fps = stride, target_fps
        self._next_due_ns: int | None = None

    def keep(self, index: int, wall_ns: int) -> bool:
        """True when the frame ``index`` read at ``wall_ns`` is to be analysed."""
        keep = index % self.stride == 0
        if keep and self.target_fps is not None:
            step = int(1e9 / self.target_fps)
            due = self._next_due_ns
            keep = due is None or wall_ns >= due or wall_ns < due - 2 * step
            if keep:
                self._next_due_ns = wall_ns + step if due is None or abs(wall_ns - due) > step else due + step
        return keep


class LatestFrame:
    """One-slot mailbox: the reader puts, the loop takes; a put replaces (drops) an untaken frame."""

    def __init__(self, notify: threading.Event) -> None:
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._notify = notify

    def put(self, frame: Frame) -> bool:
        """Store ``frame``; returns True when an untaken frame was dropped to make room."""
        with self._lock:
            dropped = self._frame is not None
            self._frame = frame
        self._notify.set()
        return dropped

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._frame = self._frame, None
        return frame

    def pending(self) -> int:
        with self._lock:
            return int(self._frame is not None)


class RtspSource:
    """Read one camera in a daemon thread, reconnecting forever (or ``max_reconnects`` times).

    Args:
        name: camera id used in rows, file names, logs and metric labels.
        url: the camera URL; it may hold credentials, which never leave this object unmasked.
        rtsp: the run's ``rtsp`` config section (timeouts, backoff, ``max_reconnects``), held as is.
        metrics: Prometheus counters to update (the reader also keeps its own counts for the summary).
        notify: set whenever a new frame is ready (shared by all cameras of a run).
        sampler: which frames to analyse (default: all); the others are grabbed but not converted.
        deinterlace: interlaced frames reduced to one field (``interlace.Deinterlacer``).
    """

    def __init__(
        self,
        name: str,
        url: str,
        rtsp: RtspConfig,
        metrics: Metrics,
        notify: threading.Event,
        sampler: Sampler | None = None,
        deinterlace: Mode = "off",
    ) -> None:
        self.name = name
        self._url = url
        self.safe_url = redact_url(url)
        self.secrets = url_secrets(url)
        self.rtsp = rtsp
        self.backoff = Backoff.of(rtsp)
        self.metrics = metrics
        self.slot = LatestFrame(notify)
        self.sampler = sampler or Sampler()
        self.deinterlacer = Deinterlacer(deinterlace, name)  # used by the reader thread only
        self.square = SquarePixels(1.0, name)  # the connection's pixel shape (frames/aspect.py; on connect)
        self.state: State = "connecting"
        self._state_lock = threading.Lock()  # the reader and check_stall() both move the state
        self.last_error = ""
        self.last_frame_mono = 0.0
        self.last_frame_wall_ns = 0
        self.connections = 0
        self._index = 0
        # this reader's own counts (the run summary's), kept beside the Prometheus counters
        self.frames_read = 0
        self.frames_skipped = 0  # left out by sampling (grabbed, never converted)
        self.frames_due = 0  # frames sampling kept (analysed or dropped): the loop's rate check
        self.frames_dropped = 0
        self.reconnects = 0
        self._streak = 0  # consecutive attempts without a frame
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtsp-{name}", daemon=True)
        self._rng = random.Random()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> RtspSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the reader to stop; it exits after its current read (at most the read timeout)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the reader thread -----------------------------------------------------------------------
    def _fail(self, kind: str, reason: str) -> None:
        self.last_error = redact_text(reason, self.secrets)
        self.metrics.errors.labels(self.name, kind).inc()

    def _run(self) -> None:
        problem = validate_url(self._url)
        if problem:
            self._give_up(f"invalid camera URL {self.safe_url}: {problem}")
            return
        streak = 0  # consecutive attempts that produced no frame
        first = True
        while not self._stop.is_set():
            if not first:
                self.metrics.reconnects.labels(self.name).inc()
                self.reconnects += 1
            first = False
            try:
                got_frames = self._session()
            except Exception as exc:  # a reader must outlive any surprise: count it, back off, retry
                got_frames = False
                self._fail("error", f"unexpected {type(exc).__name__}: {exc}")
                log.error(
                    "event=rtsp_error camera=%s url=%s error=%r", self.name, self.safe_url, self.last_error
                )
            if self._stop.is_set():
                break
            streak = 0 if got_frames else streak + 1
            self._streak = streak
            limit = self.rtsp.max_reconnects
            if limit is not None and streak > limit:
                self._give_up(
                    f"camera {self.name} ({self.safe_url}) gave up after {streak} failed attempts: "
                    f"{self.last_error}"
                )
                return
            delay = self.backoff.delay(max(1, streak), self._rng)
            self._set_state("reconnecting")
            log.log(
                self._retry_log_level(),
                "event=rtsp_retry camera=%s url=%s failed_attempts=%d retry_in_s=%.2f reason=%r",
                self.name, self.safe_url, streak, delay, self.last_error,
            )  # fmt: skip
            self._stop.wait(delay)
        self._set_state("stopped")
        self.metrics.connected.labels(self.name).set(0)

    @staticmethod
    def _worth_logging(failures: int) -> bool:
        """A camera down for days must not flood the log: repeat its news at 1, 2, 4, 8... failures."""
        return failures <= 1 or (failures & (failures - 1)) == 0

    def _retry_log_level(self) -> int:
        return logging.INFO if self._worth_logging(self._streak) else logging.DEBUG

    def _set_state(self, state: State) -> None:
        with self._state_lock:
            self.state = state

    def _give_up(self, message: str) -> None:
        self.last_error = redact_text(message, self.secrets)
        self._set_state("failed")
        self.metrics.connected.labels(self.name).set(0)
        log.error("event=rtsp_failed camera=%s url=%s error=%r", self.name, self.safe_url, self.last_error)

    def _open(self) -> cv2.VideoCapture | None:
        o = self.rtsp
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(o.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(o.read_timeout_s * 1000),
            # One decoder thread: FFmpeg's frame threading holds back a few frames and releases them
            # when a read times out, so a frozen camera would still "deliver" frames during its outage.
            cv2.CAP_PROP_N_THREADS, 1,
        ]  # fmt: skip
        cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _session(self) -> bool:
        """Open once and read until the stream fails or we are stopped; True if any frame arrived."""
        self._set_state("connecting")
        t0 = time.monotonic()
        cap = self._open()
        if cap is None:
            kind, reason = diagnose(self._url, timeout_s=min(self.rtsp.open_timeout_s, DIAGNOSE_TIMEOUT_S))
            before = self.last_error
            self._fail(kind, f"cannot open {self.safe_url}: {reason}")
            news = self.last_error != before or self._worth_logging(self._streak + 1)
            log.log(logging.WARNING if news else logging.DEBUG,
                    "event=rtsp_open_failed camera=%s url=%s kind=%s failed_attempts=%d error=%r",
                    self.name, self.safe_url, kind, self._streak + 1, self.last_error)  # fmt: skip
            return False
        n = 0
        prev: tuple[int, int] | None = None  # (wall_ns, pts_ns) of the previous frame
        try:
            while not self._stop.is_set():
                if not cap.grab():  # demux + decode only: frames sampling leaves out go no further
                    break
                now_ns = time.time_ns()
                pts_ns = round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
                wall_ns = self._capture_time(now_ns, pts_ns, prev)
                keep = self.sampler.keep(self._index, wall_ns)
                image = None
                if keep or n == 0:  # colour conversion to BGR and a copy: analysed frames only
                    ok, image = cap.retrieve()
                    if not ok or image is None or image.ndim != 3 or image.shape[2] != 3:
                        break
                prev = (wall_ns, pts_ns)
                if n == 0:
                    assert image is not None
                    self._on_connect(cap, image, time.monotonic() - t0)
                n += 1
                self._deliver(image if keep else None, pts_ns, wall_ns, now_ns)
        finally:
            cap.release()
        if self._stop.is_set():
            return n > 0
        if n == 0:
            self._fail(
                "no_frames",
                f"{self.safe_url} opened but sent no frame within {self.rtsp.read_timeout_s:g} s",
            )
            log.warning(
                "event=rtsp_no_frames camera=%s url=%s error=%r", self.name, self.safe_url, self.last_error
            )
            return False
        since = time.monotonic() - self.last_frame_mono
        self._fail("lost", f"stream lost after {n} frames (last frame {since:.1f} s ago)")
        self.metrics.disconnects.labels(self.name).inc()
        self.metrics.connected.labels(self.name).set(0)
        log.warning(
            "event=rtsp_disconnect camera=%s url=%s frames=%d last_frame_s_ago=%.2f",
            self.name, self.safe_url, n, since,
        )  # fmt: skip
        return True

    def _on_connect(self, cap: cv2.VideoCapture, image: np.ndarray, open_s: float) -> None:
        self.connections += 1
        self.last_frame_mono = time.monotonic()  # before the state, so check_stall sees a fresh stamp
        self._set_state("connected")
        self.last_error = ""
        self.metrics.connected.labels(self.name).set(1)
        self.square = SquarePixels(sample_aspect(cap), self.name)
        h, w = image.shape[:2]
        log.info(
            "event=rtsp_connect camera=%s url=%s width=%d height=%d sample_aspect=%.3f stream_fps=%.2f"
            " first_frame_s=%.2f connection=%d",
            self.name, self.safe_url, w, h, self.square.sar, cap.get(cv2.CAP_PROP_FPS), open_s,
            self.connections,
        )  # fmt: skip

    def _capture_time(self, now_ns: int, pts_ns: int, prev: tuple[int, int] | None) -> int:
        """Wall-clock time of a frame: when it was read, unless it was read late.

        When a read times out, FFmpeg hands over the last frame it still held (a frame from before
        the outage). Such a frame comes after a gap of about the read timeout although its stream
        time moved on by one frame only; it is stamped ``previous wall time + stream-time step``,
        so no row claims a time inside the outage and the frame does not count as a sign of life.
        """
        if prev is None:
            return now_ns
        prev_wall, prev_pts = prev
        gap_ns = now_ns - prev_wall
        if gap_ns < 0.5 * self.rtsp.read_timeout_s * 1e9:
            return now_ns
        step_ns = pts_ns - prev_pts
        if 0 <= step_ns < gap_ns:
            return prev_wall + step_ns
        return now_ns

    def _deliver(self, image: np.ndarray | None, pts_ns: int, wall_ns: int, now_ns: int) -> None:
        """Count a frame read; hand it to the loop unless sampling left it out (``image`` None)."""
        index = self._index
        self._index += 1
        # A late frame (stamped before now) is no sign that the camera is alive now.
        self.last_frame_mono = time.monotonic() - (now_ns - wall_ns) / 1e9
        self.last_frame_wall_ns = wall_ns
        if self.state == "stalled":
            with self._state_lock:
                self.state = "connected"
            self.metrics.connected.labels(self.name).set(1)
        self.metrics.frames_read.labels(self.name).inc()
        self.frames_read += 1
        if image is None:
            self.metrics.frames_skipped.labels(self.name).inc()
            self.frames_skipped += 1
            return
        self.frames_due += 1
        image = self.square(self.deinterlacer(np.ascontiguousarray(image)))  # the fields are stored rows
        frame = Frame(self.name, index, pts_ns, image, wall_ns=wall_ns)
        if self.slot.put(frame):
            self.metrics.frames_dropped.labels(self.name).inc()
            self.frames_dropped += 1

    # -- called from the processing loop ---------------------------------------------------------
    def check_stall(self, now_mono: float) -> None:
        """Flag a connected camera that has sent nothing for longer than the read timeout.

        The blocked ``read()`` returns on its own (FFmpeg's timeout); this only makes the outage
        visible (log, ``connected`` gauge, health) as soon as it is older than the read timeout.
        """
        if self.state != "connected" or not self.last_frame_mono:
            return
        silent = now_mono - self.last_frame_mono
        if silent <= self.rtsp.read_timeout_s:
            return
        with self._state_lock:
            if self.state != "connected":
                return
            self.state = "stalled"
            self.metrics.connected.labels(self.name).set(0)
            self.last_error = f"no frame for {silent:.1f} s (read timeout {self.rtsp.read_timeout_s:g} s)"
            log.warning("event=rtsp_stalled camera=%s url=%s silent_s=%.2f", self.name, self.safe_url, silent)

    def status(self) -> dict[str, object]:
        """JSON-able state for the health endpoint (no credentials)."""
        age = time.monotonic() - self.last_frame_mono if self.last_frame_mono else None
        return {
            "url": self.safe_url,
            "state": self.state,
            "connections": self.connections,
            "last_frame_age_s": None if age is None else round(age, 3),
            "error": self.last_error,
        }
