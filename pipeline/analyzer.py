"""Crop, batch, infer, decode and track the faces of frames from one or many sources.

``FaceAnalyzer.analyze`` crops every face of every given frame (from one or many sources), runs them
through the backend in batches of ``batch_size`` (faces of consecutive frames share a batch), decodes
age and gender, and, per source, assigns track ids and fuses each track's frames into one answer
(``persons.PersonTracks``), in the order given. Tracks that end become ``PersonResult``s: in
``FrameResult.ended`` of the frame where they ended, or from ``finish()`` / ``reset_source()``.
File runs get one analyzer per video, live runs one for all cameras (``InferenceSession.analyzer``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facelog.engines.base import Backend
from facelog.engines.preprocess import crops_to_pixels, decode_age
from facelog.pipeline.config import BatchingConfig, CropConfig, FusionConfig, TrackingConfig, default_of
from facelog.pipeline.crop import YUNET_FRAMING, Framing, crop_faces
from facelog.pipeline.detect.zones import IgnoreZones
from facelog.pipeline.tracking.gender import IdentityGender
from facelog.pipeline.tracking.identity import IdentityEmbedder
from facelog.pipeline.tracking.persons import FaceOutputs, PersonTracks, fusion_params
from facelog.pipeline.types import Faces, Frame, FrameResult, Gender, PersonResult, Prediction, gender_of


@dataclass(slots=True)
class StageTimes:
    """Seconds spent in each part of the analyzer (summed over calls)."""

    crop_s: float = 0.0
    infer_s: float = 0.0
    track_s: float = 0.0
    batches: int = 0
    faces: int = 0
    identity_embeddings: int = 0  # identity embeddings computed for the tracker (``identity``)
    identity_s: float = 0.0  # ... and the time they took (part of track_s)
    persons_dropped: dict[str, int] = field(default_factory=dict)  # tracks left out of persons, by why
    gender_read: int = 0  # persons whose gender the identity descriptor also read (persons.py)...
    gender_changed: int = 0  # ... and those where it changed the model's answer
    frontal_checks: int = 0  # faces the frontal check looked at when tracks ended (detect/frontal.py)...
    frontal_s: float = 0.0  # ... and the time they took
    faces_ignored: int = 0  # detections in the ignore zones, dropped before anything else (``zones``)


def model_id(backend: Backend) -> str:
    """``name@version`` of the model the backend runs (the CSV's ``model`` column)."""
    return f"{backend.meta.name}@{backend.meta.version}"


class FaceAnalyzer:
    """Crops, batches, infers and tracks faces for any number of sources.

    Args:
        backend: a loaded ``facelog.engines`` backend.
        crop_cfg: framing settings.
        framing: the detector's crop calibration (``Detector.framing``).
        batch_size: faces per backend call (the last batch of a call may be smaller); default
            ``batching.batch_size``'s.
        tracking: tracker settings; None or ``enabled: false`` = no tracking (track_id -1, no persons).
        fusion: per-person fusion settings (None: defaults).
        gender_reader: the persons' second gender reading (``gender.IdentityGender``); None: each
            source's ``PersonTracks`` loads the shipped one when ``tracking.gender_faces`` asks for it.
        frontal_detector: the frontal check's dlib detector (``detect.frontal.load_frontal_detector``,
            ~0.4 s to build), shared by this analyzer's sources; None: each source builds its own.
        embedder: the identity descriptor (``identity.IdentityEmbedder``, ~0.3 s to load in a fresh
            process), shared; None: built at the first source that needs it. The summary's counts
            (``StageTimes.identity_embeddings``, ``identity_s``) are this analyzer's own.
        ignore_zones: where each source's faces are ignored (``zones.IgnoreZones``); None: nowhere.
    """

    def __init__(
        self,
        backend: Backend,
        crop_cfg: CropConfig,
        *,
        framing: Framing = YUNET_FRAMING,
        batch_size: int = default_of(BatchingConfig, "batch_size"),
        tracking: TrackingConfig | None = None,
        fusion: FusionConfig | None = None,
        gender_reader: IdentityGender | None = None,
        frontal_detector: Any | None = None,
        ignore_zones: IgnoreZones | None = None,
        embedder: IdentityEmbedder | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        meta = backend.meta
        self._age = meta.head("age")
        self._gender = meta.head("gender")
        if self._age is None or self._gender is None:
            raise ValueError(f"model {meta.name} must have 'age' and 'gender' heads, has {meta.outputs}")
        labels = self._gender.labels or ("male", "female")
        if sorted(labels) != ["female", "male"]:
            raise ValueError(f"gender head labels must be male/female, got {labels}")
        self._labels: tuple[Gender, ...] = tuple("female" if x == "female" else "male" for x in labels)
        self.backend = backend
        self.crop_cfg = crop_cfg
        self.framing = framing
        self.batch_size = batch_size
        self.tracking = tracking if tracking is not None and tracking.enabled else None
        self.model_id = model_id(backend)
        self.times = StageTimes()
        self._fusion = fusion_params(fusion if fusion is not None else FusionConfig())
        self._embedding = "embedding" if "embedding" in meta.outputs else None
        self._persons: dict[str, PersonTracks] = {}
        self._embedder = embedder  # one identity model for all sources (the session's)
        # its counts when this analyzer started: a session's embedder serves one video after another
        self._embedded = (embedder.calls, embedder.seconds) if embedder is not None else (0, 0.0)
        self._gender_reader = gender_reader  # the session's (loaded at start); None: PersonTracks loads it
        self._frontal_detector = frontal_detector  # the same for the frontal check's detector
        self._side = int(meta.input_hw[0])
        self._zones = ignore_zones if ignore_zones else None

    def reset_source(self, source_id: str) -> tuple[PersonResult, ...]:
        """End the tracks of one source (after a reconnect): their persons. Its ids keep increasing."""
        t = self._persons.get(source_id)
        ended = t.reset() if t is not None else ()
        self._count_persons()
        return ended

    def finish(self, source_id: str | None = None) -> tuple[PersonResult, ...]:
        """End the live tracks of one source (None: of every source) at the end of input: their persons."""
        ids = [source_id] if source_id is not None else list(self._persons)
        ended = tuple(p for sid in ids if sid in self._persons for p in self._persons[sid].finish())
        self._count_persons()
        return ended

    def _count_persons(self) -> None:
        """Copy the identity model's counts and the tracks left out of persons into ``times``."""
        if self._embedder is not None:
            self.times.identity_embeddings = self._embedder.calls - self._embedded[0]
            self.times.identity_s = self._embedder.seconds - self._embedded[1]
        dropped: dict[str, int] = {}
        for t in self._persons.values():
            for why, n in (*t.dropped.items(), ("static", t.static), ("no_face", t.no_face)):
                dropped[why] = dropped.get(why, 0) + n
        self.times.persons_dropped = dropped
        self.times.gender_read = sum(t.gender.read for t in self._persons.values() if t.gender)
        self.times.gender_changed = sum(t.gender.changed for t in self._persons.values() if t.gender)
        self.times.frontal_checks = sum(t.frontal.calls for t in self._persons.values() if t.frontal)
        self.times.frontal_s = sum(t.frontal.seconds for t in self._persons.values() if t.frontal)

    def crops(self, frame: Frame, faces: Faces) -> list[np.ndarray]:
        """The BGR chips of one frame's faces (see ``facelog.pipeline.crop``)."""
        return crop_faces(frame.image, faces, self.crop_cfg, self.framing, self._side)

    def infer_chips(self, chips: list[np.ndarray]) -> FaceOutputs:
        """Run chips through the backend in batches: their age distributions, female probabilities
        and (when the model has an ``embedding`` output) embeddings."""
        ages, female, emb = [], [], []
        meta = self.backend.meta
        assert self._age is not None and self._gender is not None
        fi = self._labels.index("female")
        for start in range(0, len(chips), self.batch_size):
            pixels = crops_to_pixels(chips[start : start + self.batch_size], meta)
            out = self.backend.infer(pixels)
            self.times.batches += 1
            ages.append(np.asarray(out[self._age.name], np.float32))
            female.append(np.asarray(out[self._gender.name], np.float32)[:, fi])
            if self._embedding is not None:
                emb.append(np.asarray(out[self._embedding], np.float32))
        if not ages:
            return FaceOutputs(np.zeros((0, 101), np.float32), np.zeros(0, np.float32))
        return FaceOutputs(np.concatenate(ages), np.concatenate(female), np.concatenate(emb) if emb else None)

    def analyze(self, items: Sequence[tuple[Frame, Faces]]) -> list[FrameResult]:
        """Analyze frames (of one or many sources) in the order given: one ``FrameResult`` each.

        Frames of the same source must come in increasing ``index`` order across calls (tracking).
        """
        t0 = time.perf_counter()
        chips: list[np.ndarray] = []
        ignored: dict[int, np.ndarray] = {}  # by item: boxes in the operator's zones
        if self._zones is not None:  # the operator's zones first: those faces are not there at all
            kept = []
            for k, (frame, faces) in enumerate(items):
                outside, ignored[k] = self._outside_zones(frame, faces)
                kept.append((frame, outside))
            items = kept
        if self.tracking is None:  # boxes that may only continue a track are not logged without one
            items = [(frame, faces.accepted()) for frame, faces in items]
        for frame, faces in items:
            if len(faces):
                chips.extend(self.crops(frame, faces))
        t1 = time.perf_counter()
        out = self.infer_chips(chips)
        t2 = time.perf_counter()
        results = []
        k = 0
        for item, (frame, faces) in enumerate(items):
            n = len(faces)
            part = FaceOutputs(
                out.age_probs[k : k + n], out.female[k : k + n],
                out.embedding[k : k + n] if out.embedding is not None else None,
            )  # fmt: skip
            preds = self._predictions(faces, part)
            ended: tuple[PersonResult, ...] = ()
            if self.tracking is not None:
                tracks = self._persons.get(frame.source_id)
                if tracks is None:
                    if self._embedder is None and (self.tracking.use_identity or self.tracking.gender_faces):
                        self._embedder = IdentityEmbedder()
                    tracks = self._persons[frame.source_id] = PersonTracks(
                        frame.source_id,
                        self.tracking,
                        self._fusion,
                        self._embedder,
                        self._gender_reader,
                        self._frontal_detector,
                    )
                preds, ended = tracks.update(frame, faces, part, preds)
            k += n
            zoned = ignored.get(item)
            boxes = () if zoned is None else tuple((b[0], b[1], b[2], b[3]) for b in zoned.tolist())
            results.append(
                FrameResult(frame.source_id, frame.index, frame.pts_ns, preds, frame.wall_ns, ended, boxes)
            )
        t3 = time.perf_counter()
        self.times.crop_s += t1 - t0
        self.times.infer_s += t2 - t1
        self.times.track_s += t3 - t2
        self.times.faces += len(chips)
        return results

    def _outside_zones(self, frame: Frame, faces: Faces) -> tuple[Faces, np.ndarray]:
        assert self._zones is not None
        h, w = frame.image.shape[:2]
        kept, inside = self._zones.outside(frame.source_id, faces, w, h)
        if len(inside):
            self.times.faces_ignored += len(inside)
        return kept, inside

    def _predictions(self, faces: Faces, out: FaceOutputs) -> tuple[Prediction, ...]:
        """Single-frame predictions of one frame's faces."""
        ages = decode_age(out.age_probs) if len(faces) else np.zeros(0, np.float32)
        preds = []
        for i in range(len(faces)):
            x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
            female = float(out.female[i])
            gender = gender_of(female)
            preds.append(
                Prediction(
                    face_index=i,
                    xyxy=(x1, y1, x2, y2),
                    det_score=float(faces.score[i]),
                    age=float(ages[i]),
                    gender=gender,
                    gender_score=female if gender == "female" else 1.0 - female,
                )
            )
        return tuple(preds)

    __call__ = analyze
