"""A live track's state at one frame (followed, missed, re-identification window, late, tentative),
its lifetime, and the two ways of moving that lengthen it: standing still and walking steadily.

``track_states`` computes every live track's state once a frame, before the matching
(``tracker.Tracker.update``); ``policy.gate`` and ``association`` read it. ``stood_still`` and
``walk_path`` update a matched track's ``Track.still`` and ``Track.path``; ``fit_walk`` decides
``Track.walk`` when its ordinary window is over.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facelog.pipeline.tracking.track import Track, Walk

_SCORE_MOMENTUM = 0.8  # ``Track.score_ema``: weight of the old mean when a detection arrives
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
# them at most ``WALK_MIN_FRAMES`` before its last detection) span ``WALK_MIN_SPAN`` frames and fit
# a line at a constant pace (least squares) of at least ``STILL_SPEED`` face sizes a frame, within
# ``WALK_RESIDUAL`` face sizes (root mean square; the synthetic walkers sway 3% of a face size, the
# detector's boxes jitter 2-4%; a zigzag of 0.4 face sizes strays 0.2). Lost past ``reid_frames``, it
# is sought where that line leads (``association.motion_similarity``, ``association.WALK_SLACK``).
WALK_SPAN = 50
WALK_MIN_FRAMES = 12
# 8 frames (0.32 s): a walker who entered at the frame edge (its cut faces are not on the path) and
# looked aside 10-13 frames later had too short a path at 12 and split (walk720_away s2: 39 -> 37
# persons for 34; 53 other clips of seeds 0-3 and the dim camera byte-identical; docs/BENCHMARKS.md,
# thirty-second session). At 8.3 fps or less 5 points span 12 frames anyway. Up if walkers who
# turn are sought on a line, down if walkers who look aside soon after entering split.
WALK_MIN_SPAN = 8
WALK_MIN_POINTS = 5  # a line through 2-4 points says little (at --fps 2 two points are 13 frames apart)
WALK_RESIDUAL = 0.1


class TrackState(enum.Flag):
    """A live track's state at one processed frame (``track_state``), and what it may match.

    ============= ============================================= =========================================
    state         when                                          matched by
    ============= ============================================= =========================================
    FOLLOWED      detected (matched or born) in the previous    motion + cue consensus (``policy.gate``)
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
    edge may (its looks unknown), but its known looks must all agree, as after a miss (``policy.gate``). At
    ``--fps 2`` of the CCTV clips (docs/BENCHMARKS.md, thirteenth session): people split 17% -> 6%,
    tracks holding two people and new ids at vacated spots as before; ``FOLLOWED`` alone there let
    four newcomers take over a track. ``static`` is not a tracker state:
    ``static.StaticRule`` decides it from a person's whole track.

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
    - ``reid_walk_frames`` (150, 6 s): the window of a track that walked steadily (``WALK_RESIDUAL``): a
      walker who looks aside for 2.7-5.6 s and walks on (``walk720_away``: each of them split at 40).
      Past ``reid_frames`` only the identity vouches (LATE), where the walk leads
      (``association.motion_similarity``, ``association.WALK_SLACK``); a track whose last face was cut
      by the frame edge (leaving) does not wait. Up if walkers who look aside longer split, down (to
      ``reid_frames`` or less: off) if a walker's track is continued by someone else crossing where it
      led.
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
    lenient: np.ndarray  # (m,) bool: FOLLOWED and not MISSED: cue consensus (``policy.gate``)
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


def stood_still(t: Track, now: float, box: np.ndarray, score: float, high_score: float) -> None:
    """Update ``Track.still`` with detection ``box`` (``score``) at clock ``now``: the box's centre and
    size moved less than ``STILL_SPEED`` sizes a frame since ``still_ref``, once that is
    ``STILL_MIN_FRAMES`` old (the reference moves on every ``STILL_SPAN`` frames), and the scores' EMA
    is at least ``high_score``; decided on a detection at ``high_score`` or above only (the last few
    detections of a head that turns away score low). Real faces standing in a queue score a median
    0.85-0.91 on the dim camera, the face-like patterns of textures720 0.42-0.56 (with the longer
    window their pieces joined and hopped to the next pattern)."""
    first = t.still_ref is None
    t.score_ema = score if first else _SCORE_MOMENTUM * t.score_ema + (1 - _SCORE_MOMENTUM) * score
    here = (now, *centre_size(box))
    if t.still_ref is None:
        t.still_ref = here
        return
    then, cx, cy, size = t.still_ref
    span = now - then
    if span >= STILL_MIN_FRAMES and score >= high_score:  # a head turning away scores low first
        moved = math.hypot(here[1] - cx, here[2] - cy, here[3] - size) / max(here[3], size)
        t.still = moved / span < STILL_SPEED and t.score_ema >= high_score
    if span >= STILL_SPAN:
        t.still_ref = here


def walk_path(t: Track, now: float, box: np.ndarray, confident: bool, edge: bool, hidden: bool) -> None:
    """Add detection ``box`` at clock ``now`` to ``Track.path`` when it is whole and ``confident`` (at
    ``high_score``: a head turning away scores low and its box slides); one cut by the frame edge
    empties it (a face leaving the frame is not waited for; one entering starts its path whole); one
    behind a nearer face is left out (its box is cut)."""
    t.walk = None
    if edge:
        t.path.clear()
    elif confident and not hidden:
        while t.path and t.path[0][0] < now - WALK_SPAN:
            t.path.popleft()
        t.path.append((now, *centre_size(box)))


def fit_walk(path: deque[tuple[float, float, float, float]], last_frame: float) -> Walk | None:
    """The steady walk of ``Track.path`` (least squares of the centre on the clock) up to the track's
    last detection at clock ``last_frame``, or None when the path has under ``WALK_MIN_POINTS`` points
    (two always fit a line), spans under ``WALK_MIN_SPAN`` frames, ends more than
    ``WALK_MIN_FRAMES`` before ``last_frame`` (detected unconfidently since: where it went then is
    unknown), moves under ``STILL_SPEED`` face sizes a frame or strays from the line by more than
    ``WALK_RESIDUAL`` face sizes (root mean square): someone who turns, zigzags or stops is not sought
    where a line leads."""
    if len(path) < WALK_MIN_POINTS or path[-1][0] - path[0][0] < WALK_MIN_SPAN:
        return None
    if last_frame - path[-1][0] > WALK_MIN_FRAMES:
        return None
    pts = np.array(path, np.float64)
    clock = pts[:, 0] - pts[-1, 0]
    lag = clock - clock.mean()
    velocity = lag @ (pts[:, 1:3] - pts[:, 1:3].mean(axis=0)) / (lag @ lag)
    at_last = pts[:, 1:3].mean(axis=0) - velocity * clock.mean()  # the line's centre at the last point
    stray = math.sqrt(float(((pts[:, 1:3] - at_last - clock[:, None] * velocity) ** 2).sum(axis=1).mean()))
    size = float(np.median(pts[:, 3]))
    if math.hypot(*velocity) < STILL_SPEED * size or stray > WALK_RESIDUAL * size:
        return None
    return Walk(
        float(pts[-1, 0]), float(at_last[0]), float(at_last[1]), float(velocity[0]), float(velocity[1])
    )


def centre_size(box: np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, sqrt(area)) of an xyxy box."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 + x2) / 2, (y1 + y2) / 2, math.sqrt(max((x2 - x1) * (y2 - y1), 1e-9))
