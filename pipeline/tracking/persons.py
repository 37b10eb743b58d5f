"""Person tracks of one source: track ids (``tracker.Tracker``) and one fused answer per track
(``fusion.PersonFusion``), used by ``analyzer.FaceAnalyzer``.

Per frame: the tracker assigns ids (appearance cues: the model's ``embedding`` output when the model
has one and ``tracking.use_embedding``; the clothes colour below the face, ``body_histogram``, when
``tracking.use_body``); each face's age distribution and female probability are added to its
track's fusion with a quality weight (face size, detector score, frontalness from the landmarks,
sharpness of the box's pixels). A prediction's ``age_smooth``/``gender_smooth`` is its track's
fused answer so far. A track that ends (lost for ``max_lost_frames``, or a confirmed one for
``max_lost_frames`` + ``reid_frames``, + ``reid_still_frames`` for one that stood still,
+ ``reid_walk_frames`` for one that walked steadily; end of input; reconnect) becomes a
``PersonResult``, with these exceptions counted in ``dropped``:

* ``low_evidence``: a track with fewer than ``tracking.min_evidence_frames`` detections at or above
  ``tracking.evidence_score`` (never-confirmed tracks among them), or whose faces span less than
  ``tracking.min_evidence_s`` from first to last (not zero: frames without timestamps). A face-like
  patch of background that scores around the detector's threshold a few times, kept alive by
  low-score boxes, is not a person (Frigate counts a track only when the median of its scores
  reaches 0.7); nor is a piece of a walker that the tracker split off for a few frames at a
  crossing. At 25 fps the span rule drops tracks of up to 5 frames: on 162 synthetic CCTV clips 68
  such pieces of people counted twice, and 4 people, each detected in 3-5 frames
  (docs/BENCHMARKS.md, thirty-second session). Sampled at 10 fps or less, 3 detections already span
  0.2 s.
* ``given_back``: a young track whose face went back to an older track (``association.second_look``:
  a face refused for one frame, or held back for up to ``track.HELD_BACK_FRAMES`` frames as it came
  out from behind a nearer body): its few frames are that older track's person's.
* ``joined``: a track that ended as a piece of a live track's person (``join``, file runs): its frames,
  faces and answer go on in that track's, and its frame rows get that track's id
  (``PersonResult.pieces``).
* ``static`` (reported with ``status="static"``, not dropped): a track whose face never moved (a
  poster, a screen, a pattern; ``static.StaticRule``, whose docstring has the rule): left out of
  person counts, kept in the tracks CSV as evidence.

With ``tracking.use_identity`` the tracker also gets the faces' identity embeddings
(``identity.IdentityEmbedder``, only where a match is questioned; see ``tracker``).

With ``tracking.gender_faces`` (default 3) each person's gender is also read from the identity
descriptors of its best faces when its track ends (``gender.GenderReading``). With
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
from facelog.pipeline.detect.frontal import FRONT_FACES, FRONT_GAP_NS, FrontalCheck
from facelog.pipeline.detect.motion import ViewMotion
from facelog.pipeline.tracking.appearance import BackgroundModel, body_histogram
from facelog.pipeline.tracking.fusion import (
    FusionParams,
    PersonFusion,
    frontalness,
    quality_weight,
    sharpness,
)
from facelog.pipeline.tracking.gender import GAP_NS, GenderReading, IdentityGender
from facelog.pipeline.tracking.identity import (
    Embedder,
    FacePatch,
    FrameFaces,
    IdentityEmbedder,
    KeptFaces,
    cut_patch,
    face_thumbs,
)
from facelog.pipeline.tracking.join import (
    JOIN_AGE_YEARS,
    Relation,
    continues,
    descriptor_distance,
    hands_over,
    inside_gap,
    join_limit,
)
from facelog.pipeline.tracking.static import Looks, StaticRule, faint_pattern, nose_offsets
from facelog.pipeline.tracking.track import TrackerParams, at_frame_edge
from facelog.pipeline.tracking.tracker import Tracker
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

log = logging.getLogger(__name__)

_NOT_TRACKER = {
    "enabled", "use_embedding", "use_body", "use_identity", "min_evidence_frames", "evidence_score",
    "min_evidence_s", "static_after_s", "static_max_motion", "gender_faces", "camera_motion", "frontal_check",
    "join_max_distance",
}  # fmt: skip


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
    first_frame: int  # timestamps: ``fusion.span_ns``
    first_wall_ns: int
    last_frame: int = 0
    last_wall_ns: int = 0
    confirmed: bool = False
    evidence: int = 0  # detections at or above tracking.evidence_score (not track_only)
    # per detection: pts_ns, centre x and y and size (px), nose offset across and along the eye axis
    # (in eye distances; NaN without landmarks), detection score: the static test's input
    motion: list[tuple[float, ...]] = field(default_factory=list)
    looks: Looks = field(default_factory=Looks)  # grey thumbnails along the track
    # faces kept for the gender reading (gender.GenderReading) and for the frontal check
    kept: KeptFaces = field(default_factory=KeptFaces)
    front: KeptFaces = field(default_factory=KeptFaces)
    pieces: tuple[int, ...] = ()  # tracks of this person joined to this one when they ended (``join``)


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
        self.gender: GenderReading | None = None  # the second gender reading (gender.GenderReading)
        if tracking.gender_faces and self.embedder is not None:
            reader = gender_reader if gender_reader is not None else IdentityGender()
            self.gender = GenderReading(tracking.gender_faces, reader, self.embedder)
        # a person's faces looked at again (frontal_detector: the session's, shared; None: built here)
        self.frontal = FrontalCheck(frontal_detector) if tracking.frontal_check else None
        self.background = BackgroundModel() if tracking.use_body else None
        self.view = ViewMotion() if tracking.camera_motion else None  # a camera that shakes
        self.dropped: Counter[str] = Counter()  # tracks not reported as persons, by reason
        self.rule = StaticRule(source_id, tracking.static_after_s, tracking.static_max_motion)
        self.no_face = 0  # persons reported with status "no_face"
        self._live: dict[int, _Person] = {}

    @property
    def static(self) -> int:
        """Persons reported with status ``static``."""
        return self.rule.static

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
        ended = self._count(self._end(step.ended, step.given_back) + self.rule.forget(frame.pts_ns))
        looks = ident.thumbs if ident is not None else face_thumbs(frame.image, faces.xyxy) if n else None

        def patch(i: int) -> FacePatch:  # a face kept for a later look (cut once per frame with identity)
            return ident.patch(i) if ident is not None else cut_patch(frame.image, faces.xyxy[i], frame.index)

        nose = nose_offsets(faces.landmarks) if faces.landmarks is not None and n else np.full((n, 2), np.nan)
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
                person = self._live[tid] = _Person(PersonFusion(self.fusion), frame.index, frame.wall_ns)
            person.fusion.add(
                out.age_probs[i], float(out.female[i]), weights[i], _face_px(faces.xyxy[i]), frame.pts_ns
            )
            person.last_frame = frame.index
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
                person.looks.add(looks[i])
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
        ended = self._count(self._end(self.tracker.finish()) + self.rule.forget(None))
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
        return self._count(self._end(self.tracker.reset()) + self.rule.forget(None))

    def _count(self, persons: tuple[PersonResult, ...]) -> tuple[PersonResult, ...]:
        """Count the ``no_face`` ones among persons reported now (``static`` is counted by the rule)."""
        self.no_face += sum(p.status == "no_face" for p in persons)
        return persons

    def _end(self, ids: tuple[int, ...], given_back: tuple[int, ...] = ()) -> tuple[PersonResult, ...]:
        out = []
        for tid in ids:
            person = self._live.pop(tid, None)
            if person is None:
                continue
            # a few frames of an older track's person, not a person; unless it took in an ended track
            # (``join``) before it gave its face back: then those pieces are reported with it
            if tid in given_back and not person.pieces:
                self.dropped["given_back"] += 1
                continue
            span = person.fusion.span_ns  # every frame added was timed
            first_pts_ns, last_pts_ns = span if span is not None else (0, 0)
            # faces over too short a time; none at all means no timestamps (a stream without them):
            # the span is unknown, and only the detections count
            brief = 0 < last_pts_ns - first_pts_ns < self.cfg.min_evidence_s * 1e9
            if not person.confirmed or person.evidence < self.cfg.min_evidence_frames or brief:
                self.dropped["low_evidence"] += 1
                continue
            if self._join(tid, person):  # another live track goes on as this person
                continue
            est = person.fusion.estimate()
            m = np.array(person.motion, np.float64)
            faint = faint_pattern(m)
            # a faint pattern is static whatever it shows: not looked at
            front = None if faint or self.frontal is None else self.frontal.seen_from_front(person.front)
            no_face = front is False
            gender, gender_score = est.gender, est.gender_score
            if self.gender is not None and not faint:
                gender, gender_score = self.gender.person_gender(
                    person.kept, person.fusion.female_logit(), gender, tid
                )
            result = PersonResult(
                source_id=self.source_id,
                track_id=tid,
                first_frame=person.first_frame,
                last_frame=person.last_frame,
                first_pts_ns=first_pts_ns,
                last_pts_ns=last_pts_ns,
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
                pieces=person.pieces,
            )
            out.extend(self.rule.decide(result, m, person.looks, faint))
        return tuple(sorted(out, key=lambda p: p.track_id))

    def _join(self, tid: int, person: _Person) -> bool:
        """Join ended track ``tid`` (``person``) to the live track that continues it, that it
        continues (an older track still waiting for its person), whose gaps held all its faces (a
        face handed back and forth) or that took its face over (born in its gaps, going on after it),
        if one does (``join``); returns whether it did."""
        if self.cfg.join_max_distance <= 0 or self.gender is None or self.embedder is None:
            return False
        mine = np.array(person.motion, np.float64)
        child = self.cfg.identity_child_age
        age = person.fusion.age_gender()[0]
        best: tuple[float, int] | None = None
        for other_id, other in self._live.items():
            if not other.motion:
                continue
            other_age = other.fusion.age_gender()[0]  # read years apart, or both small children: not joined
            if abs(other_age - age) >= JOIN_AGE_YEARS or (child > 0 and max(age, other_age) < child):
                continue
            if other.motion[0][0] > mine[-1, 0]:  # born after this one's last face
                how, goes_on = Relation.AFTER, continues(mine, np.array(other.motion[0], np.float64))
            elif other.motion[-1][0] < mine[0, 0]:  # last seen before this one's first face
                how, goes_on = Relation.BEFORE, continues(np.array(other.motion, np.float64), mine[0])
            elif other.motion[0][0] < mine[0, 0] and other.motion[-1][0] > mine[-1, 0]:
                # seen beside it: someone else, unless all its faces fell in gaps of that track's (the
                # spans checked first: ending tracks in a crowd see many live ones beside them)
                how, goes_on = Relation.AROUND, inside_gap(np.array(other.motion, np.float64), mine)
            elif other.motion[-1][0] > mine[-1, 0]:  # born while this one lived, and goes on after it
                how, goes_on = Relation.TOOK_OVER, hands_over(mine, np.array(other.motion, np.float64))
            else:
                continue
            if not goes_on:
                continue
            limit = join_limit(how, self.cfg.join_max_distance, self.cfg.identity_max_distance)
            d = descriptor_distance(self.embedder, person.kept, other.kept)
            log.debug(
                "track %d ended: is track %d (%s) the same person? mean descriptor distance %s (limit %.2f)",
                tid, other_id, how, "unknown" if d is None else f"{d:.3f}", limit,
            )  # fmt: skip
            if d is not None and d <= limit and (best is None or d < best[0]):
                best = (d, other_id)
        if best is None:
            return False
        into = self._live[best[1]]
        into.fusion.absorb(person.fusion)
        if person.first_frame < into.first_frame:
            into.first_frame, into.first_wall_ns = person.first_frame, person.first_wall_ns
        if person.last_frame > into.last_frame:
            into.last_frame, into.last_wall_ns = person.last_frame, person.last_wall_ns
        into.confirmed = into.confirmed or person.confirmed
        into.evidence += person.evidence
        into.motion = sorted(person.motion + into.motion)
        into.looks.absorb(person.looks)
        into.kept.absorb(person.kept, self.gender.faces, GAP_NS)
        into.front.absorb(person.front, FRONT_FACES, FRONT_GAP_NS)
        into.pieces = (*into.pieces, *person.pieces, tid)
        self.dropped["joined"] += 1  # no row of its own: a piece of that track's person
        return True


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
