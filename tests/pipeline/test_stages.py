"""The stage threads and the batcher, without ../shared: order, flushing, errors that stop the run."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.reader import VideoSource
from facelog.pipeline.file.stages import Detected, DetectStages, batches
from facelog.pipeline.types import Faces, Frame

IMAGE = np.zeros((8, 8, 3), np.uint8)


def _faces(n: int) -> Faces:
    xyxy = np.tile(np.array([[0, 0, 4, 4]], np.float32), (n, 1))
    return Faces(xyxy, np.full(n, 0.9, np.float32))


class FakeDetector:
    """n faces per frame, after a random pause (so parallel workers finish out of order)."""

    framing = None

    def __init__(self, n: int = 1, max_pause_s: float = 0.0, fail_at: int | None = None) -> None:
        self.n, self.max_pause_s, self.fail_at = n, max_pause_s, fail_at
        self._rng = random.Random(0)

    def detect(self, image: np.ndarray, frame_index: int | None = None) -> Faces:
        if self.fail_at is not None and int(image[0, 0, 0]) == self.fail_at:
            raise RuntimeError(f"detector broke on frame {self.fail_at}")
        time.sleep(self._rng.random() * self.max_pause_s)
        return _faces(self.n)

    def reset(self) -> None:
        pass


def _frames(n: int, error: BaseException | None = None) -> Iterator[Frame]:
    for i in range(n):
        yield Frame("s", i, i * 1000, np.full((8, 8, 3), i % 256, np.uint8))
    if error is not None:
        raise error


def _drain(stages: DetectStages) -> list[int]:
    out = []
    while (d := stages.get(5.0)) is not None:
        out.append(d.frame.index)
    return out


def test_order_is_restored_with_several_detect_workers() -> None:
    dets = [FakeDetector(max_pause_s=0.01) for _ in range(3)]
    with DetectStages(_frames(40), dets, frame_queue=4, face_queue=4) as stages:
        assert _drain(stages) == list(range(40))
    assert len(stages.detect_times) == 40 and stages.detect_s > 0


def test_a_real_video_comes_through_in_order(synthetic_video: Path) -> None:
    src = VideoSource(synthetic_video, stride=2)
    with DetectStages(src, [FakeDetector(), FakeDetector()], 2, 2, close_source=src.close) as stages:
        assert _drain(stages) == [0, 2, 4, 6, 8]
    assert src.frames_read == 10 and src.frames_processed == 5


def test_empty_input_ends_at_once() -> None:
    with DetectStages(_frames(0), [FakeDetector()], 2, 2) as stages:
        assert stages.get(5.0) is None


def test_an_exception_in_a_stage_stops_the_run_with_that_error() -> None:
    stages = DetectStages(_frames(1000), [FakeDetector(fail_at=5), FakeDetector(fail_at=5)], 4, 4)
    with stages, pytest.raises(RuntimeError, match="detector broke on frame 5"):
        _drain(stages)
    assert stages.stop.is_set()
    assert not any(t.is_alive() for t in stages._threads), "every stage thread has stopped"


def test_a_reader_error_other_than_source_error_stops_at_once() -> None:
    stages = DetectStages(_frames(3, MemoryError("decoder out of memory")), [FakeDetector()], 2, 2)
    with stages, pytest.raises(MemoryError, match="decoder out of memory"):
        _drain(stages)


def test_a_truncated_source_raises_after_the_frames_before_the_break() -> None:
    broke = SourceError("clip.mp4: truncated video", path="clip.mp4")
    dets = [FakeDetector(max_pause_s=0.005) for _ in range(2)]
    got: list[int] = []
    stages = DetectStages(_frames(12, broke), dets, 2, 2)
    with stages, pytest.raises(SourceError, match="truncated video"):
        while (d := stages.get(5.0)) is not None:
            got.append(d.frame.index)
    assert got == list(range(12))


def test_get_times_out_when_nothing_is_ready() -> None:
    gate = threading.Event()

    def slow() -> Iterator[Frame]:
        gate.wait(5)
        yield from _frames(1)

    with DetectStages(slow(), [FakeDetector()], 2, 2) as stages:
        with pytest.raises(queue.Empty):
            stages.get(0.05)
        gate.set()
        assert _drain(stages) == [0]


# ---------------------------------------------------------------- the batcher
def _feed(items: list[Detected | float | None]) -> object:
    """A ``get`` that returns the scripted items; a float item waits that long, then says 'nothing yet'."""
    script = list(items)

    def get(timeout_s: float) -> Detected | None:
        item = script.pop(0) if script else None
        if isinstance(item, float):
            time.sleep(min(item, timeout_s))
            raise queue.Empty
        return item

    return get


def _d(i: int, n_faces: int) -> Detected:
    return Detected(i, Frame("s", i, i, IMAGE), _faces(n_faces))


@pytest.mark.parametrize(
    "faces_per_frame, batch_size, sizes",
    [
        ([1] * 33, 32, [32, 1]),  # 33 faces: batches of up to 32, never 32 + 1 inside one call
        ([3] * 11, 32, [30, 3]),  # a frame that would overflow starts the next batch
        ([2, 0, 2], 4, [4]),  # a face-less frame rides along with the pending ones
        ([0, 0], 4, [0, 0]),  # face-less frames alone are handed on at once
        ([40], 32, [40]),  # one frame over batch_size: a batch of its own (the analyzer splits it)
        ([], 8, []),
    ],
    ids=["33-faces", "overflow", "empty-frame-joins", "no-faces", "one-huge-frame", "no-frames"],
)
def test_batches_hold_at_most_batch_size_faces(
    faces_per_frame: list[int], batch_size: int, sizes: list[int]
) -> None:
    items: list[Detected | float | None] = [_d(i, n) for i, n in enumerate(faces_per_frame)]
    got = list(batches(_feed([*items, None]), batch_size, max_wait_s=10.0))  # type: ignore[arg-type]
    assert [sum(len(d.faces) for d in b) for b in got] == sizes
    assert [d.seq for b in got for d in b] == list(range(len(faces_per_frame)))  # order kept


def test_batches_flush_after_max_wait() -> None:
    t0 = time.perf_counter()
    flushed: list[float] = []
    get = _feed([_d(0, 1), 1.0, _d(1, 1), None])
    for b in batches(get, batch_size=32, max_wait_s=0.05):  # type: ignore[arg-type]
        flushed.append(time.perf_counter() - t0)
        assert len(b) == 1
    assert len(flushed) == 2 and flushed[0] < 0.5, "the first frame did not wait for a full batch"


def test_batches_pass_errors_on_and_reject_a_bad_size() -> None:
    def broken(timeout_s: float) -> Detected | None:
        raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError, match="stage failed"):
        next(batches(broken, 4, 0.1))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        next(batches(broken, 0, 0.1))


def test_batches_hand_on_the_frames_taken_before_an_error() -> None:
    # a truncated video: the reader's SourceError comes after the frames before the cut; none of
    # those may be lost in a batch that was still filling (up to batch_size frames of one face)
    script: list[Detected | float | None] = [_d(i, 1) for i in range(5)]

    def get(timeout_s: float) -> Detected | None:
        if script:
            item = script.pop(0)
            assert isinstance(item, Detected)
            return item
        raise SourceError("truncated video: stream ended after 5 of 62 frames")

    seen: list[int] = []
    with pytest.raises(SourceError, match="stream ended after 5"):
        for b in batches(get, batch_size=32, max_wait_s=10.0):  # type: ignore[arg-type]
            seen += [d.seq for d in b]
    assert seen == [0, 1, 2, 3, 4]
