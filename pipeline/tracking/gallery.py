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

import numpy as np

from facelog.pipeline.tracking.identity import FrameFaces, identity_distance, thumb_change
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


def same_face(i: int, t: Track, reason: str, identity: FrameFaces | None, p: TrackerParams) -> bool | None:
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
    faces: tuple[np.ndarray, ...], i: int, t: Track, identity: FrameFaces
) -> tuple[bool | None, tuple[np.ndarray, ...]]:
    """An ``again`` look (``track.SecondLook``): whether the young track's faces read so far
    (``faces``) and detection ``i`` show track ``t``'s face, judged on their mean once there are
    ``track.AGAIN_FACES`` of them, against the mean of ``t``'s gallery and its last faces
    (``Track.recent``, embedded now). Returns the verdict (None: not yet, or nothing to compare) and
    the faces read so far (``i``'s added where readable and not cut: ``track.narrower`` than ``t``'s)."""
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
    d = identity_distance(np.mean(faces, axis=0), np.mean(theirs, axis=0))
    same = d <= AGAIN_MAX_DISTANCE
    log.debug(
        "frame %d: track %d %s check (again): mean descriptor distance %.3f (limit %.2f) of %d faces, "
        "face %.0f px", identity.frame_index, t.track_id, "passed" if same else "refused", d,
        AGAIN_MAX_DISTANCE, len(faces), identity.patch(i).face_px,
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
