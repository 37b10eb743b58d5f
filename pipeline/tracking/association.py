"""Which detection continues which track: the named cost terms and the steps of the matching.

``tracker.Tracker`` keeps the state (the live tracks, ids, counters) and calls
``states.track_states`` once a frame, then ``associate``, which decides the pairs in these steps:

- step 1, motion term (``motion_similarity``): ``max(IoU, centre similarity)`` of each detection to
  each track's Kalman-predicted box (``kalman.BoxKalman``); a track without a detection in the
  previous source frame is also compared at its predicted centre with its last detected size and
  (``match_last_box``) at its last detection; a LATE still one without the prediction's grown
  uncertainty, a LATE walker where its fitted walk leads.
- step 2, appearance terms (``cue_distance``): cosine distance of each cue (the model's face
  ``embedding``, the ``body`` colour below the face) to the track's, NaN where either side is unknown.
- step 3, the gate (``policy.gate``): the pairs the track's state and the cues forbid, and the
  re-identifications that the identity must vouch for; the decision table is in its docstring.
- step 4, high-score detections (``high_score``, not ``track_only``) against every live track
  (followed, missed, re-identification window, tentative), at ``match_high``
  (``assign_two_passes``; ByteTrack's first association); a followed track keeps its detection over
  a lost track that the detection also fits (DeepSORT's matching cascade, as one assignment).
- step 5, the remaining (low-score) detections against the tracks left, at the stricter ``match_low``
  (ByteTrack's second association).
- step 6, identity veto (with ``identity.FrameFaces``): each chosen pair is questioned
  (``policy.identity_question``); a refused pair is forbidden and steps 4-5 run again without it.
- step 7, a second look (``second_look``): a face refused in the previous frame started a new track;
  if the refused track is free and the model embedding now keeps the face, it takes the face back.
  So may a lost track whose cue limits alone held a face back (a face coming out from behind a
  nearer body), for ``track.HELD_BACK_FRAMES`` frames; and a track whose question of
  ``AGAIN_REASONS`` the descriptor refused, when the mean descriptor of the new track's first
  ``track.AGAIN_FACES`` faces is close to the mean of its own (an ``again`` look, for
  ``track.AGAIN_FRAMES`` frames: one noisy frame, read alone, may have erred).
- step 8 (``held_back``): for each detection left unmatched, the lost track that only the cue
  limits kept from it, which the new track names for step 7.

The tracker then updates the matched tracks, starts a track for each unmatched detection (but a
``track_only`` one) and ends the tracks past their lifetime (``states.TrackState``), the young tracks
whose face a second look gave back, and those whose one face the refusing track took back by its own
question (``tracker._handed_back``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.tracking.gallery import Cohort, read_again
from facelog.pipeline.tracking.identity import FrameFaces
from facelog.pipeline.tracking.policy import (
    descriptor_reads_gap,
    embedding_keeps,
    embedding_refuses,
    embedding_vouches_walker,
    gate,
    identity_question,
    young_pair,
)
from facelog.pipeline.tracking.states import FrameStates
from facelog.pipeline.tracking.track import HELD_BACK_FRAMES, Track, TrackerParams, narrower

FORBIDDEN = -1.0  # similarity of a pair that may never be matched
# a steady walker lost past ``reid_frames`` (``states.fit_walk``) is sought where its walk leads,
# within ``center_radius`` face sizes plus ``WALK_SLACK`` of the distance walked since (real walkers
# keep their pace within ~5-10% over seconds; 0.15 is ~100 px after 4 s at 7 px a frame)
WALK_SLACK = 0.15
# identity questions the model's embedding may answer (``policy.embedding_keeps``), and whose refusal
# by the descriptor gets a second look (``second_look``): not a re-identification
KEEP_REASONS = ("jump", "body", "periodic", "gap")
# identity questions whose refusal by the descriptor gets an ``again`` look (``second_look``): a
# ``jump`` too since the thirty-seventh session (a person whose head turns in a dim camera's noise reads
# 0.50-0.68 from its own track; docs/BENCHMARKS.md)
AGAIN_REASONS = ("reid", "gap", "jump")


@dataclass(frozen=True, slots=True)
class Check:
    """One identity question of a chosen pair and its answer."""

    reason: str  # gap | jump | body | periodic | open | reid | second | again
    verdict: bool | None  # same face; False: refused; None: unknown (or ``open``'s first far read)
    # answered by the model (its embedding: ``policy.embedding_keeps``/``embedding_refuses``; or its
    # age reading), no descriptor
    by_embedding: bool
    far: bool = False  # ``open``: the descriptor read the face far from the track once (kept, asked again)
    # asked of the descriptor though the model embedding kept the pair (``policy.descriptor_reads_gap``)
    embedding_kept: bool = False


@dataclass(frozen=True, slots=True)
class Association:
    """What ``associate`` decided."""

    pairs: dict[int, int]  # detection -> track (index in the track list)
    checks: dict[tuple[int, int], Check]  # the identity questions asked, in the order asked
    taken_back: tuple[int, ...] = ()  # tracks (indices) whose face a second look gave back (step 7)
    # unmatched detection -> the lost track (index) that only the cue limits kept from it (step 8)
    held_back: dict[int, int] = field(default_factory=dict)


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
    cohort: Cohort | None = None,
) -> Association:
    """Pair this frame's detections with the live tracks (steps 1-6 of the module docstring).

    ``same_face(i, j, reason)`` answers an identity question with the face descriptors (the tracker
    computes them and keeps them on its tracks): True, False, or None (unknown).
    """
    # step 1: motion term, IoU / centre similarity to the predicted (and, if missed, last) boxes
    motion = motion_similarity(boxes, tracks, states.gap, p, states.late)
    # step 2: appearance terms, cosine distance per cue
    dist = {name: cue_distance(name, feats, tracks) for name, feats in cues.items()}
    # step 3: the gate (state x cue)
    g = gate(states, dist, track_only, p, identity is not None, at_edge, hidden)
    sim = np.where(g.forbidden, FORBIDDEN, motion)
    high = (score >= p.high_score) & ~track_only
    checks: dict[tuple[int, int], Check] = {}
    body = dist.get("body")  # NaN (unknown) compares False: never over
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
                    body_over = bool(body[i, j] > p.max_body_distance) if body is not None else False
                    reason = identity_question(
                        i, tracks[j], bool(states.lenient[j]), now, identity, p, body_over
                    )
                if reason is None:
                    continue
                if (i, j) not in checks:
                    keeps = reason in KEEP_REASONS and embedding_keeps(dist, i, j, p)
                    if reason == "reid" and states.late[j] and young_pair(identity, i, tracks[j], p, 0.0):
                        # small children seconds apart: the descriptor cannot vouch (1-year-olds who
                        # stepped up 3-8 s apart at one counter spot read 0.32 and 0.38 from the track
                        # before; counter720_gap_alike)
                        checks[i, j] = Check(reason, False, True)
                    elif (
                        keeps
                        and not young_pair(identity, i, tracks[j], p)
                        and not descriptor_reads_gap(reason, identity, i)
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
                        elif (
                            verdict is None
                            and reason == "reid"
                            and states.late[j]
                            and identity is not None
                            and embedding_vouches_walker(dist, i, j, boxes[i], tracks[j], p)
                        ):
                            # a small face where a LATE walker's line led: the model embedding vouches
                            checks[i, j] = Check(reason, True, True)
                        elif reason == "open" and verdict is False and not tracks[j].open_far:
                            # one far read is not enough (a face at the descriptor's limit): the
                            # next readable face must read far too (``gallery.OPEN_MAX_DISTANCE``)
                            checks[i, j] = Check(reason, None, False, far=True)
                        else:
                            checks[i, j] = Check(reason, verdict, False, embedding_kept=keeps)
                verdict = checks[i, j].verdict
                if verdict is False or (reason == "reid" and verdict is None):
                    sim[i, j] = FORBIDDEN
                    refused = True
        if not refused:
            break
    # step 7: a second look at a refusal (``second_look``)
    taken_back = second_look(pairs, checks, sim, high, dist, tracks, p, identity, same_face, hidden, cohort)
    # step 8: the lost tracks that only the cue limits kept from a detection left unmatched (``held_back``)
    held = held_back(pairs, g.by_cues, motion, high, track_only, states, p)
    return Association(pairs=pairs, checks=checks, taken_back=taken_back, held_back=held)


def held_back(
    pairs: dict[int, int],
    by_cues: np.ndarray,
    motion: np.ndarray,
    high: np.ndarray,
    track_only: np.ndarray,
    states: FrameStates,
    p: TrackerParams,
) -> dict[int, int]:
    """Detection -> lost track, for each detection left unmatched (it starts a track) that the motion
    term fits to a lost, confirmed track (MISSED or REID, not LATE, left unmatched too) which only the
    gate's cue limits refused (``policy.Gate.by_cues``): the best such track by motion.

    The face of a walker coming out from behind a nearer body is cut and its looks are a mix of the
    face and the body in front for a frame or two (cross720: the model embedding 0.24 from its own
    track's on its first frame out; 0.057 two frames later), so the gate refuses it and it starts a
    new track; that track may give its face back to the lost one for ``track.HELD_BACK_FRAMES``
    frames (``second_look``)."""
    out: dict[int, int] = {}
    if HELD_BACK_FRAMES <= 0:
        return out
    taken = set(pairs.values())
    lost = ~states.followed & ~states.late & ~states.tentative
    for i in range(len(high)):
        if i in pairs or track_only[i]:
            continue
        least = p.match_high if high[i] else p.match_low
        fit = by_cues[i] & lost & (motion[i] >= least)
        fit[list(taken)] = False
        if fit.any():
            out[i] = int(np.argmax(np.where(fit, motion[i], -np.inf)))
    return out


def second_look(
    pairs: dict[int, int],
    checks: dict[tuple[int, int], Check],
    sim: np.ndarray,
    high: np.ndarray,
    dist: dict[str, np.ndarray],
    tracks: Sequence[Track],
    p: TrackerParams,
    identity: FrameFaces | None = None,
    same_face: Callable[[int, int, str], bool | None] | None = None,
    hidden: np.ndarray | None = None,
    cohort: Cohort | None = None,
) -> tuple[int, ...]:
    """A face refused once is looked at again (step 7, in place on ``pairs`` and ``checks``); returns
    the new tracks (indices) that gave their face back.

    A detection that a track's identity check refused (``jump``, ``body``, ``periodic`` or ``gap``, by
    the descriptor, or by the model embedding where the descriptor cannot read the face:
    ``policy.embedding_refuses``) started a new track (``Track.second_looks`` names the refused one).
    One frame later, when that new track is paired, the refused track is free and may take the same
    detection (``sim`` at least ``match_high``, ``match_low`` for a low-score one; not forbidden) and the
    model embedding puts the detection within ``identity_keep_cosine`` of the refused track
    (``policy.embedding_keeps``: what a ``gap`` question accepts without a descriptor), the refused track
    takes it back (reason ``second``; the tracker ends the young track, ``given_back``). A refusal means the
    embedding had moved past that limit: a single poor frame (the last one before an H.264 keyframe
    under a bit-rate cap, a burst of sensor noise) moves it and the next frame brings it back; a
    newcomer stays far. No descriptor is asked again: it is the cue that erred, and in a dim, noisy
    scene a newcomer's descriptor passed on its second frame (``--camera dim``, docs/BENCHMARKS.md,
    sixteenth session). Without the model embedding (unknown, or a model without one) there is no
    second look, nor for two faces the model reads as small children (``policy.young_pair``: their
    embeddings barely differ).

    A track born from a detection that the gate's cue limits held back from a lost track
    (``track.SecondLook.held``, ``held_back``) looks for ``track.HELD_BACK_FRAMES`` frames, and the
    face descriptor must also pass (``same_face``, asked as a ``gap`` question): the look may last
    several frames of someone who may be a newcomer where a walker went out of sight, and the model
    embedding alone puts look-alikes, and people behind the same dark lenses, within
    ``identity_keep_cosine`` (docs/BENCHMARKS.md, twenty-fourth session). Where the model embedding
    has not come back to the track's yet (a face that crossed behind another reads 0.13-0.24 from its
    own for 10 frames), the descriptor alone gives the face back within ``track.HELD_MAX_DISTANCE``
    (asked as a ``held`` question; further, the descriptor is not sure: it refuses nothing, and the
    look goes on). A face cut by something in front that is not a face (``track.narrower`` than the
    held-back track's: coming out from behind a post) is not asked: the look waits
    ``track.AGAIN_CUT_FRAMES`` frames longer for a whole one.

    A track born from a face the descriptor refused at an ``AGAIN_REASONS`` question also
    has an ``again`` look (``track.SecondLook.faces``, ``gallery.read_again``): for ``track.AGAIN_FRAMES``
    frames its readable faces are embedded, and once there are ``track.AGAIN_FACES`` of them (the
    refused one first), their mean is compared once with the mean of the refused track's gallery and
    last faces, at the stricter ``track.AGAIN_MAX_DISTANCE`` (or the ``cohort``'s limit, where the
    camera's people are closer: ``gallery.Cohort``; cut faces are not read, as for a held look). A
    dim room's sensor noise is new every frame and moves one frame's descriptor; three faces averaged
    on each side cancel much of it, and a newcomer's mean stays far. Not for small children
    (``policy.young_pair``), nor for a face
    behind a nearer one (``hidden``: its looks are mixed).
    """
    taken = set(pairs.values())
    by_id = {t.track_id: j for j, t in enumerate(tracks)}
    back = []
    for i, jn in list(pairs.items()):
        least = p.match_high if high[i] else p.match_low
        for look in tracks[jn].second_looks:  # the refusing track's look first, then a held-back one
            jx = by_id.get(look.track_id)
            if jx is None or jx in taken or sim[i, jx] < least:
                continue
            if look.again:  # ``again``: the mean of the young track's faces against the older track's
                mixed = hidden is not None and bool(hidden[i])  # behind a nearer face: looks unknown
                if identity is None or mixed or young_pair(identity, i, tracks[jx], p):
                    continue
                verdict, faces = read_again(look.faces, i, tracks[jx], identity, p, cohort)
                tracks[jn].second_looks = tuple(
                    other if other is not look else look._replace(faces=faces)
                    for other in tracks[jn].second_looks
                    if other is not look or verdict is None  # one verdict: no more tries
                )
                if verdict is not True:
                    continue
                checks[i, jx] = Check("again", True, False)
            else:
                keeps = embedding_keeps(dist, i, jx, p)
                if (not keeps and not look.held) or young_pair(identity, i, tracks[jx], p):
                    continue
                if look.held and identity is not None and narrower(identity.xyxy[i], tracks[jx]):
                    continue  # cut by a post: its looks are not its own yet (``track.NARROW_SHARE``)
                if look.held:  # the descriptor must agree (alone, and closer, without the embedding)
                    verdict = same_face(i, jx, "gap" if keeps else "held") if same_face is not None else None
                    if verdict is not True:
                        if verdict is False:
                            checks[i, jx] = Check("gap", False, False)
                        continue
                checks[i, jx] = Check("second", True, not look.held)
            pairs[i] = jx
            taken.add(jx)
            back.append(jn)
            break
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
