"""One inference session per run, used by file, live and archive runs.

``InferenceSession`` resolves and loads, once per run: the detector (``detect.choose_detector``),
the backend (``registry.choose_backend``, chosen once, then opened), and the model. Each video (file
runs) or the whole camera set (live runs) gets a ``FaceAnalyzer`` (``facelog.pipeline.analyzer``)
from ``session.analyzer()``.

Example:
    >>> with InferenceSession(cfg) as session:  # doctest: +SKIP
    ...     analyzer = session.analyzer()
    ...     results = analyzer.analyze([(frame, session.detector.detect(frame.image))])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from facelog.engines.base import Backend
from facelog.engines.fileio import file_sha256
from facelog.engines.registry import (
    BackendChoice,
    choose_backend,
    open_backend,
    pick_model_variant,
    precision_of,
)
from facelog.pipeline.analyzer import FaceAnalyzer
from facelog.pipeline.config import AppConfig, backend_options
from facelog.pipeline.detect import Detector, DetectorChoice, RoiDetector, choose_detector, make_detector
from facelog.pipeline.detect.frontal import load_frontal_detector
from facelog.pipeline.detect.zones import IgnoreZones
from facelog.pipeline.errors import ModelError
from facelog.pipeline.tracking.gender import IdentityGender
from facelog.pipeline.tracking.identity import IdentityEmbedder

log = logging.getLogger(__name__)


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
        # the whole-frame detector (frames in no known order for API callers); file workers and each
        # live camera get region detectors built on it (detectors(), live.rtsp.CameraDetectors)
        self.detector: Detector = make_detector(cfg.detector, self.resolved.detector, workers=0)
        self._by_workers: dict[int, list[Detector]] = {0: [self.detector]}  # detect threads -> detectors
        opts = backend_options(cfg.backend, self.resolved.backend.name)
        if threads and "threads" in opts:
            opts["threads"] = threads
        self.backend: Backend = open_backend(self.resolved.backend, self.resolved.model_path, **opts)
        # the persons' second gender reading, loaded once: a damaged file is a model error at start
        track = cfg.tracking
        self.gender_reader = IdentityGender() if track.enabled and track.gender_faces else None
        # the frontal check's detector, built once (~0.4 s): not per video or camera
        self.frontal_detector = load_frontal_detector() if track.enabled and track.frontal_check else None
        # the identity descriptor, loaded once (~0.3 s in a fresh process, ~0.09 s again): not per video
        needs_identity = track.enabled and (track.use_identity or bool(track.gender_faces))
        self.identity_embedder = IdentityEmbedder() if needs_identity else None
        # where faces are ignored: every file's, and each live camera's (its own where it has them; by
        # camera name, so only a live run's analyzer gets them: a file path could be a camera's name)
        self.ignore_zones = IgnoreZones(cfg.detector.ignore_zones)
        self.camera_zones = IgnoreZones(
            cfg.detector.ignore_zones,
            {c.name: c.ignore_zones for c in cfg.rtsp.cameras if c.ignore_zones is not None},
        )

    def detectors(self, n: int) -> list[Detector]:
        """``n`` detector objects (one per detect thread of a file run), built once, kept for later files.

        With ``detector.full_every`` unset, one worker gets the region detector (key frames every
        ``ROI_DEFAULT_FULL_EVERY``) and several get full-frame ones (``detect.full_every_for``).
        ``self.detector`` stays the whole-frame detector loaded at start; a file run's summary
        describes the first detector returned here (``build_summary(detector=...)``).

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
        return self._by_workers[n]

    def analyzer(self, live: bool = False) -> FaceAnalyzer:
        """A fresh analyzer on this session's backend: its own tracks and timings (one per video; one
        for all the cameras of a live run, ``live``: with each camera's own ignore zones)."""
        return FaceAnalyzer(
            self.backend,
            self.cfg.crop,
            framing=self.detector.framing,
            batch_size=self.cfg.batching.batch_size,
            tracking=self.cfg.tracking,
            gender_reader=self.gender_reader,
            frontal_detector=self.frontal_detector,
            embedder=self.identity_embedder,
            fusion=self.cfg.fusion,
            ignore_zones=self.camera_zones if live else self.ignore_zones,
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
