"""The tracker's policy: which (detection, track) pairs a track's state and the cues allow, and which
chosen pairs the identity veto questions.

``gate`` holds the decision table (track state x cue -> limit -> when a pair is refused) and every
limit with its measurements and the way to turn it. ``identity_question`` says why a chosen pair is
questioned; ``embedding_keeps``, ``embedding_refuses`` and ``young_pair`` say when the model's
answer stands in for the descriptor's. ``association.associate`` applies them in its steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facelog.pipeline.tracking.identity import FrameFaces, thumb_change
from facelog.pipeline.tracking.states import FrameStates, centre_size
from facelog.pipeline.tracking.track import Track, TrackerParams

# ``young_pair`` only for faces at least this wide: one child's photo degraded twice stays within
# 0.33 at 48 px, 0.40 at 32 (``benchmarks/identity_by_age.py``), and in a dim, noisy crowd of 24-72 px
# faces the children's limit split small children (crowd720 on ``--camera dim``: 121 -> 132 persons)
CHILD_MIN_FACE_PX = 48.0
# a ``gap`` question about a readable face at least this wide is the descriptor's even where the
# model embedding barely moved (``embedding_keeps``): the same walker's face after a miss at 33-46 px
# reads 0.66 from its own (the descriptor errs there), while at a counter of one population a
# look-alike who steps up after a frame without a face reads 0.067-0.069 from the one who left in the
# model's embedding, within ``identity_keep_cosine``, at 92-126 px (docs/BENCHMARKS.md, forty-second
# session). Down to ask the descriptor about smaller faces (a look-alike newcomer kept), up if walkers
# split after a miss.
GAP_READ_PX = 64.0
# a LATE walker (``Track.walk``) whose face the descriptor cannot read when it turns back (a face under
# ``identity.MIN_FACE_PX``) is re-identified by the model embedding within ``identity_keep_cosine``, only
# this many of its face sizes or more from where it was lost: on its walk's line, not at a vacated spot
# (walk720_away s0: a 29-px walker who looked aside for 2.9 s came back where its line led, 0.032 from
# its track; docs/BENCHMARKS.md, forty-third session). Up if a newcomer takes a lost walker's track,
# down (or ``identity_keep_cosine`` 0: off) if walkers who look aside split.
WALK_AWAY_SIZES = 2.0


@dataclass(frozen=True, slots=True)
class Gate:
    """What ``gate`` decided for (detections, tracks) pairs."""

    forbidden: np.ndarray  # (n, m) bool: never matched
    vouch: np.ndarray  # (n, m) bool: matched only if the identity vouches (re-identification)
    by_cues: np.ndarray  # (n, m) bool: forbidden by a cue over its limit (embedding, body)


def gate(
    states: FrameStates,
    dist: dict[str, np.ndarray],
    track_only: np.ndarray,
    p: TrackerParams,
    with_identity: bool,
    at_edge: np.ndarray | None = None,
    hidden: np.ndarray | None = None,
) -> Gate:
    """The pairs (detection, track) that the track's state and the cues allow.

    Decision table (a cue that is unknown on either side, NaN in ``dist``, neither refuses nor
    vouches; ``identity_question`` asks the identity veto's questions after the assignment):

    ========== ============= ====================================== ======================================
    state      cue           limit                                  pair refused when
    ========== ============= ====================================== ======================================
    any        motion        ``match_high`` (high-score detection), similarity below the limit, or sizes
                             ``match_low`` (low-score), sizes       further apart (``association``:
                             within ``max_size_ratio``              ``assign_two_passes``, ``similarity``)
    FOLLOWED   embedding     ``max_cosine_distance``                every known cue is over its limit (a
    (not       body          ``max_body_distance``                  cue within its limit vouches for the
    MISSED)                                                         other: clothes hidden by someone in
                                                                    front, a face that grows or blurs)
    MISSED     embedding     ``min(max_cosine_distance,             any known cue is over its limit; the
    (also                    reid_max_cosine)``                     body not when the embedding is within
    FOLLOWED | body          ``max_body_distance``                  ``identity_keep_cosine`` (people in
    MISSED)                                                         front hide the body first)
    REID       embedding     ``reid_max_cosine``                    as MISSED, and the embedding is not
                                                                    within the limit (unknown included);
                                                                    with the identity veto such a pair is
                                                                    kept for the identity to vouch for
                                                                    (``Gate.vouch``)
    LATE       embedding     none: the identity vouches             as MISSED, and always kept for the
                                                                    identity to vouch for (without the
                                                                    identity veto: refused; a pair the
                                                                    model reads as small children:
                                                                    refused, ``young_pair``)
    any        cut by the    the face's box within ``EDGE_SHARE``   its embedding, body and identity are
               frame edge    (6%) of its size of the frame edge     unknown (``tracker`` zeroes them), so
                             (``track.at_frame_edge``)              only a FOLLOWED track (``FOLLOWED |
                                                                    MISSED`` included) may take it: after
                                                                    a miss the looks must be known
    any        behind a      another box at least as large covers   its looks are unknown, as at the edge;
               nearer face   ``HIDDEN_SHARE`` (10%) of the face's   only a FOLLOWED track or one lost
                             (``track.behind_nearer``)              behind a nearer face (``Track.behind``)
                                                                    may take it, the latter by motion
                                                                    alone (no REID vouch); a
                                                                    ``track_only`` one continues none
    any        track_only    ``max_low_score_frames`` since the     the detection is ``track_only`` and
                             last detection that was not            the limit has passed
    ========== ============= ====================================== ======================================

    Identity veto (``identity_question``, after each assignment): a chosen pair is questioned when the
    track is not FOLLOWED, is ``FOLLOWED | MISSED`` or is ``Track.behind`` (``gap``), when the face's
    thumbnail changed by more than ``identity_jump`` (``jump``), when the body colour is over its limit
    though the model embedding kept the pair (``body``: the cues disagree), when the identity was last
    checked ``identity_check_frames`` ago (``periodic``), when none of those applies but a
    ``gap``/``jump`` question about an earlier face of the track got no answer (``Track.open_check``: no
    descriptor, and the model embedding let it through) and this face is readable (``open``: the
    descriptor alone, against the track's faces before; two reads in a row further than
    ``gallery.OPEN_MAX_DISTANCE`` refuse, the first is answered None and keeps the pair; it may only
    refuse, and a refusal gets no second look), and for a ``vouch`` pair (``reid``). A
    ``gap``/``jump``/``body``/``periodic`` pair whose embedding is within ``identity_keep_cosine`` is
    kept without a descriptor (``embedding_keeps``), unless the model reads both as small children
    (``young_pair``) or it is a ``gap`` about a readable face of ``GAP_READ_PX`` or more
    (``descriptor_reads_gap``). Otherwise the pair is refused when the face descriptors are further apart than
    ``identity_max_distance`` (``identity_child_distance`` for small children; either tightened
    where the camera's people look alike, ``identity_cohort_z``; ``open``: further than
    ``gallery.OPEN_MAX_DISTANCE`` twice in a row); an unknown descriptor (a face under
    ``identity.MIN_FACE_PX`` or cut by the frame edge) refuses ``reid`` (but a LATE walker's face where
    its walk led, ``WALK_AWAY_SIZES`` or more from its last box, that the model embedding keeps:
    ``embedding_vouches_walker``), and ``jump`` or ``gap`` when
    the model embedding is further than ``identity_unknown_cosine`` (``embedding_refuses``). A refused
    detection starts a new track; in the next frame the refused track may take its face back when the
    model embedding keeps it (``association.second_look``, step 7; not for small children), or, after
    a refusal at an ``association.AGAIN_REASONS`` question, when the mean descriptor of the new track's
    first three faces is within ``track.AGAIN_MAX_DISTANCE`` (or the cohort's tighter limit) of the
    mean of the refused track's (an ``again`` look). A lost
    track that only the cue limits (``Gate.by_cues``) kept from a detection the motion fits may take
    it back the same way for ``track.HELD_BACK_FRAMES`` frames, if the descriptor passes it too, or by
    the descriptor alone within ``track.HELD_MAX_DISTANCE`` (``association.held_back``: a face coming
    out from behind a nearer body or face, its first looks mixed).

    Limits, and which way to turn them:

    - ``match_high`` (0.2) / ``match_low`` (0.4): minimum motion similarity of a pass-1 / pass-2
      pair; down if fast or jittery faces split, up if tracks jump between nearby faces.
    - ``track.EDGE_SHARE`` (0.06): a half face entering the frame is 0.19-0.24 from its whole face
      a frame later in the model's embedding and far in the identity's; judged on those, walkers
      split where they entered or left (11 of 19 split people on walk720_nobody, two seeds). Up if
      walkers still split at the frame edge, down if someone entering at an edge continues the track
      of someone who just left there. An edge face continues only a FOLLOWED track: with its looks
      unknown, static720_nobody's people who stepped up 3-5 frames after another left a spot at the
      frame edge took over that track (both seeds, 4 merges).
    - ``track.HIDDEN_SHARE`` (0.1): walkers who cross (``cross720``, docs/BENCHMARKS.md, fifteenth
      session): the face going behind a nearer one is detected for a frame or two with its box cut
      and its looks a mix of both faces (refused: a new track), then not at all, and comes out past
      the re-identification limits (its first looks mixed again): people split 23-45% -> 3-31%.
      The track it went in with is ``Track.behind`` (its predicted box covered by a nearer
      detection when it was missed) and is continued by motion alone. A hidden ``track_only`` box
      continues nothing: a still pattern that walkers pass in front of otherwise grows shifted
      boxes and loses its ``static`` (textures720). Up if crossing faces still split, down if a
      face next to a larger one loses its id.
    - ``center_radius`` (1.0): centre distance, in box sizes (sqrt(w*h) of the larger box) plus the
      track's predicted position uncertainty, at which the centre similarity reaches 0; it keeps
      small fast faces (24-60 px moving 5-14 px a frame) matchable when the boxes barely overlap. Up
      for faster faces, 0 for IoU only.
    - ``max_size_ratio`` (2.0): pairs whose box sizes differ by more than this factor never match;
      up if faces that grow fast (walking at the camera) split.
    - ``max_cosine_distance`` (0.2): the model's ``embedding``. Measured on model 1.2.1: no
      same-person match of real faces in the shared clips exceeds 0.15, 0.5% of same-face pairs of
      UTKFace validation faces under independent degradations do, and 89% of pairs of different
      UTKFace faces (61% of same-gender pairs within 5 years of age) exceed it. Model 1.3.0's
      embedding is more compact: 0% of same-face pairs exceed 0.2 (0.1% exceed 0.15), 83% of
      different pairs (41% of the hard ones) do; end to end on the CCTV benchmark it keeps the same
      identity results (no split, every replacement a new id). On the shared real clips different
      people in one frame are a median 0.16 apart: alone it separates people weakly. Down if tracks
      hold two people, up if one person splits.
    - ``max_body_distance`` (0.2): the body colour (``appearance.body_histogram``, unknown where
      ``appearance.BackgroundModel`` finds the scene behind). On the shared clips' real faces no
      same-track pair exceeds 0.06; 84% of pairs of different people in one frame exceed 0.2 (the
      face embedding: 25%). Down if people in similar clothes merge, up if one person splits when
      the light or the pose changes the clothes' colour. A followed pair whose body is over it while
      the face embedding vouched asks the identity (``body``): at a counter three people in dark
      sunglasses (thumbnails 0.16-0.17 apart, clothes 0.68-0.87, descriptors 0.70-0.75) kept one
      track without it (counter720_sunglasses s0; docs/BENCHMARKS.md, twenty-fourth session).
    - ``reid_max_cosine`` (0.15): the face embedding after a miss and for a re-identification;
      stricter than ``max_cosine_distance``. Up if walkers missed for a while get new ids, down if
      a newcomer takes over a lost track.
    - ``identity_unknown_cosine`` (0.15): the model embedding's answer where the descriptor has none
      (a face under 32 px). For ``jump``: at 5 fps a newcomer at a just-vacated spot arrives the next
      frame, its track followed, not missed (walk720 seed 1 and walk720_sameclothes seed 0 at 5 and 8
      fps each had one such merge of 24-32 px faces, 0.16 apart). For ``gap`` the gate already holds
      the pair within ``reid_max_cosine``. A monochrome camera puts different small faces closer
      (two merges at 0.136 and 0.148); 0.10 split walkers at 25 fps in colour (walk720_nobody seed 0
      10%, poster720 5%; docs/BENCHMARKS.md, fourteenth session). Down if tracks hold two people, up
      if one person splits.
    - ``max_low_score_frames`` (25): ByteTrack's low-score band kept a background patch alive for
      37 s; down if ghosts live long, up if a face that scores low for a while loses its rows.
    - ``identity_max_distance`` (0.5, Euclidean, dlib's descriptor): the same face under independent
      degradations is within 0.42 (p95) down to 24 px, different people are 0.60-0.72 apart (median)
      and 1-8% of them closer than 0.5 at 24-48 px. Up if one person splits into several tracks,
      down if tracks hold two people.
    - ``gallery.OPEN_MAX_DISTANCE`` (0.7): the open question's limit (two reads in a row beyond it
      refuse). After a miss the same walker's 32-35-px faces read up to 0.63 from its own (0.5 split
      8 people over the 21 presets x 2 seeds), a newcomer at a just-vacated spot 0.75. Down if
      newcomers who arrive under 32 px keep a leaver's id, up if walkers split after a miss.
    - ``identity_child_age`` (5 years) and ``identity_child_distance`` (0.38): different children of
      0-3 of one gender are a median 0.50-0.52 apart, 42-51% within 0.5, 3-6% within 0.38; the
      same child's face under two degradations within 0.40; faces from 48 px (``young_pair``).
      Distance down (or age up) if tracks of children hold two of them, distance up if one child
      splits; age 0: off.
    - ``identity_cohort_z`` (2.5): no limit above (not ``open``, ``held``; the ``again`` look's too)
      is looser than the questioned face's median distance to the camera's other people less 2.5
      spreads, or 0.42 where that is lower (``gallery.Cohort``, from 8 of them): a limit fixed
      for every camera assumes its people differ as much as the mix it was set on, and one
      population's look-alikes (UTKFace's Asian adults: 23% within 0.5) read closer. Up (or 0: off)
      if one person splits where the camera's people look alike, down if tracks hold two look-alikes.
    - ``identity_jump`` (0.2): the cheap first stage (``identity.thumb_change``: the larger of the
      relative brightness jump and 1 - the thumbnails' correlation). Same face in consecutive frames
      of the CCTV benchmark: still faces p99 0.013; walkers whose motion blur swings 5-9% above 0.1,
      2-5% above 0.2 (most of the rest: faces cut by the frame edge, never embedded); a different
      person at the same spot: 0.31 or more. Down to question more often (more descriptors, more
      time).
    - ``identity_check_frames`` (50): the periodic question (a change the thumbnail missed); down to
      question more often, 0 never.
    - ``identity_keep_cosine`` (0.07): real heads that roll or turn move dlib's descriptor 0.6+ from
      their own last frame, while the same face moves <= 0.085 in the model's embedding frame to frame
      and different people on the shared clips are >= 0.10 apart. After a miss (``gap``) too, for
      faces under ``GAP_READ_PX`` (a look-alike of one population read 0.067-0.069 at 92-126 px): on the
      CCTV benchmark (both seeds, walkers, printed face and counter) every different person a ``gap``
      question refused (8) was 0.114-0.147 from the track in the model's embedding, while 11 of the 13
      refusals of the same person (33-46 px faces scoring 0.3-0.7, descriptors 0.66 apart) were within
      0.056. Down if tracks hold two people after an instant replacement, up if one person splits; 0:
      the descriptor alone decides. The same limit lets a track refused in the previous frame take its
      face back (``association.second_look``): a dim, noisy 720p camera (``--camera dim``) split still
      people in a queue where one poor frame moved the embedding 0.089 and the descriptor refused them
      (queue720 11 and 8 persons for 6 -> 6 and 7; docs/BENCHMARKS.md, sixteenth session). And it
      vouches for a LATE walker's face under 32 px where its walk led (``WALK_AWAY_SIZES``).

    Args:
        states: the tracks' states (``states.track_states``).
        dist: per cue, (n, m) cosine distances (``association.cue_distance``).
        track_only: (n,) bool, the detections that may only continue a confirmed track.
        p: the tracker's limits.
        with_identity: the identity veto runs (a re-identification the embedding does not vouch for
            goes to the identity instead of being refused).
        at_edge: (n,) bool, the detections cut by the frame edge (``track.at_frame_edge``).
    """
    n, m = len(track_only), len(states.gap)
    forbidden = np.zeros((n, m), bool)
    followed = states.lenient[None, :]
    limit = {
        "embedding": np.where(
            states.lenient, p.max_cosine_distance, min(p.max_cosine_distance, p.reid_max_cosine)
        ),
        "body": np.full(m, p.max_body_distance),
    }
    with np.errstate(invalid="ignore"):  # NaN (unknown) compares False: neither over nor within
        over = {name: d > limit[name][None, :] for name, d in dist.items()}
        within = [d <= limit[name][None, :] for name, d in dist.items()]
        emb_vouches = (
            dist["embedding"] <= p.reid_max_cosine if "embedding" in dist else np.zeros((n, m), bool)
        )
        if "body" in over and "embedding" in dist and p.identity_keep_cosine > 0:
            # the body is what people in front hide first: a face the embedding keeps is not refused by it
            over["body"] &= ~(dist["embedding"] <= p.identity_keep_cosine)
    if dist:  # FOLLOWED: refused only when no known cue is within its limit; otherwise any over refuses
        forbidden |= np.logical_or.reduce(list(over.values())) & ~(followed & np.logical_or.reduce(within))
    by_cues = forbidden.copy()
    # REID: the embedding must vouch (LATE: only the identity may) ...
    unvouched = states.reid[None, :] & ~(emb_vouches & ~states.late[None, :])
    if hidden is not None and hidden.any():  # ... but for a face coming out from behind a nearer one
        # where the track went in: motion decides (not seconds later: LATE is the identity's)
        unvouched[np.ix_(hidden, states.behind & ~states.late)] = False
    vouch = np.zeros((n, m), bool)
    if with_identity:  # ... or the identity (asked after the assignment)
        vouch = unvouched & ~forbidden
    else:
        forbidden |= unvouched
    if at_edge is not None and at_edge.any():  # looks unknown: a lost track is not re-acquired by it
        forbidden[np.ix_(at_edge, ~states.followed)] = True
    if hidden is not None and hidden.any():  # looks unknown: only a track that went behind someone
        forbidden[np.ix_(hidden, ~(states.followed | states.behind))] = True
        forbidden[hidden & track_only, :] = True  # and a box under the detector's threshold: none
    if track_only.any():  # track_only: never long without a strong detection
        stale = states.strong_gap > p.max_low_score_frames
        forbidden[np.ix_(track_only, stale)] = True
    return Gate(forbidden=forbidden, vouch=vouch & ~forbidden, by_cues=by_cues)


def identity_question(
    i: int,
    t: Track,
    lenient: bool,
    now: float,
    identity: FrameFaces | None,
    p: TrackerParams,
    body_over: bool = False,
) -> str | None:
    """Why the chosen pair (detection ``i``, track ``t``) needs an identity check, or None.

    ``gap``: the track is not FOLLOWED, or ``FOLLOWED | MISSED`` (``lenient`` False), or it comes out
    from behind a nearer face (``Track.behind``: continued by motion alone, its first whole face is
    checked against the one it went in with; on cross720 a track that came out beside another walker
    followed that one); ``jump``: the
    face's thumbnail changed by more than ``identity_jump``; ``body``: the body colour below the face
    is further than ``max_body_distance`` from the track's (``body_over``, known on both sides; the
    gate kept the pair because the model embedding vouched); ``periodic``: its identity was last
    checked ``identity_check_frames`` ago; ``open``: none of those, and a ``gap``/``jump`` question about
    an earlier face got no answer (``Track.open_check``) while this face is readable
    (``FrameFaces.readable``). A track with no face kept (no patch, no checked descriptor) is never
    questioned. (``reid`` is the gate's: ``Gate.vouch``.)
    """
    if identity is None or (t.patch is None and not t.gallery):
        return None
    if not lenient or t.behind:  # behind: last matched (or lost) behind a nearer face, by motion alone
        return "gap"
    if t.thumb is not None and thumb_change(identity.thumbs[i], t.thumb) > p.identity_jump:
        return "jump"
    if body_over:  # the clothes changed and only the face vouched: the face descriptor decides
        return "body"
    if p.identity_check_frames and now - t.checked_frame >= p.identity_check_frames:
        return "periodic"
    if t.open_check and identity.readable(i):  # last: it never stands in for another question
        return "open"
    return None


def descriptor_reads_gap(reason: str, identity: FrameFaces | None, i: int) -> bool:
    """Whether a ``gap`` question about detection ``i`` is the descriptor's alone (``GAP_READ_PX``):
    a readable face at least that wide; the model embedding's shortcut (``embedding_keeps``) then
    does not answer it, and its refusal gets no second look by that embedding (``second_look``)."""
    if reason != "gap" or identity is None or not identity.readable(i):
        return False
    return identity.patch(i).face_px >= GAP_READ_PX


def embedding_keeps(dist: dict[str, np.ndarray], i: int, j: int, p: TrackerParams) -> bool:
    """Whether the model's face embedding puts detection ``i`` within ``identity_keep_cosine`` of
    track ``j`` (known on both sides): frame to frame the same real face moves <= 0.085, different
    people on the shared clips are >= 0.10 apart (docs/BENCHMARKS.md, "Identity on real clips"),
    different walkers after a miss on the CCTV benchmark >= 0.114 (``gate``'s limits)."""
    emb = dist.get("embedding")
    if emb is None or p.identity_keep_cosine <= 0:
        return False
    d = emb[i, j]
    return bool(np.isfinite(d) and d <= p.identity_keep_cosine)


def embedding_vouches_walker(
    dist: dict[str, np.ndarray], i: int, j: int, box: np.ndarray, t: Track, p: TrackerParams
) -> bool:
    """Whether the model embedding vouches for a LATE walker's re-identification (``reid``) that the
    descriptor could not answer: ``t`` walked steadily (``Track.walk``), detection ``i`` (``box``) is at
    least ``WALK_AWAY_SIZES`` of ``t``'s face sizes from its last box (where its walk led, not the spot
    it left: a newcomer there keeps the descriptor's answer) and within ``identity_keep_cosine``
    (``embedding_keeps``)."""
    if t.walk is None or not embedding_keeps(dist, i, j, p):
        return False
    (x, y, _), (lx, ly, size) = centre_size(box), centre_size(t.last_box)
    return math.hypot(x - lx, y - ly) >= WALK_AWAY_SIZES * size


def young_pair(
    identity: FrameFaces | None, i: int, t: Track, p: TrackerParams, min_face_px: float = CHILD_MIN_FACE_PX
) -> bool:
    """Whether the model reads both detection ``i`` (a face at least ``min_face_px`` wide) and
    track ``t`` (``Track.age``, an EMA of its faces' ages) younger than ``identity_child_age``: then a
    questioned pair is judged by the descriptor, at ``identity_child_distance`` (not ``open``, which
    only refuses faces read far); a LATE
    re-identification (``states.TrackState``) of such a pair, of any face size, is refused: no descriptor
    vouches for a small child seconds later.

    dlib's network was trained on adults. UTKFace faces of one gender, each under two degradations
    at 48 and 32 px (``benchmarks/identity_by_age.py``; docs/BENCHMARKS.md, eighteenth session):
    different children of 0-3 years are a median 0.50-0.52 apart, 42-51% of the pairs within the
    adults' limit of 0.5 (4-9 years: 6-10%; 10 and older: at most 1.2%), while the same child's face
    under two degradations stays within 0.40 (95th percentile 0.24-0.36). At 0.38, 3-6% of such
    pairs pass and 0-4% of the same photos are refused (training and validation faces alike). Their
    model embeddings (age and gender features) barely differ either, so no shortcut keeps them.
    Not measured: the same real child turning the head (an adult's turned head reads 0.6+ from its
    last frame, which the ``identity_keep_cosine`` shortcut keeps; a child's may then be split). The
    model reads 90-92% of validation 0-3-year-olds under 5 (the rest keep the adults' rule), a fifth
    of 4-9-year-olds, nobody older.
    """
    if identity is None or identity.ages is None or t.age is None or p.identity_child_age <= 0:
        return False
    x1, _, x2, _ = identity.xyxy[i]
    if x2 - x1 < min_face_px:
        return False
    return bool(identity.ages[i] < p.identity_child_age and t.age < p.identity_child_age)


def embedding_refuses(dist: dict[str, np.ndarray], i: int, j: int, p: TrackerParams) -> bool:
    """Whether the model's face embedding puts detection ``i`` further than ``identity_unknown_cosine``
    from track ``j`` (known on both sides): the answer to a question the descriptor cannot give.
    A newcomer at a just-vacated spot of a 5-fps camera arrives the next frame, so its track is
    followed, not missed; at 25 fps the same newcomer came after a miss, where this limit holds."""
    emb = dist.get("embedding")
    if emb is None:
        return False
    d = emb[i, j]
    return bool(np.isfinite(d) and d > p.identity_unknown_cosine)
