"""One inference session per run, used by file, live and archive runs; and its analyzer.

``InferenceSession`` resolves and loads, once per run: the detector (``detect.choose_detector``),
the backend (``registry.choose_backend``, chosen once, then opened), and the model. Each video (file
runs) or the whole camera set (live runs) gets a ``FaceAnalyzer`` from ``session.analyzer()``.

``FaceAnalyzer.analyze`` crops every face of every given frame (from one or many sources), runs them
through the backend in batches of ``batch_size`` (faces of consecutive frames share a batch), decodes
age and gender, and, per source, assigns track ids and fuses each track's frames into one answer
(``persons.PersonTracks``), in the order given. Tracks that end become ``PersonResult``s: in
``FrameResult.ended`` of the frame where they ended, or from ``finish()`` / ``reset_source()``.

Example:
    >>> with InferenceSession(cfg) as session:  # doctest: +SKIP
    ...     analyzer = session.analyzer()
    ...     results = analyzer.analyze([(frame, session.detector.detect(frame.image))])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from facelog.engines.base import Backend
from facelog.engines.fileio import file_sha256
from facelog.engines.preprocess import crops_to_pixels, decode_age
from facelog.engines.registry import (
    BackendChoice,
    choose_backend,
    open_backend,
    pick_model_variant,
    precision_of,
)
from facelog.pipeline.config import AppConfig, CropConfig, FusionConfig, TrackingConfig, backend_options
from facelog.pipeline.crop import YUNET_FRAMING, Framing, crop_faces
from facelog.pipeline.detect import Detector, DetectorChoice, RoiDetector, choose_detector, make_detector
from facelog.pipeline.errors import ModelError
from facelog.pipeline.persons import FaceOutputs, PersonTracks, fusion_params
from facelog.pipeline.types import Faces, Frame, FrameResult, Gender, PersonResult, Prediction, gender_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StageTimes:
    """Seconds spent in each part of the analyzer (summed over calls)."""

    crop_s: float = 0.0
    infer_s: float = 0.0
    track_s: float = 0.0
    batches: int = 0
    faces: int = 0


def model_id(backend: Backend) -> str:
    """``name@version`` of the model the backend runs (the CSV's ``model`` column)."""
    return f"{backend.meta.name}@{backend.meta.version}"


class FaceAnalyzer:
    """Crops, batches, infers and tracks faces for any number of sources.

    Args:
        backend: a loaded ``facelog.engines`` backend.
        crop_cfg: framing settings.
        framing: the detector's crop calibration (``Detector.framing``).
        batch_size: faces per backend call (the last batch of a call may be smaller).
        tracking: tracker settings; None or ``enabled: false`` = no tracking (track_id -1, no persons).
        fusion: per-person fusion settings (None: defaults).
    """

    def __init__(
        self,
        backend: Backend,
        crop_cfg: CropConfig,
        *,
        framing: Framing = YUNET_FRAMING,
        batch_size: int = 32,
        tracking: TrackingConfig | None = None,
        fusion: FusionConfig | None = None,
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
        self._side = int(meta.input_hw[0])

    def reset_source(self, source_id: str) -> tuple[PersonResult, ...]:
        """End the tracks of one source (after a reconnect): their persons. Its ids keep increasing."""
        t = self._persons.get(source_id)
        return t.reset() if t is not None else ()

    def finish(self, source_id: str | None = None) -> tuple[PersonResult, ...]:
        """End the live tracks of one source (None: of every source) at the end of input: their persons."""
        ids = [source_id] if source_id is not None else list(self._persons)
        return tuple(p for sid in ids if sid in self._persons for p in self._persons[sid].finish())

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
        for frame, faces in items:
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
                    tracks = self._persons[frame.source_id] = PersonTracks(
                        frame.source_id, self.tracking, self._fusion
                    )
                preds, ended = tracks.update(frame, faces, part, preds)
            k += n
            results.append(
                FrameResult(frame.source_id, frame.index, frame.pts_ns, preds, frame.wall_ns, ended)
            )
        t3 = time.perf_counter()
        self.times.crop_s += t1 - t0
        self.times.infer_s += t2 - t1
        self.times.track_s += t3 - t2
        self.times.faces += len(chips)
        return results

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


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a run uses, resolved from its config before anything heavy is loaded."""

    detector: DetectorChoice
    model_path: Path  # the file the backend loads (the INT8 twin on the CPU by default)
    backend: BackendChoice
    precision: str  # of that file: fp32 or int8 (TensorRT: its engine's, see resolved_identity)
    precision_reason: str


def resolve(cfg: AppConfig) -> Resolved:
    """Resolve the detector, the model file and the backend kind (``auto`` becomes a real kind).

    Raises:
        ModelError: the detector weights or the model file cannot be found.
        BackendUnavailable: the configured backend cannot run here.
    """
    detector = choose_detector(cfg.detector)
    path = Path(cfg.model.path).expanduser()
    if not path.is_file():
        raise ModelError(f"model file not found: {path} (set model.path or pass --model)")
    backend = choose_backend(cfg.backend.kind)
    try:
        variant = pick_model_variant(path, backend.name, cfg.model.cpu_precision)
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    return Resolved(detector, variant.path, backend, variant.precision, variant.reason)


def resolved_identity(resolved: Resolved, cfg: AppConfig) -> dict[str, str]:
    """What a run's outputs depend on beyond the config's values: the detector it resolved to and its
    weights (sha256), the backend kind and its precision. The batch state hashes this, not ``auto``.

    Raises:
        ConfigError: a backend option that the resolved backend does not take.
    """
    det = resolved.detector
    weights_sha = getattr(det, "sha256", "") or file_sha256(det.path)
    backend = resolved.backend.name
    return {
        "detector": det.name,
        "detector_sha256": weights_sha,
        "backend": backend,
        "precision": (
            precision_of(backend, backend_options(cfg.backend, backend))
            if backend == "tensorrt"
            else resolved.precision
        ),
        "model_sha256": file_sha256(resolved.model_path),
    }


class InferenceSession:
    """Detector and backend of one run, loaded once (a batch worker builds one per process).

    Args:
        cfg: the run's config.
        threads: intra-op threads for an ONNX Runtime backend (0: ``backend.threads``).

    Raises:
        ModelError, BackendUnavailable: see ``resolve``; ConfigError: a backend option that the
            resolved backend does not take.
    """

    def __init__(self, cfg: AppConfig, threads: int = 0) -> None:
        self.cfg = cfg
        self.resolved = resolve(cfg)
        # frames in no known order here (live cameras share it): regions only when asked for explicitly
        self.detector: Detector = make_detector(cfg.detector, self.resolved.detector, workers=0)
        self._by_workers: dict[int, list[Detector]] = {0: [self.detector]}  # detect threads -> detectors
        opts = backend_options(cfg.backend, self.resolved.backend.name)
        if threads and "threads" in opts:
            opts["threads"] = threads
        self.backend: Backend = open_backend(self.resolved.backend, self.resolved.model_path, **opts)

    def detectors(self, n: int) -> list[Detector]:
        """``n`` detector objects (one per detect thread of a file run), built once, kept for later files.

        With ``detector.full_every`` unset, one worker gets the region detector (key frames every
        ``ROI_DEFAULT_FULL_EVERY``) and several get full-frame ones (``detect.full_every_for``).
        ``self.detector`` becomes the first one returned (the one the run summary describes).

        Raises:
            ConfigError: ``n`` > 1 with ``detector.full_every`` > 1 (that mode needs frames in order).
        """
        if n not in self._by_workers:
            # the first worker reuses the whole-frame detector loaded at start (runs are sequential)
            plain = self._by_workers[0][0]
            plain = plain.full if isinstance(plain, RoiDetector) else plain
            self._by_workers[n] = [
                make_detector(
                    self.cfg.detector, self.resolved.detector, workers=n, full=plain if i == 0 else None
                )
                for i in range(n)
            ]
        self.detector = self._by_workers[n][0]
        return self._by_workers[n]

    def analyzer(self) -> FaceAnalyzer:
        """A fresh analyzer on this session's backend: its own tracks and timings (one per video)."""
        return FaceAnalyzer(
            self.backend,
            self.cfg.crop,
            framing=self.detector.framing,
            batch_size=self.cfg.batching.batch_size,
            tracking=self.cfg.tracking,
            fusion=self.cfg.fusion,
        )

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    def __enter__(self) -> InferenceSession:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
