"""Evidence before a person: low-score patches never become persons, low-score boxes keep a track
alive only briefly, and a face that never moves is ``static`` while a still person who turns the
head is a person. Also the body cue: unknown where the region below the face is the scene."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.tracking.appearance import BackgroundModel, body_histogram
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.persons import FaceOutputs, PersonTracks
from facelog.pipeline.tracking.static import StaticRule
from facelog.pipeline.tracking.track import TrackStep
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

H, W = 240, 320
FPS = 25
STEP_NS = 1_000_000_000 // FPS


def _tracks(**cfg: Any) -> PersonTracks:
    # blank frames, no face pixels: the frontal check (test_frontal.py) would call every track no_face;
    # drawn patterns, no faces: dlib's descriptor would join pieces of different looks (test_join.py)
    base: dict[str, Any] = {
        "use_identity": False, "use_body": False, "frontal_check": False, "join_max_distance": 0.0,
    }  # fmt: skip
    return PersonTracks("cam", TrackingConfig(**(base | cfg)), FusionParams())


def _landmarks(box: np.ndarray, turn: float) -> np.ndarray:
    """Five landmarks of a face in ``box``; ``turn`` in [-1, 1] moves the nose and mouth sideways."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2
    nose_dx = 0.18 * w * turn
    eyes = [(cx - 0.2 * w, y1 + 0.4 * h), (cx + 0.2 * w, y1 + 0.4 * h)]
    mouth = [(cx - 0.15 * w + nose_dx / 2, y1 + 0.75 * h), (cx + 0.15 * w + nose_dx / 2, y1 + 0.75 * h)]
    pts = [*eyes, (cx + nose_dx, y1 + 0.58 * h), *mouth]
    return np.array(pts, np.float32)


def _feed(
    tracks: PersonTracks, k: int, boxes: list[np.ndarray], scores: list[float], only: list[bool],
    turns: list[float] | None = None, step_ns: int = STEP_NS,
) -> tuple[tuple[Prediction, ...], tuple[PersonResult, ...]]:  # fmt: skip
    n = len(boxes)
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    lm = np.array([_landmarks(b, t) for b, t in zip(boxes, turns or [0.0] * n, strict=True)], np.float32)
    faces = Faces(xyxy, np.array(scores, np.float32), lm.reshape(-1, 5, 2), np.array(only, bool))
    age = np.zeros((n, 101), np.float32)
    age[:, 30] = 1.0
    out = FaceOutputs(age, np.full(n, 0.2, np.float32))
    preds = tuple(
        Prediction(i, tuple(float(v) for v in xyxy[i]), scores[i], 30.0, "male", 0.8) for i in range(n)
    )
    frame = Frame("cam", k, k * step_ns, np.full((H, W, 3), 100, np.uint8))
    return tracks.update(frame, faces, out, preds)


def _run(tracks: PersonTracks, frames: int, make: Any) -> list[PersonResult]:
    persons: list[PersonResult] = []
    for k in range(frames):
        persons += _feed(tracks, k, *make(k))[1]
    return persons + list(tracks.finish())


def test_a_low_score_patch_never_becomes_a_person() -> None:
    """A background patch scoring 0.50-0.51 twice, then only in the low-score band: not a person, and
    the low-score boxes stop continuing it after ``max_low_score_frames``."""
    t = _tracks()
    box = np.array([100, 100, 130, 136], np.float32)
    logged = []

    def make(k: int) -> tuple[list[np.ndarray], list[float], list[bool]]:
        return [box], [0.51 if k < 2 else 0.35], [k >= 2]

    persons: list[PersonResult] = []
    for k in range(200):
        preds, ended = _feed(t, k, *make(k))
        logged.append(len(preds))
        persons += ended
    persons += t.finish()
    assert persons == []
    assert t.dropped["low_evidence"] == 1
    limit = t.tracker.params.max_low_score_frames
    assert sum(logged) <= limit + 2  # not logged for 200 frames


def test_a_person_needs_faces_over_min_evidence_s() -> None:
    """A walker seen in 5 frames (0.16 s at 25 fps) is no person, in 6 (0.2 s) one; sampled at 10 fps
    (an archive) 3 frames span 0.2 s: a person, as before the span rule; so are 3 frames without
    timestamps."""

    def walker(frames: int, step_ns: int = STEP_NS) -> tuple[list[PersonResult], PersonTracks]:
        t = _tracks()
        persons: list[PersonResult] = []
        for k in range(frames):
            box = np.array([20 + 4 * k, 100, 60 + 4 * k, 150], np.float32)
            persons += _feed(t, k, [box], [0.9], [False], step_ns=step_ns)[1]
        return persons + list(t.finish()), t

    persons, t = walker(5)
    assert persons == [] and t.dropped["low_evidence"] == 1
    assert [p.status for p in walker(6)[0]] == ["person"]
    assert [p.status for p in walker(3, step_ns=100_000_000)[0]] == ["person"]
    # frames without timestamps (every pts 0): the span is unknown and only the detections count
    assert [p.status for p in walker(3, step_ns=0)[0]] == ["person"]


def test_a_real_face_at_a_good_score_is_a_person() -> None:
    t = _tracks()
    persons = _run(
        t, 30, lambda k: ([np.array([20 + 4 * k, 100, 60 + 4 * k, 150], np.float32)], [0.9], [False])
    )
    assert [p.status for p in persons] == ["person"] and not t.dropped


def test_a_track_whose_face_went_back_to_an_older_track_is_not_a_person() -> None:
    # the tracker's second look ends such a track (tests/pipeline/test_tracker_occlusion.py); here the
    # tracker's step is the one fact injected: a 5-frame track ends as given back
    t = _tracks()
    for k in range(5):
        _feed(t, k, [np.array([20 + 4 * k, 100, 60 + 4 * k, 150], np.float32)], [0.9], [False])
    update = t.tracker.update

    def given_back(*args: Any, **kwargs: Any) -> TrackStep:
        step = update(*args, **kwargs)
        return replace(step, ended=(*step.ended, 0), given_back=(0,))

    t.tracker.update = given_back  # type: ignore[method-assign]
    ended = _feed(t, 5, [], [], [])[1]
    assert ended == () and t.dropped["given_back"] == 1 and not t.finish()


def test_a_still_face_becomes_static_a_still_person_who_turns_the_head_does_not() -> None:
    box = np.array([100, 80, 160, 154], np.float32)
    rng = np.random.default_rng(0)
    jitter = lambda: rng.normal(0, 0.4, 4).astype(np.float32)  # noqa: E731 - detector jitter, < 1 px
    frames = 15 * FPS
    poster = _tracks()
    persons = _run(poster, frames, lambda k: ([box + jitter()], [0.9], [False]))
    assert [p.status for p in persons] == ["static"] and poster.static == 1
    clerk = _tracks()  # same box, but the head turns now and then (a person at a counter)
    persons = _run(clerk, frames, lambda k: ([box + jitter()], [0.9], [False], [0.6 * np.sin(k / 20)]))
    assert [p.status for p in persons] == ["person"] and clerk.static == 0
    swaying = _tracks()  # a person who stands still but sways a little (5% of the face width)
    persons = _run(
        swaying,
        frames,
        lambda k: ([box + jitter() + 3 * np.sin(k / 15) * np.array([1, 0, 1, 0])], [0.9], [False]),
    )
    assert [p.status for p in persons] == ["person"]


def test_a_small_still_face_whose_box_wanders_under_a_pixel_is_static() -> None:
    """A 24-px printed face (a 480x270 camera) whose box drifts 0.87 px over seconds (0.034 face sizes,
    over static_max_motion 0.03): static, since a box cannot tell less than a pixel; a 24-px person
    swaying 1.3 px (5%) is a person."""
    box = np.array([100, 80, 124, 108], np.float32)
    rng = np.random.default_rng(0)
    frames = 15 * FPS

    def drift(k: int, amp: float) -> np.ndarray:
        return (
            box
            + rng.normal(0, 0.3, 4).astype(np.float32)
            + amp * np.sin(2 * np.pi * k / (7 * FPS)) * np.array([0, 1, 0, 1], np.float32)
        )

    poster = _tracks()
    assert [p.status for p in _run(poster, frames, lambda k: ([drift(k, 0.5)], [0.9], [False]))] == ["static"]
    person = _tracks()
    assert [p.status for p in _run(person, frames, lambda k: ([drift(k, 0.75)], [0.9], [False]))] == [
        "person"
    ]


def test_a_short_still_track_is_not_static() -> None:
    t = _tracks()
    box = np.array([100, 80, 160, 154], np.float32)
    persons = _run(t, 3 * FPS, lambda k: ([box], [0.9], [False]))
    assert [p.status for p in persons] == ["person"]


def test_body_region_that_looks_like_the_scene_is_unknown() -> None:
    scene = np.full((H, W, 3), 90, np.uint8)
    scene[:, :, 1] = np.linspace(40, 200, W).astype(np.uint8)[None, :]
    bg = BackgroundModel()
    box = np.array([[130, 40, 170, 90]], np.float32)
    bg.update(scene, np.zeros((0, 4)))
    for _ in range(3):
        bg.update(scene, box)
    face_only = scene.copy()
    face_only[40:90, 130:170] = (150, 160, 200)
    assert not body_histogram(face_only, box, bg).any()  # below the face: the scene, as without anyone
    assert body_histogram(face_only, box).any()  # without the scene model it would count as a body
    dressed = face_only.copy()
    dressed[105:190, 100:200] = (30, 30, 160)
    assert body_histogram(dressed, box, bg).any()


def _pattern(look: int, side: int) -> np.ndarray:
    rng = np.random.default_rng(look)
    coarse = rng.integers(30, 230, (6, 6, 3)).astype(np.uint8)
    return np.asarray(cv2.resize(coarse, (side, side), interpolation=cv2.INTER_NEAREST))


def _pieces(
    looks: list[int | None], jitter: float, seed: int = 0, faint: list[bool] | None = None, cut: int = 0
) -> list[PersonResult]:
    """One spot, one second per entry of ``looks``: the face of that look (None: hidden, e.g. by a
    walker, long enough to end its track) with its box centre moving by up to ``jitter`` face sizes;
    scored 0.9, or where ``faint`` says so 0.5 (0.65 every third frame: enough evidence). The last
    ``cut`` frames before it is hidden, a walker covers its right third: the box is that much narrower."""
    t = _tracks(max_lost_frames=5, reid_frames=0)
    rng = np.random.default_rng(seed)
    side, persons = 40, []
    for k in range(len(looks) * FPS):
        look = looks[k // FPS]
        img = np.full((H, W, 3), 100, np.uint8)
        boxes: list[np.ndarray] = []
        if look is not None:
            dx, dy = (rng.uniform(-jitter, jitter, 2) * side).round()
            x0, y0 = int(140 + dx), int(100 + dy)
            img[y0 : y0 + side, x0 : x0 + side] = _pattern(look, side)
            hidden_next = k // FPS + 1 < len(looks) and looks[k // FPS + 1] is None
            width = side
            if hidden_next and k % FPS >= FPS - cut:
                width = side * 2 // 3
                img[y0 : y0 + side, x0 + width : x0 + side] = 200  # the walker in front
            boxes = [np.array([x0, y0, x0 + width, y0 + side], np.float32)]
        n = len(boxes)
        score = (0.65 if k % 3 == 0 else 0.5) if faint and faint[k // FPS] else 0.9
        xyxy = np.array(boxes, np.float32).reshape(-1, 4)
        lm = np.array([_landmarks(b, 0.0) for b in boxes], np.float32).reshape(-1, 5, 2)
        faces = Faces(xyxy, np.full(n, score, np.float32), lm, np.zeros(n, bool))
        age = np.zeros((n, 101), np.float32)
        age[:, 30] = 1.0
        out = FaceOutputs(age, np.full(n, 0.2, np.float32))
        preds = tuple(Prediction(i, tuple(map(float, xyxy[i])), score, 30.0, "male", 0.8) for i in range(n))
        persons += t.update(Frame("cam", k, k * STEP_NS, img), faces, out, preds)[1]
    return persons + list(t.finish())


def test_a_still_pattern_hidden_now_and_then_is_static_in_every_piece() -> None:
    """Four 3-s pieces of one still pattern (each shorter than static_after_s): together 12 s."""
    looks: list[int | None] = [7, 7, 7, None, 7, 7, 7, None, 7, 7, 7, None, 7, 7, 7]
    persons = _pieces(looks, jitter=0.01)
    assert len(persons) == 4 and {p.status for p in persons} == {"static"}


def test_a_still_pattern_whose_box_a_walker_cuts_before_hiding_it_is_static() -> None:
    """As above, but in the last 8 frames before each hiding a walker covers a third of the pattern
    (poster720 s2): those boxes are narrower and their centre is off; the still test leaves them out.
    A person who sways is still a person when cut the same way."""
    looks: list[int | None] = [7, 7, 7, None, 7, 7, 7, None, 7, 7, 7, None, 7, 7, 7]
    persons = _pieces(looks, jitter=0.01, cut=8)
    assert len(persons) == 4 and {p.status for p in persons} == {"static"}
    persons = _pieces([5, 5, 5, None, 5, 5, 5, None, 5, 5, 5, None, 5, 5, 5], jitter=0.12, cut=8)
    assert len(persons) == 4 and {p.status for p in persons} == {"person"}


def test_the_still_test_takes_two_boxes_far_apart_in_size() -> None:
    """Two boxes of 50 and 100 px, a second apart: their median (75) is within 15% of neither, so none
    is left out as cut (leaving out both left nothing to test)."""
    rows = np.array(
        [[0, 100, 100, 50, np.nan, np.nan, 0.9], [30 * STEP_NS, 100, 100, 100, np.nan, np.nan, 0.9]]
    )
    assert StaticRule("cam", 10.0, 0.03)._still(rows) is False  # the size moved: not still


def test_a_pattern_seen_partly_faint_is_static_in_its_clear_pieces_too() -> None:
    """A still pattern scoring about the faint limit (textures720 s0): a 3-s piece scores 0.9, the
    three later pieces score 0.5. The faint ones are static by themselves; their time at the spot
    (12 s in all) proves the spot static, so the clear piece is static too, not a 3-s person."""
    looks: list[int | None] = [7, 7, 7, None, 7, 7, 7, None, 7, 7, 7, None, 7, 7, 7]
    faint = [k >= 4 for k in range(len(looks))]
    persons = _pieces(looks, jitter=0.01, faint=faint)
    assert len(persons) == 4 and {p.status for p in persons} == {"static"}
    # a different look scoring 0.9 at the same spot is someone else: a person
    persons = _pieces([1, 1, 1, None, 7, 7, 7, None, 7, 7, 7, None, 7, 7, 7], jitter=0.01, faint=faint)
    assert [p.status for p in sorted(persons, key=lambda p: p.first_frame)] == ["person"] + ["static"] * 3


def test_people_stepping_up_one_after_another_at_one_spot_stay_people() -> None:
    """The same spot and box, still faces, but four different looks: never pooled, four people."""
    looks: list[int | None] = [1, 1, 1, None, 2, 2, 2, None, 3, 3, 3, None, 4, 4, 4]
    persons = _pieces(looks, jitter=0.01)
    assert len(persons) == 4 and {p.status for p in persons} == {"person"}


def test_one_person_at_a_spot_who_sways_stays_a_person_across_pieces() -> None:
    """The same look at one spot in four pieces (someone hidden by passers-by), but the head moves."""
    looks: list[int | None] = [5, 5, 5, None, 5, 5, 5, None, 5, 5, 5, None, 5, 5, 5]
    persons = _pieces(looks, jitter=0.12)
    assert len(persons) == 4 and {p.status for p in persons} == {"person"}


def test_a_faint_still_pattern_is_static_however_short_and_a_faint_walker_is_a_person() -> None:
    """Scores 0.65, 0.5, 0.5, ... (enough evidence, median 0.5): a 2-s still patch is static; a walker
    scoring the same crosses the frame and is a person; a still face scoring 0.9 for 2 s is a person."""

    def run(score: float, speed: float) -> list[PersonResult]:
        t = _tracks()
        box = np.array([40, 100, 76, 136], np.float32)
        return _run(
            t,
            50,
            lambda k: ([box + np.array([speed * k, 0, speed * k, 0])], [score if k % 3 else 0.65], [False]),
        )

    faint_still, faint_walker, clear_still = run(0.5, 0.0), run(0.5, 4.0), run(0.9, 0.0)
    assert [p.status for p in faint_still] == ["static"]
    assert [p.status for p in faint_walker] == ["person"]
    assert [p.status for p in clear_still] == ["person"]


def test_a_short_faint_piece_of_a_walker_is_a_person() -> None:
    """Four frames at score 0.65 moving 6 px a frame (0.5 face sizes in 0.12 s): within the faint
    reach, but far too fast for a pattern: not static. With ``min_evidence_s`` 0 a person; at the
    default 0.2 s no person at all (so short a piece is mostly a walker the tracker split off)."""
    box = np.array([200, 100, 236, 136], np.float32)
    walk = lambda k: ([box + np.array([6 * k, 0, 6 * k, 0])], [0.65], [False])  # noqa: E731
    assert [p.status for p in _run(_tracks(min_evidence_s=0.0), 4, walk)] == ["person"]
    t = _tracks()
    assert _run(t, 4, walk) == [] and t.dropped["low_evidence"] == 1
