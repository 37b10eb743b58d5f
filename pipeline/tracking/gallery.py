"""What a track remembers of its faces for the identity veto, and the descriptor's answer about them.

``tracker.Tracker`` asks ``same_face`` when ``association.associate`` questions a pair (the reasons
are ``policy.identity_question``'s), and ``remember_face`` after each match: the track's latest
thumbnail and face patch, its first whole face, the model's age of its faces (``Track.age``), and a
gallery of the descriptors it was confirmed with (its first and the latest three).

A followed track's questions are mostly answered by the model embedding, with no descriptor; the
latest face it kept that way (``Track.vouched``) joins the gallery when the descriptor is next asked.
Without it, a walker followed for seconds was compared, when it came out from behind someone, with
its first faces only: on cross720 s1 (docs/BENCHMARKS.md, twenty-sixth session) a 104-px face read
0.504 from the two faces it entered the frame with and 0.429 from a face of the seconds before.
"""

from __future__ import annotations

import logging
import math
from collections import deque

import numpy as np

from facelog.pipeline.tracking.identity import (
    Embedder,
    FacePatch,
    FrameFaces,
    identity_distance,
    thumb_change,
)
from facelog.pipeline.tracking.policy import young_pair
from facelog.pipeline.tracking.track import (
    AGAIN_FACES,
    AGAIN_MAX_DISTANCE,
    HELD_MAX_DISTANCE,
    Track,
    TrackerParams,
    narrower,
)

log = logging.getLogger(__name__)

GALLERY = 4  # identity embeddings kept per track: its first checked one and the latest three
AGE_MOMENTUM = 0.8  # a track's age (``Track.age``): weight of the old mean when a face arrives

# an open question (``policy.identity_question``) refuses a face read further than this from the
# track, twice in a row: after a miss the same walker's 32-35-px faces read up to 0.63 from its own
# (walk720, cross720, crowd720), a newcomer who stepped into a just-vacated spot 0.75
OPEN_MAX_DISTANCE = 0.7


# The camera's people (``Cohort``): one look of each of its last COHORT_SIZE confirmed tracks (embedded
# when first needed); a question's limit follows them once COHORT_MIN are known. UTKFace's adults of
# 18-60 against the look-alike of their own group (same gender, nearest age): dlib's descriptor puts
# 23% of the Asian ones within 0.5 (a median 0.57 apart; 0-1% for the other groups, 0.66-0.76 apart).
# With 40 faces of the group as the camera's people, ``identity_cohort_z`` 2.5 passed 2.9% of those
# look-alikes instead of 24.4% and every same face (64 against 48 px) it passed before, in every group;
# the mix's groups, their limit a median 0.48-0.61, barely moved (``benchmarks/population.py``;
# docs/BENCHMARKS.md, forty-first session). With 8 of them the limit is noisier but the floor below
# holds: every same face passed as with 40, and 6.8% of the Asian look-alikes (5.9% with 16); a
# counter's look-alikes among its first 16 people are then weighed too (forty-second session)
COHORT_SIZE = 64
COHORT_MIN = 8
# ...and it never goes below the same face's 95th percentile down to 24 px (``policy.gate``'s notes):
# without this floor a dim crowd of 24-72-px faces split two more people (crowd720 on the dim camera), with
# it one
COHORT_FLOOR = 0.42
_MAD_TO_STD = 1.4826  # a normal spread's median absolute deviation times this is its standard deviation


class Cohort:
    """The camera's people as the descriptor sees them: how far a face reads from people it is not.

    A limit fixed for every camera assumes its people differ as much as the mix the limit was set
    on; where they look alike to the descriptor (one population, children), a newcomer who looks like
    the person who just left reads within it. ``limit`` is the median distance of a face to the
    camera's other people less ``z`` spreads (1.4826 x the median absolute deviation): a face read
    that close to a track is as close as the camera's people seldom are to each other. Robust to a
    few pieces of one person among them (a split track, a returning visitor).
    """

    def __init__(self, size: int = COHORT_SIZE) -> None:
        # a descriptor, or the face to embed when a question first needs it (``limit``)
        self._people: deque[tuple[int, np.ndarray | FacePatch]] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._people)

    def offer(self, t: Track) -> None:
        """One look of each confirmed track, once: its gallery's first descriptor, or else its first
        readable face (embedded only when a question needs the camera's people: ``limit``)."""
        if t.in_cohort or not t.confirmed:
            return
        look = t.gallery[0] if t.gallery else t.first_patch
        if look is not None:
            self.add(t.track_id, look)
            t.in_cohort = True

    def add(self, track_id: int, look: np.ndarray | FacePatch) -> None:
        """One of the camera's people (the oldest falls out past ``COHORT_SIZE``)."""
        self._people.append((track_id, look))

    def limit(self, face: np.ndarray, track_id: int, z: float, embedder: Embedder | None = None) -> float:
        """The distance under which ``face`` is as close to a person as the camera's people other
        than ``track_id`` seldom are to it, at least ``COHORT_FLOOR``; infinite with fewer than
        ``COHORT_MIN`` of them or ``z`` 0. Faces not embedded yet are embedded now (``embedder``; one
        a person, once), or left out without one."""
        if z <= 0 or sum(k != track_id for k, _ in self._people) < COHORT_MIN:
            return math.inf
        if embedder is not None and any(isinstance(v, FacePatch) for _, v in self._people):
            looks = [(k, embedder.embed(v) if isinstance(v, FacePatch) else v) for k, v in self._people]
            self._people = deque(((k, v) for k, v in looks if v is not None), maxlen=self._people.maxlen)
        others = [v for k, v in self._people if k != track_id and not isinstance(v, FacePatch)]
        if len(others) < COHORT_MIN:
            return math.inf
        d = np.linalg.norm(np.asarray(others, np.float64) - np.asarray(face, np.float64), axis=1)
        median = float(np.median(d))
        return max(COHORT_FLOOR, median - z * _MAD_TO_STD * float(np.median(np.abs(d - median))))


def same_face(
    i: int,
    t: Track,
    reason: str,
    identity: FrameFaces | None,
    p: TrackerParams,
    cohort: Cohort | None = None,
) -> bool | None:
    """Whether detection ``i`` shows the face of track ``t`` (None: unknown on either side).

    A ``held`` question (``association.second_look``: the descriptor alone about a held-back face)
    passes a face within ``track.HELD_MAX_DISTANCE`` and answers None past it: it refuses nothing and
    leaves the track as it found it, apart from the gallery's vouched face.

    The track's side is its gallery of checked embeddings; without one, its last face (or, for the
    periodic and the open check, its first whole face) is embedded now and becomes the gallery
    (not for the open check: it leaves the track as it found it).
    """
    if identity is None or identity.cut_by_edge(i):
        return None
    look = identity.thumbs[i]
    if (
        reason not in ("open", "held")  # asked of each readable face anew
        and t.refused_thumb is not None
        and thumb_change(look, t.refused_thumb) <= p.identity_jump
    ):
        t.refused_thumb = look  # the face refused last frame, still there: no new embedding needed
        return False
    mine = identity.embedding(i)
    if mine is None:
        return None
    if reason == "open":  # it overrules the model embedding: only a face that reads far from the track
        limit = max(p.identity_max_distance, OPEN_MAX_DISTANCE)
    elif reason == "held":  # the descriptor alone gives a held-back face back, only this close
        limit = min(p.identity_max_distance, HELD_MAX_DISTANCE)
    elif young_pair(identity, i, t, p):  # never looser than the adults' limit
        limit = min(p.identity_max_distance, p.identity_child_distance)
    else:
        limit = p.identity_max_distance
    # ...nor than the camera's people allow (never below COHORT_FLOOR: a stricter limit, a small
    # child's, needs no look at them, nor the embeddings that look may cost)
    if cohort is not None and reason not in ("open", "held") and limit > COHORT_FLOOR:
        limit = min(limit, cohort.limit(mine, t.track_id, p.identity_cohort_z, identity.embedder))
    if t.vouched is not None and t.gallery and reason != "open":
        kept = identity.embedder.embed(t.vouched)
        t.vouched = None
        if kept is not None:
            _add(t, kept)
    gallery = t.gallery
    if not gallery:
        patch = t.first_patch if reason in ("periodic", "open") and t.first_patch is not None else t.patch
        ref = identity.embedder.embed(patch) if patch is not None else None
        if ref is None:
            return None
        gallery = [ref]
        if reason != "open":  # an open question leaves the track as it found it
            t.gallery.append(ref)
    d = min(identity_distance(mine, g) for g in gallery)
    same = d <= limit
    if reason == "held":  # it refuses nothing: past its limit the descriptor is not sure
        verdict = True if same else None
    else:
        verdict = same
        if not same and (reason != "open" or t.open_far):  # an open question's first far read keeps the pair
            t.refused_thumb = look
    log.debug(
        "frame %d: track %d %s check (%s): descriptor distance %.3f (limit %.2f), face %.0f px",
        identity.frame_index, t.track_id, {True: "passed", False: "refused", None: "unsure"}[verdict],
        reason, d, limit, identity.patch(i).face_px,
    )  # fmt: skip
    return verdict


def read_again(
    faces: tuple[np.ndarray, ...],
    i: int,
    t: Track,
    identity: FrameFaces,
    p: TrackerParams | None = None,
    cohort: Cohort | None = None,
) -> tuple[bool | None, tuple[np.ndarray, ...]]:
    """An ``again`` look (``track.SecondLook``): whether the young track's faces read so far
    (``faces``) and detection ``i`` show track ``t``'s face, judged on their mean once there are
    ``track.AGAIN_FACES`` of them, against the mean of ``t``'s gallery and its last faces
    (``Track.recent``, embedded now), at ``track.AGAIN_MAX_DISTANCE`` or the ``cohort``'s limit (with
    ``p``'s ``identity_cohort_z``) where that is stricter. Returns the verdict (None: not yet, or
    nothing to compare) and the faces read so far (``i``'s added where readable and not cut:
    ``track.narrower`` than ``t``'s)."""
    whole = identity.readable(i) and not narrower(identity.xyxy[i], t)
    mine = identity.embedding(i) if whole else None
    if mine is None:
        return None, faces
    faces = (*faces, mine)
    if len(faces) < AGAIN_FACES:  # the older track's faces are embedded only for the verdict
        return None, faces
    theirs = list(t.gallery) + [v for v in map(identity.embedder.embed, t.recent) if v is not None]
    if not theirs:
        return None, faces
    mean = np.mean(faces, axis=0)
    d = identity_distance(mean, np.mean(theirs, axis=0))
    limit = AGAIN_MAX_DISTANCE
    if cohort is not None and p is not None:  # the camera's people (``Cohort``), where stricter
        limit = min(limit, cohort.limit(mean, t.track_id, p.identity_cohort_z, identity.embedder))
    same = d <= limit
    log.debug(
        "frame %d: track %d %s check (again): mean descriptor distance %.3f (limit %.2f) of %d faces, "
        "face %.0f px", identity.frame_index, t.track_id, "passed" if same else "refused", d,
        limit, len(faces), identity.patch(i).face_px,
    )  # fmt: skip
    return same, faces


def remember_face(
    t: Track,
    i: int,
    identity: FrameFaces,
    now: float,
    verdict: bool | None,
    checked: bool,
    cut: bool,
    kept: bool = False,
) -> None:
    """Keep detection ``i``'s look as its track's latest (its face only when not ``cut`` by the
    frame edge or by something in front: the track's face stays its last whole one); a checked
    identity joins the gallery; a readable face the model embedding ``kept`` at a question becomes
    the track's ``vouched`` one."""
    t.thumb = identity.thumbs[i]
    if cut:
        return
    if identity.ages is not None:
        a = float(identity.ages[i])
        t.age = a if t.age is None else AGE_MOMENTUM * t.age + (1.0 - AGE_MOMENTUM) * a
    t.patch = identity.patch(i)
    if identity.readable(i):
        t.recent.append(t.patch)
        if t.first_patch is None:
            t.first_patch = t.patch
    if checked:
        t.checked_frame = now
    mine = identity.computed(i) if verdict else None
    if mine is not None:
        _add(t, mine)
        t.vouched = None
    elif kept and identity.readable(i):
        t.vouched = t.patch


def _add(t: Track, descriptor: np.ndarray) -> None:
    """Add a checked descriptor to the track's gallery: its first and the latest ``GALLERY`` - 1."""
    t.gallery = (t.gallery[:1] + t.gallery[1:][-(GALLERY - 2) :] + [descriptor])[-GALLERY:]
