"""What a track remembers for the identity veto (``gallery``): a face the model embedding kept at a
question joins the descriptor's gallery when the descriptor is next asked, so that a walker who comes
out from behind someone is compared with its faces of the seconds before, not only with its first;
the answer to a held-back face's descriptor-alone question (``held``); an ``again`` look's verdict
on the mean of three faces."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from facelog.pipeline.tracking import gallery
from facelog.pipeline.tracking.identity import FacePatch, FrameFaces, identity_distance
from facelog.pipeline.tracking.kalman import BoxKalman
from facelog.pipeline.tracking.track import (
    AGAIN_FACES,
    AGAIN_MAX_DISTANCE,
    HELD_MAX_DISTANCE,
    Track,
    TrackerParams,
)
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cue_vectors import D, near, unit  # the tracker tests' cue vectors
from drawn_faces import PatternEmbedder, face_texture  # the tracker tests' drawn faces

SIDE = 60


def _walker_out_of_sight(same: bool) -> tuple[list[int], PatternEmbedder]:
    """A walks right at 2 px a frame. Its first faces (frames 0-9) look one way (drawn face 1) and
    the descriptor answers a periodic question about them (model embedding 0.1 from A's: not enough
    to keep the pair alone), so they are its gallery; from frame 10 it looks another way (drawn face
    3: the descriptor reads it far from face 1), which the model embedding keeps (0.02). Hidden for
    frames 40-47; from frame 48 A again with face 3 (``same``), its model embedding 0.1 from A's for
    two frames (no shortcut, no second look), then 0.02; or a newcomer with face 2 whose model
    embedding stays 0.1 from A's (a look-alike for the model). Returns the ids of the face at frame
    39 and from frame 48 on."""
    rng = np.random.default_rng(3)
    a = unit(rng)
    out = near(a, 0.1, rng)  # the face out of sight, to the model
    embedder = PatternEmbedder()
    t = Tracker(TrackerParams(identity_check_frames=5))
    ids = []
    for k in range(60):
        if 40 <= k <= 47:
            t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, D), np.float32))
            continue
        face = 1 if k < 10 else 3 if same or k < 40 else 2
        if k >= 48 and (k <= 49 or not same):
            emb = near(out, 0.005, rng)
        else:
            emb = near(a, 0.1 if k == 5 else 0.02, rng)
        x0 = 100 + 2 * k
        box = np.array([[x0, 300, x0 + SIDE, 300 + SIDE]], np.float32)
        img = np.full((480, 640, 3), 100, np.uint8)
        img[300 : 300 + SIDE, x0 : x0 + SIDE] = face_texture(face, SIDE)
        step = t.update(k, box, np.full(1, 0.9, np.float32), np.array([emb], np.float32), None, None,
                        FrameFaces(embedder, img, box, k))  # fmt: skip
        if k >= 39:
            ids.append(int(step.track_ids[0]))
    return ids, embedder


def test_a_walker_out_of_sight_is_compared_with_its_recent_faces() -> None:
    ids, _ = _walker_out_of_sight(same=True)
    # compared with its first faces only, its face out of sight is refused and starts a new track
    assert set(ids) == {ids[0]}, ids


def test_a_newcomer_where_the_walker_went_out_of_sight_keeps_a_new_id() -> None:
    ids, _ = _walker_out_of_sight(same=False)
    assert ids[0] not in ids[1:], ids


def test_a_held_question_passes_only_a_close_face() -> None:
    # a held-back face is given back by the descriptor alone only within HELD_MAX_DISTANCE; past it the
    # answer is "not sure" (None), never a refusal; a gap question refuses past the ordinary limit
    embedder = PatternEmbedder()
    box = np.array([[100, 100, 100 + SIDE, 100 + SIDE]], np.float32)

    def frame(mix: float) -> FrameFaces:
        img = np.full((480, 640, 3), 100, np.uint8)
        face = (1 - mix) * face_texture(1, SIDE).astype(np.float32) + mix * face_texture(2, SIDE)
        img[100 : 100 + SIDE, 100 : 100 + SIDE] = face.astype(np.uint8)
        return FrameFaces(embedder, img, box, 0)

    a = frame(0.0).embedding(0)
    assert a is not None
    answers = {}
    for mix in np.linspace(0.0, 1.0, 41):
        faces = frame(float(mix))
        mine = faces.embedding(0)
        assert mine is not None
        d = identity_distance(mine, a)
        verdicts = []
        for reason in ("held", "gap"):
            t = Track(0, BoxKalman(box[0], TrackerParams()), 0.0, 0.0, True, box[0], {}, 0.0, gallery=[a])
            verdicts.append(gallery.same_face(0, t, reason, faces, TrackerParams()))
            # only a gap question's refusal remembers the refused face (asked no more while it stays)
            assert (t.refused_thumb is not None) == (verdicts[-1] is False)
        answers[round(d, 3)] = tuple(verdicts)
    for d, (held, gap) in answers.items():
        assert gap is (d <= 0.5), (d, gap)
        assert held is (True if d <= HELD_MAX_DISTANCE else None), (d, held)
    # the blends cover both answers of each question, and faces between the two limits
    assert {v for v, _ in answers.values()} == {True, None} and {v for _, v in answers.values()} == {
        True,
        False,
    }
    assert any(HELD_MAX_DISTANCE < d <= 0.5 for d in answers), answers


class _Noisy(PatternEmbedder):
    """The drawn face's identity, moved by a given vector in the frames that have one (a dim camera's
    noise, new every frame)."""

    def __init__(self, moves: dict[int, np.ndarray]) -> None:
        super().__init__()
        self.moves = moves

    def embed(self, patch: FacePatch) -> np.ndarray | None:
        v = super().embed(patch)
        move = self.moves.get(patch.frame_index)
        return v if v is None or move is None else np.asarray(v + move, np.float32)


def _drawn_face() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame with drawn face 1 at (100, 100): its box (1, 4), the frame and the face's identity."""
    box = np.array([[100, 100, 100 + SIDE, 100 + SIDE]], np.float32)
    img = np.full((480, 640, 3), 100, np.uint8)
    img[100 : 100 + SIDE, 100 : 100 + SIDE] = face_texture(1, SIDE)
    a = FrameFaces(PatternEmbedder(), img, box, 0).embedding(0)
    assert a is not None
    return box, img, a


def test_an_again_look_judges_the_mean_of_three_faces() -> None:
    # the young track's faces are gathered (a face under 32 px is not counted) and the verdict comes
    # with the third readable one, on the means: three faces of the track's person, one read 0.55
    # from it alone, whose moves cancel, pass together; a newcomer's faces all 0.55 away do not
    box, img, a = _drawn_face()
    axis = np.random.default_rng(5).normal(size=a.size)
    axis -= float(axis @ a) * a  # a direction away from the face
    axis /= np.linalg.norm(axis)
    emb = _Noisy({1: 0.55 * axis, 2: 0.55 * axis, 3: -0.25 * axis, 4: -0.25 * axis, 5: 0.55 * axis})

    def look(k: int, side: int = SIDE) -> FrameFaces:
        return FrameFaces(emb, img, np.array([[100, 100, 100 + side, 100 + side]], np.float32), k)

    def track() -> Track:
        return Track(0, BoxKalman(box[0], TrackerParams()), 0.0, 0.0, True, box[0], {}, 0.0, gallery=[a])

    first = look(1).embedding(0)
    assert first is not None and identity_distance(first, a) > 0.5  # the refused face, read alone
    t, kept, verdicts = track(), (first,), []
    for k, side in ((2, 20), (3, SIDE), (4, SIDE)):  # frame 2: a 20-px box, not read
        verdict, kept = gallery.read_again(kept, 0, t, look(k, side))
        verdicts.append(verdict)
    assert verdicts == [None, None, True] and len(kept) == AGAIN_FACES
    t, kept = track(), (first,)
    for k in (5, 5):
        verdict, kept = gallery.read_again(kept, 0, t, look(k))
    assert verdict is False and len(kept) == AGAIN_FACES
    assert identity_distance(np.mean(kept, axis=0), a) > AGAIN_MAX_DISTANCE


def test_an_again_look_leaves_out_faces_cut_by_something_in_front() -> None:
    # a box under NARROW_SHARE of the track's width over height (a face coming out from behind a
    # post) is not read; the whole faces after it are
    box, img, a = _drawn_face()
    t = Track(0, BoxKalman(box[0], TrackerParams()), 0.0, 0.0, True, box[0], {}, 0.0, gallery=[a], aspect=1.0)
    t.kf.x[4] = 5.0  # walking sideways at 5 px a frame
    cut = np.array([[120, 100, 100 + SIDE, 100 + SIDE]], np.float32)  # the right 40 px in view
    kept: tuple[np.ndarray, ...] = ()
    verdict, kept = gallery.read_again(kept, 0, t, FrameFaces(PatternEmbedder(), img, cut, 1))
    assert verdict is None and kept == ()
    for k in (2, 3, 4):
        verdict, kept = gallery.read_again(kept, 0, t, FrameFaces(PatternEmbedder(), img, box, k))
    assert verdict is True and len(kept) == AGAIN_FACES
    for still in (True, False):  # a track that does not walk, or has no whole face yet: not cut
        t.kf.x[4], t.aspect = (0.0, 1.0) if still else (5.0, None)
        verdict, kept = gallery.read_again((), 0, t, FrameFaces(PatternEmbedder(), img, cut, 5))
        assert verdict is None and len(kept) == 1
