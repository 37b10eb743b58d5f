"""Person tracks of one source: track ids (``tracker.Tracker``) and one fused answer per track
(``fusion.PersonFusion``), used by ``session.FaceAnalyzer``.

Per frame: the tracker assigns ids (appearance cues: the model's ``embedding`` output when the model
has one and ``tracking.use_embedding``; the clothes colour below the face, ``body_histogram``, when
``tracking.use_body``); each face's age distribution and female probability are added to its
track's fusion with a quality weight (face size, detector score, frontalness from the landmarks,
sharpness of the box's pixels). A prediction's ``age_smooth``/``gender_smooth`` is its track's
fused answer so far. A track that ends (lost for ``max_lost_frames``, or a confirmed one for
``max_lost_frames`` + ``reid_frames``; end of input; reconnect)
becomes a ``PersonResult``; never-confirmed tracks (born from a low-score detection and never
matched again) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from facelog.pipeline.appearance import body_histogram
from facelog.pipeline.config import FusionConfig, TrackingConfig
from facelog.pipeline.fusion import FusionParams, PersonFusion, frontalness, quality_weight, sharpness
from facelog.pipeline.tracker import Tracker, TrackerParams
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

_NOT_TRACKER = {"enabled", "use_embedding", "use_body"}


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


class PersonTracks:
    """Tracks and fuses the faces of one source. Call ``update`` once per processed frame, in order.

    Args:
        source_id: the source's id (the ``PersonResult.source_id``).
        tracking: tracker settings.
        fusion: fusion settings.
    """

    def __init__(self, source_id: str, tracking: TrackingConfig, fusion: FusionParams) -> None:
        self.source_id = source_id
        self.cfg = tracking
        self.fusion = fusion
        self.tracker = Tracker(tracker_params(tracking))
        self._live: dict[int, _Person] = {}

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
        body = body_histogram(frame.image, faces.xyxy) if self.cfg.use_body and n else None
        step = self.tracker.update(frame.index, faces.xyxy, faces.score, emb, body, faces.track_only)
        ended = self._end(step.ended)
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
            age, gender = person.fusion.age_gender()
            result.append(
                replace(p, face_index=len(result), track_id=tid, age_smooth=age, gender_smooth=gender)
            )
        return tuple(result), ended

    def finish(self) -> tuple[PersonResult, ...]:
        """End every live track (end of input): their persons."""
        return self._end(self.tracker.finish())

    def reset(self) -> tuple[PersonResult, ...]:
        """End every live track and forget the frame order (reconnect or seek); ids keep increasing."""
        return self._end(self.tracker.reset())

    def _end(self, ids: tuple[int, ...]) -> tuple[PersonResult, ...]:
        out = []
        for tid in ids:
            person = self._live.pop(tid, None)
            if person is None or not person.confirmed:
                continue
            est = person.fusion.estimate()
            out.append(
                PersonResult(
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
                    gender=est.gender,
                    gender_score=est.gender_score,
                    face_px=est.face_px,
                    first_wall_ns=person.first_wall_ns,
                    last_wall_ns=person.last_wall_ns,
                )
            )
        return tuple(sorted(out, key=lambda p: p.track_id))


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
