"""Pieces of one person joined after the fact (``tracking/join.py``): a walker the tracker split into
two tracks is one person, with the earlier piece's frame rows under the person's id; a different face
where the walker went, or the same face somewhere its walk did not lead, stays apart. Drawn faces and
their small real identity (drawn_faces.py); no ../shared. The frame rows: test_left_out_rows.py."""

from __future__ import annotations

import logging
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.identity import IDENTITY_DIM, FacePatch, KeptFaces
from facelog.pipeline.tracking.join import (
    Relation,
    continues,
    hands_over,
    inside_gap,
    join_limit,
)
from facelog.pipeline.tracking.persons import FaceOutputs, PersonTracks
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drawn_faces import PatternEmbedder, face_texture  # the tracker tests' drawn faces

H, W, SIDE, FPS = 360, 720, 60, 25
STEP_NS = 1_000_000_000 // FPS


class _Embedder(PatternEmbedder):
    """The drawn face's identity padded to the descriptor's 128 numbers (the gender reading's input)."""

    def embed(self, patch: FacePatch) -> np.ndarray | None:
        v = super().embed(patch)
        return None if v is None else np.pad(v, (0, IDENTITY_DIM - len(v)))


def _walk(
    second_face: int,
    second_x0: int | None = None,
    second_age: int = 30,
    stay: int = 0,
    frames: int | None = None,
) -> tuple[list[PersonResult], PersonTracks]:
    """A walker (drawn face 1) goes right at 4 px a frame for 30 frames, is hidden for 20 (longer
    than ``max_lost_frames``: only a model embedding could find it again, and this model has none),
    then a face (``second_face``) walks on for 30 frames from where the walk led (or from
    ``second_x0``), read ``second_age`` years old (the first: 30), and stands there ``stay`` frames
    more. The persons reported over the first ``frames`` frames (None: all, and at the end of input),
    and the tracks."""
    cfg = TrackingConfig(use_embedding=False, use_body=False, use_identity=False, frontal_check=False)
    tracks = PersonTracks("cam", cfg, FusionParams(), embedder=_Embedder())
    persons: list[PersonResult] = []
    total = 80 + stay
    for k in range(total if frames is None else frames):
        img = np.full((H, W, 3), 90, np.uint8)
        boxes = []
        if k < 30 or k >= 50:
            j = min(k, 79)  # where it stands once it stopped
            x0 = 40 + 4 * j if k < 30 or second_x0 is None else second_x0 + 4 * (j - 50)
            img[100 : 100 + SIDE, x0 : x0 + SIDE] = face_texture(1 if k < 30 else second_face, SIDE)
            boxes.append([x0, 100, x0 + SIDE, 100 + SIDE])
        n = len(boxes)
        xyxy = np.array(boxes, np.float32).reshape(-1, 4)
        faces = Faces(xyxy, np.full(n, 0.9, np.float32), None, np.zeros(n, bool))
        age = np.zeros((n, 101), np.float32)
        age[:, 30 if k < 30 else second_age] = 1.0
        preds = tuple(Prediction(i, tuple(map(float, xyxy[i])), 0.9, 30.0, "male", 0.8) for i in range(n))
        out = FaceOutputs(age, np.full(n, 0.2, np.float32))
        persons += tracks.update(Frame("cam", k, k * STEP_NS, img), faces, out, preds)[1]
    return (persons + list(tracks.finish()) if frames is None else persons), tracks


def test_a_walker_split_in_two_is_one_person_with_its_earlier_piece() -> None:
    persons, _ = _walk(second_face=1)
    assert len(persons) == 1, persons
    p = persons[0]
    assert len(p.pieces) == 1 and p.pieces[0] != p.track_id
    assert (p.first_frame, p.last_frame, p.frames) == (0, 79, 60)
    assert p.status == "person"


def test_a_different_face_where_the_walker_went_stays_another_person() -> None:
    persons, _ = _walk(second_face=2)
    assert len(persons) == 2 and all(p.pieces == () for p in persons)


def test_the_same_face_read_decades_older_stays_another_person() -> None:
    # the descriptor alone would join them (test above); the age/gender model reads 30 and 60
    persons, _ = _walk(second_face=1, second_age=60)
    assert len(persons) == 2 and all(p.pieces == () for p in persons)
    assert len(_walk(second_face=1, second_age=45)[0]) == 1  # 15 years apart: joined


def test_the_same_face_where_the_walk_did_not_lead_stays_another_person() -> None:
    # the walk led the face's centre to x = 270 at frame 50 (its last seen at 186); this one comes in
    # at 510, over 5 face sizes on
    persons, _ = _walk(second_face=1, second_x0=480)
    assert len(persons) == 2 and all(p.pieces == () for p in persons)


def test_a_track_that_took_in_a_piece_is_reported_if_it_gives_its_face_back() -> None:
    """A young track whose face went back to an older one is not a person (``given_back``), but one
    that took in an ended piece first is: dropping it would lose that piece's person too. The tracker
    gives a face back only where a second look finds it an older track's, which these drawn walkers
    do not script: the end is called as the tracker would call it."""
    # the first piece ends (lost past its walk's re-identification window) while the second stands
    persons, tracks = _walk(second_face=1, stay=200, frames=260)
    assert persons == [] and tracks.dropped["joined"] == 1  # taken in, nothing reported yet
    (tid,) = [t for t, p in tracks._live.items() if p.pieces]
    reported = tracks._end((tid,), given_back=(tid,))
    assert [(p.track_id, len(p.pieces)) for p in reported] == [(tid, 1)]
    assert tracks.dropped["given_back"] == 0 and tracks.dropped["joined"] == 1
    # one that took in nothing is dropped as before
    _, plain = _walk(second_face=2, stay=200, frames=260)
    young = max(plain._live)
    assert plain._end((young,), given_back=(young,)) == () and plain.dropped["given_back"] == 1


def test_continues_follows_the_walk_and_its_size() -> None:
    # a walker at 100 px a second (4 px a frame at 25 fps), 40-px faces; rows: pts_ns, x, y, size
    ended = np.array([[k * STEP_NS, 100 + 4 * k, 200, 40] for k in range(25)], np.float64)
    later = 24 + 25  # one second after its last face
    assert continues(ended, np.array([later * STEP_NS, 100 + 4 * later, 200, 40]))
    assert continues(ended, np.array([later * STEP_NS, 196, 200, 40]))  # it stopped where it was seen
    assert not continues(ended, np.array([later * STEP_NS, 100 + 4 * later + 150, 200, 40]))  # too far on
    assert not continues(ended, np.array([later * STEP_NS, 100 + 4 * later, 200, 80]))  # twice the size


def test_a_piece_whose_faces_fill_gaps_of_a_track_is_inside_them() -> None:
    # one walker at 4 px a frame, 40-px faces; the track holds frames 0-9, 12-14 and 18-30, the piece
    # 10-11 and 15-17 (a face handed back and forth); rows: pts_ns, x, y, size
    def rows(frames: list[int], dx: float = 0.0) -> np.ndarray:
        return np.array([[k * STEP_NS, 100 + 4 * k + dx, 200, 40] for k in frames], np.float64)

    track = rows([*range(10), 12, 13, 14, *range(18, 31)])
    piece = [10, 11, 15, 16, 17]
    assert inside_gap(track, rows(piece))
    assert not inside_gap(track, rows([*piece, 20]))  # a face at a time the track had one: beside it
    assert not inside_gap(track, rows([*piece, 31]))  # goes on after the track's last face
    assert not inside_gap(track, rows([-1, *piece]))  # began before it
    assert not inside_gap(track, rows(piece, dx=200))  # 5 face sizes off the walk: someone else
    assert not inside_gap(rows(list(range(10))), rows([12]))  # the track has no face after it


def test_a_track_born_in_the_gaps_of_one_that_ended_took_it_over() -> None:
    # one walker at 4 px a frame, 40-px faces; the ended track holds frames 0-9 and 12-14, the live
    # one 10-11 (the face handed to it) and 15-30 (kept); rows: pts_ns, x, y, size
    def rows(frames: list[int], dx: float = 0.0) -> np.ndarray:
        return np.array([[k * STEP_NS, 100 + 4 * k + dx, 200, 40] for k in frames], np.float64)

    ended = rows([*range(10), 12, 13, 14])
    live = [10, 11, *range(15, 31)]
    assert hands_over(ended, rows(live))
    assert not hands_over(ended, rows([*live, 13]))  # a face at a time the ended track had one
    assert not hands_over(ended, rows([10, 11]))  # did not go on after it: ``inside_gap``'s case
    assert not hands_over(ended, rows(list(range(15, 31))))  # born after it: ``continues``' case
    off = rows(live)
    off[off[:, 0] > 14 * STEP_NS, 1] += 200  # went on 5 face sizes off the walk: someone else
    assert not hands_over(ended, off)


def test_faces_that_alternated_on_one_walk_are_joined_at_the_trackers_own_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # where the two tracks' faces alternated (never two at a time) a join reads them at the tracker's
    # limit for one face; pieces one after the other at join_max_distance; never looser than that
    for how in (Relation.AROUND, Relation.TOOK_OVER):
        assert join_limit(how, 0.4, 0.5) == 0.5 and join_limit(how, 0.45, 0.3) == 0.45
    for how in (Relation.AFTER, Relation.BEFORE):
        assert join_limit(how, 0.4, 0.5) == 0.4
    # a walker split in two, one piece after the other: asked at join_max_distance
    with caplog.at_level(logging.DEBUG, logger="facelog.pipeline.tracking.persons"):
        _walk(second_face=1)
    asked = [r.getMessage() for r in caplog.records if "the same person?" in r.getMessage()]
    assert asked and all(f"({Relation.AFTER})" in m and m.endswith("(limit 0.40)") for m in asked), asked


def test_kept_faces_are_read_once_for_a_join_and_the_gender() -> None:
    """The join and the gender reading ask for the same kept faces' descriptors: each is computed once,
    and a piece taken in brings its own along."""
    embedder = _Embedder()
    mine, other = KeptFaces(), KeptFaces()
    for kept, person, t0 in ((mine, 1, 0), (other, 1, 10)):
        for k in range(3):
            face = FacePatch(face_texture(person, SIDE), (0.0, 0.0, float(SIDE), float(SIDE)), t0 + k)
            kept.offer(3, 1, t0 + 1.0 + k, (t0 + k) * STEP_NS, partial(lambda f: f, face))
    assert len(mine.descriptors(embedder)) == 3 and embedder.calls == 3
    assert len(mine.descriptors(embedder)) == 3 and embedder.calls == 3  # not again
    other.descriptors(embedder)
    mine.absorb(other, 3, 1)  # the better three of six: other's, read already
    assert [t for _, t, _ in mine.faces] == [t for _, t, _ in other.faces]
    assert len(mine.descriptors(embedder)) == 3 and embedder.calls == 6
