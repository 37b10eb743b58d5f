"""Which detection continues which track: track states, named cost terms, the gate and the assignment.

``tracker.Tracker`` keeps the state (the live tracks, ids, counters) and calls ``track_states`` once a
frame, then ``associate``, which decides the pairs in these steps:

- step 1, motion term (``motion_similarity``): ``max(IoU, centre similarity)`` of each detection to
  each track's Kalman-predicted box (``kalman.BoxKalman``); a track without a detection in the
  previous source frame is also compared at its predicted centre with its last detected size and
  (``match_last_box``) at its last detection; a LATE still one without the prediction's grown
  uncertainty, a LATE walker where its fitted walk leads.
- step 2, appearance terms (``cue_distance``): cosine distance of each cue (the model's face
  ``embedding``, the ``body`` colour below the face) to the track's, NaN where either side is unknown.
- step 3, the gate (``gate``): the pairs the track's state and the cues forbid, and the
  re-identifications that the identity must vouch for; the decision table is in its docstring.
- step 4, high-score detections (``high_score``, not ``track_only``) against every live track
  (followed, missed, re-identification window, tentative), at ``match_high``
  (``assign_two_passes``; ByteTrack's first association); a followed track keeps its detection over
  a lost track that the detection also fits (DeepSORT's matching cascade, as one assignment).
- step 5, the remaining (low-score) detections against the tracks left, at the stricter ``match_low``
  (ByteTrack's second association).
- step 6, identity veto (with ``identity.FrameFaces``): each chosen pair is questioned
  (``identity_question``); a refused pair is forbidden and steps 4-5 run again without it.
- step 7, a second look (``second_look``): a face refused in the previous frame started a new track;
  if the refused track is free and the model embedding now keeps the face, it takes the face back.

The tracker then updates the matched tracks, starts a track for each unmatched detection (but a
``track_only`` one) and ends the tracks past their lifetime (``TrackState``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.identity import FrameFaces, thumb_change

if TYPE_CHECKING:
    from facelog.pipeline.tracker import Track, TrackerParams

FORBIDDEN = -1.0  # similarity of a pair that may never be matched
# ``young_pair`` only for faces at least this wide: one child's photo degraded twice stays within
# 0.33 at 48 px, 0.40 at 32 (``benchmarks/identity_by_age.py``), and in a dim, noisy crowd of 24-72 px
# faces the children's limit split small children (crowd720 on ``--camera dim``: 121 -> 132 persons)
CHILD_MIN_FACE_PX = 48.0
# A track stood still (``Track.still``, scored at least ``high_score`` on average) when its detected
# box moved (centre and size) less than ``STILL_SPEED`` face sizes a frame (of 25 fps) over its last
# ``STILL_MIN_FRAMES`` to ``STILL_SPAN`` frames: people in a queue sway 0.004-0.01 a frame, walkers
# move 0.03 and more (benchmarks/cctv_synth.py presets). Measured over frames, not from the Kalman
# velocity: on a 51-px face the detector's box jitter swung that between 0.005 and 0.02 from frame
# to frame (queue720_away seed 1).
STILL_SPEED = 0.02
STILL_MIN_FRAMES = 12
STILL_SPAN = 25
# A confirmed track walked steadily (``Track.walk``) when, at the end of its ordinary window, its whole
# confident detections of the last ``WALK_SPAN`` frames (at least ``WALK_MIN_POINTS``, the last of
# them at most ``WALK_MIN_FRAMES`` before its last detection) span ``WALK_MIN_FRAMES`` frames and fit a line
# at a constant pace (least squares) of at least ``STILL_SPEED`` face sizes a frame, within
# ``WALK_RESIDUAL`` face sizes (root mean square; the synthetic walkers sway 3% of a face size, the
# detector's boxes jitter 2-4%; a zigzag of 0.4 face sizes strays 0.2). Lost past ``reid_frames``, it is
# sought where that line leads, within ``center_radius`` face sizes plus ``WALK_SLACK`` of the
# distance walked since (real walkers keep their pace within ~5-10% over seconds; 0.15 is ~100 px
# after 4 s at 7 px a frame).
WALK_SPAN = 50
WALK_MIN_FRAMES = 12
WALK_MIN_POINTS = 5  # a line through 2-4 points says little (at --fps 2 two points are 13 frames apart)
WALK_RESIDUAL = 0.1
WALK_SLACK = 0.15
# identity questions the model's embedding may answer (``embedding_keeps``): not a re-identification
_KEEP_REASONS = ("jump", "periodic", "gap")


class TrackState(enum.Flag):
    """A live track's state at one processed frame (``track_state``), and what it may match.

    ============= ============================================= =========================================
    state         when                                          matched by
    ============= ============================================= =========================================
    FOLLOWED      detected (matched or born) in the previous    motion + cue consensus (``gate``)
                  processed frame
    MISSED        not since, and last detected at most          motion + every known cue, the face at
                  ``max_lost_frames`` frames before the          the stricter ``reid_max_cosine``
                  previous processed frame
    REID          last detected more than ``max_lost_frames``   as MISSED, and the face embedding (or
                  frames before it (re-identification window)   the identity) must vouch
    LATE          added to REID: a still track (``Track.still``) as REID, but only the identity vouches
                  or a steady walker (``Track.walk``) past       (the model embedding does not)
                  ``max_lost_frames`` + ``reid_frames`` (their
                  longer windows, ``reid_still_frames`` and
                  ``reid_walk_frames``)
    TENTATIVE     added to one of the above: born from a        as that state; a ``track_only`` detection
                  low-score detection, not matched since by a   keeps it alive (unlogged) but never
                  detection at the detector's threshold         confirms it
    ============= ============================================= =========================================

    Frames are frames of the tracker's clock: of a 25-fps source, timed by the frames' timestamps
    (``tracker`` module docstring; a 5-fps recording steps 5 a frame), whatever the stride; frames a
    stride never analysed do not count as missed (``track_state``), so at any stride a track detected in the
    previous processed frame is followed, and one that missed a processed frame enters the window
    once ``max_lost_frames`` frames have passed since. A track followed across a stride longer than
    ``max_lost_frames`` + 1 is ``FOLLOWED | MISSED``: motion continues it and a face cut by the frame
    edge may (its looks unknown), but its known looks must all agree, as after a miss (``gate``). At
    ``--fps 2`` of the CCTV clips (docs/BENCHMARKS.md, thirteenth session): people split 17% -> 6%,
    tracks holding two people and new ids at vacated spots as before; ``FOLLOWED`` alone there let
    four newcomers take over a track. ``static`` is not a tracker state:
    ``persons.py`` decides it from a person's whole track.

    Lifetimes (``Tracker`` ends a track once it has gone this many frames without a detection, checked
    after each processed frame's matching, so with a stride it may be matched up to one stride later):
    ``max_lost_frames`` + ``reid_frames`` (confirmed), ``max_lost_frames`` + max(``reid_frames``,
    ``reid_still_frames``) (a confirmed track that stood still, ``Track.still``), ``max_lost_frames`` +
    max(``reid_frames``, ``reid_walk_frames``) (one that walked steadily, ``Track.walk``: decided when
    its ordinary window is over), ``max_tentative_lost_frames`` (tentative). A step
    between processed frames longer than ``max_lost_frames`` + ``reid_frames`` is a break (a live
    reader that dropped seconds): every track ends before matching. ``track_only`` boxes count frames
    of the clock too (``max_low_score_frames``, 25): at a stride over 25 they continue no track.

    - ``max_lost_frames`` (10): up if a walker the detector misses for a few frames gets a new id,
      down if a track jumps to someone else who appears near where it was lost.
    - ``reid_frames`` (40): the re-identification window after that; up if a face missed for a
      second (small, blurred, turned) gets a new id, 0 to end tracks at ``max_lost_frames``. A track
      ends (and its person is reported) this much later.
    - ``reid_still_frames`` (250, 10 s): the window of a track that stood still (``STILL_SPEED``):
      a person in a queue or at a counter who looks down or turns to someone behind for 2.5-6 s
      (``queue720_away``: each of 6 people became 3 tracks at 40). Past ``reid_frames`` only the
      identity descriptor vouches (LATE), so a face under 32 px is not re-identified there. Up if
      still people who turn away longer get new ids, down (to ``reid_frames`` or less: off) if a
      newcomer at a spot vacated seconds before continues the track of the person who left.
    - ``reid_walk_frames`` (150, 6 s): the window of a track that walked steadily (``WALK_RESIDUAL``):
      a walker who looks aside for 2.7-5.6 s and walks on (``walk720_away``: each of them split at
      40). Past ``reid_frames`` only the identity vouches (LATE), where the walk leads
      (``motion_similarity``, ``WALK_SLACK``); a track whose last face was cut by the frame edge
      (leaving) does not wait. Up if walkers who look aside longer split, down (to ``reid_frames``
      or less: off) if a walker's track is continued by someone else crossing where it led.
    - ``max_tentative_lost_frames`` (10): long enough for a small face that scores around the
      detector's threshold (0.55-0.69 on one frame, 0.3-0.5 or nothing for the next 5-9) to be matched
      again and confirmed: at 2, walk720_nobody's 35-px walkers started a new track every 4 frames; at
      4 (with ``track_only`` boxes unable to reach a tentative track) 24-33 px walkers still did, 6-13
      frames apart (docs/BENCHMARKS.md, seventh and eighth sessions). A tentative track is never
      logged after its first row unless confirmed, and its person needs ``min_evidence_frames``; up
      if such faces split, down if ghosts linger.
    """

    FOLLOWED = enum.auto()
    MISSED = enum.auto()
    REID = enum.auto()
    LATE = enum.auto()
    TENTATIVE = enum.auto()


def track_state(
    gap: float, since_previous: float | None, confirmed: bool, max_lost_frames: int, reid_frames: int = -1
) -> TrackState:
    """The state of one track (``TrackState``).

    Args:
        gap: frames since the track's last detection (of the tracker's clock: 25 fps).
        since_previous: frames since the previous processed frame; None on the first frame.
        confirmed: False while the track is tentative.
        max_lost_frames: ``TrackerParams.max_lost_frames``.
        reid_frames: ``TrackerParams.reid_frames``: REID past it is also LATE (only a still track or
            a steady walker lives that long); -1: never LATE.
    """
    state = TrackState(0)
    if since_previous is not None and gap == since_previous:
        state |= TrackState.FOLLOWED
        if since_previous - 1 > max_lost_frames:  # followed across a stride longer than a miss may be:
            state |= TrackState.MISSED  # its known looks must all agree, as after a miss
    # frames missed: those from its last detection to the previous processed frame (with a frame
    # stride the frames never analysed are not missed: at --fps 2 of a 25-fps file every followed
    # track was in the window, and a face entering at the frame edge, whose looks are unknown, could
    # never be vouched for: each walker began and ended with a one-detection piece)
    if gap - (since_previous or 1) > max_lost_frames:
        state |= TrackState.REID
        if reid_frames >= 0 and gap - (since_previous or 1) > max_lost_frames + reid_frames:
            state |= TrackState.LATE
    if not state:
        state = TrackState.MISSED
    if not confirmed:
        state |= TrackState.TENTATIVE
    return state


@dataclass(frozen=True, slots=True)
class FrameStates:
    """Every live track's state at one processed frame, as arrays over the tracker's track list."""

    state: tuple[TrackState, ...]
    gap: np.ndarray  # (m,) float64: frames (of the clock) since the track's last detection
    strong_gap: np.ndarray  # (m,) float64: ... since its last detection that was not ``track_only``
    followed: np.ndarray  # (m,) bool: FOLLOWED in state
    reid: np.ndarray  # (m,) bool: REID in state
    late: np.ndarray  # (m,) bool: LATE in state (only the identity vouches)
    lenient: np.ndarray  # (m,) bool: FOLLOWED and not MISSED: cue consensus (``gate``)
    tentative: np.ndarray  # (m,) bool: TENTATIVE in state
    behind: np.ndarray  # (m,) bool: lost behind a nearer face (``Track.behind``)


def track_states(
    tracks: Sequence[Track], now: float, previous: float | None, max_lost_frames: int, reid_frames: int = -1
) -> FrameStates:
    """The states of all live tracks at clock ``now`` (``previous``: the previous processed frame's;
    ``tracker`` module docstring)."""
    since = None if previous is None else now - previous
    gap = np.array([now - t.last_frame for t in tracks], np.float64)
    state = tuple(
        track_state(float(g), since, t.confirmed, max_lost_frames, reid_frames)
        for g, t in zip(gap, tracks, strict=True)
    )
    return FrameStates(
        state=state,
        gap=gap,
        strong_gap=np.array([now - t.last_strong_frame for t in tracks], np.float64),
        followed=np.array([TrackState.FOLLOWED in s for s in state], bool),
        reid=np.array([TrackState.REID in s for s in state], bool),
        late=np.array([TrackState.LATE in s for s in state], bool),
        lenient=np.array([TrackState.FOLLOWED in s and TrackState.MISSED not in s for s in state], bool),
        tentative=np.array([TrackState.TENTATIVE in s for s in state], bool),
        behind=np.array([t.behind for t in tracks], bool),
    )


@dataclass(frozen=True, slots=True)
class Gate:
    """What ``gate`` decided for (detections, tracks) pairs."""

    forbidden: np.ndarray  # (n, m) bool: never matched
    vouch: np.ndarray  # (n, m) bool: matched only if the identity vouches (re-identification)


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
                             ``match_low`` (low-score), sizes       further apart (``assign_two_passes``,
                             within ``max_size_ratio``              ``similarity``)
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
                             (``tracker.at_frame_edge``)            only a FOLLOWED track (``FOLLOWED |
                                                                    MISSED`` included) may take it: after
                                                                    a miss the looks must be known
    any        behind a      another box at least as large covers   its looks are unknown, as at the edge;
               nearer face   ``HIDDEN_SHARE`` (10%) of the face's   only a FOLLOWED track or one lost
                             (``tracker.behind_nearer``)            behind a nearer face (``Track.behind``)
                                                                    may take it, the latter by motion
                                                                    alone (no REID vouch); a
                                                                    ``track_only`` one continues none
    any        track_only    ``max_low_score_frames`` since the     the detection is ``track_only`` and
                             last detection that was not            the limit has passed
    ========== ============= ====================================== ======================================

    Identity veto (``identity_question``, after each assignment): a chosen pair is questioned when the
    track is not FOLLOWED, is ``FOLLOWED | MISSED`` or is ``Track.behind`` (``gap``), when the face's
    thumbnail changed by more than ``identity_jump`` (``jump``), when the identity was last checked
    ``identity_check_frames`` ago (``periodic``), when none of those applies but a ``gap``/``jump``
    question about an earlier face of the track got no answer (``Track.open_check``: no descriptor,
    and the model embedding let it through) and this face is readable (``open``: the descriptor alone,
    against the track's faces before; two reads in a row further than ``tracker.OPEN_MAX_DISTANCE``
    refuse, the first is answered None and keeps the pair; it may only refuse, and a refusal gets no
    second look), and for a ``vouch`` pair (``reid``). A
    ``gap``/``jump``/``periodic`` pair whose embedding is within ``identity_keep_cosine`` is kept
    without a descriptor (``embedding_keeps``), unless the model reads both as small children
    (``young_pair``). Otherwise the pair is refused when the face descriptors are further apart than
    ``identity_max_distance`` (``identity_child_distance`` for small children; ``open``: further than
    ``tracker.OPEN_MAX_DISTANCE`` twice in a row); an unknown
    descriptor (a face under ``identity.MIN_FACE_PX`` or cut by the frame edge) refuses ``reid``, and
    ``jump`` or ``gap`` when the model embedding is further than ``identity_unknown_cosine``
    (``embedding_refuses``). A refused detection starts a new track; in the next frame the refused
    track may take its face back when the model embedding keeps it (``second_look``, step 7; not
    for small children).

    Limits, and which way to turn them:

    - ``match_high`` (0.2) / ``match_low`` (0.4): minimum motion similarity of a pass-1 / pass-2
      pair; down if fast or jittery faces split, up if tracks jump between nearby faces.
    - ``tracker.EDGE_SHARE`` (0.06): a half face entering the frame is 0.19-0.24 from its whole face
      a frame later in the model's embedding and far in the identity's; judged on those, walkers
      split where they entered or left (11 of 19 split people on walk720_nobody, two seeds). Up if
      walkers still split at the frame edge, down if someone entering at an edge continues the track
      of someone who just left there. An edge face continues only a FOLLOWED track: with its looks
      unknown, static720_nobody's people who stepped up 3-5 frames after another left a spot at the
      frame edge took over that track (both seeds, 4 merges).
    - ``tracker.HIDDEN_SHARE`` (0.1): walkers who cross (``cross720``, docs/BENCHMARKS.md, fifteenth
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
      the light or the pose changes the clothes' colour.
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
    - ``tracker.OPEN_MAX_DISTANCE`` (0.7): the open question's limit (two reads in a row beyond it
      refuse). After a miss the same walker's 32-35-px faces read up to 0.63 from its own (0.5 split
      8 people over the 21 presets x 2 seeds), a newcomer at a just-vacated spot 0.75. Down if
      newcomers who arrive under 32 px keep a leaver's id, up if walkers split after a miss.
    - ``identity_child_age`` (5 years) and ``identity_child_distance`` (0.38): different children of
      0-3 of one gender are a median 0.50-0.52 apart, 42-51% within 0.5, 3-6% within 0.38; the
      same child's face under two degradations within 0.40; faces from 48 px (``young_pair``).
      Distance down (or age up) if tracks of children hold two of them, distance up if one child
      splits; age 0: off.
    - ``identity_jump`` (0.2): the cheap first stage (``identity.thumb_change``: the larger of the
      relative brightness jump and 1 - the thumbnails' correlation). Same face in consecutive frames
      of the CCTV benchmark: still faces p99 0.013; walkers whose motion blur swings 5-9% above 0.1,
      2-5% above 0.2 (most of the rest: faces cut by the frame edge, never embedded); a different
      person at the same spot: 0.31 or more. Down to question more often (more descriptors, more
      time).
    - ``identity_check_frames`` (50): the periodic question (a change the thumbnail missed); down to
      question more often, 0 never.
    - ``identity_keep_cosine`` (0.07): real heads that roll or turn move dlib's descriptor 0.6+ from
      their own last frame, while the same face moves <= 0.085 in the model's embedding frame to
      frame and different people on the shared clips are >= 0.10 apart. After a miss (``gap``) too:
      on the CCTV benchmark (both seeds, walkers, printed face and counter) every different person a
      ``gap`` question refused (8) was 0.114-0.147 from the track in the model's embedding, while 11
      of the 13 refusals of the same person (33-46 px faces scoring 0.3-0.7, descriptors 0.66 apart)
      were within 0.056. Down if tracks hold two
      people after an instant replacement, up if one person splits; 0: the descriptor alone decides.
      The same limit lets a track refused in the previous frame take its face back (``second_look``):
      a dim, noisy 720p camera (``--camera dim``) split still people in a queue where one poor frame
      moved the embedding 0.089 and the descriptor refused them (queue720 11 and 8 persons for 6 ->
      6 and 7; docs/BENCHMARKS.md, sixteenth session).

    Args:
        states: the tracks' states (``track_states``).
        dist: per cue, (n, m) cosine distances (``cue_distance``).
        track_only: (n,) bool, the detections that may only continue a confirmed track.
        p: the tracker's limits.
        with_identity: the identity veto runs (a re-identification the embedding does not vouch for
            goes to the identity instead of being refused).
        at_edge: (n,) bool, the detections cut by the frame edge (``tracker.at_frame_edge``).
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
    return Gate(forbidden=forbidden, vouch=vouch & ~forbidden)


def identity_question(
    i: int, t: Track, lenient: bool, now: float, identity: FrameFaces | None, p: TrackerParams
) -> str | None:
    """Why the chosen pair (detection ``i``, track ``t``) needs an identity check, or None.

    ``gap``: the track is not FOLLOWED, or ``FOLLOWED | MISSED`` (``lenient`` False), or it comes out
    from behind a nearer face (``Track.behind``: continued by motion alone, its first whole face is
    checked against the one it went in with; on cross720 a track that came out beside another walker
    followed that one); ``jump``: the
    face's thumbnail changed by more than ``identity_jump``; ``periodic``: its identity was last
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
    if p.identity_check_frames and now - t.checked_frame >= p.identity_check_frames:
        return "periodic"
    if t.open_check and identity.readable(i):  # last: it never stands in for another question
        return "open"
    return None


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


def young_pair(
    identity: FrameFaces | None, i: int, t: Track, p: TrackerParams, min_face_px: float = CHILD_MIN_FACE_PX
) -> bool:
    """Whether the model reads both detection ``i`` (a face at least ``min_face_px`` wide) and
    track ``t`` (``Track.age``, an EMA of its faces' ages) younger than ``identity_child_age``: then a
    questioned pair is judged by the descriptor, at ``identity_child_distance`` (not ``open``, which
    only refuses faces read far); a LATE
    re-identification (``TrackState``) of such a pair, of any face size, is refused: no descriptor
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


@dataclass(frozen=True, slots=True)
class Check:
    """One identity question of a chosen pair and its answer."""

    reason: str  # gap | jump | periodic | open | reid | second
    verdict: bool | None  # same face; False: refused; None: unknown (or ``open``'s first far read)
    # answered by the model (its embedding: ``embedding_keeps``/``_refuses``; or its age reading),
    # no descriptor
    by_embedding: bool
    far: bool = False  # ``open``: the descriptor read the face far from the track once (kept, asked again)


@dataclass(frozen=True, slots=True)
class Association:
    """What ``associate`` decided."""

    pairs: dict[int, int]  # detection -> track (index in the track list)
    checks: dict[tuple[int, int], Check]  # the identity questions asked, in the order asked
    taken_back: tuple[int, ...] = ()  # tracks (indices) whose face a second look gave back (step 7)


def associate(
    now: float,
    boxes: np.ndarray,
    score: np.ndarray,
    track_only: np.ndarray,
    cues: dict[str, np.ndarray],
    tracks: Sequence[Track],
    states: FrameStates,
    p: TrackerParams,
    identity: FrameFaces | None,
    same_face: Callable[[int, int, str], bool | None],
    at_edge: np.ndarray | None = None,
    hidden: np.ndarray | None = None,
) -> Association:
    """Pair this frame's detections with the live tracks (steps 1-6 of the module docstring).

    ``same_face(i, j, reason)`` answers an identity question with the face descriptors (the tracker
    computes them and keeps them on its tracks): True, False, or None (unknown).
    """
    # step 1: motion term, IoU / centre similarity to the predicted (and, if missed, last) boxes
    sim = motion_similarity(boxes, tracks, states.gap, p, states.late)
    # step 2: appearance terms, cosine distance per cue
    dist = {name: cue_distance(name, feats, tracks) for name, feats in cues.items()}
    # step 3: the gate (state x cue)
    g = gate(states, dist, track_only, p, identity is not None, at_edge, hidden)
    sim = np.where(g.forbidden, FORBIDDEN, sim)
    high = (score >= p.high_score) & ~track_only
    checks: dict[tuple[int, int], Check] = {}
    while True:
        # step 4: high-score detections against every live track; step 5: the rest against the rest
        pairs = assign_two_passes(sim, high, p.match_high, p.match_low, states.followed)
        # step 6: identity veto: question the chosen pairs, refuse different faces, assign again
        refused = False
        if identity is not None or g.vouch.any():
            for i, j in pairs.items():
                if g.vouch[i, j]:
                    reason: str | None = "reid"
                else:
                    reason = identity_question(i, tracks[j], bool(states.lenient[j]), now, identity, p)
                if reason is None:
                    continue
                if (i, j) not in checks:
                    if reason == "reid" and states.late[j] and young_pair(identity, i, tracks[j], p, 0.0):
                        # small children seconds apart: the descriptor cannot vouch (1-year-olds who
                        # stepped up 3-8 s apart at one counter spot read 0.32 and 0.38 from the track
                        # before; counter720_gap_alike)
                        checks[i, j] = Check(reason, False, True)
                    elif (
                        reason in _KEEP_REASONS
                        and embedding_keeps(dist, i, j, p)
                        and not young_pair(identity, i, tracks[j], p)
                    ):
                        # a model embedding that barely moved: no descriptor (it could not refuse
                        # the pair: a rolled or turned real head reads 0.6+ from its own last frame,
                        # a weak 33-px face 0.66), so the check costs nothing
                        checks[i, j] = Check(reason, None, True)
                    else:
                        verdict = same_face(i, j, reason)
                        if verdict is None and reason in ("jump", "gap") and embedding_refuses(dist, i, j, p):
                            # a face the descriptor cannot read (under 32 px): the model
                            # embedding answers, refusing beyond identity_unknown_cosine
                            checks[i, j] = Check(reason, False, True)
                        elif reason == "open" and verdict is False and not tracks[j].open_far:
                            # one far read is not enough (a face at the descriptor's limit): the
                            # next readable face must read far too (``tracker.OPEN_MAX_DISTANCE``)
                            checks[i, j] = Check(reason, None, False, far=True)
                        else:
                            checks[i, j] = Check(reason, verdict, False)
                verdict = checks[i, j].verdict
                if verdict is False or (reason == "reid" and verdict is None):
                    sim[i, j] = FORBIDDEN
                    refused = True
        if not refused:
            break
    # step 7: a second look at a refusal (``second_look``)
    taken_back = second_look(pairs, checks, sim, high, dist, tracks, p, identity)
    return Association(pairs=pairs, checks=checks, taken_back=taken_back)


def second_look(
    pairs: dict[int, int],
    checks: dict[tuple[int, int], Check],
    sim: np.ndarray,
    high: np.ndarray,
    dist: dict[str, np.ndarray],
    tracks: Sequence[Track],
    p: TrackerParams,
    identity: FrameFaces | None = None,
) -> tuple[int, ...]:
    """A face refused once is looked at again (step 7, in place on ``pairs`` and ``checks``); returns
    the new tracks (indices) that gave their face back.

    A detection that a track's identity check refused (``jump``, ``periodic`` or ``gap``, by the
    descriptor) started a new track (``Track.second_look`` names the refused one). One frame later,
    when that new track is paired, the refused track is free and may take the same detection (``sim``
    at least ``match_high``, ``match_low`` for a low-score one; not forbidden) and the model
    embedding puts the detection within ``identity_keep_cosine`` of the refused track
    (``embedding_keeps``: what a ``gap`` question accepts without a descriptor), the refused track
    takes it back (reason ``second``; the tracker ends the one-frame track). A refusal means the
    embedding had moved past that limit: a single poor frame (the last one before an H.264 keyframe
    under a bit-rate cap, a burst of sensor noise) moves it and the next frame brings it back; a
    newcomer stays far. No descriptor is asked again: it is the cue that erred, and in a dim, noisy
    scene a newcomer's descriptor passed on its second frame (``--camera dim``, docs/BENCHMARKS.md,
    sixteenth session). Without the model embedding (unknown, or a model without one) there is no
    second look, nor for two faces the model reads as small children (``young_pair``: their
    embeddings barely differ).
    """
    taken = set(pairs.values())
    by_id = {t.track_id: j for j, t in enumerate(tracks)}
    back = []
    for i, jn in list(pairs.items()):
        refused = tracks[jn].second_look
        jx = by_id.get(refused) if refused is not None else None
        least = p.match_high if high[i] else p.match_low
        if jx is None or jx in taken or sim[i, jx] < least or not embedding_keeps(dist, i, jx, p):
            continue
        if young_pair(identity, i, tracks[jx], p):
            continue
        checks[i, jx] = Check("second", True, True)
        pairs[i] = jx
        taken.add(jx)
        back.append(jn)
    return tuple(back)


def motion_similarity(
    boxes: np.ndarray,
    tracks: Sequence[Track],
    gap: np.ndarray,
    p: TrackerParams,
    late: np.ndarray | None = None,
) -> np.ndarray:
    """(n, m) motion term: ``similarity`` to each track's predicted box. A track without a detection in
    the previous source frame (``gap`` > 1) is also compared at its predicted centre with its last
    detected size (the size velocity of a walker who grew or shrank before being missed is not
    extrapolated) and, with ``match_last_box``, at its last detection (OC-SORT's observation-centric
    recovery: someone who stopped while missed); the best of these counts. A LATE track (``late``,
    (m,) bool: lost for seconds) that stood still: at its predicted centre with its last size and at
    its last box, without the prediction's grown uncertainty: the person turns back about where
    they stood or drifted to (a faint pattern's track otherwise hopped to the next pattern,
    textures720 on ``--camera dim``). A LATE walker (``Track.walk``) is sought where the line fitted
    to its last detections leads (not the Kalman velocity: its frame-to-frame noise, ~0.5 px a
    frame, is ~50 px after 4 s) with its last size, with ``WALK_SLACK`` of the distance walked as
    uncertainty, and at its last box (someone who stopped at a shop window)."""
    pred = np.array([t.kf.box() for t in tracks], np.float64).reshape(-1, 4)
    sigma = np.array([t.kf.position_std() for t in tracks], np.float64)
    radius = (p.center_radius, p.max_size_ratio)
    sim = similarity(boxes, pred, *radius, sigma)
    lost = gap > 1
    if lost.any():
        # LATE: not at the predicted box (its size velocity extrapolated over seconds shrank a box to
        # 1 px) and without the grown uncertainty; always at its last box
        late_lost = np.zeros(int(lost.sum()), bool) if late is None else late[lost]
        last = np.array([t.last_box for t in tracks], np.float64)[lost]
        centre, half = (pred[lost, :2] + pred[lost, 2:]) / 2, (last[:, 2:] - last[:, :2]) / 2
        std = np.where(late_lost, 0.0, sigma[lost])
        for k, j in zip(np.flatnonzero(late_lost), np.flatnonzero(lost)[late_lost], strict=True):
            w = tracks[j].walk
            if w is not None:  # a LATE walker: where the walk leads
                walked = tracks[j].predicted_frame - w.clock
                centre[k] = (w.cx + w.vx * walked, w.cy + w.vy * walked)
                std[k] = WALK_SLACK * math.hypot(w.vx, w.vy) * walked
        at_last = similarity(boxes, last, *radius)
        if not p.match_last_box:
            at_last = np.where(late_lost[None, :], at_last, FORBIDDEN)
        at_pred = np.where(late_lost[None, :], FORBIDDEN, sim[:, lost])
        at_centre = similarity(boxes, np.hstack([centre - half, centre + half]), *radius, std)
        sim[:, lost] = np.maximum.reduce([at_pred, at_centre, at_last])
    return sim


def similarity(
    det: np.ndarray,
    trk: np.ndarray,
    center_radius: float,
    max_size_ratio: float,
    trk_std_px: np.ndarray | None = None,
) -> np.ndarray:
    """Match similarity in [0, 1] between (n, 4) detections and (m, 4) predicted boxes: (n, m).

    ``max(IoU, centre similarity x size similarity)``; the centre similarity falls linearly from 1 to
    0 at ``center_radius`` box sizes (sqrt(area) of the larger box) plus the track's predicted
    position uncertainty ``trk_std_px`` ((m,) px), so a track seen once (velocity unknown) or lost for
    a while searches wider than a steady one. Pairs whose sizes differ by more than ``max_size_ratio``
    get ``-1`` (never matched).
    """
    sim = iou_matrix(det, trk).astype(np.float64)
    if sim.size == 0:
        return sim
    size_d = np.sqrt(np.maximum((det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1]), 1e-9))
    size_t = np.sqrt(np.maximum((trk[:, 2] - trk[:, 0]) * (trk[:, 3] - trk[:, 1]), 1e-9))
    big = np.maximum(size_d[:, None], size_t[None, :])
    ratio = np.minimum(size_d[:, None], size_t[None, :]) / big
    if center_radius > 0:
        cd = (det[:, None, :2] + det[:, None, 2:]) / 2 - (trk[None, :, :2] + trk[None, :, 2:]) / 2
        radius = center_radius * big + (0.0 if trk_std_px is None else trk_std_px[None, :])
        near = np.minimum(np.maximum(1.0 - np.hypot(cd[..., 0], cd[..., 1]) / radius, 0.0), 1.0)
        sim = np.maximum(sim, near * ratio)
    sim[ratio < 1.0 / max_size_ratio] = FORBIDDEN
    return sim


def cue_distance(name: str, feats: np.ndarray, tracks: Sequence[Track]) -> np.ndarray:
    """(n, m) cosine distances of detections to each track's appearance of one cue, NaN where either
    side is unknown. The smaller of the distances to the EMA and to the last vector: a face that
    turns slowly stays close to its previous frame even when it drifts from the average.
    """
    dist = np.full((len(feats), len(tracks)), np.nan)
    cols = [j for j, t in enumerate(tracks) if name in t.cues]
    if not cols:
        return dist  # no appearance of this kind yet: nothing to compare
    ema = np.array([tracks[j].cues[name][0] for j in cols])
    last = np.array([tracks[j].cues[name][1] for j in cols])
    if ema.shape[1:] != feats.shape[1:]:
        raise ValueError(f"{name} must be (n, {ema.shape[1]}), got {feats.shape}")
    known = feats.any(axis=1, keepdims=True)
    dist[:, cols] = np.where(known, 1.0 - np.maximum(feats @ ema.T, feats @ last.T), np.nan)
    return dist


def assign_two_passes(
    sim: np.ndarray,
    high: np.ndarray,
    match_high: float,
    match_low: float,
    followed: np.ndarray | None = None,
) -> dict[int, int]:
    """ByteTrack's two passes: high-score detections first (``match_high``), then the rest against the
    tracks left (``match_low``). ``followed`` ((m,) bool): the tracks that keep their detection over a
    lost track the detection also fits (``_assign``). Returns {detection: track column}."""
    pairs: dict[int, int] = {}
    free = np.ones(sim.shape[1], bool)
    first = np.zeros(sim.shape[1], bool) if followed is None else followed
    for dets, threshold in ((np.flatnonzero(high), match_high), (np.flatnonzero(~high), match_low)):
        cols = np.flatnonzero(free)
        for a, b in _assign(sim[np.ix_(dets, cols)], threshold, first[cols]):
            pairs[int(dets[a])] = int(cols[b])
            free[cols[b]] = False
    return pairs


def _assign(sim: np.ndarray, threshold: float, first: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Optimal assignment maximising the number of pairs >= threshold, then the number of them with a
    ``first`` track ((m,) bool: the followed ones), then their summed similarity. A followed track keeps
    its walker over a lost one that the walker's path also fits (DeepSORT's matching cascade: recently
    seen tracks first): on walk720_nobody seed 1 a walker who took over the path of one lost 40 frames
    earlier went to the lost track (similarity 0.90 vs 0.88), though its own was 0.02 away in the
    model's embedding."""
    if sim.size == 0:
        return []
    ok = sim >= threshold
    if not ok.any():
        return []
    from scipy.optimize import linear_sum_assignment  # here: importing the config need not load scipy

    # a followed pair outweighs any sum of similarities (each <= 1), a missing pair any bonus
    bonus = 0.0 if first is None else np.where(first, min(sim.shape) + 1.0, 0.0)[None, :]
    rows, cols = linear_sum_assignment(np.where(ok, sim + bonus, -1e6), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]
