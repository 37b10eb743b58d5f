"""Multi-object face tracker for one source: Kalman motion model, optimal assignment, appearance gate.

ByteTrack / OC-SORT class, written compactly on numpy and ``scipy.optimize.linear_sum_assignment``
(norfair, the permissive package that came closest, pins ``numpy<2``, depends on the unmaintained
``filterpy`` and matches greedily).

Per processed frame:

1. Every live track's box is predicted to this frame by a constant-velocity Kalman filter on
   ``(cx, cy, w, h)`` and their velocities (noise scales with the box size; velocities are per frame
   of ``frame_index``, so a frame stride or a dropped frame is predicted correctly).
2. Pass 1: detections with ``score >= high_score`` are matched to all live tracks (active, lost and
   tentative) by an optimal assignment on a similarity ``max(IoU, centre similarity)``; the centre
   similarity keeps small fast faces (24-60 px moving 5-14 px per frame) matchable when the boxes
   barely overlap. Pairs below ``match_high`` are not matched.
3. Pass 2 (ByteTrack): the remaining low-score detections are matched to the remaining tracks with
   the stricter ``match_low``, so a blurred or half-occluded frame continues a track instead of
   starting one. Detections marked ``track_only`` (below the detector's own threshold, see
   ``detect``) take part here only, against confirmed tracks only, and only within
   ``max_low_score_frames`` of the track's last detection at the detector's threshold.
4. Appearance gates: for each cue given (the model's face ``embedding``; ``body_histogram``, the
   colour of the clothes below the face), a pair whose cosine distance to the track's appearance
   (the nearer of the EMA and the last vector) exceeds the cue's limit is forbidden, so a different
   person at a just-vacated spot starts a new track. A track matched in the previous processed frame
   only breaks when every known cue disagrees: one cue that jumps while the other vouches (clothes
   hidden by someone in front, a face that grows or blurs fast) does not end it. A track that was
   missed must pass every known cue, the face at the stricter ``reid_max_cosine``. On the shared
   real clips the face embedding alone separates people weakly (different people in one frame:
   median distance 0.16); the body colour separates them well (median 0.67, same person at most
   0.06) where there is a body (``appearance.BackgroundModel`` makes it unknown where the region
   below a face shows the scene).
4b. Identity veto (with ``identity``, ``identity.FrameFaces``): each pair the assignment chose is
   questioned in the cases below; a questioned pair whose face descriptors are further apart than
   ``identity_max_distance`` is refused and the assignment (steps 2-3) runs again without it. The
   descriptor (~100 ms a face) is computed only for questioned pairs.

   ============================== ============================== ==================================
   track state                    questioned when                refused when
   ============================== ============================== ==================================
   followed (matched last frame)  thumbnail or brightness jump   descriptor > identity_max_distance
                                  > ``identity_jump``; or last    (unknown: kept)
                                  check ``identity_check_frames``
                                  ago
   missed 1..``max_lost_frames``  always (``gap``)               descriptor > identity_max_distance
                                                                 (unknown: kept)
   re-identification window       unless the model embedding     descriptor > identity_max_distance
                                  vouched (``reid``)             or unknown
   ============================== ============================== ==================================

   Turn ``identity_max_distance`` up if one person splits into several tracks, down if tracks hold
   two people; ``identity_jump`` down (or ``identity_check_frames`` down) to question more often, at
   the cost of more descriptors.
5. Every unmatched detection but a ``track_only`` one (id -1) starts a new track. A track born from a
   high-score detection is confirmed at once; one born from a low-score detection is *tentative*
   until matched again, and ends after ``max_tentative_lost_frames`` frames without a match.
   ``TrackStep.confirmed`` tells them apart, so a caller may drop never-confirmed tracks (typically
   one-frame false positives) from a per-person log.
6. An unmatched track is *lost*: it keeps being predicted and can be matched again for
   ``max_lost_frames`` frames after its last detection. A lost track is also compared at its last
   detection (``match_last_box``) and at its predicted centre with its last detected size (the
   size velocity of a walker who grew or shrank before being missed is not extrapolated).
7. Re-identification: a confirmed track lost longer than ``max_lost_frames`` stays for
   ``reid_frames`` more frames, matchable only when the face embedding of the detection is known
   and within ``reid_max_cosine`` of the track's (stricter than the gate), so a face the detector
   misses for a second (small, blurred, turned) continues its track; then the track ends.

Ids increase from 0 and are never reused within a tracker, also across ``reset()`` and ``finish()``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.identity import MIN_FACE_PX, FacePatch, FrameFaces, identity_distance, thumb_change
from facelog.pipeline.kalman import BoxKalman

log = logging.getLogger(__name__)

_FORBIDDEN = -1.0  # similarity of a pair that may never be matched
_GALLERY = 4  # identity embeddings kept per track: its first checked one and the latest three


@dataclass(frozen=True, slots=True)
class TrackerParams:
    """Tracker settings (the pipeline maps its YAML ``tracking`` section onto these).

    Attributes:
        high_score: detections at or above this score may start confirmed tracks and take part in
            pass 1; below it they are only used to continue tracks (pass 2). Pair it with a lower
            detector threshold (e.g. YuNet 0.5) so that pass 2 has detections to work with.
        match_high: minimum similarity (IoU or centre similarity) for a pass-1 match.
        match_low: minimum similarity for a pass-2 (low-score) match.
        center_radius: centre distance, in box sizes (sqrt(w*h) of the larger box), at which the
            centre similarity reaches 0; 0 disables it (IoU only).
        max_size_ratio: pairs whose box sizes differ by more than this factor never match.
        max_lost_frames: frames (of ``frame_index``) a track survives without a detection.
        max_tentative_lost_frames: the same for a tentative track (born from a low-score detection
            and not matched since); short, so a low-score false positive ends soon, but not 0, so a
            real face first seen at a low score survives a missed frame.
        max_cosine_distance: appearance gate: largest cosine distance (1 - cosine similarity) of a
            detection to its track's appearance (the nearer of the EMA and the last embedding); only
            used when embeddings are given. 0.2 was measured on model 1.2.1's ``embedding``: no
            same-person match of real faces in the shared clips exceeds 0.15, 0.5% of same-face pairs
            of UTKFace validation faces under independent degradations do, and 89% of pairs of
            different UTKFace faces (61% of same-gender pairs within 5 years of age) exceed it.
            Model 1.3.0's embedding is more compact: 0% of same-face pairs exceed 0.2 (0.1% exceed
            0.15), 83% of different pairs (41% of the hard ones) do; end to end on the CCTV
            benchmark it keeps the same identity results (no split, every replacement a new id).
        max_body_distance: the same gate for the body colour descriptor (``body_histogram``). On the
            shared clips' real faces no same-track pair exceeds 0.06; 84% of pairs of different
            people in one frame exceed 0.2 (the face embedding: 25%).
        embedding_momentum: EMA weight of the old appearance when a new vector arrives.
        std_position: Kalman measurement and process noise of positions and sizes, per unit of box size.
        std_velocity: Kalman process noise of velocities, per unit of box size per frame.
        init_std_velocity: initial velocity uncertainty, per unit of box size per frame (large, so
            the second detection of a fast face sets the velocity almost entirely).
        match_last_box: a lost track may also match near its last detection, not only near its
            predicted box (OC-SORT's observation-centric recovery: someone who stopped while missed).
        reid_frames: frames after ``max_lost_frames`` during which a lost confirmed track can still
            be matched by appearance (``reid_max_cosine``); 0 ends tracks at ``max_lost_frames``.
            Tracks end (and their persons are reported) this much later.
        reid_max_cosine: largest face-embedding cosine distance for such a re-identification.
        identity_max_distance: identity veto (``identity.IdentityEmbedder``, dlib's face descriptor,
            Euclidean): a pair the tracker questions (see ``Tracker.update``) whose faces are further
            apart than this is refused, whatever the other cues say, and the detection starts a new
            track. 0.5: the same face under independent degradations is within 0.42 (p95) down to
            24 px, different people are 0.60-0.72 apart (median) and 1-8% of them closer than 0.5 at
            24-48 px. Raise it if one person splits into several tracks; lower it if tracks hold two
            people.
        identity_jump: first, cheap stage: a followed track is questioned when its face's grey
            thumbnail changed by more than this between two frames (``identity.thumb_change``: the
            larger of the relative brightness jump and 1 - the thumbnails' correlation). Same face in
            consecutive frames of the CCTV benchmark: still faces p99 0.013; walkers whose motion blur
            swings 5-9% above 0.1, 2-5% above 0.2 (most of the rest: faces cut by the frame edge,
            which are never embedded); a different person at the same spot: 0.31 or more. Lower it to
            question more often (more embeddings, more time).
        identity_check_frames: a followed track is also questioned when its identity was last
            checked this many frames ago (a change the thumbnail missed); 0 never.
        identity_keep_cosine: a followed track (matched last frame, questioned by a jump or the
            periodic check) is not refused by the descriptor when the model's face embedding is within
            this cosine distance of the track's: real heads that roll or turn move dlib's descriptor
            0.6+ from their own last frame. 0: the descriptor alone decides. Down if tracks hold two
            people after an instant replacement, up if one person splits.
        max_low_score_frames: a track fed only ``track_only`` (low-score) detections is not
            continued by them more than this many frames after its last detection at the detector's
            own threshold (ByteTrack's band kept a background patch alive for 37 s).
    """

    high_score: float = 0.7
    match_high: float = 0.2
    match_low: float = 0.4
    center_radius: float = 1.0
    max_size_ratio: float = 2.0
    max_lost_frames: int = 10
    max_tentative_lost_frames: int = 2
    max_cosine_distance: float = 0.2
    max_body_distance: float = 0.2
    embedding_momentum: float = 0.8
    std_position: float = 0.05
    std_velocity: float = 0.02
    init_std_velocity: float = 0.5
    match_last_box: bool = True
    reid_frames: int = 40
    reid_max_cosine: float = 0.15
    identity_max_distance: float = 0.5
    identity_jump: float = 0.2
    identity_check_frames: int = 50
    identity_keep_cosine: float = 0.07
    max_low_score_frames: int = 25

    def __post_init__(self) -> None:
        for name in ("match_high", "match_low", "high_score", "embedding_momentum"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        counts = (self.max_lost_frames, self.max_tentative_lost_frames, self.reid_frames,
                  self.identity_check_frames, self.max_low_score_frames)  # fmt: skip
        if min(counts) < 0:
            raise ValueError(
                "max_lost_frames, max_tentative_lost_frames, reid_frames, identity_check_frames and "
                "max_low_score_frames must be >= 0"
            )
        if not 0.0 <= self.identity_max_distance <= 4.0 or not 0.0 <= self.identity_jump <= 2.0:
            raise ValueError("identity_max_distance must be in [0, 4] and identity_jump in [0, 2]")
        if self.max_size_ratio < 1.0:
            raise ValueError(f"max_size_ratio must be >= 1, got {self.max_size_ratio}")
        for name in ("max_cosine_distance", "max_body_distance", "reid_max_cosine"):
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
    """

    track_ids: np.ndarray
    confirmed: np.ndarray
    ended: tuple[int, ...]


@dataclass(slots=True)
class _Track:
    track_id: int
    kf: BoxKalman
    last_frame: int  # frame of the last matched detection
    predicted_frame: int  # frame the Kalman state refers to
    confirmed: bool
    last_box: np.ndarray  # the last matched detection (xyxy)
    # per appearance cue ("embedding", "body"): (EMA of the unit vectors, the last unit vector)
    cues: dict[str, tuple[np.ndarray, np.ndarray]]
    last_strong_frame: int  # frame of the last detection that was not ``track_only``
    # identity (only with ``FrameFaces``): the last face's thumbnail and patch, the first whole face,
    # the identity embeddings checked so far (first + last few) and when the identity was last checked
    thumb: np.ndarray | None = None
    patch: FacePatch | None = None
    first_patch: FacePatch | None = None
    gallery: list[np.ndarray] = field(default_factory=list)
    checked_frame: int = 0
    refused_thumb: np.ndarray | None = None  # thumbnail of the last face the identity refused


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
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_frame: int | None = None
        self.identity_checks: Counter[str] = Counter()  # questions asked of the identity, by reason
        self.identity_refusals: Counter[str] = Counter()  # ... answered "a different face"
        self.identity_vouched: Counter[str] = Counter()  # ... answered by the model embedding alone

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
        self._last_frame = None
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
                same order): enables the identity veto. A pair the assignment chose is *questioned*
                when the track was missed in the previous processed frame (``gap``), when the face's
                thumbnail jumped (``jump``, ``identity_jump``), when the track's identity was last
                checked ``identity_check_frames`` ago (``periodic``), or when it is a
                re-identification the face embedding did not vouch for (``reid``). A questioned pair
                whose identity embeddings are further apart than ``identity_max_distance`` is refused
                and the assignment is run again without it; a ``reid`` pair must be vouched for (an
                unknown identity refuses it). Unknown identities (a face under ``MIN_FACE_PX``, cut
                by the frame edge) refuse nothing else. ``identity_checks`` / ``identity_refusals``
                count the questions by reason.

        Returns:
            The ids of this frame's detections (input order) and the ids of tracks that ended.

        Raises:
            ValueError: frame_index not increasing, or arrays of the wrong shape or non-finite.
        """
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"frame_index must increase: expected > {self._last_frame}, got {frame_index}")
        boxes, score = _check_boxes(xyxy, score)
        only = np.zeros(len(boxes), bool) if track_only is None else np.asarray(track_only, bool)
        if only.shape != (len(boxes),):
            raise ValueError(f"track_only must be ({len(boxes)},), got {only.shape}")
        cues = {
            name: _check_cue(name, v, len(boxes))
            for name, v in (("embedding", embedding), ("body", body))
            if v is not None
        }
        if identity is not None and len(identity) != len(boxes):
            raise ValueError(f"identity must hold {len(boxes)} faces, got {len(identity)}")
        ended = self._expire(frame_index, after_match=False)
        previous, self._last_frame = self._last_frame, frame_index
        for t in self._tracks:
            t.kf.predict(frame_index - t.predicted_frame)
            t.predicted_frame = frame_index
        return self._associate(frame_index, previous, boxes, score, only, cues, ended, identity)

    def _associate(
        self,
        frame_index: int,
        previous: int | None,
        boxes: np.ndarray,
        score: np.ndarray,
        track_only: np.ndarray,
        cues: dict[str, np.ndarray],
        ended: list[int],
        identity: FrameFaces | None,
    ) -> TrackStep:
        p = self.params
        n, tracks = len(boxes), self._tracks
        pred = np.array([t.kf.box() for t in tracks], np.float64).reshape(-1, 4)
        sigma = np.array([t.kf.position_std() for t in tracks], np.float64)
        radius = (p.center_radius, p.max_size_ratio)
        sim = similarity(boxes, pred, *radius, sigma)
        gap = np.array([frame_index - t.last_frame for t in tracks], np.int64)
        lost = gap > 1
        if lost.any():
            last = np.array([t.last_box for t in tracks], np.float64)[lost]
            # the predicted centre with the last detected size: the size velocity is not extrapolated
            centre, half = (pred[lost, :2] + pred[lost, 2:]) / 2, (last[:, 2:] - last[:, :2]) / 2
            cands = [sim[:, lost], similarity(boxes, np.hstack([centre - half, centre + half]), *radius,
                                              sigma[lost])]  # fmt: skip
            if p.match_last_box:  # OC-SORT's observation-centric recovery: someone who stopped while missed
                cands.append(similarity(boxes, last, *radius))
            sim[:, lost] = np.maximum.reduce(cands)
        dist = {name: self._distance(name, feats) for name, feats in cues.items()}
        if dist:
            sim = np.where(self._vetoed(dist, gap, previous, frame_index), _FORBIDDEN, sim)
        old = gap - 1 > p.max_lost_frames  # gap - 1 frames missed
        vouch = np.zeros_like(sim, dtype=bool)  # pairs the identity must vouch for (re-identification)
        if old.any():  # re-identification window: the face embedding (or the identity) must vouch
            with np.errstate(invalid="ignore"):
                ok = dist["embedding"][:, old] <= p.reid_max_cosine if "embedding" in dist else False
            if identity is not None:
                vouch[:, old] = ~np.asarray(ok, bool) & (sim[:, old] >= 0)
            else:
                sim[:, old] = np.where(ok, sim[:, old], _FORBIDDEN)
        if track_only.any():  # they only continue confirmed tracks, and not for long without a strong one
            stale = np.array(
                [
                    not t.confirmed or frame_index - t.last_strong_frame > p.max_low_score_frames
                    for t in tracks
                ],
                bool,
            )
            sim[np.ix_(track_only, stale)] = _FORBIDDEN
        high = (score >= p.high_score) & ~track_only
        just_seen = gap == (frame_index - previous) if previous is not None else np.zeros(len(tracks), bool)
        verdicts: dict[tuple[int, int], bool | None] = {}
        while True:  # assign; question the chosen pairs; refuse the different faces; assign again
            pairs = _assign_two_passes(sim, high, p.match_high, p.match_low)
            refused = False
            if identity is not None or vouch.any():
                for i, j in pairs.items():
                    t = tracks[j]
                    reason = (
                        "reid" if vouch[i, j] else self._question(i, t, frame_index, just_seen[j], identity)
                    )
                    if reason is None:
                        continue
                    if (i, j) not in verdicts:
                        self.identity_checks[reason] += 1
                        if reason in ("jump", "periodic") and self._embedding_vouches(dist, i, j):
                            # a followed track whose model embedding barely moved: no descriptor (it
                            # could not refuse the pair: a rolled or turned real head reads 0.6+ from
                            # its own last frame), so the check costs nothing
                            verdicts[i, j] = None
                            self.identity_vouched[reason] += 1
                        else:
                            verdicts[i, j] = self._same_face(i, tracks[j], reason, identity)
                            if verdicts[i, j] is False:
                                self.identity_refusals[reason] += 1
                    if verdicts[i, j] is False or (reason == "reid" and verdicts[i, j] is None):
                        sim[i, j] = _FORBIDDEN
                        refused = True
            if not refused:
                break
        det_track = {i: tracks[j] for i, j in pairs.items()}
        for i, j in pairs.items():
            t = tracks[j]
            t.kf.update(boxes[i])
            t.last_box = boxes[i]
            t.last_frame, t.confirmed = frame_index, True
            if not track_only[i]:
                t.last_strong_frame = frame_index
            if identity is not None:
                self._remember_face(t, i, identity, verdicts.get((i, j)), (i, j) in verdicts)
            for name, feats in cues.items():
                if feats[i].any():
                    ema = (
                        _ema(t.cues[name][0], feats[i], p.embedding_momentum) if name in t.cues else feats[i]
                    )
                    t.cues[name] = (ema, feats[i])
        ended += self._expire(frame_index, after_match=True)
        for i in range(n):
            if i not in det_track and not track_only[i]:
                det_track[i] = t = _Track(
                    track_id=self._next_id,
                    kf=BoxKalman(boxes[i], p),
                    last_box=boxes[i],
                    last_frame=frame_index,
                    predicted_frame=frame_index,
                    confirmed=bool(high[i]),
                    cues={name: (f[i], f[i]) for name, f in cues.items() if f[i].any()},
                    last_strong_frame=frame_index,
                    checked_frame=frame_index,
                )
                if identity is not None:
                    self._remember_face(t, i, identity, None, False)
                self._next_id += 1
                self._tracks.append(t)
        ids = np.array([det_track[i].track_id if i in det_track else -1 for i in range(n)], np.int64)
        confirmed = np.array([i in det_track and det_track[i].confirmed for i in range(n)], bool)
        return TrackStep(track_ids=ids, confirmed=confirmed, ended=tuple(ended))

    def _question(
        self, i: int, t: _Track, frame_index: int, just_seen: np.bool_ | bool, identity: FrameFaces | None
    ) -> str | None:
        """Why the pair (detection ``i``, track ``t``) needs an identity check, or None."""
        p = self.params
        if identity is None or (t.patch is None and not t.gallery):
            return None
        if not just_seen:
            return "gap"
        if t.thumb is not None and thumb_change(identity.thumbs[i], t.thumb) > p.identity_jump:
            return "jump"
        if p.identity_check_frames and frame_index - t.checked_frame >= p.identity_check_frames:
            return "periodic"
        return None

    def _embedding_vouches(self, dist: dict[str, np.ndarray], i: int, j: int) -> bool:
        """Whether the model's face embedding puts detection ``i`` within ``identity_keep_cosine`` of
        track ``j`` (known on both sides): frame to frame the same real face moves <= 0.085, different
        people on the shared clips are >= 0.10 apart (docs/BENCHMARKS.md, "Identity on real clips")."""
        emb = dist.get("embedding")
        if emb is None or self.params.identity_keep_cosine <= 0:
            return False
        d = emb[i, j]
        return bool(np.isfinite(d) and d <= self.params.identity_keep_cosine)

    def _same_face(self, i: int, t: _Track, reason: str, identity: FrameFaces | None) -> bool | None:
        """Whether detection ``i`` shows the face of track ``t`` (None: unknown on either side).

        The track's side is its gallery of checked embeddings; without one, its last face (or, for the
        periodic check, its first whole face) is embedded now and becomes the gallery.
        """
        if identity is None or identity.cut_by_edge(i):
            return None
        look = identity.thumbs[i]
        if t.refused_thumb is not None and thumb_change(look, t.refused_thumb) <= self.params.identity_jump:
            t.refused_thumb = look  # the face refused last frame, still there: no new embedding needed
            return False
        mine = identity.embedding(i)
        if mine is None:
            return None
        if not t.gallery:
            patch = t.first_patch if reason == "periodic" and t.first_patch is not None else t.patch
            ref = identity.embedder.embed(patch) if patch is not None else None
            if ref is None:
                return None
            t.gallery.append(ref)
        d = min(identity_distance(mine, g) for g in t.gallery)
        same = d <= self.params.identity_max_distance
        if not same:
            t.refused_thumb = look
        log.debug(
            "frame %d: track %d %s check (%s): descriptor distance %.3f, face %.0f px",
            identity.frame_index, t.track_id, "passed" if same else "refused", reason, d,
            identity.patch(i).face_px,
        )  # fmt: skip
        return same

    def _remember_face(
        self, t: _Track, i: int, identity: FrameFaces, verdict: bool | None, checked: bool
    ) -> None:
        """Keep detection ``i``'s look as its track's latest; a checked identity joins the gallery."""
        t.thumb = identity.thumbs[i]
        t.patch = identity.patch(i)
        if t.first_patch is None and t.patch.face_px >= MIN_FACE_PX and not identity.cut_by_edge(i):
            t.first_patch = t.patch
        if checked:
            t.checked_frame = identity.frame_index
        mine = identity.computed(i) if verdict else None
        if mine is not None:
            t.gallery = (t.gallery[:1] + t.gallery[1:][-(_GALLERY - 2) :] + [mine])[-_GALLERY:]

    def _distance(self, name: str, feats: np.ndarray) -> np.ndarray:
        """(n, tracks) cosine distances of detections to each track's appearance of one cue, NaN where
        either side is unknown. The smaller of the distances to the EMA and to the last vector: a
        face that turns slowly stays close to its previous frame even when it drifts from the average.
        """
        dist = np.full((len(feats), len(self._tracks)), np.nan)
        cols = [j for j, t in enumerate(self._tracks) if name in t.cues]
        if not cols:
            return dist  # no appearance of this kind yet: nothing to compare
        ema = np.array([self._tracks[j].cues[name][0] for j in cols])
        last = np.array([self._tracks[j].cues[name][1] for j in cols])
        if ema.shape[1:] != feats.shape[1:]:
            raise ValueError(f"{name} must be (n, {ema.shape[1]}), got {feats.shape}")
        known = feats.any(axis=1, keepdims=True)
        dist[:, cols] = np.where(known, 1.0 - np.maximum(feats @ ema.T, feats @ last.T), np.nan)
        return dist

    def _vetoed(
        self, dist: dict[str, np.ndarray], gap: np.ndarray, previous: int | None, frame_index: int
    ) -> np.ndarray:
        """(n, tracks) bool: pairs an appearance gate forbids.

        A cue whose distance exceeds its limit vetoes the pair, unless the track was matched in the
        previous processed frame and the other cue is known and within its own limit: a track that
        is followed frame by frame only breaks when every known cue disagrees (the clothes colour
        jumps when someone in front hides the body; the embedding when a face grows or blurs fast),
        while a track that was missed must satisfy every cue.
        """
        p = self.params
        limits = {"embedding": p.max_cosine_distance, "body": p.max_body_distance}
        just_seen = (gap == frame_index - previous) if previous is not None else np.zeros(len(gap), bool)
        with np.errstate(invalid="ignore"):
            bad = {name: d > limits[name] for name, d in dist.items()}
            veto = np.zeros_like(next(iter(bad.values())))
            if "embedding" in dist:  # after a miss the face must vouch more strongly
                bad["embedding"] |= (dist["embedding"] > p.reid_max_cosine) & ~just_seen[None, :]
            good = {name: d <= limits[name] for name, d in dist.items()}
        for name in dist:
            vouched = np.zeros_like(veto)
            for other in dist:
                if other != name:
                    vouched |= good[other] & just_seen[None, :]
            veto |= bad[name] & ~vouched
        return veto

    def _expire(self, frame_index: int, after_match: bool) -> list[int]:
        """End tracks lost too long (tentative ones after ``max_tentative_lost_frames``)."""
        keep: list[_Track] = []
        ended: list[_Track] = []
        p = self.params
        for t in self._tracks:
            limit = p.max_lost_frames + p.reid_frames if t.confirmed else p.max_tentative_lost_frames
            gap = frame_index - t.last_frame
            # after matching, the next frame would see `gap` or more missed frames
            dead = gap > limit if after_match else gap - 1 > limit
            (ended if dead else keep).append(t)
        self._tracks = keep
        return [t.track_id for t in ended]


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
        near = np.clip(1.0 - np.hypot(cd[..., 0], cd[..., 1]) / radius, 0.0, 1.0)
        sim = np.maximum(sim, near * ratio)
    sim[ratio < 1.0 / max_size_ratio] = _FORBIDDEN
    return sim


def _assign_two_passes(
    sim: np.ndarray, high: np.ndarray, match_high: float, match_low: float
) -> dict[int, int]:
    """ByteTrack's two passes: high-score detections first (``match_high``), then the rest against the
    tracks left (``match_low``). Returns {detection: track column}."""
    pairs: dict[int, int] = {}
    free = np.ones(sim.shape[1], bool)
    for dets, threshold in ((np.flatnonzero(high), match_high), (np.flatnonzero(~high), match_low)):
        cols = np.flatnonzero(free)
        for a, b in _assign(sim[np.ix_(dets, cols)], threshold):
            pairs[int(dets[a])] = int(cols[b])
            free[cols[b]] = False
    return pairs


def _assign(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Optimal assignment maximising the number of pairs >= threshold, then their summed similarity."""
    if sim.size == 0:
        return []
    ok = sim >= threshold
    if not ok.any():
        return []
    from scipy.optimize import linear_sum_assignment  # here: importing the config need not load scipy

    rows, cols = linear_sum_assignment(np.where(ok, sim, -1e6), maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]


def _ema(old: np.ndarray, new: np.ndarray, momentum: float) -> np.ndarray:
    v = momentum * old + (1.0 - momentum) * new
    return np.asarray(v / max(math.sqrt(float(v @ v)), 1e-12))


def _check_boxes(xyxy: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xyxy, score = np.asarray(xyxy), np.asarray(score)
    if xyxy.ndim != 2 or xyxy.shape[1] != 4:
        raise ValueError(f"xyxy must be (n, 4), got {xyxy.shape}")
    if score.shape != (len(xyxy),):
        raise ValueError(f"score must be ({len(xyxy)},), got {score.shape}")
    boxes = xyxy.astype(np.float64)
    if not (np.isfinite(boxes).all() and np.isfinite(score).all()):
        raise ValueError("xyxy and score must be finite")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ValueError("xyxy must have x2 >= x1 and y2 >= y1")
    return boxes, score.astype(np.float64)


def _check_cue(name: str, feats: np.ndarray, n: int) -> np.ndarray:
    """(n, D) finite -> L2-normalised rows (rows of zeros stay zero: unknown)."""
    v = np.asarray(feats, np.float64)
    if v.ndim != 2 or v.shape[0] != n or v.shape[1] == 0:
        raise ValueError(f"{name} must be ({n}, D), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.asarray(np.where(norm > 0, v / np.maximum(norm, 1e-300), 0.0))
