"""One track's record, the tracker's settings, and the faces whose looks are unknown.

``tracker.Tracker`` keeps a ``Track`` for each face it follows and returns a ``TrackStep`` a frame.
``TrackerParams`` holds its limits: what each does to a pair, its measurements and which way to
turn it are written once, in ``policy.gate`` (the decision table), the lifetimes in
``states.TrackState``. A face cut by the frame edge (``at_frame_edge``) or partly behind a nearer
one (``behind_nearer``) has unknown looks: the policy lets motion alone decide it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from facelog.pipeline.boxes import intersection_matrix
from facelog.pipeline.tracking.identity import FacePatch
from facelog.pipeline.tracking.kalman import BoxKalman

# A detector box this close to the frame edge, in shares of its larger side, is a face partly outside
# the frame (its appearance is unknown, ``at_frame_edge``). Boxes matched to ground truth on
# walk720_nobody (both seeds), walk720_sameclothes and poster720 (seed 0): closer than 1% of their size
# 82% show under 90% of the face, 1-3% 47%, 3-6% 17%, 6-10% 1%, further none. The box of a face
# leaving the frame often stops a few pixels short of the edge (a 117-px face 3-4 px).
EDGE_SHARE = 0.06


def at_frame_edge(xyxy: np.ndarray, width: int, height: int, share: float = EDGE_SHARE) -> np.ndarray:
    """(n,) bool: the boxes ((n, 4) xyxy) that reach within ``share`` of their larger side (at least
    1 px) of the edge of a ``width`` x ``height`` frame: faces entering or leaving, partly outside."""
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    margin = np.maximum(share * np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1.0)
    return np.asarray(
        (b[:, 0] <= margin) | (b[:, 1] <= margin) | (b[:, 2] >= width - margin) | (b[:, 3] >= height - margin)
    )


# A detector box this much covered by a nearer face's box (a larger one: the nearer person), as a
# share of its own area, is a face partly behind someone (``behind_nearer``): its looks are unknown,
# as at the frame edge. Walkers who cross (cross720, docs/BENCHMARKS.md, fifteenth session): the face
# behind is detected for a frame or two as it goes under and comes out, its box cut and its looks a
# mix of both faces.
HIDDEN_SHARE = 0.1
# frames after its birth during which a track born from a detection that the gate's cue limits held
# back from a lost track may give its face to that track (``association.second_look``): a face coming
# out from behind a nearer body reads mixed for a frame or two (cross720 s0: the model embedding 0.24
# from its track's on its first frame out, its box cut; 0.057 two frames later). The track that gives
# its face back ends ``given_back``, not a person (``persons.PersonTracks``). Two frames: 8 mended no
# more on cross720 and cross720_nobody, seeds 0 and 1 (docs/BENCHMARKS.md, twenty-fifth session), and
# each frame more is one more chance for a look-alike newcomer. Up if walkers who come out from behind
# a nearer body still split, 0: off.
HELD_BACK_FRAMES = 2
# a track born from a face the descriptor refused to an older track, whose one face that track takes
# back the next frame (a detection overlapping it by this IoU), ends ``given_back``
# (``tracker._handed_back``): a noisy face handed back and forth between two tracks stays one track's.
# Down (to ~0.3) if such young tracks still live on at low frame rates, where a face moves further
# between frames; 0: off.
HANDED_BACK_IOU = 0.5
# a held-back face (above) whose model embedding has not come back to its track's is given back when
# the face descriptor alone puts it this close (``association.second_look``): the face of someone
# who crossed behind another read 0.24, 0.17, 0.13 from its own in the model embedding for 10 frames
# after it came out, the descriptor 0.25-0.28 (cross720_nobody s1, docs/BENCHMARKS.md, twenty-sixth
# session). Different people are this close in under ~0.15% of pairs at 32 px, ~0.05% at 48 px
# (../shared/FACTS.md: within 0.4); the same face under two degradations within 0.34 (p95, 32 px).
# Down if newcomers take a lost walker's track, 0: the model embedding must keep the face.
HELD_MAX_DISTANCE = 0.35
# A face that the descriptor refused at a re-identification or after a gap (``reid``, ``gap``) started
# a new track; that track may give its faces back when the mean descriptor of its first
# ``AGAIN_FACES`` readable faces (the refused one included) lies within ``AGAIN_MAX_DISTANCE`` of the
# mean of the lost track's (its gallery and its last ``AGAIN_FACES`` readable faces:
# ``Track.recent``), looked at for ``AGAIN_FRAMES`` frames after its birth (``association.second_look``).
# In a dim room the sensor's noise, new every frame, moves one frame's descriptor: people who turned
# away for seconds read 0.51-0.62 from their own track when they turned back (``--camera dim``,
# static720_away s0). On three dim clips (``benchmarks/identity_averaging.py``: static720_away,
# walk720_away, walk720_nobody_alike s0; one person's faces 2 s or more apart) one face against one
# refused 19-43% of same-person pairs at 0.5, three against three 5-14%; averages bring different
# people closer too (0.5-1.0% of different-person pairs within 0.5 one to one, 2.4-4.6% three to
# three), so the averaged limit is stricter: 0.46 is about where three against three passes 1% of
# different-person pairs (0.450-0.475 on those clips), refusing 9-16% of the same person's, where
# one against one at its own 1% limit refuses 15-43% (docs/BENCHMARKS.md, twenty-seventh session).
# Down if newcomers at a vacated spot take the lost track after two or three frames of their own;
# AGAIN_FRAMES 0: off.
AGAIN_FACES = 3
AGAIN_FRAMES = 4
AGAIN_MAX_DISTANCE = 0.46
# A matched face whose box is narrower than ``NARROW_SHARE`` of its track's whole faces (``Track.aspect``:
# width over height, an EMA at ``ASPECT_MOMENTUM`` of its whole faces) is cut by something in front
# that is not a face (a post, a door frame, a shelf end): the detector's box shrinks to the part in
# view, its far edge held at the post while its near edge walks on. Read as it is, the Kalman filter
# took that for a face slowing down and shrinking and predicted the walker at the post while it came
# out 150 px further on (``--camera pillar``, cross720_nobody s0; docs/BENCHMARKS.md, twenty-ninth
# session). So the motion model gets the whole box it implies (``whole_box``), the walk's fit leaves
# it out, and it is not kept as its track's face (``gallery.remember_face``). Its looks are not its
# own either (a face coming out read 0.546 and 0.374 from its own track in the descriptor, walk720
# s1): a cut face that the gate held back (``HELD_BACK_FRAMES``) or the descriptor refused (``again``)
# from a track starts one whose look at that track waits ``AGAIN_CUT_FRAMES`` frames longer and reads
# only whole faces (``association.second_look``, ``gallery.read_again``). Same-person frames of the
# CCTV benchmark fall under 0.9 of their track's median in 1.0% of cases; a real head turning on the
# shared clips in up to 10% (head-pose-face-detection-female-and-male). Down if a turned head's
# boxes are taken for cut ones, up if walkers who pass behind a post split.
NARROW_SHARE = 0.9
ASPECT_MOMENTUM = 0.9
AGAIN_CUT_FRAMES = 8
# ... only for a track that moves sideways at least this many face widths a frame (its Kalman
# velocity): the benchmark's walkers 0.03-0.2, people in a queue sway 0.004-0.01, patterns ~0
CUT_MIN_SPEED = 0.02


def narrower(xyxy: np.ndarray, t: Track) -> bool:
    """Whether the box ``xyxy`` (4,) is narrower than ``NARROW_SHARE`` of track ``t``'s whole faces
    (``Track.aspect``) while ``t`` moves sideways (``CUT_MIN_SPEED``): a face cut by something in front
    as it walks behind it. False while the track has no aspect, and for one that does not walk: the
    box of a still face-like pattern varies as much, and taken for cut it hopped to another pattern
    (textures720 s1)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    if t.aspect is None or abs(float(t.kf.x[4])) < CUT_MIN_SPEED * float(t.kf.x[2]):
        return False
    return (x2 - x1) < NARROW_SHARE * t.aspect * max(y2 - y1, 1e-9)


def whole_box(xyxy: np.ndarray, t: Track, predicted: np.ndarray) -> np.ndarray:
    """The whole face that a cut box ``xyxy`` (``narrower`` than track ``t``'s faces) implies: its
    height, ``t``'s width over height, from the side edge nearer the ``predicted`` box's (the edge in
    view moves with the face; the cut one stays at what hides the rest)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    width = (t.aspect or 0.0) * (y2 - y1)
    if abs(x1 - float(predicted[0])) <= abs(x2 - float(predicted[2])):
        return np.array([x1, y1, x1 + width, y2], np.float32)
    return np.array([x2 - width, y1, x2, y2], np.float32)


def update_aspect(t: Track, xyxy: np.ndarray) -> None:
    """Blend a whole face's box ``xyxy`` into ``Track.aspect``."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    a = (x2 - x1) / max(y2 - y1, 1e-9)
    t.aspect = a if t.aspect is None else ASPECT_MOMENTUM * t.aspect + (1.0 - ASPECT_MOMENTUM) * a


def behind_nearer(xyxy: np.ndarray, share: float = HIDDEN_SHARE) -> np.ndarray:
    """(n,) bool: the boxes ((n, 4) xyxy) of which another box at least as large covers ``share``
    or more: a face partly hidden by a nearer one (two faces of one size overlapping: both)."""
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    if len(b) < 2:
        return np.zeros(len(b), bool)
    covered = covered_by_larger(b, b, share)
    np.fill_diagonal(covered, False)
    return np.asarray(covered.any(axis=1))


def covered_by_larger(a: np.ndarray, b: np.ndarray, share: float) -> np.ndarray:
    """(n, m) bool: box ``b[k]`` is at least as large as ``a[i]`` and covers ``share`` of it or more."""
    area_a = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-9)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    covered = intersection_matrix(a, b) / area_a[:, None]
    return np.asarray((covered >= share) & (area_b[None, :] >= area_a[:, None]))


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Tracker settings (the pipeline maps its YAML ``tracking`` section onto these).

    What each limit does to a pair, its measurements and which way to turn it are written once, in
    ``policy.gate`` (the decision table); the lifetimes in ``states.TrackState``.

    Attributes:
        high_score: detections at or above this score may start confirmed tracks and take part in
            pass 1; below it they are only used to continue tracks (pass 2). Pair it with a lower
            detector threshold (e.g. YuNet 0.5) so that pass 2 has detections to work with.
        match_high: minimum motion similarity for a pass-1 match (``policy.gate``).
        match_low: minimum motion similarity for a pass-2 (low-score) match (``policy.gate``).
        center_radius: centre distance, in box sizes, at which the centre similarity reaches 0; 0
            disables it (``policy.gate``).
        max_size_ratio: pairs whose box sizes differ by more than this factor never match
            (``policy.gate``).
        max_lost_frames: frames (of the clock: 25 fps) a track is matched without a detection before
            its re-identification window (``states.TrackState``).
        max_tentative_lost_frames: the lifetime of a tentative track without a match
            (``states.TrackState``).
        max_cosine_distance: the model ``embedding``'s gate, cosine distance (``policy.gate``).
        max_body_distance: the body colour's gate, cosine distance (``policy.gate``).
        embedding_momentum: EMA weight of the old appearance when a new vector arrives.
        std_position: Kalman measurement and process noise of positions and sizes, per unit of box size.
        std_velocity: Kalman process noise of velocities, per unit of box size per frame.
        init_std_velocity: initial velocity uncertainty, per unit of box size per frame (large, so
            the second detection of a fast face sets the velocity almost entirely).
        match_last_box: a track missed in the previous source frame may also match near its last
            detection (``association.motion_similarity``).
        reid_frames: frames after ``max_lost_frames`` during which a lost confirmed track can still
            be re-identified (``states.TrackState``); 0 ends tracks at ``max_lost_frames``.
        reid_still_frames: the same for a confirmed track that stood still (``Track.still``: a person
            in a queue who looks down or turns away), where only the identity vouches past
            ``reid_frames`` (``states.TrackState``; without the identity veto nothing is
            re-identified there and the track only ends later); at or under ``reid_frames``: off.
        reid_walk_frames: the same for a confirmed track that walked steadily (``Track.walk``: a
            walker who looks aside, at a shop window or at someone, and walks on), sought where its
            walk leads (``association.motion_similarity``); at or under ``reid_frames``: off.
        reid_max_cosine: face-embedding gate after a miss, across a stride longer than
            ``max_lost_frames`` + 1, and for a re-identification
            (``policy.gate``).
        identity_max_distance: identity veto, dlib's descriptor distance (Euclidean) above which a
            questioned pair is refused (``policy.gate``).
        identity_child_age: a questioned pair whose face (48 px or wider) and track the model both
            read younger than this (years) is judged at ``identity_child_distance`` instead, never
            kept by the model embedding alone (``identity_keep_cosine``): dlib's network tells small children
            apart far less well than adults (``policy.young_pair``); 0 turns this off.
        identity_child_distance: the identity veto's limit for such a pair (the adults' if lower).
        identity_cohort_z: the identity veto's limit is also never looser than this many spreads
            below the median distance of the questioned face to the camera's other people
            (``gallery.Cohort``: where the camera's people look alike to the descriptor, their
            look-alikes are closer than ``identity_max_distance``); 0 turns this off.
        identity_jump: thumbnail change that questions a followed track (``policy.gate``).
        identity_check_frames: a followed track is also questioned when its identity was last
            checked this many frames ago; 0 never (``policy.gate``).
        identity_keep_cosine: a questioned followed track whose model embedding stays within this is
            kept without a descriptor; 0: the descriptor alone decides (``policy.gate``).
        identity_unknown_cosine: a questioned pair (``jump``, ``gap``) whose descriptor is unknown (a
            face under 32 px) is refused when the model embedding is further than this
            (``policy.gate``).
        max_low_score_frames: ``track_only`` detections continue a track at most this many frames
            after its last detection at the detector's own threshold (``policy.gate``).
    """

    high_score: float = 0.7
    match_high: float = 0.2
    match_low: float = 0.4
    center_radius: float = 1.0
    max_size_ratio: float = 2.0
    max_lost_frames: int = 10
    max_tentative_lost_frames: int = 10
    max_cosine_distance: float = 0.2
    max_body_distance: float = 0.2
    embedding_momentum: float = 0.8
    std_position: float = 0.05
    std_velocity: float = 0.02
    init_std_velocity: float = 0.5
    match_last_box: bool = True
    reid_frames: int = 40
    reid_still_frames: int = 250
    reid_walk_frames: int = 150
    reid_max_cosine: float = 0.15
    identity_max_distance: float = 0.5
    identity_child_age: float = 5.0
    identity_child_distance: float = 0.38
    identity_cohort_z: float = 2.5
    identity_jump: float = 0.2
    identity_check_frames: int = 50
    identity_keep_cosine: float = 0.07
    identity_unknown_cosine: float = 0.15
    max_low_score_frames: int = 25

    def __post_init__(self) -> None:
        for name in ("match_high", "match_low", "high_score", "embedding_momentum"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        counts = (self.max_lost_frames, self.max_tentative_lost_frames, self.reid_frames,
                  self.reid_still_frames, self.reid_walk_frames, self.identity_check_frames,
                  self.max_low_score_frames)  # fmt: skip
        if min(counts) < 0:
            raise ValueError(
                "max_lost_frames, max_tentative_lost_frames, reid_frames, reid_still_frames, "
                "reid_walk_frames, identity_check_frames and max_low_score_frames must be >= 0"
            )
        if not 0.0 <= self.identity_max_distance <= 4.0 or not 0.0 <= self.identity_jump <= 2.0:
            raise ValueError("identity_max_distance must be in [0, 4] and identity_jump in [0, 2]")
        if not 0.0 <= self.identity_child_distance <= 4.0 or self.identity_child_age < 0:
            raise ValueError("identity_child_distance must be in [0, 4] and identity_child_age >= 0")
        if not 0.0 <= self.identity_cohort_z <= 10.0:
            raise ValueError(f"identity_cohort_z must be in [0, 10], got {self.identity_cohort_z}")
        if self.max_size_ratio < 1.0:
            raise ValueError(f"max_size_ratio must be >= 1, got {self.max_size_ratio}")
        cosines = ("max_cosine_distance", "max_body_distance", "reid_max_cosine", "identity_unknown_cosine")
        for name in cosines:
            if not 0.0 <= getattr(self, name) <= 2.0:
                raise ValueError(f"{name} must be in [0, 2], got {getattr(self, name)}")
        if min(self.center_radius, self.std_position, self.std_velocity, self.init_std_velocity) < 0:
            raise ValueError("center_radius and the std_* noise levels must be >= 0")


@dataclass(frozen=True, slots=True)
class TrackStep:
    """What one ``Tracker.update`` decided.

    Attributes:
        track_ids: (n,) int64, the track id of each detection, in input order; -1 for a
            ``track_only`` detection that continues no confirmed track (not to be logged).
        confirmed: (n,) bool, False for a detection whose track is still tentative (born from a
            low-score detection this frame).
        ended: ids of the tracks that ended at this step (lost too long, or tentative and unmatched).
        given_back: those of them that ended because their face went back to an older track
            (``association.second_look``): young pieces of that older track's person, not persons.
    """

    track_ids: np.ndarray
    confirmed: np.ndarray
    ended: tuple[int, ...]
    given_back: tuple[int, ...] = ()


class SecondLook(NamedTuple):
    """A young track's face that an older track may take back (``association.second_look``).

    Born from a detection that the older track's identity check refused: the next frame looks again
    (``until`` = birth + 1). Born from one that the gate's cue limits held back from the older, lost
    track (``held``, ``association.held_back``: a face coming out from behind a nearer body):
    ``HELD_BACK_FRAMES`` frames look again, and the descriptor must agree too (or, where the model
    embedding has not come back, pass the face alone within ``HELD_MAX_DISTANCE``). A detection both
    refused and held back gets both looks (``Track.second_looks``), the refusing track's first. A
    detection the descriptor refused at an ``association.AGAIN_REASONS`` question also gets an ``again`` look
    (``faces``): for ``AGAIN_FRAMES`` frames its young track's faces are read and their mean compared
    with the mean of the older track's gallery and last faces (``AGAIN_MAX_DISTANCE``).
    """

    track_id: int  # the older track
    until: float  # the last frame (of the clock) of the look
    held: bool
    # ``again``: the descriptors of the young track's whole faces read so far (the refused one first,
    # unless it was cut: ``narrower``); the look decides on their mean once it has ``AGAIN_FACES``
    faces: tuple[np.ndarray, ...] = ()
    again: bool = False  # an ``again`` look


class Walk(NamedTuple):
    """A steady walk (``Track.walk``, ``states.fit_walk``): the fitted centre at ``clock`` and its velocity
    (px per frame of the clock)."""

    clock: float
    cx: float
    cy: float
    vx: float
    vy: float


@dataclass(slots=True)
class Track:
    """One live track (internal: the tracker's state, read by ``states``, ``policy`` and ``association``)."""

    track_id: int
    kf: BoxKalman
    last_frame: float  # clock (``tracker`` module docstring) of the last matched detection
    predicted_frame: float  # clock the Kalman state refers to
    confirmed: bool
    last_box: np.ndarray  # the last matched detection (xyxy)
    # per appearance cue ("embedding", "body"): (EMA of the unit vectors, the last unit vector)
    cues: dict[str, tuple[np.ndarray, np.ndarray]]
    last_strong_frame: float  # clock of the last detection that was not ``track_only``
    # stood still over its last detections (``states.STILL_SPEED``), scored confidently
    # (``score_ema`` at least ``high_score``): its window is ``reid_still_frames``; measured from
    # ``still_ref``, (clock, cx, cy, size) of an earlier detection
    still: bool = False
    still_ref: tuple[float, float, float, float] | None = None
    # a walker's recent whole, confident detections (clock, cx, cy, size) over its last ``states.WALK_SPAN``
    # frames, and the steady walk it was lost on (``states.fit_walk``; decided when its ordinary window is
    # over, cleared by a match): its window is ``reid_walk_frames``; None: not (or not yet) one
    path: deque[tuple[float, float, float, float]] = field(default_factory=deque)
    walk: Walk | None = None
    score_ema: float = 0.0  # EMA (``states.stood_still``) of its detections' scores
    # identity (only with ``FrameFaces``): the last face's thumbnail and patch, the first whole face,
    # the identity embeddings checked so far (first + last few) and when the identity was last checked
    thumb: np.ndarray | None = None
    patch: FacePatch | None = None
    first_patch: FacePatch | None = None
    gallery: list[np.ndarray] = field(default_factory=list)
    in_cohort: bool = False  # its first gallery descriptor is one of the camera's people (``gallery.Cohort``)
    # its last ``AGAIN_FACES`` readable faces, embedded only when an ``again`` look decides
    recent: deque[FacePatch] = field(default_factory=lambda: deque(maxlen=AGAIN_FACES))
    checked_frame: float = 0.0
    # the latest readable face that the model embedding kept at an identity question (no descriptor
    # computed): the gallery takes it when the descriptor is next asked (``gallery.same_face``)
    vouched: FacePatch | None = None
    refused_thumb: np.ndarray | None = None  # thumbnail of the last face the identity refused
    # a ``gap``/``jump`` question the descriptor could not read (a face under 32 px or cut) and the
    # model embedding did not answer: asked again (``open``) at the track's next readable faces, and
    # whether one of them already read far (a second far read refuses: ``association.associate``)
    open_check: bool = False
    open_far: bool = False
    behind: bool = False  # lost (or last seen) behind a nearer face (``behind_nearer``): see ``policy.gate``
    age: float | None = None  # the model's age of its whole faces, an EMA (``policy.young_pair``); None: none
    aspect: float | None = None  # width over height of its whole faces' boxes, an EMA (``narrower``)
    # born from a face other tracks may take back (a refusing track's look first, then a held-back one)
    second_looks: tuple[SecondLook, ...] = ()
    born: float = 0.0  # clock of its first detection
