"""The tracker's policy as tables: each track state (``states.track_state``) and each row of the
gate's decision table (``policy.gate``: state x cue -> limit -> refused)."""

from __future__ import annotations

import numpy as np
import pytest

from facelog.pipeline.tracking.association import motion_similarity
from facelog.pipeline.tracking.kalman import BoxKalman
from facelog.pipeline.tracking.policy import gate
from facelog.pipeline.tracking.states import FrameStates, TrackState, track_state, track_states
from facelog.pipeline.tracking.track import Track, TrackerParams

F, M, R, T = TrackState.FOLLOWED, TrackState.MISSED, TrackState.REID, TrackState.TENTATIVE
L = TrackState.LATE
NAN = float("nan")


@pytest.mark.parametrize(
    ("gap", "since_previous", "confirmed", "expected"),
    [
        (1, 1, True, F),  # detected in the previous processed frame
        (2, 2, True, F),  # ... with a frame stride of 2
        (2, 1, True, M),  # one frame missed
        (11, 1, True, M),  # max_lost_frames (10) frames missed: still MISSED
        (12, 1, True, R),  # one more: re-identification window
        (11, 11, True, F),  # stride 11 = max_lost_frames + 1: followed
        (12, 12, True, F | M),  # stride 12 > max_lost_frames + 1: not missed, but its looks must agree
        (12, 12, False, F | M | T),  # ... a tentative one too
        (12, None, True, R),  # no previous frame: 11 frames missed
        (24, 12, True, R),  # ... one processed frame missed: 12 frames before the previous one
        (20, 10, True, M),  # stride 10: missed one processed frame, 10 frames: still MISSED
        (1, 1, False, F | T),  # born from a low-score detection in the previous frame
        (3, 1, False, M | T),  # ... and missed since
        (4, None, True, M),  # no previous frame (first frame after a reset)
    ],
)
def test_track_state(gap: int, since_previous: int | None, confirmed: bool, expected: TrackState) -> None:
    assert track_state(gap, since_previous, confirmed, max_lost_frames=10) == expected


@pytest.mark.parametrize(
    ("gap", "since_previous", "expected"),
    [
        (51, 1, R),  # max_lost_frames (10) + reid_frames (40) missed: still the ordinary window
        (52, 1, R | L),  # one more: only a still track lives here, and only the identity vouches
        (62, 10, R | L),  # with a stride: frames missed up to the previous processed frame
        (60, 10, R),
    ],
)
def test_track_state_late(gap: int, since_previous: int, expected: TrackState) -> None:
    assert track_state(gap, since_previous, True, max_lost_frames=10, reid_frames=40) == expected
    assert track_state(gap, since_previous, True, max_lost_frames=10) == R  # reid_frames not given


def _track(last_frame: int, confirmed: bool = True, last_strong_frame: int | None = None) -> Track:
    box = np.array([100.0, 100.0, 140.0, 140.0])
    return Track(
        track_id=0,
        kf=BoxKalman(box, TrackerParams()),
        last_frame=last_frame,
        predicted_frame=last_frame,
        confirmed=confirmed,
        last_box=box,
        cues={},
        last_strong_frame=last_frame if last_strong_frame is None else last_strong_frame,
    )


def test_track_states_are_the_arrays_of_track_state() -> None:
    # frame 50, previous processed frame 49: followed, missed, re-identification, tentative
    tracks = [
        _track(49),
        _track(45),
        _track(30),
        _track(49, confirmed=False),
        _track(49, last_strong_frame=20),
    ]
    s = track_states(tracks, 50, 49, max_lost_frames=10)
    assert s.state == (F, M, R, F | T, F)
    assert s.gap.tolist() == [1, 5, 20, 1, 1]
    assert s.strong_gap.tolist() == [1, 5, 20, 1, 30]
    assert s.followed.tolist() == [True, False, False, True, True]
    assert s.reid.tolist() == [False, False, True, False, False]
    assert s.tentative.tolist() == [False, False, False, True, False]


def _states(*states: TrackState, strong_gap: int = 1, behind: bool = False) -> FrameStates:
    m = len(states)
    return FrameStates(
        state=states,
        gap=np.ones(m, np.int64),
        strong_gap=np.full(m, strong_gap, np.int64),
        followed=np.array([F in s for s in states], bool),
        reid=np.array([R in s for s in states], bool),
        late=np.array([L in s for s in states], bool),
        tentative=np.array([T in s for s in states], bool),
        lenient=np.array([F in s and M not in s for s in states], bool),
        behind=np.full(m, behind),
    )


def _gate(
    state: TrackState,
    emb: float | None,
    body: float | None,
    *,
    track_only: bool = False,
    identity: bool = False,
    strong_gap: int = 1,
    p: TrackerParams | None = None,
) -> tuple[bool, bool]:
    """(forbidden, vouch) of one detection against one track in ``state``, at cue distances emb/body
    (None: the cue is not given at all; NaN: unknown for this pair)."""
    dist = {name: np.array([[d]]) for name, d in (("embedding", emb), ("body", body)) if d is not None}
    g = gate(
        _states(state, strong_gap=strong_gap), dist, np.array([track_only]), p or TrackerParams(), identity
    )
    return bool(g.forbidden[0, 0]), bool(g.vouch[0, 0])


# defaults: max_cosine_distance 0.2, max_body_distance 0.2, reid_max_cosine 0.15
@pytest.mark.parametrize(
    ("state", "emb", "body", "refused"),
    [
        # FOLLOWED: refused only when every known cue is over its limit
        (F, 0.18, 0.05, False),
        (F, 0.25, 0.05, False),  # the face jumps, the clothes vouch
        (F, 0.05, 0.9, False),  # the clothes jump (someone in front), the face vouches
        (F, 0.25, 0.9, True),
        (F, 0.25, NAN, True),  # the only known cue is over
        (F, 0.25, None, True),
        (F, NAN, NAN, False),  # nothing known: motion decides
        # MISSED: any known cue over its limit refuses; the face at reid_max_cosine; the body not
        # when the face is within identity_keep_cosine (0.07: people in front hide the body first)
        (M, 0.18, 0.05, True),
        (M, 0.10, 0.05, False),
        (M, 0.10, 0.9, True),
        (M, 0.05, 0.9, False),
        (M, 0.10, NAN, False),
        (M, NAN, NAN, False),
        # REID: as MISSED, and the face embedding must vouch (unknown included)
        (R, 0.10, None, False),
        (R, 0.18, None, True),
        (R, NAN, None, True),
        (R, None, None, True),
        (R, 0.10, 0.9, True),
        (R, 0.05, 0.9, False),
        # LATE (a still track's longer window): only the identity vouches, never the embedding
        (R | L, 0.05, None, True),
        (R | L, NAN, None, True),
        # TENTATIVE: as its followed / missed state
        (F | T, 0.25, 0.05, False),
        (M | T, 0.18, 0.05, True),
        (F | R, 0.25, 0.05, True),  # (no longer occurs: track_state never gives it) the window's rule
        (F | M, 0.18, 0.05, True),  # followed across a long stride: every known cue must agree
        (F | M, 0.10, 0.05, False),
    ],
)
def test_gate_decision_table(state: TrackState, emb: float | None, body: float | None, refused: bool) -> None:
    assert _gate(state, emb, body) == (refused, False)


def test_gate_missed_limit_is_the_smaller_of_the_two_face_limits() -> None:
    p = TrackerParams(max_cosine_distance=0.1, reid_max_cosine=0.3)
    assert _gate(M, 0.15, None, p=p)[0], "over max_cosine_distance"
    assert not _gate(F, 0.09, None, p=p)[0]


@pytest.mark.parametrize(
    ("emb", "expected"),
    [(0.10, (False, False)), (NAN, (False, True)), (0.18, (True, False))],
    ids=["embedding-vouches", "identity-must-vouch", "refused-by-the-face-gate-first"],
)
def test_gate_with_identity_leaves_unvouched_reidentifications_to_the_identity(
    emb: float, expected: tuple[bool, bool]
) -> None:
    assert _gate(R, emb, None, identity=True) == expected


@pytest.mark.parametrize(
    ("emb", "body", "expected"),
    [
        (0.02, None, (False, True)),
        (NAN, None, (False, True)),
        (0.18, None, (True, False)),
        (0.10, 0.9, (True, False)),
    ],
    ids=[
        "embedding-close-identity-still-asked",
        "unknown",
        "refused-by-the-face-gate",
        "refused-by-the-body",
    ],
)
def test_gate_late_reidentification_is_the_identity_s_alone(
    emb: float, body: float | None, expected: tuple[bool, bool]
) -> None:
    """Past reid_frames (a still track's longer window) the embedding may still refuse, never vouch."""
    assert _gate(R | L, emb, body, identity=True) == expected


@pytest.mark.parametrize(
    ("state", "strong_gap", "refused"),
    [(F, 1, False), (M, 25, False), (M, 26, True), (F | T, 1, False), (M | T, 2, False), (M | T, 26, True)],
)
def test_gate_track_only_detections(state: TrackState, strong_gap: int, refused: bool) -> None:
    """Not more than max_low_score_frames (25) after a strong detection; a tentative track too (it
    keeps it alive, never confirms it: ``test_tracker_splits``)."""
    assert _gate(state, None, None, track_only=True, strong_gap=strong_gap) == (refused, False)
    assert _gate(state, None, None, track_only=False, strong_gap=strong_gap) == (False, False)


def test_gate_consensus_on_random_pairs_matches_the_rule_in_words() -> None:
    """FOLLOWED: refused iff some known cue is over and none is within its limit; otherwise: iff some
    known cue is over (the face at the smaller limit; the body is not over when the face is within
    identity_keep_cosine)."""
    rng = np.random.default_rng(0)
    p = TrackerParams()
    n, m = 40, 30
    states = _states(*(F if k % 2 else M for k in range(m)))
    dist = {name: rng.uniform(0, 0.4, (n, m)) for name in ("embedding", "body")}
    for d in dist.values():
        d[rng.random((n, m)) < 0.3] = np.nan
    forbidden = gate(states, dist, np.zeros(n, bool), p, False).forbidden
    for i in range(n):
        for j in range(m):
            followed = bool(states.followed[j])
            face = p.max_cosine_distance if followed else min(p.max_cosine_distance, p.reid_max_cosine)
            limits = {"embedding": face, "body": p.max_body_distance}
            known = {c: float(d[i, j]) for c, d in dist.items() if not np.isnan(d[i, j])}
            kept = known.get("embedding", 1.0) <= p.identity_keep_cosine
            over = any(v > limits[c] and not (c == "body" and kept) for c, v in known.items())
            within = any(v <= limits[c] for c, v in known.items())
            assert forbidden[i, j] == (over and not (followed and within)), (i, j, known, followed)


def test_gate_face_behind_a_nearer_one() -> None:
    """A detection behind a nearer face (looks unknown): a followed track or one lost behind a nearer
    face may take it, the latter without the window's vouch; a lost track lost in the open may not;
    a ``track_only`` one continues nothing."""
    states = FrameStates(
        state=(F, R, R, M),
        gap=np.array([1, 15, 15, 3]),
        strong_gap=np.array([1, 15, 15, 3]),
        followed=np.array([True, False, False, False]),
        reid=np.array([False, True, True, False]),
        late=np.zeros(4, bool),
        tentative=np.zeros(4, bool),
        lenient=np.array([True, False, False, False]),
        behind=np.array([False, True, False, False]),
    )
    dist = {"embedding": np.full((2, 4), NAN)}
    g = gate(states, dist, np.array([False, True]), TrackerParams(), True, None, np.array([True, True]))
    assert g.forbidden[0].tolist() == [False, False, True, True]
    assert g.vouch[0].tolist() == [False, False, False, False]
    assert g.forbidden[1].all()
    g = gate(states, dist, np.array([False, False]), TrackerParams(), True, None, np.array([False, False]))
    assert g.vouch[0].tolist() == [False, True, True, False]  # not hidden: the window asks the identity


def test_gate_late_track_behind_a_nearer_face_still_needs_the_identity() -> None:
    """Lost behind a nearer face within reid_frames: motion decides; seconds later (LATE) the face
    coming out must be vouched for by the identity, as any LATE re-identification."""
    states = _states(R, R | L, behind=True)
    dist = {"embedding": np.full((1, 2), NAN)}
    g = gate(states, dist, np.array([False]), TrackerParams(), True, None, np.array([True]))
    assert g.forbidden[0].tolist() == [False, False]
    assert g.vouch[0].tolist() == [False, True]


def test_motion_of_a_late_track_does_not_search_wider_with_time() -> None:
    # a track lost 200 frames: its predicted centre's uncertainty has grown to several face sizes, so
    # a face 2 face sizes away fits it; a LATE track is compared without that growth
    t = _track(0)
    t.kf.predict(200)
    far, near = np.array([[180.0, 100.0, 220.0, 140.0]]), np.array([[104.0, 100.0, 144.0, 140.0]])
    gap, p = np.array([200.0]), TrackerParams()
    assert motion_similarity(far, [t], gap, p)[0, 0] > p.match_high
    assert motion_similarity(far, [t], gap, p, np.array([True]))[0, 0] < p.match_high
    assert motion_similarity(near, [t], gap, p, np.array([True]))[0, 0] > p.match_high
    # a box whose size shrank while it was last seen: extrapolated over seconds it would be 1 px wide
    t = _track(0)
    t.kf.x[4:] = [0.3, 0.0, -0.3, -0.3]  # drifting right, shrinking
    t.kf.predict(120)
    moved = np.array([[136.0, 100.0, 176.0, 140.0]])  # 36 px to the right, the last size
    assert motion_similarity(moved, [t], np.array([120.0]), p, np.array([True]))[0, 0] > p.match_high
