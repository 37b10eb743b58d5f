"""The threads behind ``runner.process_video``: read -> detect (1..n workers) -> in-order batches.

OpenCV (decode, DNN) and ONNX Runtime release the GIL, so plain threads overlap on several cores.
Queues are bounded, so memory stays flat however long the video. Each detect worker owns its own
detector object. Results are put back in frame order before batching.

A ``SourceError`` from the reader (a truncated file) is delivered only after every frame read before
it has come through, so the rows before the break are complete; any other error stops at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from facelog.pipeline.detect import Detector
from facelog.pipeline.errors import SourceError
from facelog.pipeline.reader import VideoSource
from facelog.pipeline.types import Faces, Frame

END = object()
POLL_S = 0.1

Detected = tuple[Frame, Faces]


def put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put unless stopped; False when ``stop`` was set first."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def read(src: VideoSource, out: queue.Queue[Any], stop: threading.Event, n_workers: int) -> None:
    """Reader thread: ``(seq, frame)`` items, then any error, then one END per detect worker."""
    try:
        for seq, frame in enumerate(src):
            if not put(out, (seq, frame), stop):
                return
    except BaseException as exc:  # handed on to the caller's thread, which raises it
        put(out, exc, stop)
    finally:
        src.close()
    for _ in range(n_workers):
        put(out, END, stop)


def detect(
    det: Detector, inp: queue.Queue[Any], out: queue.Queue[Any], stop: threading.Event, times: list[float]
) -> None:
    """Detect worker: ``(seq, frame)`` -> ``(seq, frame, faces)``; forwards errors and END."""
    try:
        while not stop.is_set():
            try:
                item = inp.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if not isinstance(item, tuple):
                put(out, item, stop)
                if item is END:
                    return
                continue
            seq, frame = item
            t0 = time.perf_counter()
            faces = det.detect(frame.image)
            times.append(time.perf_counter() - t0)
            if not put(out, (seq, frame, faces), stop):
                return
    except BaseException as exc:
        put(out, exc, stop)


class InOrder:
    """Reads the detect workers' output queue and hands items back in ``seq`` order.

    ``get(timeout)`` returns the next ``(frame, faces)``, an exception, or END once every worker
    ended; it raises ``queue.Empty`` when nothing is ready within ``timeout``.
    """

    def __init__(self, q: queue.Queue[Any], n_workers: int) -> None:
        self.q = q
        self.n_workers = n_workers
        self._buf: dict[int, Detected] = {}
        self._next = 0
        self._ends = 0
        self._deferred: SourceError | None = None

    def get(self, timeout: float) -> Any:
        deadline = time.perf_counter() + timeout
        while True:
            if self._next in self._buf:
                self._next += 1
                return self._buf.pop(self._next - 1)
            if self._ends == self.n_workers:
                return self._deferred if self._deferred is not None else END
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise queue.Empty
            item = self.q.get(timeout=remaining)
            if item is END:
                self._ends += 1
            elif isinstance(item, SourceError):
                self._deferred = item  # after the frames read before it
            elif isinstance(item, BaseException):
                return item
            else:
                seq, frame, faces = item
                self._buf[seq] = (frame, faces)


def batches(
    get: Callable[[float], Any], batch_size: int, max_wait_s: float
) -> Iterator[list[Detected] | BaseException]:
    """Group detected frames in order: yield a list once it holds ``batch_size`` faces, has waited
    ``max_wait_s`` since its first frame, or holds no face at all; yield a stage's exception; stop at END.
    """
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
        if isinstance(item, tuple):
            if not pending:
                first = time.perf_counter()
            pending.append(item)
            nfaces += len(item[1])
            if nfaces >= batch_size or nfaces == 0:
                yield pending
                pending, nfaces = [], 0
            continue
        if pending:
            yield pending
        if isinstance(item, BaseException):
            yield item
        return


def start(
    src: VideoSource,
    detectors: Sequence[Detector],
    stop: threading.Event,
    frame_queue: int,
    face_queue: int,
) -> tuple[list[threading.Thread], InOrder, list[float]]:
    """Start the reader and one detect worker per detector: (threads, in-order output, detect times)."""
    q_frames: queue.Queue[Any] = queue.Queue(frame_queue)
    q_faces: queue.Queue[Any] = queue.Queue(face_queue)
    times: list[float] = []
    n = len(detectors)
    threads = [threading.Thread(target=read, args=(src, q_frames, stop, n), name="facelog-read", daemon=True)]
    for i, det in enumerate(detectors):
        threads.append(
            threading.Thread(
                target=detect,
                args=(det, q_frames, q_faces, stop, times),
                name=f"facelog-detect-{i}",
                daemon=True,
            )
        )
    for t in threads:
        t.start()
    return threads, InOrder(q_faces, n), times
