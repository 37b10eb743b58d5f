"""The identity veto's limit follows the camera's people (``gallery.Cohort``): scripted counters where
people step up one after another into one spot, and the descriptor sees them as alike as dlib's sees
one population's look-alikes (UTKFace's Asian adults: a median 0.65 from each other, a look-alike
under 0.5 in a quarter of cases; docs/BENCHMARKS.md, forty-first session) or as apart as the mix."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.tracking.gallery import COHORT_MIN, Cohort
from facelog.pipeline.tracking.identity import FacePatch, FrameFaces
from facelog.pipeline.tracking.kalman import BoxKalman
from facelog.pipeline.tracking.track import Track, TrackerParams
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drawn_faces import PatternEmbedder, face_texture  # the tracker tests' drawn faces

SIDE = 64
PEOPLE = 30  # who step up before the last one: enough to fill the cohort past COHORT_MIN
LAST = PEOPLE - 1


def _world(median: float, leaver: float, seed: int = 0, last: int = LAST) -> dict[int, np.ndarray]:
    """Descriptors of people 0..last - 1 and of person 99 (the last to step up), each in a direction
    of its own from 99's: person last - 1 (who steps up just before 99) ``leaver`` from it, the others
    at distances from it of this ``median`` and dlib's spread (a sd of 0.085; between themselves
    about 1.4 times that median apart)."""
    far = np.random.default_rng(seed).normal(median, 0.085, last - 1)
    axes = np.eye(last + 1, dtype=np.float32)
    vecs = {k: axes[last] + far[k] * axes[k] for k in range(last - 1)}
    vecs[last - 1] = axes[last] + leaver * axes[last - 1]
    vecs[99] = axes[last]
    return vecs


def _beside(v: np.ndarray, distance: float, seed: int = 1) -> np.ndarray:
    """A descriptor ``distance`` from ``v`` in a random direction (the same face read a little off)."""
    u = np.random.default_rng(seed).normal(size=v.shape)
    return np.asarray(v + distance * u / np.linalg.norm(u), np.float32)


class _Keyed(PatternEmbedder):
    """Each drawn person's face read as the descriptor ``vecs[person]``."""

    def __init__(self, vecs: dict[int, np.ndarray]) -> None:
        super().__init__()
        self.vecs = vecs
        drawn = {p: FacePatch(face_texture(p, SIDE), (0, 0, SIDE, SIDE), 0) for p in vecs}
        self.refs = {p: PatternEmbedder.embed(self, patch) for p, patch in drawn.items()}

    def embed(self, patch: FacePatch) -> np.ndarray | None:
        v = super().embed(patch)
        assert v is not None
        return self.vecs[max(self.refs, key=lambda p: float(v @ self.refs[p]))]


def _counter(emb: _Keyed, params: TrackerParams | None = None, last: int = LAST) -> tuple[int, list[int]]:
    """People 0..last - 1 step up into one spot for 8 frames each, one the frame after the other left
    (no body below the face, no model embedding), then person 99 for 10 frames: the id of person
    last - 1's frames and the ids of person 99's."""
    t = Tracker(params)
    order = [*range(last), 99]
    ids = []
    for k in range(8 * last + 10):
        person = order[min(k // 8, last)]
        img = np.full((240, 400, 3), 100, np.uint8)
        img[88:152, 168:232] = face_texture(person, SIDE)
        xyxy = np.array([[168, 88, 232, 152]], np.float32)
        step = t.update(k, xyxy, np.array([0.9], np.float32), None, None, None, FrameFaces(emb, img, xyxy, k))
        ids.append(int(step.track_ids[0]))
    left = set(ids[8 * (last - 1) : 8 * last])
    assert len(left) == 1
    return left.pop(), ids[8 * last :]


def _track(k: int, descriptor: np.ndarray) -> Track:
    """Track ``k`` whose gallery holds ``descriptor``."""
    box = np.array([0, 0, SIDE, SIDE], np.float64)
    return Track(k, BoxKalman(box, TrackerParams()), 0.0, 0.0, True, box, {}, 0.0, gallery=[descriptor])


def test_where_the_cameras_people_look_alike_a_look_alike_newcomer_gets_a_new_id() -> None:
    vecs = _world(0.65, 0.48)  # the newcomer reads 0.48 from who just left: under the fixed limit 0.5
    cohort = Cohort()
    for k in range(LAST):
        cohort.offer(_track(k, vecs[k]))
    assert cohort.limit(vecs[99], LAST - 1, 2.5) < 0.48  # ...and the camera's people are about as close
    left, ids = _counter(_Keyed(vecs))
    assert len(set(ids)) == 1 and ids[0] != left  # a new id, kept (the again look does not give it back)
    left, ids = _counter(_Keyed(vecs), TrackerParams(identity_cohort_z=0))
    assert set(ids) == {left}, "without the cohort the fixed limit 0.5 passes the look-alike"


def test_a_look_alike_among_the_cameras_first_ten_people_gets_a_new_id() -> None:
    """The cohort acts from ``COHORT_MIN`` (8) other people on: the tenth to step up, a look-alike 0.48
    from the ninth among people a median 0.6 apart (the limit from nine of them: 0.45), gets a new id
    (16 were needed before the forty-second session: the fixed limit merged it)."""
    vecs = _world(0.6, 0.48, last=10)
    cohort = Cohort()
    for k in range(9):
        cohort.offer(_track(k, vecs[k]))
    assert cohort.limit(vecs[99], 9, 2.5) < 0.48
    left, ids = _counter(_Keyed(vecs), last=10)
    assert len(set(ids)) == 1 and ids[0] != left


def test_the_same_face_read_a_little_off_keeps_its_id_among_look_alikes() -> None:
    left, ids = _counter(_Keyed(_world(0.65, 0.25)))  # a poor frame of the person who is there
    assert set(ids) == {left}


def test_where_the_cameras_people_differ_the_fixed_limit_decides() -> None:
    left, ids = _counter(_Keyed(_world(0.85, 0.46)))
    assert set(ids) == {left}  # as before: under 0.5 passes (the mix's look-alikes are rarely this close)
    left, ids = _counter(_Keyed(_world(0.85, 0.55)))
    assert len(set(ids)) == 1 and ids[0] != left


def test_the_cohort_needs_enough_people_and_leaves_out_the_track_asked_about() -> None:
    vecs = _world(0.65, 0.46)
    cohort = Cohort()
    face = _beside(vecs[0], 0.3)
    for k in range(COHORT_MIN):
        assert cohort.limit(face, -1, 2.5) == np.inf  # too few to say how alike they are
        t = _track(k, vecs[k])
        cohort.offer(t)
        cohort.offer(t)  # once per track
    assert len(cohort) == COHORT_MIN
    assert cohort.limit(face, -1, 2.5) < np.inf
    assert cohort.limit(face, 0, 2.5) == np.inf  # the track's own face is not one of the others
    assert cohort.limit(face, -1, 0.0) == np.inf  # z 0: off
    assert cohort.limit(face, -1, 3.0) < cohort.limit(face, -1, 2.0)


@pytest.mark.parametrize("z", [-1.0, 11.0])
def test_the_cohort_z_is_checked(z: float) -> None:
    with pytest.raises(ValueError, match="identity_cohort_z"):
        TrackerParams(identity_cohort_z=z)
