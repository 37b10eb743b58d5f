"""Multi-object face tracker for one source: the state it keeps from frame to frame.

ByteTrack / OC-SORT class, written compactly on numpy and ``scipy.optimize.linear_sum_assignment``
(norfair, the permissive package that came closest, pins ``numpy<2``, depends on the unmaintained
``filterpy`` and matches greedily). The policy lives beside it: ``states`` (each track's state and
lifetime), ``policy`` (the gate and its decision table, the identity veto's questions),
``association`` (the named cost terms and the steps of the matching) and ``kalman`` (the motion
model); ``track`` holds the records (``Track``, ``TrackerParams``, ``TrackStep``); ``frame_input``
checks a frame's detections. This module keeps the state: the live tracks, their ids, the identity
counters. Per processed frame, ``Tracker.update`` (each step a method or function of its own):

1. ends the tracks past their lifetime (``_expire``, ``states.TrackState``), and predicts every live
   track's box to this frame (``_predict``, ``kalman.BoxKalman``: constant velocity on
   ``(cx, cy, w, h)``, velocities per frame of the tracker's clock, so a frame stride or a dropped
   frame is predicted correctly);
2. computes every live track's state once (``states.track_states``: followed, missed,
   re-identification window, tentative);
3. pairs detections with tracks (``association.associate``: motion term, appearance terms, the gate,
   high-score then low-score assignment, identity veto, a second look at last frame's refusals),
   answering the identity veto's questions with the face descriptors it keeps on its tracks
   (``gallery.same_face``);
4. updates each matched track (``_continue``: Kalman update, appearance EMA, face kept for the
   identity, ``gallery.remember_face``; a tentative track becomes confirmed), ends the tracks that can
   no longer be matched, and starts a track for each unmatched detection but a ``track_only`` one
   (``_start``; id -1). A track born from a high-score detection is confirmed at once; one born from a
   low-score detection is tentative until matched again by a detection that is not ``track_only``
   (those keep it alive with id -1). ``TrackStep.confirmed`` tells them apart, so a caller may drop
   never-confirmed tracks (typically one-frame false positives) from a per-person log. A face cut by
   the frame edge (``track.at_frame_edge``) is matched by motion alone, and only to a track followed in
   the previous frame: its looks are unknown. So are those of a face partly behind a nearer (larger)
   one (``track.behind_nearer``): it continues a followed track, or by motion alone the track that was
   lost behind a nearer face (``Track.behind``, set after the matching): walkers who cross. A track
   started by a detection that an identity check refused remembers the refused track
   (``Track.second_looks``); when the next frame gives its face back to that track
   (``association.second_look``) the one-frame track ends. So does one started by a detection that only
   the cue limits held back from a lost track (``association.held_back``: a face coming out from behind
   a nearer body), for ``track.HELD_BACK_FRAMES`` frames, if the descriptor agrees (a detection both
   refused and held back remembers both tracks: the refusal may have erred, and the motion fits the
   lost one). One that the descriptor refused at an ``AGAIN_REASONS`` question gives its faces back
   when the mean of its first three faces' descriptors reads close to the refused track's
   (``track.AGAIN_FRAMES`` frames; ``track.SecondLook.faces``).

The clock (``kalman.FrameClock``): every frame count (``TrackerParams``, the Kalman velocities, the
track states) is one of frames of a 25-fps source, timed by the frames' timestamps when the caller
gives them (``update(..., pts_ns=)``): a 5-fps recording steps 5 a frame, as a 25-fps file analysed
every 5th frame does, and a 30-fps one 0.83. Without timestamps a frame of ``frame_index`` is one.

Ids increase from 0 and are never reused within a tracker, also across ``reset()`` and ``finish()``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, deque
from collections.abc import Sequence

import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.tracking import gallery
from facelog.pipeline.tracking.association import (
    AGAIN_REASONS,
    KEEP_REASONS,
    Association,
    Check,
    associate,
)
from facelog.pipeline.tracking.frame_input import FrameInput, read_frame
from facelog.pipeline.tracking.identity import FrameFaces, identity_distance
from facelog.pipeline.tracking.kalman import BoxKalman, FrameClock
from facelog.pipeline.tracking.states import fit_walk, stood_still, track_states, walk_path
from facelog.pipeline.tracking.track import (
    AGAIN_CUT_FRAMES,
    AGAIN_FRAMES,
    HANDED_BACK_IOU,
    HELD_BACK_FRAMES,
    HIDDEN_SHARE,
    SecondLook,
    Track,
    TrackerParams,
    TrackStep,
    covered_by_larger,
    narrower,
    update_aspect,
    whole_box,
)

log = logging.getLogger(__name__)


class Tracker:
    """Tracks the faces of one source. Call ``update`` once per processed frame, in frame order.

    Args:
        params: tracker settings; defaults suit 24-160 px faces in 720p-1080p CCTV.

    Example:
        >>> t = Tracker(TrackerParams())
        >>> step = t.update(0, np.array([[10, 10, 40, 40]], np.float32), np.array([0.9], np.float32))
        >>> step.track_ids.tolist()
        [0]
    """

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params if params is not None else TrackerParams()
        self._tracks: list[Track] = []
        self._next_id = 0
        self._clock = FrameClock()  # this source's time in frames of 25 fps (module docstring)
        self.identity_checks: Counter[str] = Counter()  # questions asked of the identity, by reason
        self.identity_refusals: Counter[str] = Counter()  # ... answered "a different face"
        self.identity_vouched: Counter[str] = Counter()  # ... answered by the model embedding alone
        self._cohort = gallery.Cohort()  # the camera's people, as the descriptor sees them

    @property
    def live_ids(self) -> tuple[int, ...]:
        """Ids of the tracks that can still be matched (active, lost or tentative)."""
        return tuple(t.track_id for t in self._tracks)

    def finish(self) -> tuple[int, ...]:
        """End every live track (end of input); returns their ids. Frame order is still enforced."""
        ended = self.live_ids
        self._tracks = []
        return ended

    def reset(self) -> tuple[int, ...]:
        """End every live track and forget the last frame index (after a reconnect or a seek).

        Returns the ids of the tracks ended. New ids keep increasing.
        """
        self._clock.reset()
        return self.finish()

    def update(
        self,
        frame_index: int,
        xyxy: np.ndarray,
        score: np.ndarray,
        embedding: np.ndarray | None = None,
        body: np.ndarray | None = None,
        track_only: np.ndarray | None = None,
        identity: FrameFaces | None = None,
        at_edge: np.ndarray | None = None,
        pts_ns: int | None = None,
        camera_shift_px: np.ndarray | None = None,
    ) -> TrackStep:
        """Assign a track id to each detection of one frame.

        Args:
            frame_index: this frame's index; must be larger than the previous call's.
            xyxy: (n, 4) float boxes in absolute pixels (x1, y1, x2, y2); n may be 0.
            score: (n,) detection scores in [0, 1].
            embedding: optional (n, D) face embeddings (the model's ``embedding`` output), gated by
                ``max_cosine_distance``.
            body: optional (n, B) body colour descriptors (``body_histogram``), gated by
                ``max_body_distance``. Rows of zeros mean "unknown" and are never gated.
            track_only: optional (n,) bool: detections that may only continue a confirmed track, in
                pass 2 (``Faces.track_only``: below the detector's threshold); one that continues
                none gets id -1 and starts no track.
            identity: optional identity view of this frame's detections (``identity.FrameFaces``,
                same order): enables the identity veto (when a chosen pair is questioned and
                refused: ``policy.gate``). ``identity_checks`` / ``identity_refusals`` /
                ``identity_vouched`` count the questions, the refusals and the questions the model
                embedding answered, by reason (``gap``, ``jump``, ``body``, ``periodic``, ``open``,
                ``reid``, ``second``).
            at_edge: optional (n,) bool: faces cut by the frame edge (``track.at_frame_edge``), entering
                or leaving. Their looks are unknown: their ``embedding`` and ``body`` rows and their
                identity neither refuse nor vouch for a match and do not become their track's (a half
                face is far from the whole face a frame later, and the body below it is leaving the
                frame too: they split walkers in two where they entered or left).
            pts_ns: optional timestamp of this frame (ns): the clock advances by the time since the
                previous frame's, in frames of ``kalman.REFERENCE_FPS``; without it (or when it does not
                increase) by the frames of ``frame_index`` (module docstring).
            camera_shift_px: optional (2,) px the camera's view moved since the previous call
                (``detect.motion.ViewMotion``): every track's predicted and last box move by minus
                this, so a shaking camera does not throw the predictions off.
        Returns:
            The ids of this frame's detections (input order) and the ids of tracks that ended.

        Raises:
            ValueError: frame_index not increasing, or arrays of the wrong shape or non-finite.
        """
        last = self._clock.index
        if last is not None and frame_index <= last:
            raise ValueError(f"frame_index must increase: expected > {last}, got {frame_index}")
        f = read_frame(xyxy, score, embedding, body, track_only, identity, at_edge)
        p = self.params
        previous = None if self._clock.index is None else self._clock.now
        now = self._clock.advance(frame_index, pts_ns)
        ended = self._expire(now, previous)  # step 1: lifetimes, predictions
        self._predict(now, camera_shift_px)
        tracks = self._tracks
        states = track_states(tracks, now, previous, p.max_lost_frames, p.reid_frames)  # step 2

        cohort = self._cohort

        def same_face(i: int, j: int, reason: str) -> bool | None:
            return None if f.unknown[i] else gallery.same_face(i, tracks[j], reason, f.identity, p, cohort)

        match = associate(  # step 3: the pairs
            now, f.boxes, f.score, f.only, f.cues, tracks, states, p, f.identity, same_face, f.edge, f.hidden,
            cohort,
        )  # fmt: skip
        self._count_checks(match)
        handed = _handed_back(match, tracks, previous, f.boxes)  # before the looks below expire
        for t in tracks:  # a look lasts to its ``until``: the frame after a refusal, HELD_BACK_FRAMES if held
            if t.second_looks:
                t.second_looks = tuple(look for look in t.second_looks if now < look.until)
        given_back = [tracks[j] for j in match.taken_back]  # ended below, after the matching
        det_track = {i: tracks[j] for i, j in match.pairs.items()}
        for i, j in match.pairs.items():  # step 4: matched tracks, ended tracks, new tracks
            self._continue(tracks[j], i, f, now, match.checks.get((i, j)))
        _mark_behind(tracks, set(match.pairs.values()), f.boxes)
        for j in sorted(match.pairs.values()):  # a look of each confirmed person joins the camera's people
            cohort.offer(tracks[j])
        ended += self._expire(now, None, after_match=True)
        back = {t.track_id for t in given_back} | handed
        # a young track whose face a second look gave back to the refused (or held-back) track, or that
        # track took back by its own question (``_handed_back``)
        if back:
            ended += [t.track_id for t in self._tracks if t.track_id in back]
            self._tracks = [t for t in self._tracks if t.track_id not in back]
        refused_by, again_of = _refusals(match, tracks, f.identity)
        held_of = {i: tracks[j] for i, j in match.held_back.items()}
        n = len(f.boxes)
        for i in range(n):
            if i not in det_track and not f.only[i]:
                det_track[i] = self._start(i, f, now, refused_by, again_of, held_of)
        ids = np.array(
            [det_track[i].track_id if i in det_track and (det_track[i].confirmed or not f.only[i]) else -1
             for i in range(n)], np.int64,
        )  # fmt: skip
        confirmed = np.array([i in det_track and det_track[i].confirmed for i in range(n)], bool)
        return TrackStep(
            track_ids=ids, confirmed=confirmed, ended=tuple(ended), given_back=tuple(sorted(back))
        )

    def _predict(self, now: float, camera_shift_px: np.ndarray | None) -> None:
        """Predict every live track's box to ``now``; a camera that moved moves the scene by minus its
        shift (the predictions, last boxes, still references, paths and walks)."""
        dx, dy = (0.0, 0.0) if camera_shift_px is None else (float(v) for v in camera_shift_px)
        for t in self._tracks:
            t.kf.predict(now - t.predicted_frame)
            t.predicted_frame = now
            if dx or dy:  # the scene moved by minus the view's shift
                t.kf.shift(-dx, -dy)
                t.last_box = t.last_box - np.array([dx, dy, dx, dy], np.float32)
                if t.still_ref is not None:
                    c, cx, cy, s = t.still_ref
                    t.still_ref = (c, cx - dx, cy - dy, s)
                t.path = deque((c, cx - dx, cy - dy, s) for c, cx, cy, s in t.path)
                if t.walk is not None:
                    t.walk = t.walk._replace(cx=t.walk.cx - dx, cy=t.walk.cy - dy)

    def _count_checks(self, match: Association) -> None:
        """Count the identity questions asked, refused and answered by the model embedding, by reason."""
        for check in match.checks.values():  # counted in the order asked
            self.identity_checks[check.reason] += 1
            if check.verdict is False:
                self.identity_refusals[check.reason] += 1
            elif check.by_embedding:
                self.identity_vouched[check.reason] += 1

    def _continue(self, t: Track, i: int, f: FrameInput, now: float, asked: Check | None) -> None:
        """Track ``t`` takes detection ``i``: Kalman update, still and walk records, the identity's
        bookkeeping (the ``open`` question, the face kept: ``gallery.remember_face``), the cues' EMA.
        ``asked``: the identity question this pair answered, if any."""
        p = self.params
        # a face cut by something in front (a post): the motion model gets the whole face it implies
        cut = not f.unknown[i] and narrower(f.boxes[i], t)
        seen = whole_box(f.boxes[i], t, t.kf.box()) if cut else f.boxes[i]
        if not (f.unknown[i] or cut):
            update_aspect(t, f.boxes[i])
        t.kf.update(seen)
        t.last_box = seen
        t.last_frame = now
        stood_still(t, now, seen, float(f.score[i]), p.high_score)
        walk_path(t, now, seen, bool(f.score[i] >= p.high_score), bool(f.edge[i]), bool(f.hidden[i]) or cut)
        t.behind = bool(f.hidden[i])
        if not f.only[i]:
            t.last_strong_frame, t.confirmed = now, True
        identity = f.identity
        if identity is not None:
            if asked is not None and asked.reason in ("second", "again"):  # taken back: refused wrongly
                t.refused_thumb = None
            if asked is not None and not asked.by_embedding:  # the descriptor answered, or could not
                if asked.far:  # ``open``: one far read, kept and asked again
                    t.open_far = True
                elif (
                    asked.verdict is None
                    and asked.reason in ("gap", "jump")
                    and (f.unknown[i] or not identity.readable(i))  # this face unread...
                    and (t.gallery or t.first_patch is not None)  # ...the track's side readable
                ):
                    t.open_check, t.open_far = True, False
                elif asked.verdict:
                    t.open_check = t.open_far = False
                if asked.reason == "open":  # it may only refuse: a pass confirms nothing (gallery, clock)
                    asked = None
            gallery.remember_face(
                t,
                i,
                identity,
                now,
                None if asked is None else asked.verdict,
                asked is not None,
                bool(f.unknown[i]) or cut,
                kept=asked is not None and asked.by_embedding and asked.verdict is None,
            )
        for name, feats in f.cues.items():
            if feats[i].any():
                ema = _ema(t.cues[name][0], feats[i], p.embedding_momentum) if name in t.cues else feats[i]
                t.cues[name] = (ema, feats[i])

    def _start(
        self,
        i: int,
        f: FrameInput,
        now: float,
        refused_by: dict[int, int],
        again_of: dict[int, tuple[Track, np.ndarray]],
        held_of: dict[int, Track],
    ) -> Track:
        """A new track for unmatched detection ``i`` (confirmed if high-score), with its second looks at
        the track that refused it (``refused_by``: its id; ``again_of``: it and the refused face's
        descriptor) or that the cue limits held it back from (``held_of``)."""
        p = self.params
        t = Track(
            track_id=self._next_id,
            kf=BoxKalman(f.boxes[i], p),
            last_box=f.boxes[i],
            last_frame=now,
            predicted_frame=now,
            confirmed=bool(f.score[i] >= p.high_score),
            cues={name: (v[i], v[i]) for name, v in f.cues.items() if v[i].any()},
            last_strong_frame=now,
            checked_frame=now,
            born=now,
        )
        looks = []  # a refusal may have erred; a face held back may be a lost track's
        if i in refused_by:
            looks.append(SecondLook(refused_by[i], now + 1, held=False))
        if i in held_of:  # cut by a post: the look waits for whole faces
            held = held_of[i]
            until = now + HELD_BACK_FRAMES + (AGAIN_CUT_FRAMES if narrower(f.boxes[i], held) else 0)
            looks.append(SecondLook(held.track_id, until, held=True))
        if i in again_of:  # a face cut by something in front: its whole faces come later
            refused, face = again_of[i]
            cut = narrower(f.boxes[i], refused)
            until = now + AGAIN_FRAMES + (AGAIN_CUT_FRAMES if cut else 0)
            faces = () if cut else (face,)
            looks.append(SecondLook(refused.track_id, until, held=False, faces=faces, again=True))
        t.second_looks = tuple(looks)
        if not f.unknown[i]:
            update_aspect(t, f.boxes[i])
        if f.identity is not None:
            gallery.remember_face(t, i, f.identity, now, None, False, bool(f.unknown[i]))
        stood_still(t, now, f.boxes[i], float(f.score[i]), p.high_score)
        walk_path(t, now, f.boxes[i], bool(f.score[i] >= p.high_score), bool(f.edge[i]), bool(f.hidden[i]))
        self._next_id += 1
        self._tracks.append(t)
        return t

    def _expire(self, now: float, previous: float | None, after_match: bool = False) -> list[int]:
        """End the tracks past their lifetime (``states.TrackState``): ``max_lost_frames`` +
        ``reid_frames`` frames without a detection (``reid_still_frames`` if longer, for a track that
        stood still; ``reid_walk_frames`` for one that walked steadily), ``max_tentative_lost_frames``
        for a tentative one.
        ``now``/``previous``: the clock of this and of the previous processed frame."""
        keep: list[Track] = []
        ended: list[Track] = []
        p = self.params
        # frames from the previous processed frame to this one: with a frame stride (sampling) a track
        # is not missed on the source frames that were never analysed, so it may wait for this frame
        # (at --fps 2 of a 25-fps file, a tentative track, 10 frames, died before its second chance).
        # A step longer than an ordinary confirmed track's lifetime (max_lost + reid_frames) is a break
        # (a live reader that dropped seconds of frames): every track ends, still and walking ones too,
        # as before a reset; motion says nothing across it.
        step = 1.0 if after_match or previous is None else now - previous
        horizon = p.max_lost_frames + p.reid_frames
        still_horizon = p.max_lost_frames + max(p.reid_frames, p.reid_still_frames)
        walk_horizon = p.max_lost_frames + max(p.reid_frames, p.reid_walk_frames)
        broken = not after_match and step > horizon
        for t in self._tracks:
            # after matching, the next processed frame would see `missed` or more missed frames; before
            # matching this only ends tracks across a break (else the check after matching did it)
            missed = now - t.last_frame - (0.0 if after_match else step)
            if not t.confirmed:
                dead = broken or missed > p.max_tentative_lost_frames
            elif t.still:
                dead = broken or missed > still_horizon
            else:
                dead = broken or missed > (walk_horizon if t.walk is not None else horizon)
                if dead and not broken and t.walk is None and walk_horizon > horizon:  # walked steadily?
                    t.walk = fit_walk(t.path, t.last_frame)  # once a loss: a match clears it
                    dead = t.walk is None or missed > walk_horizon
            (ended if dead else keep).append(t)
        self._tracks = keep
        return [t.track_id for t in ended]


def _refusals(
    match: Association, tracks: Sequence[Track], identity: FrameFaces | None
) -> tuple[dict[int, int], dict[int, tuple[Track, np.ndarray]]]:
    """The identity's refusals of this frame, for the young tracks' looks: detection -> the id of the
    track that refused it last at a ``KEEP_REASONS`` question (a second look; the model embedding's
    refusals of a face the descriptor cannot read too: a 16-px walker's one frame read 0.162, the next
    0.042, walk720_away on a 480x270 camera, forty-third session), and detection -> the track that
    refused it at an ``AGAIN_REASONS`` question with the refused face's descriptor (an ``again``
    look). Of several such tracks, the look goes to the one whose gallery the face read
    nearest: a walker behind a post, refused at a ``gap`` by its own lost track, may be refused first
    at a ``jump`` by another's (cross720_nobody s0 on ``--camera pillar``, docs/BENCHMARKS.md,
    thirty-eighth session). An ``open`` question answered by a refusal is asked no more."""
    refused_by: dict[int, int] = {}
    again_of: dict[int, tuple[Track, np.ndarray]] = {}
    nearest: dict[int, float] = {}
    for (i, j), check in match.checks.items():
        if check.reason == "open" and check.verdict is False:  # answered: asked no more
            tracks[j].open_check = tracks[j].open_far = False
        if check.verdict is not False:
            continue
        if check.reason in KEEP_REASONS and not check.embedding_kept:  # else the embedding gives it back
            refused_by[i] = tracks[j].track_id
        if check.by_embedding:  # no descriptor read: no again look
            continue
        face = identity.computed(i) if identity is not None and AGAIN_FRAMES > 0 else None
        if face is not None and check.reason in AGAIN_REASONS:
            d = min((identity_distance(face, g) for g in tracks[j].gallery), default=math.inf)
            if i not in again_of or d < nearest[i]:
                again_of[i], nearest[i] = (tracks[j], face), d
    return refused_by, again_of


def _handed_back(
    match: Association, tracks: Sequence[Track], previous: float | None, boxes: np.ndarray
) -> set[int]:
    """Young tracks that end ``given_back`` because the track that refused their one face took it back
    this frame by its own question (ids).

    A track born in the previous frame from a face the descriptor refused to an older track
    (``SecondLook`` of a refusal, not a held-back or ``again`` look) and not matched this frame, whose
    refusing track took this frame a detection on the young track's face (IoU at least
    ``HANDED_BACK_IOU`` with its one box). On a dim camera a noisy 32-46-px face is refused once
    (0.55-0.61 against 0.50), a new track takes it, and the next frame the older track takes it back
    (0.486): the young track lived on, lost, took the face again at the next refusal, and the person
    was counted twice (docs/BENCHMARKS.md, thirty-fifth and thirty-sixth sessions)."""
    if previous is None or HANDED_BACK_IOU <= 0:
        return set()
    # most frames have no such track: nothing more is built for them (a crowd has ~17 live tracks)
    young = [(j, t) for j, t in enumerate(tracks) if t.born == previous and t.second_looks]
    if not young:
        return set()
    taken = {tracks[j].track_id: i for i, j in match.pairs.items()}
    matched = set(match.pairs.values())
    out: set[int] = set()
    for j, t in young:
        if j in matched:
            continue
        for look in t.second_looks:
            i = taken.get(look.track_id)
            if look.held or look.again or i is None:
                continue
            if iou_matrix(boxes[i : i + 1], t.last_box[None])[0, 0] >= HANDED_BACK_IOU:
                out.add(t.track_id)
                break
    return out


def _mark_behind(tracks: Sequence[Track], matched: set[int], boxes: np.ndarray) -> None:
    """A confirmed track missed this frame whose predicted box a nearer (larger) detection covers by
    ``track.HIDDEN_SHARE`` or more went behind that person: ``Track.behind`` (kept until it is matched)."""
    lost = [t for j, t in enumerate(tracks) if j not in matched and not t.behind and t.confirmed]
    if not lost or not len(boxes):
        return
    pred = np.array([t.kf.box() for t in lost], np.float64)
    covered = np.asarray(covered_by_larger(pred, np.asarray(boxes, np.float64), HIDDEN_SHARE).any(axis=1))
    for t, behind in zip(lost, covered, strict=True):
        t.behind = bool(behind)


def _ema(old: np.ndarray, new: np.ndarray, momentum: float) -> np.ndarray:
    v = momentum * old + (1.0 - momentum) * new
    return np.asarray(v / max(math.sqrt(float(v @ v)), 1e-12))
