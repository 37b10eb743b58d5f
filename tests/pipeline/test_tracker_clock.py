"""The tracker's clock: frame counts are frames of a 25-fps source, timed by the frames' timestamps, so a
camera that records 5 frames a second is tracked as a 25-fps file analysed every 5th frame."""

from __future__ import annotations

import numpy as np
import pytest

from facelog.pipeline.tracking.kalman import REFERENCE_FPS, FrameClock
from facelog.pipeline.tracking.track import TrackerParams
from facelog.pipeline.tracking.tracker import Tracker

NS = 1_000_000_000


def _box(cx: float, cy: float, side: float) -> np.ndarray:
    return np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]], np.float32)


def _walk(t: Tracker, fps: float, frames: int, speed_px_s: float, side: float, timed: bool) -> set[int]:
    """A walker crossing at ``speed_px_s`` pixels a second, recorded at ``fps``: its track ids."""
    rng = np.random.default_rng(3)
    ids = set()
    for k in range(frames):
        cx = 20 + speed_px_s * k / fps + rng.normal(0, 1.0)
        pts = round(k * NS / fps) if timed else None
        step = t.update(k, _box(cx, 300, side + rng.normal(0, 0.5)), np.array([0.9], np.float32), pts_ns=pts)
        ids.add(int(step.track_ids[0]))
    return ids


@pytest.mark.parametrize("fps", [5.0, 8.0, 12.5])
def test_a_walker_recorded_at_a_low_frame_rate_keeps_one_id_when_the_frames_are_timed(fps: float) -> None:
    # a 26-px face at 350 px/s: 70 px (2.7 face sizes) a frame at 5 fps, 14 px a frame at 25
    assert _walk(Tracker(), fps, 20, 350.0, 26.0, timed=True) == {0}


def test_counted_in_frames_the_same_walker_at_5_fps_falls_apart() -> None:
    # what the clock mends: one frame of a 5-fps camera taken for 1/25 s (the search radius of a new
    # track covers a 25-fps frame's motion, not a fifth of a second's)
    assert len(_walk(Tracker(), 5.0, 20, 350.0, 26.0, timed=False)) > 5


def test_timestamps_at_25_fps_decide_as_frame_indices_do() -> None:
    rng = np.random.default_rng(4)
    a, b = Tracker(), Tracker()
    for k in range(60):
        boxes = np.vstack([_box(50 + 9 * k + rng.normal(0, 1), 200, 30), _box(900 - 6 * k, 400, 50)])
        if k in (7, 8, 30):
            boxes = boxes[:0]  # missed frames
        score = np.full(len(boxes), 0.9, np.float32)
        sa = a.update(k, boxes, score)
        sb = b.update(k, boxes, score, pts_ns=round(k * NS / REFERENCE_FPS))
        assert sa.track_ids.tolist() == sb.track_ids.tolist() and sa.ended == sb.ended


def test_lifetimes_are_time_not_frames() -> None:
    # max_lost_frames + reid_frames = 15 frames at 25 fps = 0.6 s: at 5 fps, 3 frames of the camera
    t = Tracker(TrackerParams(max_lost_frames=5, reid_frames=10))
    box, score = _box(100, 100, 40), np.array([0.9], np.float32)
    none = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    t.update(0, box, score, pts_ns=0)
    for k in (1, 2, 3):
        assert t.update(k, *none, pts_ns=k * NS // 5).ended == (), f"{k / 5} s without a detection: alive"
    assert t.update(4, *none, pts_ns=4 * NS // 5).ended == (0,), "0.8 s = 20 frames at 25 fps > 15"
    # a gap in the timestamps longer than a track's lifetime is a break, even one frame apart
    t.update(5, box, score, pts_ns=NS)
    step = t.update(6, box, score, pts_ns=3 * NS)
    assert step.ended == (1,) and step.track_ids.tolist() == [2]


@pytest.mark.parametrize(
    "pts", [[0, 0, 0, 0], [0, 40, 20, 80], [None, 40, None, 120]], ids=["zero", "back", "missing"]
)
def test_timestamps_that_do_not_increase_fall_back_to_frame_indices(pts: list[int | None]) -> None:
    # frames 0, 1, 2, 14: with max_lost_frames=5, reid_frames=5 the track lives 10 frames at most
    t = Tracker(TrackerParams(max_lost_frames=5, reid_frames=5))
    box, score = _box(100, 100, 40), np.array([0.9], np.float32)
    ids = [
        int(t.update(k, box, score, pts_ns=None if v is None else v * 1_000_000).track_ids[0])
        for k, v in zip([0, 1, 2, 14], pts, strict=True)
    ]
    # the last step: 12 frames from frame 2, or by timestamps 40 ms (back: 60 ms) -> same id
    assert ids[:3] == [0, 0, 0]
    assert ids[3] == (0 if pts[2] is not None and pts[3] is not None and pts[3] > pts[2] else 1)


@pytest.mark.parametrize(
    ("fps", "stride", "ticks"),
    [(25.0, 1, [0, 1, 2, 3, 4]), (5.0, 1, [0, 5, 10, 15, 20]), (30.0, 1, [0, 1, 2, 3, 4]),
     (25.0, 12, [0, 12, 24, 36, 48]), (60.0, 2, [0, 1, 2, 3, 4]), (10.0, 1, [0, 2, 5, 8, 10])],
)  # fmt: skip
def test_frame_clock_counts_frames_of_25_fps(fps: float, stride: int, ticks: list[int]) -> None:
    c = FrameClock()
    got = []
    for k in range(0, 5 * stride, stride):
        now = c.advance(k, round(k * NS / fps))
        assert now == pytest.approx(k * REFERENCE_FPS / fps)
        got.append(c.tick)
    assert got == ticks, "whole frames, at least one a frame"


def test_frame_clock_restarts_when_the_index_goes_back() -> None:
    c = FrameClock()
    c.advance(10, 0)
    assert c.advance(11, NS // 5) == 15.0
    assert c.advance(3, 0) == 3.0 and c.tick == 3, "a new source: the clock starts at its index"
