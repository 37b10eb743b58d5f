"""Faces that pass behind one another (``track.behind_nearer``, ``policy.gate``): the face behind
keeps its id when it comes out where it went in, its looks unknown while a nearer face covers it; a
track lost in the open is not taken by a covered face."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from facelog.pipeline.tracking.identity import FrameFaces
from facelog.pipeline.tracking.track import behind_nearer
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cue_vectors import D, near, unit  # the tracker tests' cue vectors
from drawn_faces import PatternEmbedder, face_texture  # the tracker tests' drawn faces


def _box(cx: float, cy: float, side: float) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_a_box_covered_by_a_larger_one_is_behind_it() -> None:
    small, big = _box(100, 100, 40), _box(140, 100, 80)  # big covers the right 20 px of small: half
    assert behind_nearer(np.array([small, big])).tolist() == [True, False]
    assert behind_nearer(np.array([_box(100, 100, 40), _box(170, 100, 80)])).tolist() == [False, False]
    assert behind_nearer(np.array([_box(100, 100, 40), _box(116, 100, 40)])).tolist() == [True, True]
    assert behind_nearer(np.array([small])).tolist() == [False]
    # a sliver (under HIDDEN_SHARE of the small box) is not a face behind someone
    assert behind_nearer(np.array([_box(100, 100, 40), _box(178, 100, 80)])).tolist() == [False, False]


def _crossing(rng: np.random.Generator, occluder: bool) -> list[int]:
    """A (40 px) walks right at 3 px a frame, B (80 px) walks left; A is covered at frame 58 (its
    embedding a mix of both faces while its box overlaps B's), not detected for frames 59-74 (16 > 10
    frames: past ``max_lost_frames``), covered again at 75, clean from 76. Without ``occluder`` B
    is left out of frames 59-74, where A vanished: A was lost in the open. Returns A's ids."""
    a, b = unit(rng), unit(rng)
    t = Tracker()
    ids = []
    for k in range(100):
        boxes, embs = [], []
        ax, bx = 100 + 3 * k, 500 - 3 * k
        if not 59 <= k <= 74:
            boxes.append(_box(ax, 300, 40))
            covered = k in (58, 75)  # boxes overlapping by 8 and 10 px: a fifth and a quarter of A
            embs.append(near(a, 0.3, rng) if covered else near(a, 0.02, rng))
        if occluder or not 59 <= k <= 76:
            boxes.append(_box(bx, 300, 80))
            embs.append(near(b, 0.02, rng))
        step = t.update(k, np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32),
                        np.array(embs, np.float32))  # fmt: skip
        if not 59 <= k <= 74:
            ids.append(int(step.track_ids[0]))
    return ids


def test_a_walker_who_passes_behind_a_nearer_one_keeps_its_id() -> None:
    ids = _crossing(np.random.default_rng(0), occluder=True)
    assert len(set(ids)) == 1, ids


def test_a_covered_face_does_not_take_a_track_lost_in_the_open() -> None:
    rng = np.random.default_rng(0)
    a, c = unit(rng), unit(rng)
    t = Tracker()
    ids = []
    for k in range(40):
        boxes, embs = [], []
        if k < 10:  # A walks and is lost in the open
            boxes.append(_box(100 + 3 * k, 300, 40))
            embs.append(near(a, 0.02, rng))
        if k == 24:  # someone else, half behind C, where A's path would be (looks unknown)
            boxes += [_box(172, 300, 40), _box(205, 300, 80)]
            embs += [near(c, 0.3, rng), near(c, 0.02, rng)]
        step = t.update(k, np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32),
                        np.array(embs, np.float32).reshape(-1, D))  # fmt: skip
        if boxes:
            ids.append(int(step.track_ids[0]))
    assert ids[-1] != ids[0]


def _out_from_behind_a_body(
    rng: np.random.Generator, same: bool, alike: bool = False, mixed: bool = False
) -> tuple[list[int], list[int]]:
    """A (60 px) walks right at 4 px a frame and is not detected for frames 20-27 (behind a nearer
    body: no face box covers it); its first face out (frame 28) is 0.25 from A's in the model
    embedding, at frame 29 0.12, from frame 30 A's again (``same``; or all three a newcomer's:
    another face for the descriptor, ``drawn_faces``), its clothes A's (or the newcomer's)
    throughout; ``alike``: the newcomer has A's model embedding (a look-alike for the age/gender
    model); ``mixed``: the faces of frames 28 and 29 are half covered by the body in front (the
    descriptor reads them far from the whole face). Returns the ids of the face at frame 19 and from
    frame 28 on, and the tracks given back."""
    a, other, body_a, body_other = unit(rng), unit(rng), unit(rng), unit(rng)
    embedder = PatternEmbedder()
    t = Tracker()
    ids, back = [], []
    for k in range(40):
        if 20 <= k <= 27:
            t.update(k, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, D), np.float32),
                     np.zeros((0, D), np.float32))  # fmt: skip
            continue
        him = same or k < 20
        emb = near(a if him or alike else other, 0.25 if k == 28 else 0.12 if k == 29 else 0.02, rng)
        body = near(body_a if him else body_other, 0.02, rng)
        box = np.array([_box(100 + 4 * k, 300, 60)], np.float32)
        img = np.full((480, 640, 3), 100, np.uint8)
        x0, y0 = (round(v) for v in box[0, :2])
        img[y0 : y0 + 60, x0 : x0 + 60] = face_texture(1 if him else 2, 60)
        if mixed and k in (28, 29):
            img[y0 + 30 : y0 + 60, x0 : x0 + 60] = 60  # the lower half behind a dark coat
        step = t.update(k, box, np.full(1, 0.9, np.float32), np.array([emb], np.float32),
                        np.array([body], np.float32), None, FrameFaces(embedder, img, box, k))  # fmt: skip
        if k >= 19:
            ids.append(int(step.track_ids[0]))
        back += step.given_back
    return ids, back


def test_a_walker_out_from_behind_a_body_gets_its_id_back() -> None:
    ids, back = _out_from_behind_a_body(np.random.default_rng(1), same=True)
    # the first face out starts a track; at the next, whole, face the descriptor alone reads it A's
    # (the model embedding still 0.12 away) and gives it back to A's track; the young track ends as
    # given back (not a person)
    assert ids[1] != ids[0] and set(ids[2:]) == {ids[0]}, ids
    assert back == [ids[1]]


def test_a_walker_whose_first_faces_out_are_mixed_gets_its_id_back() -> None:
    ids, _ = _out_from_behind_a_body(np.random.default_rng(1), same=True, mixed=True)
    # the mixed faces start a track: the descriptor alone does not give them back (it reads them far
    # from A's); the first whole face, whose model embedding is A's again, is A's
    assert ids[1] == ids[2] != ids[0] and set(ids[3:]) == {ids[0]}, ids


def test_a_newcomer_where_a_walker_went_out_of_sight_keeps_a_new_id() -> None:
    ids, back = _out_from_behind_a_body(np.random.default_rng(1), same=False)
    assert ids[0] not in ids[1:] and back == [], ids


def test_a_look_alike_newcomer_there_is_not_given_the_walkers_id() -> None:
    # the model embedding keeps the newcomer; the descriptor refuses: both must agree
    ids, back = _out_from_behind_a_body(np.random.default_rng(1), same=False, alike=True)
    assert ids[0] not in ids[1:] and back == [], ids


def test_a_walker_out_from_behind_another_keeps_its_id_when_the_other_refuses_it() -> None:
    # A (face 1) walks right and passes behind B (face 5), who walks left in front of it: A is not
    # detected for frames 20-27; at frame 28 B turns away (no longer detected) and A's face comes out
    # where B's track is predicted, over B's coat, its model embedding 0.25 from A's. B's track (the
    # coat vouches for the pair) asks the descriptor, which refuses A's face: it starts a track; A's
    # next faces are A's track's, not the young track's nor B's.
    rng = np.random.default_rng(2)
    a, b, body_a, body_b = unit(rng), unit(rng), unit(rng), unit(rng)
    embedder = PatternEmbedder()
    t = Tracker()
    ids: dict[int, int] = {}
    for k in range(36):
        boxes, embs, bodies, faces = [], [], [], []
        if k < 20 or k >= 28:
            boxes.append(_box(100 + 4 * k, 300, 60))
            embs.append(near(a, 0.25 if k == 28 else 0.12 if k == 29 else 0.02, rng))
            bodies.append(near(body_b if k == 28 else body_a, 0.02, rng))
            faces.append(1)
        if 10 <= k < 28:
            boxes.append(_box(212 + 4 * (28 - k), 300, 60))
            embs.append(near(b, 0.02, rng))
            bodies.append(near(body_b, 0.02, rng))
            faces.append(5)
        box = np.array(boxes, np.float32).reshape(-1, 4)
        img = np.full((480, 640, 3), 100, np.uint8)
        for (x0, y0, _, _), face in zip(box.round().astype(int), faces, strict=True):
            img[y0 : y0 + 60, x0 : x0 + 60] = face_texture(face, 60)
        step = t.update(k, box, np.full(len(box), 0.9, np.float32), np.array(embs, np.float32),
                        np.array(bodies, np.float32), None, FrameFaces(embedder, img, box, k))  # fmt: skip
        if k == 19 or k >= 28:
            ids[k] = int(step.track_ids[0])
        if k == 27:
            b_id = int(step.track_ids[0])  # only B is seen
    assert ids[28] not in (ids[19], b_id) and all(ids[k] == ids[19] for k in range(29, 36)), ids


POST = (300, 380)  # columns a post hides


def _behind_a_post(speed: float) -> list[int]:
    """A 60-px face walks right at ``speed`` px a frame behind a post (``POST``). Its box is the part
    in view, as a detector's: detected while 40% of the face shows, so going in its far edge stays at
    the post and coming out its near edge does; lost in between for longer than ``max_lost_frames``.
    Its model embedding stays its own. Returns its ids."""
    rng = np.random.default_rng(5)
    a = unit(rng)
    t = Tracker()
    ids = []
    for k in range(int(400 / speed)):
        x1 = 150 + speed * k
        vx1, vx2 = (x1, min(x1 + 60, POST[0])) if x1 < POST[0] else (max(x1, POST[1]), x1 + 60)
        boxes = (
            np.array([[vx1, 300, vx2, 360]], np.float32) if vx2 - vx1 >= 24 else np.zeros((0, 4), np.float32)
        )
        step = t.update(
            k,
            boxes,
            np.full(len(boxes), 0.9, np.float32),
            np.array([near(a, 0.02, rng)] * len(boxes), np.float32).reshape(-1, D),
        )
        ids += step.track_ids.tolist()
    return ids


def test_a_walker_who_passes_behind_a_post_keeps_its_id() -> None:
    # read as they are, the cut boxes going in (far edge held at the post) slow the Kalman filter
    # down and shrink it, and the face coming out is out of its reach; the whole face they imply
    # (``track.whole_box``) keeps the prediction with the walker
    for speed in (4.0, 6.0):
        ids = _behind_a_post(speed)
        assert len(set(ids)) == 1 and len(ids) > 40, (speed, ids)


def _out_from_behind_a_post(same: bool) -> tuple[list[int], list[int], list[int]]:
    """With the identity veto: A (drawn face 1, 60 px) walks right at 12 px a frame, is lost as it
    reaches the post (``POST``) and comes out 8 frames later, its box the part in view: 24, 36, 48
    px, then whole. Its model embedding is 0.3 from A's when 40% shows (the gate refuses it: its
    looks are not its own), comes back to A's as more shows, and is A's once whole. Or someone else
    (face 2) comes out, with their own embedding throughout. Returns the ids before the post, the
    ids after it, and the tracks given back."""
    rng = np.random.default_rng(6)
    a, other = unit(rng), unit(rng)
    cut_look = near(a, 0.3, rng)
    embedder = PatternEmbedder()
    t = Tracker()
    before: list[int] = []
    after: list[int] = []
    back: list[int] = []
    for k in range(36):
        x1 = 152 + 12 * k
        vx1, vx2 = (x1, x1 + 60) if x1 + 60 <= POST[0] else (max(x1, POST[1]), x1 + 60)
        img = np.full((480, 640, 3), 100, np.uint8)
        img[300:360, x1 : x1 + 60] = face_texture(1 if same or x1 < POST[0] else 2, 60)
        img[:, POST[0] : POST[1]] = 150
        seen = x1 + 60 <= POST[0] or (x1 >= POST[0] and vx2 - vx1 >= 24)
        boxes = np.array([[vx1, 300, vx2, 360]], np.float32) if seen else np.zeros((0, 4), np.float32)
        w = min(max((vx2 - vx1 - 24) / 36, 0.0), 1.0)  # 0 at 24 px in view, 1 whole
        look = (1 - w) * cut_look + w * a
        emb = near(look / np.linalg.norm(look), 0.01, rng) if same or x1 < POST[0] else near(other, 0.02, rng)
        step = t.update(k, boxes, np.full(len(boxes), 0.9, np.float32),
                        np.array([emb] * len(boxes), np.float32).reshape(-1, D), None, None,
                        FrameFaces(embedder, img, boxes, k))  # fmt: skip
        (before if x1 < POST[0] else after).extend(step.track_ids.tolist())
        back += step.given_back
    return before, after, back


def test_a_walker_out_from_behind_a_post_gets_its_id_back_at_its_first_whole_face() -> None:
    # its cut faces coming out start a track (the gate refuses their looks) held back from A's; the
    # look waits while the face is cut (its descriptor reads far from A's whole face: before, the
    # look ended after two such faces) and gives the first whole one back to A
    before, after, back = _out_from_behind_a_post(same=True)
    assert len(set(before)) == 1 and after[-1] == before[0] and len(back) == 1, (before, after)
    assert after.count(before[0]) >= len(after) - 3, after


def test_a_newcomer_out_from_behind_a_post_keeps_a_new_id() -> None:
    before, after, back = _out_from_behind_a_post(same=False)
    assert before[0] not in after and back == [], (before, after)
