"""Where one walker used to become two tracks (issue 20's people split): faces cut by the frame edge
as they enter or leave, a lost track preferred to the walker's own, an identity question after a miss
that a bad descriptor refused."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.tracking.association import assign_two_passes
from facelog.pipeline.tracking.identity import FrameFaces
from facelog.pipeline.tracking.track import at_frame_edge
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drawn_faces import PatternEmbedder, face_texture  # the tracker tests' drawn faces

H, W = 240, 400
D = 16


def _draw(person: int, x0: int, y0: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey frame with the face's visible part drawn, and the detector's box (clipped to the frame)."""
    img = np.full((H, W, 3), 100, np.uint8)
    face = face_texture(person, side)
    a, b = max(0, x0), min(W, x0 + side)
    img[y0 : y0 + side, a:b] = face[:, a - x0 : b - x0]
    return img, np.array([[a, y0, b, y0 + side]], np.float32)


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=D)
    return v / np.linalg.norm(v)


def test_at_frame_edge_marks_boxes_within_a_share_of_their_size_of_any_edge() -> None:
    boxes = np.array(
        [[0, 50, 30, 80], [1.5, 50, 31.5, 80], [5, 50, 35, 80], [100, 0, 130, 30], [370, 50, 399.5, 80],
         [5, 100, 105, 200], [8, 100, 108, 200], [150, 100, 250, 235], [150, 100, 250, 230]], np.float32,
    )  # fmt: skip
    # 30-px boxes: 1.8 px from an edge; 100-px boxes: 6 px (a leaving face's box stops short of it)
    assert at_frame_edge(boxes, W, H).tolist() == [True, True, False, True, True, True, False, True, False]
    assert at_frame_edge(np.zeros((0, 4), np.float32), W, H).shape == (0,)


@pytest.mark.parametrize("with_edge", [True, False])
def test_a_walker_entering_at_the_edge_keeps_one_id(with_edge: bool) -> None:
    """Two frames of a half face at the left edge (the model's embedding 0.5 from the whole face's),
    then the whole face walking in: one id when the cut faces' appearance counts as unknown; two
    without (the embedding refuses the pair, as on walk720_nobody)."""
    rng = np.random.default_rng(3)
    whole = _unit(rng)
    half = whole.copy()
    half[: D // 2] *= -1  # cosine distance ~0.5-1 from the whole face
    t = Tracker()
    ids = []
    for k in range(8):
        x1 = max(0.0, -30 + 12 * k)
        box = np.array([[x1, 100, -30 + 12 * k + 50, 150]], np.float32)
        emb = (half if x1 == 0 else whole)[None].astype(np.float32)
        edge = at_frame_edge(box, W, H) if with_edge else None
        ids += t.update(k, box, np.array([0.9], np.float32), emb, at_edge=edge).track_ids.tolist()
    assert (set(ids) == {0}) == with_edge, ids


@pytest.mark.parametrize("with_edge", [True, False])
def test_the_identity_never_compares_a_half_face_entering_the_frame(with_edge: bool) -> None:
    """A face drawn entering from the left: its first detections show part of it. The look jumps
    when it is whole, and the identity is asked; the track's side of the question is only ever a
    whole face, so it is not refused."""
    t, emb = Tracker(), PatternEmbedder()
    ids = []
    for k in range(10):
        img, box = _draw(5, -30 + 12 * k, 100, 48)
        edge = at_frame_edge(box, W, H) if with_edge else None
        ident = FrameFaces(emb, img, box, k)
        ids += t.update(k, box, np.array([0.9], np.float32), identity=ident, at_edge=edge).track_ids.tolist()
    assert (set(ids) == {0}) == with_edge, ids
    assert (not t.identity_refusals) == with_edge


def test_at_edge_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at_edge must be \(1,\)"):
        Tracker().update(0, np.array([[0, 0, 10, 10]], np.float32), np.array([0.9], np.float32),
                         at_edge=np.zeros(2, bool))  # fmt: skip


def test_a_followed_track_keeps_its_detection_over_a_lost_track_that_fits_it_slightly_better() -> None:
    """A walker who took over the path of one lost 40 frames earlier fits both its own track (0.88)
    and the lost one's prediction (0.90): it stays on its own."""
    sim = np.array([[0.88, 0.90]])
    high = np.array([True])
    assert assign_two_passes(sim, high, 0.2, 0.4) == {0: 1}  # similarity alone
    assert assign_two_passes(sim, high, 0.2, 0.4, np.array([True, False])) == {0: 0}
    # the number of pairs still comes first: a second detection that only the followed track fits
    sim2 = np.array([[0.88, 0.90], [0.5, -1.0]])
    assert assign_two_passes(sim2, np.array([True, True]), 0.2, 0.4, np.array([True, False])) == {0: 1, 1: 0}


def _step_emb(t: Tracker, k: int, person: int, vec: np.ndarray, emb: PatternEmbedder) -> list[int]:
    img, box = _draw(person, 180, 100, 48)
    ident = FrameFaces(emb, img, box, k)
    return t.update(k, box, np.array([0.9], np.float32), vec[None, :], None, None, ident).track_ids.tolist()


def test_after_a_miss_a_face_the_model_embedding_holds_still_needs_no_descriptor() -> None:
    """A small face missed for two frames whose descriptor would refuse it (here: a new drawn pattern,
    as a 33-px face scoring 0.3-0.6 gave 0.66 from its own last frame on walk720_nobody) keeps its
    id when the model's embedding stayed within identity_keep_cosine; a face whose embedding moved
    more (0.15: a newcomer at the spot) is still asked and refused."""
    t, emb = Tracker(), PatternEmbedder()
    same = np.ones(8, np.float32)
    ids = [_step_emb(t, k, 0, same, emb)[0] for k in range(5)]
    for k in (5, 6):  # processed, nothing detected
        t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    ids += [_step_emb(t, 7, 1, same, emb)[0]]  # the descriptor would differ
    assert ids == [0] * 6
    assert t.identity_vouched["gap"] == 1 and emb.calls == 0
    other = np.array([1, 1, 1, 1, 1, 1, 1, -0.5], np.float32)  # 0.15 from ``same``: within the gate
    for k in (8, 9):
        t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    assert _step_emb(t, 10, 2, other, emb) == [1]
    assert t.identity_refusals["gap"] == 1 and emb.calls >= 1


def _walk(t: Tracker, k: int, score: float, only: bool) -> tuple[int, bool]:
    box = np.array([[100 + 6 * k, 200, 126 + 6 * k, 226]], np.float32)
    step = t.update(k, box, np.array([score], np.float32), track_only=np.array([only]))
    return int(step.track_ids[0]), bool(step.confirmed[0])


def test_a_small_walker_first_seen_at_a_low_score_keeps_its_tentative_track_through_weak_frames() -> None:
    """A 26-px walker scoring 0.6, then 0.3-0.5 (``track_only``) for 5 frames, missed for 3, then
    0.55: one track (walk720_nobody: such walkers started a second track when the low-score boxes could
    not reach a tentative one). The weak boxes keep it alive unlogged (-1); it is confirmed by the
    next detection at the detector's threshold, not by them."""
    t = Tracker()
    assert _walk(t, 0, 0.6, False) == (0, False)
    for k in range(1, 6):
        assert _walk(t, k, 0.4, True) == (-1, False)
    for k in range(6, 9):
        t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    assert _walk(t, 9, 0.55, False) == (0, True)
    assert _walk(t, 10, 0.4, True) == (0, True)  # confirmed: now its weak boxes are logged


def test_low_score_boxes_alone_never_confirm_a_track_and_it_ends() -> None:
    """A face-like patch scoring 0.55 once and 0.3-0.5 after: never confirmed, never logged after its
    first box, ended max_tentative_lost_frames after the low-score band stops reaching it."""
    t = Tracker()
    box = np.array([[300, 100, 340, 140]], np.float32)
    ended: list[int] = []
    ids = [int(t.update(0, box, np.array([0.55], np.float32)).track_ids[0])]
    for k in range(1, 60):
        step = t.update(k, box, np.array([0.4], np.float32), track_only=np.array([True]))
        ids.append(int(step.track_ids[0]))
        ended += step.ended
    assert ids == [0] + [-1] * 59
    assert ended == [0]
    assert t.live_ids == ()


def test_someone_stepping_up_at_the_frame_edge_after_a_gap_gets_a_new_id() -> None:
    """A person standing at the left edge leaves; 3 frames later someone else stands in the same
    spot (static720_nobody). With the edge face's looks unknown, only motion could tell: a lost track
    is not re-acquired by an edge face."""
    rng = np.random.default_rng(4)
    a, b = _unit(rng), _unit(rng)
    box = np.array([[0, 100, 60, 160]], np.float32)
    t = Tracker()
    edge = at_frame_edge(box, W, H)
    ids = [
        t.update(k, box, np.array([0.9], np.float32), a[None], at_edge=edge).track_ids.tolist()
        for k in range(6)
    ]
    for k in (6, 7, 8):
        t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    ids += [
        t.update(k, box, np.array([0.9], np.float32), b[None], at_edge=edge).track_ids.tolist()
        for k in range(9, 12)
    ]
    assert ids == [[0]] * 6 + [[1]] * 3
