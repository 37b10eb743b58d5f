"""Tracker appearance rules: cue consensus for a track followed frame by frame, a stricter face gate
after a miss, re-identification after ``max_lost_frames``, lost boxes at their last size, and body
regions that do not show the person (edge, occlusion) reported as unknown."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.tracking.appearance import body_histogram
from facelog.pipeline.tracking.track import TrackerParams
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cue_vectors import D, near, unit  # the tracker tests' cue vectors


def _box(cx: float, cy: float, side: float) -> np.ndarray:
    return np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]], np.float32)


def _update(t: Tracker, k: int, box: np.ndarray, emb: np.ndarray | None, body: np.ndarray | None) -> int:
    e = None if emb is None else emb[None].astype(np.float32)
    b = None if body is None else body[None].astype(np.float32)
    return int(t.update(k, box, np.array([0.9], np.float32), e, b).track_ids[0])


@pytest.mark.parametrize(
    ("emb_dist", "body_dist", "gap", "same_id"),
    [
        (0.03, 0.9, 1, True),  # clothes hidden by someone in front, face unchanged: same person
        (0.25, 0.01, 1, True),  # face blurred or growing fast, clothes unchanged: same person
        (0.3, 0.9, 1, False),  # both cues disagree: someone else
        (0.10, 0.9, 3, False),  # after a miss every known cue must agree: a replacement in the same face
        (0.03, 0.9, 3, True),  # ... but the body (what people in front hide first) does not refuse a
        # face the embedding keeps (within identity_keep_cosine, 0.07): a walker coming out from behind
        (0.17, 0.01, 3, False),  # after a miss the face gate is reid_max_cosine (0.15), not 0.2
        (0.10, 0.01, 3, True),
    ],
)
def test_cue_consensus_for_followed_tracks_and_strict_gates_after_a_miss(
    emb_dist: float, body_dist: float, gap: int, same_id: bool
) -> None:
    rng = np.random.default_rng(1)
    face, shirt = unit(rng), unit(rng)
    t = Tracker()
    for k in range(5):
        assert _update(t, k, _box(100, 100, 40), face, shirt) == 0
    for k in range(5, 4 + gap):  # missed frames (processed, nothing detected)
        t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    new = _update(t, 4 + gap, _box(100, 100, 40), near(face, emb_dist, rng), near(shirt, body_dist, rng))
    assert (new == 0) == same_id


@pytest.mark.parametrize(("emb_dist", "same_id"), [(0.05, True), (0.3, False)])
def test_a_walker_missed_longer_than_max_lost_frames_is_reidentified_by_face(
    emb_dist: float, same_id: bool
) -> None:
    rng = np.random.default_rng(2)
    face = unit(rng)
    t = Tracker(TrackerParams(max_lost_frames=10, reid_frames=40))
    for k in range(8):
        assert _update(t, k, _box(100 + 8 * k, 300, 40), face, None) == 0
    back = _update(t, 30, _box(100 + 8 * 30, 300, 40), near(face, emb_dist, rng), None)
    assert (back == 0) == same_id


def test_without_an_embedding_a_track_past_max_lost_frames_is_not_matched_and_ends_later() -> None:
    t = Tracker(TrackerParams(max_lost_frames=10, reid_frames=5))
    for k in range(3):
        _update(t, k, _box(100, 100, 40), None, None)
    for k in range(3, 14):  # processed frames without the face (frames never analysed are not missed)
        assert t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32)).ended == ()
    assert _update(t, 14, _box(100, 100, 40), None, None) == 1, "12 frames lost, nothing vouches"
    ended = t.update(18, np.zeros((0, 4), np.float32), np.zeros(0, np.float32)).ended
    assert ended == (0,), "ended after max_lost_frames + reid_frames"


def test_a_growing_walker_missed_for_a_while_is_matched_at_its_last_size() -> None:
    """The Kalman size velocity of a fast-growing face, extrapolated over a long miss, would forbid
    the match (size ratio > 2); the predicted centre with the last detected size does not."""
    rng = np.random.default_rng(4)
    face = unit(rng)
    t = Tracker(TrackerParams(max_lost_frames=20))
    for k in range(11):
        assert _update(t, k, _box(100 + 10 * k, 300, 40 + 8 * k), face, None) == 0
    assert _update(t, 27, _box(100 + 10 * 27, 300, 125), face, None) == 0


def _frame_with_bodies(bodies: list[tuple[int, int, int, int, tuple[int, int, int]]]) -> np.ndarray:
    img = np.full((240, 320, 3), 90, np.uint8)
    for x1, y1, x2, y2, bgr in bodies:
        img[y1:y2, x1:x2] = bgr
    return img


def test_body_regions_that_do_not_show_the_person_are_unknown() -> None:
    small = [60.0, 40.0, 80.0, 60.0]  # body region x 50-90, y 66-100
    at_bottom = [200.0, 200.0, 240.0, 236.0]  # body region mostly below the image
    img = _frame_with_bodies([(50, 66, 90, 100, (30, 30, 200))])
    alone = body_histogram(img, np.array([small, at_bottom]))
    assert alone[0].any() and not alone[1].any()
    nearer = [45.0, -10.0, 105.0, 50.0]  # a face 3x wider: its body region (y 68-170) covers the small one's
    both = body_histogram(img, np.array([small, nearer]))
    assert not both[0].any() and both[1].any()
    side_by_side = [100.0, 40.0, 120.0, 60.0]  # same size next to it: overlapping regions do not hide
    assert body_histogram(img, np.array([small, side_by_side]))[0].any()


def test_a_walker_sampled_every_12th_frame_entering_at_the_edge_keeps_one_id() -> None:
    """``--fps 2`` of a 25-fps file: a face enters cut by the frame edge (its looks unknown), then
    walks 30 px between analysed frames. The frames never analysed are not missed: the track is
    followed, not in its re-identification window where nothing could vouch for an edge face (each
    walker began with a one-detection piece there)."""
    rng = np.random.default_rng(7)
    face = unit(rng)
    t = Tracker(TrackerParams(max_lost_frames=10))
    edge = t.update(
        0, _box(15, 200, 40), np.array([0.9], np.float32), np.zeros((1, D), np.float32), None,
        at_edge=np.array([True]),
    )  # fmt: skip
    ids = [int(edge.track_ids[0])]
    for step in range(1, 6):
        close = near(face, 0.02, rng)
        ids.append(_update(t, 12 * step, _box(15 + 30 * step, 200, 40), close, None))
    assert ids == [0] * 6


@pytest.mark.parametrize(("emb_dist", "same_id"), [(0.10, True), (0.18, False)])
def test_followed_across_a_long_stride_every_known_cue_must_agree(emb_dist: float, same_id: bool) -> None:
    """At a stride of 12 frames (> max_lost_frames + 1) a followed track is FOLLOWED | MISSED: the face
    embedding must be within the stricter reid_max_cosine (0.15); at a stride of 1 the same 0.18 is
    within max_cosine_distance (0.2) and keeps the id. A break (a step over max_lost_frames +
    reid_frames) ends the track: an edge face near its last box gets a new id."""
    rng = np.random.default_rng(11)
    face = unit(rng)
    t = Tracker(TrackerParams(max_lost_frames=10, reid_frames=40))
    assert _update(t, 0, _box(200, 200, 40), face, None) == 0
    got = _update(t, 12, _box(205, 200, 40), near(face, emb_dist, rng), None)
    assert (got == 0) == same_id
    one = Tracker(TrackerParams(max_lost_frames=10, reid_frames=40))
    assert _update(one, 0, _box(200, 200, 40), face, None) == 0
    assert _update(one, 1, _box(201, 200, 40), near(face, emb_dist, rng), None) == 0
    after = one.update(
        1000, _box(15, 200, 40), np.array([0.9], np.float32), np.zeros((1, D), np.float32), None,
        at_edge=np.array([True]),
    )  # fmt: skip
    assert after.ended == (0,) and int(after.track_ids[0]) == 1
