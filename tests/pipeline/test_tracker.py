"""Kalman + assignment tracker: crossing people, replacements, fast walkers, id lifetime, bad input."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from facelog.pipeline.tracking.appearance import body_histogram
from facelog.pipeline.tracking.association import similarity
from facelog.pipeline.tracking.track import TrackerParams, TrackStep
from facelog.pipeline.tracking.tracker import Tracker

D = 16


def _box(cx: float, cy: float, side: float) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def _step(
    t: Tracker,
    k: int,
    boxes: list[list[float]],
    scores: list[float] | None = None,
    emb: np.ndarray | None = None,
) -> TrackStep:
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    score = np.array(scores if scores is not None else [0.9] * len(boxes), np.float32)
    return t.update(k, xyxy, score, emb)


def _unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    v = rng.normal(size=(n, D))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("dy", [30.0, 0.0], ids=["offset-rows", "same-row-one-hidden"])
def test_two_people_crossing_keep_their_ids(dy: float) -> None:
    """A walks right, B walks left; on the same row B is hidden behind A while they overlap."""
    t = Tracker()
    rng = np.random.default_rng(0)
    ids_a, ids_b = set(), set()
    for k in range(40):
        a = _box(40 + 8 * k + rng.normal(0, 0.7), 100 + rng.normal(0, 0.7), 40)
        b = _box(360 - 8 * k + rng.normal(0, 0.7), 100 + dy + rng.normal(0, 0.7), 40)
        hidden = dy == 0 and abs(a[0] - b[0]) < 40
        boxes = [a] if hidden else [b, a]  # input order changes too
        step = _step(t, k, boxes)
        ids_a.add(int(step.track_ids[-1]))
        if not hidden:
            ids_b.add(int(step.track_ids[0]))
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b, (ids_a, ids_b)


@pytest.mark.parametrize("gap_frames", [0, 3])
@pytest.mark.parametrize("same_person", [True, False])
def test_replacement_at_the_same_spot(gap_frames: int, same_person: bool) -> None:
    """A new face where another just left gets a new id only if its embedding differs."""
    rng = np.random.default_rng(1)
    first, other = _unit(rng), _unit(rng)
    second = first if same_person else other
    t = Tracker()
    box = _box(200, 150, 48)
    before = {int(_step(t, k, [box], emb=first + 0.05 * _unit(rng)).track_ids[0]) for k in range(10)}
    k0 = 10 + gap_frames
    after = {int(_step(t, k, [box], emb=second + 0.05 * _unit(rng)).track_ids[0]) for k in range(k0, k0 + 10)}
    assert before == {0}
    assert after == ({0} if same_person else {1})


def test_without_embeddings_the_same_spot_keeps_the_id() -> None:
    t = Tracker()
    box = _box(200, 150, 48)
    ids = {int(_step(t, k, [box]).track_ids[0]) for k in [*range(5), *range(8, 12)]}
    assert ids == {0}


@pytest.mark.parametrize(
    "side_px, speed_px, missed",
    [(30, 10, {2, 3, 12}), (24, 14, {1, 9, 10}), (60, 14, {4, 10, 11})],
    ids=["30px-10px", "24px-14px", "60px-14px"],
)
def test_fast_walker_keeps_one_id_through_missed_frames(
    side_px: float, speed_px: float, missed: set[int]
) -> None:
    rng = np.random.default_rng(2)
    t = Tracker()
    ids = set()
    for k in range(25):
        if k in missed:
            step = _step(t, k, [])
            assert step.ended == ()
            continue
        cx = 30 + speed_px * k + rng.normal(0, 1.0)
        cy = 200 + 0.3 * speed_px * k + rng.normal(0, 1.0)
        ids.add(int(_step(t, k, [_box(cx, cy, side_px + rng.normal(0, 1.0))]).track_ids[0]))
    assert ids == {0}


def test_ids_are_never_reused() -> None:
    t = Tracker(TrackerParams(max_lost_frames=2, reid_frames=0))
    box = _box(100, 100, 40)
    assert _step(t, 0, [box]).track_ids.tolist() == [0]
    assert _step(t, 1, []).ended == ()
    assert _step(t, 2, []).ended == ()
    assert _step(t, 3, []).ended == (0,), "lost for 3 > 2 frames"
    assert _step(t, 4, [box]).track_ids.tolist() == [1]
    assert t.finish() == (1,)
    assert _step(t, 5, [box]).track_ids.tolist() == [2]
    assert t.reset() == (2,)
    assert _step(t, 0, [box]).track_ids.tolist() == [3], "after reset frame indices may restart"


def test_frames_never_analysed_are_not_missed_but_a_missed_processed_frame_counts() -> None:
    # a frame stride (sampling) or frames a live reader dropped: the track had no chance to be seen
    # a confirmed track lives 15 frames (this one stands still: its longer window off)
    t = Tracker(TrackerParams(max_lost_frames=5, reid_frames=10, reid_still_frames=0))
    box = _box(100, 100, 40)
    _step(t, 0, [box])
    assert _step(t, 6, [box]).track_ids.tolist() == [0], "5 frames never analysed: still matched"
    assert _step(t, 13, [box]).track_ids.tolist() == [0], "6 frames never analysed: still matched"
    assert _step(t, 20, []).ended == ()
    assert _step(t, 27, []).ended == (), "14 frames since its detection, missed twice: alive"
    assert _step(t, 34, []).ended == (0,), "21 > 15 frames without a detection"
    # a step longer than a confirmed track's lifetime is a break: tracks end before matching
    assert _step(t, 35, [box]).track_ids.tolist() == [1]
    step = _step(t, 60, [box])
    assert step.ended == (1,) and step.track_ids.tolist() == [2]


def test_low_score_detection_continues_a_track_but_alone_is_tentative() -> None:
    t = Tracker(TrackerParams(high_score=0.7, max_tentative_lost_frames=2))
    _step(t, 0, [_box(100, 100, 40)], [0.9])
    step = _step(t, 1, [_box(104, 100, 40), _box(400, 100, 40)], [0.4, 0.4])
    assert step.track_ids.tolist() == [0, 1]
    assert step.confirmed.tolist() == [True, False]
    assert _step(t, 2, [_box(108, 100, 40)], [0.9]).ended == ()
    assert _step(t, 3, [_box(112, 100, 40)], [0.9]).ended == ()
    assert _step(t, 4, [_box(116, 100, 40)], [0.9]).ended == (1,), "tentative, 3 frames unmatched: ends"
    step = _step(t, 5, [_box(120, 100, 40), _box(400, 100, 40)], [0.9, 0.5])
    assert step.track_ids.tolist() == [0, 2] and step.confirmed.tolist() == [True, False]
    step = _step(t, 8, [_box(400, 100, 40)], [0.5])
    assert step.track_ids.tolist() == [2] and step.confirmed.tolist() == [True], "after 2 misses: confirmed"


def test_track_only_detections_continue_confirmed_tracks_and_nothing_else() -> None:
    """Boxes below the detector's threshold (``track_only``) keep a confirmed track going through a
    weak stretch; alone, or next to a tentative track only, they get no id and start nothing."""
    t = Tracker(TrackerParams(high_score=0.7))
    only = np.array([True, True])
    _step(t, 0, [_box(100, 100, 40)], [0.9])  # confirmed track 0
    _step(t, 1, [_box(400, 100, 40)], [0.5])  # tentative track 1 (track 0 missed once)
    boxes = np.array([_box(108, 100, 40), _box(404, 100, 40)], np.float32)
    step = t.update(2, boxes, np.array([0.35, 0.35], np.float32), track_only=only)
    assert step.track_ids.tolist() == [0, -1], "continues the confirmed track; not the tentative one"
    assert step.confirmed.tolist() == [True, False]
    step = t.update(3, np.array([_box(700, 300, 40)], np.float32), np.array([0.4], np.float32),
                    track_only=np.array([True]))  # fmt: skip
    assert step.track_ids.tolist() == [-1]
    assert _step(t, 4, [_box(700, 300, 40)], [0.9]).track_ids.tolist() == [2], "it started no track"
    # the same boxes as ordinary low-score detections would have: ids for both
    t2 = Tracker(TrackerParams(high_score=0.7))
    _step(t2, 0, [_box(100, 100, 40)], [0.9])
    _step(t2, 1, [_box(400, 100, 40)], [0.5])
    assert _step(t2, 2, [_box(108, 100, 40), _box(404, 100, 40)], [0.35, 0.35]).track_ids.tolist() == [0, 1]
    with pytest.raises(ValueError, match="track_only must be"):
        t.update(5, boxes, np.array([0.9, 0.9], np.float32), track_only=np.array([True]))


def test_a_face_first_seen_at_a_low_score_survives_a_missed_frame() -> None:
    t = Tracker()
    ids = [_step(t, 0, [_box(100, 100, 30)], [0.5]).track_ids.tolist()]
    _step(t, 1, [])
    ids += [_step(t, k, [_box(100 + 6 * k, 100, 30)], [0.9]).track_ids.tolist() for k in (2, 3)]
    assert ids == [[0], [0], [0]]


def test_a_walker_who_stops_while_missed_keeps_the_id() -> None:
    """The Kalman prediction runs on; the last detection is where the face is (OC-SORT recovery)."""
    t = Tracker()
    ids = {int(_step(t, k, [_box(50 + 12 * k, 100, 26)]).track_ids[0]) for k in range(8)}
    for k in (8, 9):
        _step(t, k, [])
    ids |= {int(_step(t, k, [_box(50 + 12 * 7 + 2, 100, 26)]).track_ids[0]) for k in (10, 11)}
    assert ids == {0}


def test_empty_frames_are_fine() -> None:
    t = Tracker()
    step = t.update(0, np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, D), np.float32))
    assert step.track_ids.shape == (0,) and step.track_ids.dtype == np.int64 and step.ended == ()
    assert _step(t, 1, [_box(50, 50, 30)]).track_ids.tolist() == [0]
    assert _step(t, 2, []).track_ids.shape == (0,)
    assert t.live_ids == (0,)


@pytest.mark.parametrize("second", [3, 2], ids=["repeated", "out-of-order"])
def test_frames_must_increase(second: int) -> None:
    t = Tracker()
    _step(t, 3, [])
    with pytest.raises(ValueError, match=rf"frame_index must increase: expected > 3, got {second}"):
        _step(t, second, [])
    assert _step(t, 4, []).ended == (), "the tracker still works after the error"


@pytest.mark.parametrize(
    "xyxy, score, emb, match",
    [
        (np.zeros((2, 4)), np.zeros(2), None, None),
        (np.zeros((4,)), np.zeros(1), None, r"xyxy must be \(n, 4\), got \(4,\)"),
        (np.zeros((2, 5)), np.zeros(2), None, r"xyxy must be \(n, 4\)"),
        (np.zeros((2, 4)), np.zeros(3), None, r"score must be \(2,\), got \(3,\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros((3, D)), r"embedding must be \(2, D\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros((2,)), r"embedding must be \(2, D\)"),
        (np.array([[0, 0, np.nan, 1.0]]), np.zeros(1), None, "must be finite"),
        (np.array([[5, 0, 1, 1.0]]), np.zeros(1), None, "x2 >= x1"),
    ],
    ids=["ok", "rank-1", "five-columns", "score-length", "emb-rows", "emb-rank", "nan", "inverted"],
)
def test_update_validates_inputs(
    xyxy: np.ndarray, score: np.ndarray, emb: np.ndarray | None, match: str | None
) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        Tracker().update(0, xyxy, score, emb)


def test_embedding_width_must_stay_the_same() -> None:
    t = Tracker()
    rng = np.random.default_rng(3)
    _step(t, 0, [_box(50, 50, 30)], emb=_unit(rng))
    with pytest.raises(ValueError, match=rf"embedding must be \(n, {D}\)"):
        _step(t, 1, [_box(50, 50, 30)], emb=np.ones((1, D + 1), np.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"match_high": 1.5}, "match_high"),
        ({"max_lost_frames": -1}, "max_lost_frames"),
        ({"max_size_ratio": 0.5}, "max_size_ratio"),
        ({"std_velocity": -1.0}, "noise"),
    ],
)
def test_params_are_validated(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrackerParams(**kwargs)


def test_similarity_forbids_very_different_sizes_and_prefers_near_boxes() -> None:
    det = np.array([_box(100, 100, 30), _box(100, 100, 90)])
    trk = np.array([_box(110, 100, 30), _box(200, 100, 30)])
    sim = similarity(det, trk, center_radius=1.0, max_size_ratio=2.0)
    assert sim.shape == (2, 2)
    assert sim[0, 0] > 0.5 and sim[0, 1] == 0.0
    assert (sim[1] < 0).all(), "3x the size never matches"


def _scene(shirt_bgr: tuple[int, int, int]) -> np.ndarray:
    img = np.full((240, 320, 3), 90, np.uint8)
    img[130:240, 100:220] = shirt_bgr  # clothes below a face at (160, 100)
    return img


def test_body_histogram_tells_clothes_apart() -> None:
    face = np.array([[140.0, 80.0, 180.0, 120.0], [0.0, 200.0, 40.0, 240.0]])
    red, red2, blue = (body_histogram(_scene(c), face) for c in ((30, 30, 200), (40, 35, 190), (200, 60, 20)))
    assert red.shape == (2, 48) and red.dtype == np.float32
    assert float(red[0] @ red2[0]) > 0.9 and float(red[0] @ blue[0]) < 0.5
    assert not red[1].any(), "region below the image: unknown (zeros)"
    assert body_histogram(_scene((0, 0, 0)), np.zeros((0, 4))).shape == (0, 48)
    with pytest.raises(ValueError, match=r"xyxy must be \(n, 4\)"):
        body_histogram(_scene((0, 0, 0)), np.zeros(4))
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        body_histogram(np.zeros((10, 10)), face)


@pytest.mark.parametrize("same_clothes", [True, False])
def test_body_gate_separates_a_replacement_with_other_clothes(same_clothes: bool) -> None:
    t = Tracker()
    face = np.array([[140.0, 80.0, 180.0, 120.0]], np.float32)
    score = np.array([0.9], np.float32)
    first = body_histogram(_scene((30, 30, 200)), face)
    second = first if same_clothes else body_histogram(_scene((200, 60, 20)), face)
    ids = {int(t.update(k, face, score, body=first).track_ids[0]) for k in range(5)}
    ids |= {int(t.update(k, face, score, body=second).track_ids[0]) for k in range(7, 10)}
    unknown = np.zeros((1, 48), np.float32)
    ids |= {int(t.update(10, face, score, body=unknown).track_ids[0])}
    assert ids == ({0} if same_clothes else {0, 1}), "an unknown body is never gated"
