"""The threads of a file run: read -> detect (1..n workers) -> frames back in order -> batches.

OpenCV (decode, DNN) and ONNX Runtime release the GIL, so plain threads overlap on several cores.
Queues are bounded, so memory stays flat however long the video. Each detect worker owns its own
detector object. ``DetectStages.get`` hands frames back in decode order. A ``RoiDetector`` (state
from frame to frame) is ``reset()`` when the stages are built (one source per ``DetectStages``), gets
each frame's place on the source's clock (``kalman.FrameClock.tick``: frames of 25 fps), and needs the
frames in order: it must be the only detect worker.

Errors are raised where they happen and re-raised in the caller's thread, never passed down the
queues as items: a stage that fails records its exception in the shared ``StageFailure`` and sets
``stop``; the caller's next ``get`` raises it. A ``SourceError`` from the reader (a truncated file)
is raised only after every frame read before it has come through, so the rows before the break
are complete.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from facelog.pipeline.detect import Detector, RoiDetector
from facelog.pipeline.errors import SourceError
from facelog.pipeline.tracking.kalman import FrameClock
from facelog.pipeline.types import Faces, Frame

POLL_S = 0.1
JOIN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Detected:
    """One frame and its faces; ``seq`` is its position among the frames read (0, 1, 2, ...)."""

    seq: int
    frame: Frame
    faces: Faces


@dataclass(frozen=True, slots=True)
class _Read:
    seq: int
    frame: Frame


class _End:
    """The one item that is not a frame: a stage has no more (one per detect worker)."""


END = _End()
_Item = _Read | Detected | _End


class StageFailure:
    """The first exception raised in any stage thread (later ones are consequences)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self.source_error: SourceError | None = None  # deferred until the frames before it are out

    def record(self, exc: BaseException) -> None:
        with self._lock:
            if isinstance(exc, SourceError):
                if self.source_error is None:
                    self.source_error = exc
            elif self.error is None:
                self.error = exc


def _put(q: queue.Queue[_Item], item: _Item, stop: threading.Event) -> bool:
    """Put unless stopped; False when ``stop`` was set first."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


class DetectStages:
    """A reader thread and one detect thread per detector; ``get`` returns frames in order.

    Args:
        frames: the frames to read (a ``VideoSource``); iterated in the reader thread, then closed
            through ``close_source``.
        detectors: one per detect thread.
        frame_queue: decoded frames waiting for detection.
        face_queue: detected frames waiting for the caller.
        close_source: called in the reader thread when it is done (release the decoder).
    """

    def __init__(
        self,
        frames: Iterable[Frame],
        detectors: Sequence[Detector],
        frame_queue: int,
        face_queue: int,
        close_source: Callable[[], None] = lambda: None,
    ) -> None:
        if not detectors:
            raise ValueError("need at least one detector, got none")
        if len(detectors) > 1 and any(isinstance(d, RoiDetector) for d in detectors):
            raise ValueError(
                f"a RoiDetector needs the frames in order: one detect worker, got {len(detectors)}"
            )
        for d in detectors:
            d.reset()  # one source per DetectStages
        self.stop = threading.Event()
        self.failure = StageFailure()
        self.detect_times: list[float] = []
        self._frames, self._close_source = frames, close_source
        self._q_frames: queue.Queue[_Item] = queue.Queue(frame_queue)
        self._q_faces: queue.Queue[_Item] = queue.Queue(face_queue)
        self._n = len(detectors)
        self._ends = 0
        self._next = 0
        self._buf: dict[int, Detected] = {}
        self._threads = [threading.Thread(target=self._read, name="facelog-read", daemon=True)]
        self._threads += [
            threading.Thread(target=self._detect, args=(d,), name=f"facelog-detect-{i}", daemon=True)
            for i, d in enumerate(detectors)
        ]

    @property
    def started(self) -> bool:
        """Whether the reader thread runs or ran (from then on it closes the source, not the caller)."""
        return self._threads[0].ident is not None

    def start(self) -> DetectStages:
        try:
            for t in self._threads:
                t.start()
        except BaseException:  # Ctrl-C between two starts: stop the threads already running
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every thread and wait for them (bounded); threads never started are skipped."""
        self.stop.set()
        for t in self._threads:
            if t.ident is not None:
                t.join(timeout=JOIN_TIMEOUT_S)

    def __enter__(self) -> DetectStages:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def detect_s(self) -> float:
        """Seconds spent in ``detect`` over all workers."""
        return sum(self.detect_times)

    # -- threads -----------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        self.failure.record(exc)
        if not isinstance(exc, SourceError):
            self.stop.set()

    def _read(self) -> None:
        seq = 0
        try:
            for frame in self._frames:
                if not _put(self._q_frames, _Read(seq, frame), self.stop):
                    return
                seq += 1
        except BaseException as exc:  # re-raised in the caller's thread by get()
            self._fail(exc)
        finally:
            self._close_source()
        for _ in range(self._n):
            _put(self._q_frames, END, self.stop)

    def _detect(self, det: Detector) -> None:
        clock = FrameClock()  # the regions count frames of 25 fps: a 5-fps file's faces move 5 a frame
        try:
            while not self.stop.is_set():
                try:
                    item = self._q_frames.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if isinstance(item, _End):
                    _put(self._q_faces, END, self.stop)
                    return
                assert isinstance(item, _Read)
                t0 = time.perf_counter()
                clock.advance(item.frame.index, item.frame.pts_ns)
                faces = det.detect(item.frame.image, clock.tick)
                self.detect_times.append(time.perf_counter() - t0)
                if not _put(self._q_faces, Detected(item.seq, item.frame, faces), self.stop):
                    return
        except BaseException as exc:  # re-raised in the caller's thread by get()
            self._fail(exc)

    # -- the caller's side ---------------------------------------------------------------------------
    def get(self, timeout_s: float) -> Detected | None:
        """The next frame in order, or None once every frame has come through.

        Raises:
            queue.Empty: nothing ready within ``timeout_s``.
            BaseException: the exception a stage raised (a ``SourceError`` after the frames before it).
        """
        deadline = time.perf_counter() + timeout_s
        while True:
            if self.failure.error is not None:
                raise self.failure.error
            if self._next in self._buf:
                self._next += 1
                return self._buf.pop(self._next - 1)
            if self._ends == self._n:
                if self.failure.source_error is not None:
                    raise self.failure.source_error
                return None
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise queue.Empty
            try:
                item = self._q_faces.get(timeout=min(remaining, POLL_S))
            except queue.Empty:
                continue
            if isinstance(item, _End):
                self._ends += 1
            else:
                assert isinstance(item, Detected)
                self._buf[item.seq] = item


def batches(
    get: Callable[[float], Detected | None], batch_size: int, max_wait_s: float
) -> Iterator[list[Detected]]:
    """Group frames in order into batches of at most ``batch_size`` faces (the one batcher).

    A batch is handed on when the next frame's faces would not fit, when it holds exactly
    ``batch_size`` faces, when its first frame has waited ``max_wait_s``, or when it holds no face
    at all (nothing to batch). A single frame with more than ``batch_size`` faces is a batch of its
    own; the analyzer splits it into backend calls of ``batch_size``. Errors from ``get`` propagate,
    after the frames already taken are handed on (a truncated video keeps every frame before the cut).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pending: list[Detected] = []
    nfaces = 0
    first = 0.0
    while True:
        timeout = POLL_S if not pending else max(0.0, first + max_wait_s - time.perf_counter())
        try:
            item = get(timeout)
        except queue.Empty:
            if pending:
                yield pending
                pending, nfaces = [], 0
            continue
        except Exception:
            if pending:  # frames that came before the failure are analysed and written first
                yield pending
            raise
        if item is None:
            if pending:
                yield pending
            return
        n = len(item.faces)
        if pending and nfaces + n > batch_size:
            yield pending
            pending, nfaces = [], 0
        if not pending:
            first = time.perf_counter()
        pending.append(item)
        nfaces += n
        if nfaces >= batch_size or nfaces == 0:
            yield pending
            pending, nfaces = [], 0
