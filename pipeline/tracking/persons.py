"""Person tracks of one source: track ids (``tracker.Tracker``) and one fused answer per track
(``fusion.PersonFusion``), used by ``session.FaceAnalyzer``.

Per frame: the tracker assigns ids (appearance cues: the model's ``embedding`` output when the model
has one and ``tracking.use_embedding``; the clothes colour below the face, ``body_histogram``, when
``tracking.use_body``); each face's age distribution and female probability are added to its
track's fusion with a quality weight (face size, detector score, frontalness from the landmarks,
sharpness of the box's pixels). A prediction's ``age_smooth``/``gender_smooth`` is its track's
fused answer so far. A track that ends (lost for ``max_lost_frames``, or a confirmed one for
``max_lost_frames`` + ``reid_frames``, + ``reid_still_frames`` for one that stood still,
+ ``reid_walk_frames`` for one that walked steadily; end of input; reconnect) becomes a
``PersonResult``, with two exceptions counted in ``dropped``:

* ``low_evidence``: a track with fewer than ``tracking.min_evidence_frames`` detections at or above
  ``tracking.evidence_score`` (never-confirmed tracks among them). A face-like patch of background
  that scores around the detector's threshold a few times, kept alive by low-score boxes, is not a
  person (Frigate counts a track only when the median of its scores reaches 0.7).
* ``static`` (reported with ``status="static"``, not dropped): a track seen for at least
  ``tracking.static_after_s`` whose face never moved: the central 80% of the 1-second means of its
  box centre (in face sizes) stay within ``tracking.static_max_motion`` (at least ``_STILL_MIN_PX``, a
  frame pixel: what a small face's box can tell), and those of its box size
  and of its nose's place between the eyes (landmarks) within ``_NOISY`` times that: on a still,
  blurred pattern the detector's box size and landmarks jitter (textures720: size 0.042-0.046, nose
  0.05-0.08) while its centre stays within 0.028; people standing in a queue move their centre
  0.054-0.073 (docs/BENCHMARKS.md, seventh session). A poster, a screen or a pattern; a person
  standing at a counter sways and turns the head. Left out of person counts (kept in the tracks CSV
  as evidence).
  A faint pattern is ``static`` however short: a track whose median detection score is under
  ``_FAINT_SCORE`` and whose centre reaches no further than ``_FAINT_REACH`` face sizes, at no more
  than ``_FAINT_SPEED`` face sizes a second (a face-like patch of background scores low and stays
  put; a person who scores that low is small or blurred and walking, and crosses several face sizes;
  real faces that stand still score high).
  A still pattern that walkers hide now and then is seen as several short tracks at one place: a
  still track that ends (faint or not) remembers its *spot* (its box and its looks, grey thumbnails sampled by
  ``identity.face_thumbs`` along it), and the still tracks at one spot whose looks match are tested together
  (their times added up, their 1-second means pooled). A still track held at a spot is reported
  when the spot is proven static (then all of them are ``static``) or forgotten (``_SPOT_MEMORY_S``
  of stream time without a new one there, or the end of input: then each is a ``person``). Different
  people who stand one after another at one counter differ in look and are never pooled.

With ``tracking.use_identity`` the tracker also gets the faces' identity embeddings
(``identity.IdentityEmbedder``, only where a match is questioned; see ``tracker``).

With ``tracking.gender_faces`` (default 3) each person's gender is also read from the identity
descriptors of its best faces when its track ends (``identity.GenderReading``). With
``tracking.frontal_check`` (default on) a track's best faces are shown to dlib's frontal face
detector when it ends (``detect.frontal.FrontalCheck``; not a faint pattern's): a track with two or
more kept faces none of which it finds is the back or side of a head, reported with
``status="no_face"`` (left out of person counts, as ``static``; counted in ``no_face``) unless the
static rules make it ``static`` (a still pattern stays one pattern whatever its pieces show).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from facelog.pipeline.config import FusionConfig, TrackingConfig
from facelog.pipeline.detect.frontal import FrontalCheck
from facelog.pipeline.detect.motion import ViewMotion
from facelog.pipeline.tracking.appearance import BackgroundModel, body_histogram
from facelog.pipeline.tracking.fusion import (
    FusionParams,
    PersonFusion,
    frontalness,
    quality_weight,
    sharpness,
)
from facelog.pipeline.tracking.identity import (
    Embedder,
    FacePatch,
    FrameFaces,
    GenderReading,
    IdentityEmbedder,
    IdentityGender,
    KeptFaces,
    cut_patch,
    face_thumbs,
    thumb_change,
)
from facelog.pipeline.tracking.track import TrackerParams, at_frame_edge
from facelog.pipeline.tracking.tracker import Tracker
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

log = logging.getLogger(__name__)

_NOT_TRACKER = {
    "enabled", "use_embedding", "use_body", "use_identity", "min_evidence_frames", "evidence_score",
    "static_after_s", "static_max_motion", "gender_faces", "camera_motion", "frontal_check",
}  # fmt: skip
_WINDOW_NS = 1_000_000_000  # static test: positions are averaged over windows of this much stream time
_FAINT_SCORE = 0.7  # a track whose median detection score is below this ...
_FAINT_REACH = 1.0  # ... and whose centre stays within this many face sizes (10-90% of its detections)
_FAINT_SPEED = 0.5  # ... and moves no faster than this many face sizes a second over its time
#                     is a face-like pattern: static. textures720: such patterns score 0.34-0.68,
#                     reach <= 0.38 and move <= 0.21 face sizes/s; walkers that score that low cross
#                     >= 4.3 face sizes, and a 4-frame piece of one moved 0.67 in 0.12 s (seed 1); real
#                     faces in ../shared's clips score 0.84-0.95 (docs/BENCHMARKS.md, seventh session)
# static test: the centre's limit is at least this many frame pixels. Under it the detector's box of a
# still face jitters by more than static_max_motion of a small face: a printed 26-px face at 480x270
# spread 0.84 px (0.032 face sizes) and was a person; people in a queue there spread 1.3-2.6 px
# (docs/BENCHMARKS.md, fifteenth session). Only faces under 33 px get a wider limit.
_STILL_MIN_PX = 1.0
_NOISY = 4.0  # static test: box size and landmarks may spread this many times static_max_motion
_SPOT_MEMORY_S = 30.0  # a spot of still tracks is forgotten this long (stream time) after its last one
_SPOT_IOU = 0.5  # a still track belongs to a spot whose box it overlaps this much (intersection/union)
_SPOT_LOOK = 0.1  # ... and whose look it matches: two of their sampled thumbnails within this
#                   thumb_change (pieces of one still pattern: <= 0.068; different people at one spot,
#                   closest pair of 8 x 8: >= 0.15; docs/BENCHMARKS.md, seventh session)
_SPOT_MOTION_ROWS = 4096  # a spot keeps its tracks' latest motion rows (about 3 min at 25 fps)
_LOOKS = 8  # thumbnails sampled along a track (evenly: the sampling thins out as the track grows)


def tracker_params(cfg: TrackingConfig) -> TrackerParams:
    """The ``tracking`` section as ``TrackerParams`` (every key but enabled/use_*)."""
    return TrackerParams(**cfg.model_dump(exclude=_NOT_TRACKER))


def fusion_params(cfg: FusionConfig) -> FusionParams:
    """The ``fusion`` section as ``FusionParams`` (1:1)."""
    return FusionParams(**cfg.model_dump())


@dataclass(frozen=True, slots=True)
class FaceOutputs:
    """The model's per-face outputs for one frame (n faces).

    Attributes:
        age_probs: (n, 101) age distributions.
        female: (n,) probability of female.
        embedding: (n, D) L2-normalised embeddings, or None when the model has none.
    """

    age_probs: np.ndarray
    female: np.ndarray
    embedding: np.ndarray | None = None


@dataclass(slots=True)
class _Person:
    fusion: PersonFusion
    first_frame: int
    first_pts_ns: int
    first_wall_ns: int
    last_frame: int = 0
    last_pts_ns: int = 0
    last_wall_ns: int = 0
    confirmed: bool = False
    evidence: int = 0  # detections at or above tracking.evidence_score (not track_only)
    # per detection: pts_ns, centre x and y and size (px), nose offset across and along the eye axis
    # (in eye distances; NaN without landmarks), detection score: the static test's input
    motion: list[tuple[float, ...]] = field(default_factory=list)
    looks: list[np.ndarray] = field(default_factory=list)  # grey thumbnails along the track (_sample)
    look_every: int = 1  # keep every this-many-th face's thumbnail
    faces: int = 0
    # faces kept for the gender reading (identity.GenderReading) and for the frontal check
    kept: KeptFaces = field(default_factory=KeptFaces)
    front: KeptFaces = field(default_factory=KeptFaces)


@dataclass(slots=True)
class _Spot:
    """A place where still tracks of one look ended (see the module docstring)."""

    box: np.ndarray  # (4,) xyxy of its latest track, from the median centre and size
    looks: list[np.ndarray]  # sampled along each of its tracks
    motion: list[tuple[float, ...]]  # its tracks' motion rows, pooled
    seen_ns: int  # its tracks' spans, added up
    last_pts_ns: int
    static: bool = False
    pending: list[PersonResult] = field(default_factory=list)  # held until the spot is decided


class PersonTracks:
    """Tracks and fuses the faces of one source. Call ``update`` once per processed frame, in order.

    Args:
        source_id: the source's id (the ``PersonResult.source_id``).
        tracking: tracker settings.
        fusion: fusion settings.
    """

    def __init__(
        self,
        source_id: str,
        tracking: TrackingConfig,
        fusion: FusionParams,
        embedder: Embedder | None = None,
        gender_reader: IdentityGender | None = None,
        frontal_detector: Any | None = None,
    ) -> None:
        self.source_id = source_id
        self.cfg = tracking
        self.fusion = fusion
        self.tracker = Tracker(tracker_params(tracking))
        self.embedder: Embedder | None = embedder
        if self.embedder is None and (tracking.use_identity or tracking.gender_faces):
            self.embedder = IdentityEmbedder()
        self.gender: GenderReading | None = None  # the second gender reading (identity.GenderReading)
        if tracking.gender_faces and self.embedder is not None:
            reader = gender_reader if gender_reader is not None else IdentityGender()
            self.gender = GenderReading(tracking.gender_faces, reader, self.embedder)
        # a person's faces looked at again (frontal_detector: the session's, shared; None: built here)
        self.frontal = FrontalCheck(frontal_detector) if tracking.frontal_check else None
        self.background = BackgroundModel() if tracking.use_body else None
        self.view = ViewMotion() if tracking.camera_motion else None  # a camera that shakes
        self.dropped: Counter[str] = Counter()  # tracks not reported as persons, by reason
        self.static = 0  # persons reported with status "static"
        self.no_face = 0  # ... and with status "no_face"
        self._live: dict[int, _Person] = {}
        self._spots: list[_Spot] = []

    def update(
        self, frame: Frame, faces: Faces, out: FaceOutputs, preds: tuple[Prediction, ...]
    ) -> tuple[tuple[Prediction, ...], tuple[PersonResult, ...]]:
        """Track one frame's faces and fuse their outputs.

        Args:
            frame: the frame (its image gives the body colour and the sharpness).
            faces: its detections.
            out: the model's outputs for these faces (same order).
            preds: the single-frame predictions of these faces (same order).

        Returns:
            The predictions with ``track_id``, ``age_smooth`` and ``gender_smooth`` set (without the
            ``faces.track_only`` ones that continue no confirmed track; ``face_index`` renumbered),
            and the persons whose tracks ended at this frame.

        Raises:
            ValueError: the frame index is not after the previous one's (``reset()`` first).
        """
        n = len(faces)
        emb = out.embedding if self.cfg.use_embedding and n else None
        body = (
            body_histogram(frame.image, faces.xyxy, self.background)
            if self.background is not None and n
            else None
        )
        if self.background is not None:
            self.background.update(frame.image, faces.xyxy)
        ident = (
            FrameFaces(self.embedder, frame.image, faces.xyxy, frame.index, np.array([p.age for p in preds]))
            if self.embedder and self.cfg.use_identity and n
            else None
        )
        h, w = frame.image.shape[:2]
        edge = at_frame_edge(faces.xyxy, w, h)
        view = np.zeros(2) if self.view is None else self.view.observe(frame.image, faces.xyxy)
        moved = None if self.view is None else self.view.moved
        step = self.tracker.update(
            frame.index, faces.xyxy, faces.score, emb, body, faces.track_only, ident, edge, frame.pts_ns,
            camera_shift_px=moved,
        )  # fmt: skip
        ended = self._count(self._end(step.ended) + self._forget_spots(frame.pts_ns))
        looks = ident.thumbs if ident is not None else face_thumbs(frame.image, faces.xyxy) if n else None

        def patch(i: int) -> FacePatch:  # a face kept for a later look (cut once per frame with identity)
            return ident.patch(i) if ident is not None else cut_patch(frame.image, faces.xyxy[i], frame.index)

        nose = (
            _nose_offsets(faces.landmarks) if faces.landmarks is not None and n else np.full((n, 2), np.nan)
        )
        logged = step.track_ids >= 0  # a track_only detection that continues no track is not logged
        quality = frame_weights(frame, faces.select(logged), self.fusion)
        weights = dict(zip(np.flatnonzero(logged).tolist(), quality, strict=True))
        result: list[Prediction] = []
        for i, p in enumerate(preds):
            tid = int(step.track_ids[i])
            if tid < 0:
                continue
            person = self._live.get(tid)
            if person is None:
                person = self._live[tid] = _Person(
                    PersonFusion(self.fusion), frame.index, frame.pts_ns, frame.wall_ns
                )
            person.fusion.add(out.age_probs[i], float(out.female[i]), weights[i], _face_px(faces.xyxy[i]))
            person.last_frame, person.last_pts_ns = frame.index, frame.pts_ns
            person.last_wall_ns = frame.wall_ns
            person.confirmed = person.confirmed or bool(step.confirmed[i])
            only = faces.track_only is not None and bool(faces.track_only[i])
            person.evidence += not only and float(faces.score[i]) >= self.cfg.evidence_score
            x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
            person.motion.append(  # the centre in scene coordinates (a shaking camera's view taken out)
                (frame.pts_ns, (x1 + x2) / 2 + view[0], (y1 + y2) / 2 + view[1], _face_px(faces.xyxy[i]),
                 *nose[i].tolist(), float(faces.score[i]))
            )  # fmt: skip
            if looks is not None and looks[i, 0] > 0:
                _sample_look(person, looks[i])
            if self.gender is not None and not only and not edge[i]:
                self.gender.offer(person.kept, weights[i], frame.pts_ns, faces.xyxy[i], partial(patch, i))
            if self.frontal is not None and not only and not edge[i]:
                score = float(faces.score[i])  # the detector's most face-like faces are the ones to ask about
                self.frontal.offer(person.front, score, frame.pts_ns, faces.xyxy[i], partial(patch, i))
            age, gender = person.fusion.age_gender()
            result.append(
                replace(p, face_index=len(result), track_id=tid, age_smooth=age, gender_smooth=gender)
            )
        return tuple(result), ended

    def finish(self) -> tuple[PersonResult, ...]:
        """End every live track (end of input): their persons."""
        ended = self._count(self._end(self.tracker.finish()) + self._forget_spots(None))
        t = self.tracker
        log.info(
            "%s: identity questions %s, answered by the model embedding %s, refused %s; tracks left out "
            "%s, static %d, no_face %d", self.source_id, dict(t.identity_checks), dict(t.identity_vouched),
            dict(t.identity_refusals), dict(self.dropped), self.static, self.no_face,
        )  # fmt: skip
        return ended

    def reset(self) -> tuple[PersonResult, ...]:
        """End every live track and forget the frame order (reconnect or seek); ids keep increasing."""
        if self.view is not None:
            self.view.reset()
        return self._count(self._end(self.tracker.reset()) + self._forget_spots(None))

    def _count(self, persons: tuple[PersonResult, ...]) -> tuple[PersonResult, ...]:
        """Count the ``no_face`` ones among persons reported now (``static`` is counted in ``_decide``)."""
        self.no_face += sum(p.status == "no_face" for p in persons)
        return persons

    def _end(self, ids: tuple[int, ...]) -> tuple[PersonResult, ...]:
        out = []
        for tid in ids:
            person = self._live.pop(tid, None)
            if person is None:
                continue
            if not person.confirmed or person.evidence < self.cfg.min_evidence_frames:
                self.dropped["low_evidence"] += 1
                continue
            est = person.fusion.estimate()
            m = np.array(person.motion, np.float64)
            faint = _faint_pattern(m)
            # a faint pattern is static whatever it shows: not looked at
            front = None if faint or self.frontal is None else self.frontal.seen_from_front(person.front)
            no_face = front is False
            gender, gender_score = est.gender, est.gender_score
            if self.gender is not None and not faint:
                gender, gender_score = self.gender.person_gender(
                    person.kept, person.fusion.female_logit(), gender
                )
            result = PersonResult(
                source_id=self.source_id,
                track_id=tid,
                first_frame=person.first_frame,
                last_frame=person.last_frame,
                first_pts_ns=person.first_pts_ns,
                last_pts_ns=person.last_pts_ns,
                frames=est.frames,
                age=est.age,
                age_low=est.age_low,
                age_high=est.age_high,
                gender=gender,
                gender_score=gender_score,
                face_px=est.face_px,
                first_wall_ns=person.first_wall_ns,
                last_wall_ns=person.last_wall_ns,
                status="no_face" if no_face else "person",  # a head seen from behind; static still wins
            )
            out.extend(self._decide(person, result, m, faint))
        return tuple(sorted(out, key=lambda p: p.track_id))

    def _decide(
        self, person: _Person, result: PersonResult, m: np.ndarray, faint: bool
    ) -> list[PersonResult]:
        """The persons to report now for one ended track: itself with its status, the tracks its spot
        held when that spot is now proven static, or nothing while its spot holds it. ``m``: the track's
        motion rows (``_Person.motion``); ``faint``: ``_faint_pattern(m)``, computed once by the caller."""
        span = int(m[-1, 0] - m[0, 0])
        still = self._still(m)
        if not (faint or still):  # it moved: a person, whatever its spot
            return [result]
        long_enough = self._long_enough(span)
        # a faint piece of a pattern is static by itself; a still one also adds its time to its spot
        # (textures720 s0: a pattern scoring ~0.7 was seen as short faint and not-quite-faint pieces;
        # only the faint ones proved its spot, so the others stayed persons)
        spot = self._spot_of(m, person.looks, span) if still else None
        if spot is None:
            static = faint or long_enough
            self.static += static
            return [replace(result, status="static")] if static else [result]
        spot.static = (
            spot.static
            or long_enough
            or (self._long_enough(spot.seen_ns) and self._still(np.array(spot.motion, np.float64)))
        )
        if not spot.static:
            if faint:
                self.static += 1
                return [replace(result, status="static")]
            spot.pending.append(result)
            return []
        out = [replace(r, status="static") for r in (*spot.pending, result)]
        spot.pending.clear()
        self.static += len(out)
        return out

    def _spot_of(self, m: np.ndarray, looks: list[np.ndarray], span: int) -> _Spot | None:
        """The spot a still track (motion rows ``m``, sampled ``looks``) ended at, created if new;
        None without a look. Looks match when any two of them do: a walker hides part of a still
        pattern in some of its thumbnails, never in all."""
        if not looks:
            return None
        cx, cy, size = (float(v) for v in np.median(m[:, 1:4], axis=0))
        box = np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2])
        for spot in self._spots:
            if _iou(spot.box, box) >= _SPOT_IOU and _looks_match(looks, spot.looks):
                spot.box, spot.seen_ns = box, spot.seen_ns + span
                spot.looks = (spot.looks + looks)[-4 * _LOOKS :]
                if not spot.static:  # decided: its motion is not tested again (a live wall pattern
                    # would otherwise pool its pieces all day); undecided, the latest rows are enough
                    spot.motion = (spot.motion + list(map(tuple, m.tolist())))[-_SPOT_MOTION_ROWS:]
                spot.last_pts_ns = max(spot.last_pts_ns, int(m[-1, 0]))
                return spot
        spot = _Spot(box, list(looks), list(map(tuple, m.tolist()))[-_SPOT_MOTION_ROWS:], span, int(m[-1, 0]))
        self._spots.append(spot)
        return spot

    def _forget_spots(self, now_ns: int | None) -> tuple[PersonResult, ...]:
        """Forget the spots last seen ``_SPOT_MEMORY_S`` before ``now_ns`` (None: every spot); the
        tracks they held are persons."""
        keep, out = [], []
        for spot in self._spots:
            if now_ns is not None and now_ns - spot.last_pts_ns < _SPOT_MEMORY_S * 1e9:
                keep.append(spot)
            else:
                out += spot.pending
        self._spots = keep
        return tuple(sorted(out, key=lambda p: p.track_id))

    def _long_enough(self, seen_ns: int) -> bool:
        """Whether a still face seen this long (ns) is ``static`` (``tracking.static_after_s``)."""
        return seen_ns / 1e9 >= self.cfg.static_after_s

    def _still(self, m: np.ndarray) -> bool:
        """Whether motion rows ``m`` never moved (see the module docstring), however short."""
        size = float(np.median(m[:, 3]))
        window = ((m[:, 0] - m[0, 0]) // _WINDOW_NS).astype(np.int64)
        _, inverse, counts = np.unique(window, return_inverse=True, return_counts=True)
        feats = np.column_stack([m[:, 1] / size, m[:, 2] / size, m[:, 3] / size, m[:, 4], m[:, 5]])
        means = np.stack(
            [np.bincount(inverse, np.nan_to_num(f), minlength=len(counts)) / counts for f in feats.T], axis=1
        )
        known = [j for j in range(feats.shape[1]) if np.isfinite(feats[:, j]).all()]
        # the central 80% of the 1-s means: a first or last second that is off (a face entering, one
        # passing in front) does not hide a poster
        spread = np.percentile(means[:, known], 90, axis=0) - np.percentile(means[:, known], 10, axis=0)
        log.debug("%s: still test spreads (x, y, size, nose along, nose across) %s", self.source_id,
                  dict(zip(known, np.round(spread, 3).tolist(), strict=True)))  # fmt: skip
        limit = self.cfg.static_max_motion * np.array([1.0, 1.0, _NOISY, _NOISY, _NOISY])
        limit[:2] = np.maximum(limit[:2], _STILL_MIN_PX / size)  # a pixel: what a box can tell
        return bool((spread <= limit[known]).all())


def _faint_pattern(m: np.ndarray) -> bool:
    """Whether motion rows ``m`` (with the detection score last) are a faint face-like pattern: median
    score under ``_FAINT_SCORE``, a centre that reaches no further than ``_FAINT_REACH`` face sizes,
    and no faster than ``_FAINT_SPEED`` face sizes a second (a short piece of a slow walker moves)."""
    size = float(np.median(m[:, 3]))
    reach = max(float(np.percentile(m[:, k], 90) - np.percentile(m[:, k], 10)) for k in (1, 2)) / size
    seconds = float(m[-1, 0] - m[0, 0]) / 1e9
    still = reach <= _FAINT_REACH and reach <= _FAINT_SPEED * seconds
    return bool(np.median(m[:, 6]) < _FAINT_SCORE and still)


def _sample_look(person: _Person, look: np.ndarray) -> None:
    """Keep every ``look_every``-th face's thumbnail, at most 2 x ``_LOOKS`` (then every other one
    is dropped and the step doubles): a bounded, even sample along a track of any length."""
    if person.faces % person.look_every == 0:
        person.looks.append(look)
        if len(person.looks) >= 2 * _LOOKS:
            person.looks = person.looks[::2]
            person.look_every *= 2
    person.faces += 1


def _looks_match(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Whether any thumbnail of ``a`` is within ``_SPOT_LOOK`` of any of ``b``."""
    return any(thumb_change(x, y) <= _SPOT_LOOK for x in a for y in b)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _nose_offsets(landmarks: np.ndarray) -> np.ndarray:
    """(n, 2): the nose tip's offset from the eyes' midpoint across and along the eye axis, in eye
    distances (a head that turns or nods moves it; a printed face never does); NaN where unknown."""
    lm = np.asarray(landmarks, np.float64)
    eye = lm[:, 1] - lm[:, 0]
    dist2 = (eye**2).sum(axis=1)
    rel = lm[:, 2] - (lm[:, 0] + lm[:, 1]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        along = (rel * eye).sum(axis=1) / dist2
        across = (rel[:, 0] * eye[:, 1] - rel[:, 1] * eye[:, 0]) / dist2
    out = np.stack([along, across], axis=1)
    out[~np.isfinite(out).all(axis=1) | (dist2 < 1.0)] = np.nan
    return out


def frame_weights(frame: Frame, faces: Faces, params: FusionParams) -> list[float]:
    """Quality weight of each face of one frame in its track's fusion (``fusion.quality_weight``:
    face size, detector score, frontalness from the landmarks, sharpness of the box's pixels)."""
    n = len(faces)
    front = frontalness(faces.landmarks, faces.xyxy) if faces.landmarks is not None and n else None
    h, w = frame.image.shape[:2]
    weights = []
    for i in range(n):
        x1, y1, x2, y2 = faces.xyxy[i]
        top, left = max(int(y1), 0), max(int(x1), 0)
        c = frame.image[top : min(int(np.ceil(y2)), h), left : min(int(np.ceil(x2)), w)]
        sharp = sharpness(c) if min(c.shape[:2]) >= 3 else None
        fr = float(front[i]) if front is not None else None
        weights.append(quality_weight(_face_px(faces.xyxy[i]), float(faces.score[i]), fr, sharp, params))
    return weights


def _face_px(box: np.ndarray) -> float:
    """Face size: sqrt of the box area (px)."""
    w, h = max(float(box[2] - box[0]), 0.0), max(float(box[3] - box[1]), 0.0)
    return float(np.sqrt(w * h))
