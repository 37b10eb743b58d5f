"""The one config loader: YAML (+ overrides) -> a frozen, validated ``AppConfig``.

Every section is a pydantic model with ``extra="forbid"``: an unknown key is an error that names
the closest known key ("did you mean"). Cross-field checks live next to the models and raise
``ConfigError``. Load once in ``main()`` and pass the typed object down.

Example:
    >>> cfg = load_config("configs/default.yaml", {"sampling": {"stride": 2}})  # doctest: +SKIP
    >>> cfg.sampling.stride  # doctest: +SKIP
    2
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    model_validator,
)

from facelog.engines.base import did_you_mean
from facelog.pipeline.errors import ConfigError, first_line
from facelog.pipeline.sinks import DECIMALS
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.track import TrackerParams

__all__ = [
    "AppConfig",
    "AutoBackendConfig",
    "BackendConfig",
    "BatchConfig",
    "BatchingConfig",
    "CameraConfig",
    "ConfigError",
    "CropConfig",
    "DetectorConfig",
    "FusionConfig",
    "ModelConfig",
    "OnnxRuntimeConfig",
    "OutputConfig",
    "RtspConfig",
    "SamplingConfig",
    "TensorRTConfig",
    "TrackingConfig",
    "backend_options",
    "default_model_path",
    "default_of",
    "load_config",
]


def default_model_path() -> str:
    """The shipped age/gender model (``weights.shipped_model_path``, the one place that knows it)."""
    from facelog.pipeline.weights import shipped_model_path

    return str(shipped_model_path())


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default_of(section: type[BaseModel], key: str) -> Any:
    """The default of one config key, e.g. ``default_of(RtspConfig, "flush_s")``: for code that takes
    that value as an argument, so that the default stays written once, in the config section."""
    return section.model_fields[key].get_default(call_default_factory=True)


def zone_problem(zone: list[tuple[float, float]]) -> str | None:
    """Why ``zone`` (``detector.ignore_zones``' polygon) is not usable, a sentence for a config error;
    None when it is."""
    if len(zone) < 3:
        return f"a zone needs at least 3 [x, y] points, got {len(zone)}"
    xs, ys = [float(p[0]) for p in zone], [float(p[1]) for p in zone]
    if not all(0.0 <= v <= 1.0 for v in xs + ys):  # NaN fails too
        return "points are fractions of the frame's width and height: 0 to 1"
    twice_area = sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(zone)))  # the shoelace
    if abs(twice_area) <= 1e-12:
        return "a zone must enclose an area (its points lie on one line, or its edges cross)"
    return None


def _zones_list(value: Any) -> Any:
    """A single polygon written without the outer list (``[[x, y], ...]``) is the likeliest slip: name it."""
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)
            for p in value
        )
    ):
        raise ValueError("a list of zones, each a list of [x, y] points: wrap one zone in one more [ ]")
    return value


def _usable_zones(zones: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
    for i, zone in enumerate(zones):
        why = zone_problem(zone)
        if why is not None:
            raise ValueError(f"zone {i}: {why}")
    return zones


# polygons of [x, y] points, fractions of the frame's width and height (pipeline/detect/zones.py)
Zones = Annotated[
    list[list[tuple[float, float]]], BeforeValidator(_zones_list), AfterValidator(_usable_zones)
]


class DetectorConfig(_Section):
    """Face detector (docs/PIPELINE.md).

    ``auto`` = ``yunet``: YuNet, shipped in the package (offline; ``yunet_path`` or ``$FACELOG_YUNET``
    names another file). ``blazeface``: MediaPipe's full-range model, also shipped (better on heads
    rolled ~35 degrees; its 192x192 input shrinks a 720p frame 6.7x, so small faces are lost).
    Every face of ``min_face_px`` and more is meant to be found; YuNet runs on the frame resized so
    that such a face is ``input_face_px`` at its input, by at most ``max_input_scale`` (1: never
    enlarged). A larger ``min_face_px`` is faster; faces narrower than 0.8 x ``min_face_px`` are dropped.
    ``full_every`` > 1 detects whole frames only every ``full_every`` frames and, in between, only
    regions around the faces found on the frames before (every logged box is still a detection).
    """

    kind: Literal["auto", "yunet", "blazeface"] = "auto"
    yunet_path: str | None = None  # another YuNet ONNX; else $FACELOG_YUNET, else the shipped file
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # None: the detector's default
    # YuNet: boxes from this score up to score_threshold are logged only when they continue a confirmed
    # track (ByteTrack's low-score band); None: 0.3; score_threshold or more: none
    continue_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    nms: float = Field(default=0.3, gt=0.0, le=1.0)  # IoU above which the weaker box is dropped
    min_face_px: int = Field(default=24, ge=0)  # smallest face to find (box width, frame px); 0: all
    # min_face_px holds for frames this high and more; shorter frames scale it down in proportion, not
    # below 12 px (a 480x270 camera keeps faces from 12 px: they are found at the frame's own size
    # anyway). 0: min_face_px at every frame size. Raise it (or min_face_px) to leave small faces out.
    min_face_ref_height: int = Field(default=720, ge=0)
    # face size (px at YuNet's input) found reliably; the frame is shrunk by input_face_px / min_face_px
    input_face_px: int = Field(default=32, ge=8, le=256)
    # 1: never enlarge; 1.5 finds blurred 32-47 px faces far better at 2.25x the detector's CPU
    max_input_scale: float = Field(default=1.0, gt=0.0, le=2.0)
    # frames shorter than min_face_ref_height: enlarged up to this (never past min_face_ref_height
    # lines), so their 12-px faces reach YuNet at 24 px; a 480x270 camera is detected at 960x540.
    # 1: never enlarge them either (docs/BENCHMARKS.md, fifteenth session)
    small_frame_scale: float = Field(default=2.0, ge=1.0, le=3.0)
    top_k: int = Field(default=5000, gt=0)
    # a full-frame key frame every full_every processed frames, and in between detection only around
    # the faces found before (detect/roi.py; > 1 needs batching.detect_workers 1). 1: all in full
    full_every: int | None = Field(default=None, ge=1, le=1000)  # None: 4 with one detect worker, else 1
    roi_margin: float = Field(default=1.0, ge=0, le=10)  # per side, box widths per frame of gap
    roi_min_margin_px: int = Field(default=24, ge=0)  # per side per frame of gap, at least (frame px)
    # score threshold inside regions (around faces already found); None: score_threshold - 0.1
    roi_score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # frames smaller than this (megapixels) are detected in full every time (720p: 0.92 MP)
    roi_min_megapixels: float = Field(default=0.6, ge=0)
    # between key frames also look where the frame changed since the frame before (faces that enter then;
    # detect/motion.py). None: live cameras at every size, file runs below 1.5 MP (720p; 1080p files keep
    # their speed, a new face waits at most 3 frames there); true: always; false: never
    roi_motion: bool | None = None
    # faces whose box centre lies in one of these polygons are ignored (a wall screen, a mirror, a
    # glass door: detect/zones.py): [[x, y], ...] as fractions of the frame's width and height from
    # the top left, e.g. one zone, the top right: [[[0.6, 0], [1, 0], [1, 0.35], [0.6, 0.35]]]; every
    # source of the run (a live camera's own rtsp.cameras[].ignore_zones replaces them)
    ignore_zones: Zones = Field(default_factory=list)


class CropConfig(_Section):
    """How a detection becomes the UTKFace-like chip the model was trained on (docs/PIPELINE.md)."""

    framing: Literal["auto", "eyes", "box"] = "auto"  # auto: eyes when the detector gives landmarks
    # None: the detector's own calibration (facelog.pipeline.crop.YUNET_FRAMING / BLAZEFACE_FRAMING)
    eye_side: float | None = Field(default=None, gt=0)  # chip side / eye distance
    eye_x: float | None = Field(default=None, gt=0, lt=1)  # eye midpoint within the chip (fractions)
    eye_y: float | None = Field(default=None, gt=0, lt=1)
    box_side: float | None = Field(default=None, gt=0)  # chip side / box width
    box_shift_y: float | None = None  # chip centre below box centre, x box height


class ModelConfig(_Section):
    """The age/gender model (a facelog ONNX file with ``facelog_meta``)."""

    path: str = Field(default_factory=default_model_path)
    # ONNX Runtime on the CPU: auto = the INT8 twin (X.int8.onnx beside X.onnx) when it passed its
    # accuracy gate at export and was made from this file; fp32 = never; int8 = the twin or an error
    cpu_precision: Literal["auto", "fp32", "int8"] = "auto"


class OnnxRuntimeConfig(_Section):
    """ONNX Runtime on the CPU (``onnxruntime``) or with its CUDA provider (``onnxruntime-cuda``)."""

    kind: Literal["onnxruntime", "onnxruntime-cuda"]
    # ORT intra-op threads (0 = one per core). 1 by default: the pipeline runs detection in other
    # threads at the same time, and a second ORT thread then only contends (docs/BENCHMARKS.md)
    threads: int = Field(default=1, ge=0)


class _TensorRTOptions(_Section):
    # None everywhere: the default written once in engines/trt_build.py (DEFAULT_*, BatchProfile())
    precision: Literal["fp32", "fp16", "int8"] | None = None
    device: int | None = Field(default=None, ge=0)
    max_batch: int | None = Field(default=None, gt=0)
    opt_batch: int | None = Field(default=None, gt=0)
    workspace_mb: int | None = Field(default=None, gt=0)
    cache_dir: str | None = None
    calib: str | None = None  # int8: folder of face crops or a CSV with a 'file' column
    calib_images: int | None = Field(default=None, gt=0)


class TensorRTConfig(_TensorRTOptions):
    """TensorRT (GPU). None: ``engines.registry``'s default (fp16, batch 1..32..128, 1024 MiB, GPU 0)."""

    kind: Literal["tensorrt"]


class AutoBackendConfig(_TensorRTOptions):
    """``auto``: TensorRT, else ORT CUDA, else ORT CPU (``engines.registry.choose_backend``).

    It takes the options of every kind; once resolved, an option set here that the chosen backend
    does not take is an error naming that backend (``backend_options``), never ignored.
    """

    kind: Literal["auto"] = "auto"
    threads: int = Field(default=1, ge=0)


# Inference backend, chosen by ``facelog.engines.registry`` from ``kind`` (never from a file suffix).
def _backend_tag(value: Any) -> str:
    kind = value.get("kind", "auto") if isinstance(value, dict) else getattr(value, "kind", "auto")
    return "onnxruntime" if kind == "onnxruntime-cuda" else str(kind)


BackendConfig = Annotated[
    Annotated[AutoBackendConfig, Tag("auto")]
    | Annotated[OnnxRuntimeConfig, Tag("onnxruntime")]
    | Annotated[TensorRTConfig, Tag("tensorrt")],
    Discriminator(_backend_tag),
]
_BACKEND_MODELS: dict[str, type[BaseModel]] = {
    "auto": AutoBackendConfig,
    "onnxruntime": OnnxRuntimeConfig,
    "onnxruntime-cuda": OnnxRuntimeConfig,
    "tensorrt": TensorRTConfig,
}


def backend_options(
    cfg: AutoBackendConfig | OnnxRuntimeConfig | TensorRTConfig, resolved: str
) -> dict[str, Any]:
    """The options to pass to ``load_backend`` for the backend ``cfg.kind`` resolved to.

    Only options with a value (not None) are passed.

    Raises:
        ConfigError: ``auto`` resolved to a backend that does not take an option the config sets to
            something other than its default.
    """
    takes = set(_BACKEND_MODELS[resolved].model_fields) - {"kind"}
    given = cfg.model_dump(exclude={"kind"})
    defaults = type(cfg).model_fields
    wrong = sorted(k for k, v in given.items() if k not in takes and v != defaults[k].get_default())
    if wrong:
        raise ConfigError(
            f"backend.{wrong[0]} does not apply to backend {resolved} (backend {cfg.kind} resolved to "
            f"{resolved}, which takes: {', '.join(sorted(takes))})"
        )
    return {k: v for k, v in given.items() if k in takes and v is not None}


class BatchingConfig(_Section):
    """Faces from consecutive frames fill one batch; flushed when full or after ``max_wait_ms``."""

    batch_size: int = Field(default=32, gt=0)
    max_wait_ms: float = Field(default=50.0, ge=0)
    frame_queue: int = Field(default=8, gt=0)  # decoded frames waiting for detection
    face_queue: int = Field(default=16, gt=0)  # detected frames waiting for inference
    # detect threads, each with its own detector: 2 helps on an idle multi-core machine, costs CPU on a
    # shared one (docs/BENCHMARKS.md)
    detect_workers: int = Field(default=1, ge=1, le=16)


class SamplingConfig(_Section):
    """Which frames are processed: every ``stride``-th, or about ``target_fps`` per second of video."""

    stride: int = Field(default=1, gt=0)
    target_fps: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> SamplingConfig:
        if self.stride != 1 and self.target_fps is not None:
            raise ValueError(
                f"set sampling.stride or sampling.target_fps, not both (got {self.stride}, {self.target_fps})"
            )
        return self


def _defaults(params: type) -> dict[str, Any]:
    """The field defaults of a parameter dataclass (``TrackerParams``, ``FusionParams``), written there
    once: the config sections take them from there."""
    return {f.name: f.default for f in dataclasses.fields(params) if f.default is not dataclasses.MISSING}


_TRACKER = _defaults(TrackerParams)
_FUSION = _defaults(FusionParams)


class TrackingConfig(_Section):
    """Person tracks: ``track.TrackerParams`` (every key but ``enabled``, ``use_*`` and the person
    evidence and static keys, same names). Their defaults are ``TrackerParams``' own.

    ``max_lost_frames`` and the other ``*_frames`` keys count frames of a 25-fps source, timed by the
    frames' timestamps (``tracker`` module docstring: a 5-fps camera steps 5 a frame), not processed
    frames; frames a stride or a live reader never analysed are not missed (``states.TrackState``).
    """

    enabled: bool = True
    high_score: float = Field(default=_TRACKER["high_score"], ge=0, le=1)  # below: only continues tracks
    match_high: float = Field(default=_TRACKER["match_high"], ge=0, le=1)
    match_low: float = Field(default=_TRACKER["match_low"], ge=0, le=1)
    center_radius: float = Field(default=_TRACKER["center_radius"], ge=0)
    max_size_ratio: float = Field(default=_TRACKER["max_size_ratio"], ge=1)
    max_lost_frames: int = Field(default=_TRACKER["max_lost_frames"], ge=0)
    max_tentative_lost_frames: int = Field(default=_TRACKER["max_tentative_lost_frames"], ge=0)
    # face embedding gate, clothes colour gate
    max_cosine_distance: float = Field(default=_TRACKER["max_cosine_distance"], ge=0, le=2)
    max_body_distance: float = Field(default=_TRACKER["max_body_distance"], ge=0, le=2)
    embedding_momentum: float = Field(default=_TRACKER["embedding_momentum"], ge=0, le=1)
    match_last_box: bool = _TRACKER["match_last_box"]
    # after max_lost_frames: re-identify by face embedding within reid_max_cosine (also the stricter
    # gate after any miss)
    reid_frames: int = Field(default=_TRACKER["reid_frames"], ge=0)
    # ...longer for a track that stood still (a person who looked down or turned away), identity only
    reid_still_frames: int = Field(default=_TRACKER["reid_still_frames"], ge=0)
    # ...and for a track that walked steadily (a walker who looked aside), where the walk leads
    reid_walk_frames: int = Field(default=_TRACKER["reid_walk_frames"], ge=0)
    reid_max_cosine: float = Field(default=_TRACKER["reid_max_cosine"], ge=0, le=2)
    # identity veto (face descriptor); a thumbnail change that questions a followed track; and a
    # periodic identity check (0: never)
    identity_max_distance: float = Field(default=_TRACKER["identity_max_distance"], ge=0, le=4)
    # ...stricter where the model reads both faces younger than identity_child_age (0: never)
    identity_child_age: float = Field(default=_TRACKER["identity_child_age"], ge=0)
    identity_child_distance: float = Field(default=_TRACKER["identity_child_distance"], ge=0, le=4)
    identity_jump: float = Field(default=_TRACKER["identity_jump"], ge=0, le=2)
    identity_check_frames: int = Field(default=_TRACKER["identity_check_frames"], ge=0)
    # a followed track whose model embedding stays this close is not refused by the descriptor alone
    identity_keep_cosine: float = Field(default=_TRACKER["identity_keep_cosine"], ge=0, le=2)
    # a question the descriptor cannot answer (face under 32 px): refused beyond this embedding distance
    identity_unknown_cosine: float = Field(default=_TRACKER["identity_unknown_cosine"], ge=0, le=2)
    # low-score boxes continue a track this long at most
    max_low_score_frames: int = Field(default=_TRACKER["max_low_score_frames"], ge=0)
    use_embedding: bool = True  # gate on the model's embedding output (when the model has one)
    use_body: bool = True  # gate on the colour below the face (appearance.body_histogram)
    use_identity: bool = True  # identity veto (identity.IdentityEmbedder: dlib's face descriptor)
    # follow the view of a camera that shakes (detect.motion.ViewMotion): predictions and the static
    # test in scene coordinates; a fixed camera is measured every 5th frame and left as it is
    camera_motion: bool = True
    min_evidence_frames: int = Field(default=3, ge=0)  # a person needs this many detections...
    evidence_score: float = Field(default=0.6, ge=0, le=1)  # ...at or above this score (not track_only)
    static_after_s: float = Field(default=10.0, gt=0)  # a track seen this long whose face never moved...
    static_max_motion: float = Field(default=0.03, ge=0)  # ...(1-s means, in face sizes) is "static"
    # a person's gender also read from the identity descriptor of this many of its best faces (>= 32
    # px, >= 1 s apart), computed when the track ends; 0: the age/gender model alone (persons.py)
    gender_faces: int = Field(default=3, ge=0, le=10)
    # a person's best faces (up to 8, >= 32 px) shown to dlib's frontal face detector when the track
    # ends: a track none of them passes is the back or side of a head, status "no_face" (detect/frontal.py)
    frontal_check: bool = True


class FusionConfig(_Section):
    """One answer per person: ``fusion.FusionParams`` (same names, same meaning, its defaults)."""

    min_face_px: float = Field(default=_FUSION["min_face_px"], ge=0)
    full_face_px: float = Field(default=_FUSION["full_face_px"], gt=0)
    size_floor: float = Field(default=_FUSION["size_floor"], ge=0, le=1)
    frontal_floor: float = Field(default=_FUSION["frontal_floor"], ge=0, le=1)
    sharpness_ref: float = Field(default=_FUSION["sharpness_ref"], gt=0)
    sharpness_floor: float = Field(default=_FUSION["sharpness_floor"], ge=0, le=1)
    min_weight: float = Field(default=_FUSION["min_weight"], gt=0)
    frames_per_observation: float = Field(default=_FUSION["frames_per_observation"], gt=0)
    max_observations: float = Field(default=_FUSION["max_observations"], ge=1)
    floor: float = Field(default=_FUSION["floor"], ge=0, le=1)
    interval: float = Field(default=_FUSION["interval"], gt=0, lt=1)
    mean_after_s: float = Field(default=_FUSION["mean_after_s"], ge=0)

    @model_validator(mode="after")
    def _sizes(self) -> FusionConfig:
        if self.min_face_px >= self.full_face_px:
            raise ValueError(f"min_face_px ({self.min_face_px}) must be < full_face_px ({self.full_face_px})")
        return self


class OutputConfig(_Section):
    """CSV output."""

    decimals: int = Field(default=DECIMALS, ge=0, le=6)  # rounding of boxes, scores and ages (sinks')
    # file runs with tracking: the frame rows of tracks that are not persons (static: posters, screens,
    # patterns; too little evidence: a few low-score boxes) go to OUT.left_out.csv ("separate") or stay
    # in OUT.csv ("keep"); live CSVs are written as frames come and keep them
    left_out_rows: Literal["separate", "keep"] = "separate"


class CameraConfig(_Section):
    """One live camera: a unique ``name`` (CSV folder, ``source`` column, metric label) and its URL.

    ``url`` is a ``SecretStr`` (it usually holds a password): it prints as ``**********`` in reprs,
    dumps and config hashes; the RTSP module reads it with ``get_secret_value()`` and logs it redacted.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    url: SecretStr
    ignore_zones: Zones | None = None  # this camera's (detector.ignore_zones' form); None: those


class RtspConfig(_Section):
    """Live cameras (owned by the RTSP module, docs/RTSP.md; file runs ignore this section)."""

    cameras: list[CameraConfig] = Field(default_factory=list)  # plus rtsp:// URLs from the command line
    open_timeout_s: float = Field(default=5.0, gt=0)  # connect + first packets (CAP_PROP_OPEN_TIMEOUT_MSEC)
    read_timeout_s: float = Field(default=3.0, gt=0)  # frozen camera flagged after this (READ_TIMEOUT_MSEC)
    backoff_initial_s: float = Field(default=0.5, gt=0)  # first reconnect delay, doubled per failure...
    backoff_max_s: float = Field(default=30.0, gt=0)  # ...up to this
    backoff_jitter: float = Field(default=0.2, ge=0, lt=1)  # +- fraction, so cameras do not retry in lockstep
    max_reconnects: int | None = Field(default=None, ge=0)  # failures in a row before giving up; None: never
    rotate_s: float = Field(default=3600.0, gt=0)  # one CSV per camera per period (UTC-aligned, 3600: hourly)
    flush_s: float = Field(default=2.0, gt=0)  # rows reach the OS at least this often
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 lets a remote Prometheus scrape
    metrics_port: int | None = Field(default=9108, ge=0, le=65535)  # /metrics and /healthz; None: off; 0: any
    ffmpeg_options: str = "rtsp_transport;tcp|analyzeduration;1000000"  # OPENCV_FFMPEG_CAPTURE_OPTIONS
    stall_after_s: float = Field(default=30.0, gt=0)  # /healthz answers 503 when the loop is stuck this long
    detect_threads: int = Field(default=0, ge=0)  # cameras' frames detected at once; 0: one per CPU core
    report_daily: bool = False  # after each UTC midnight: <out>/reports/<day>/report.{csv,html} (REPORT.md)

    @model_validator(mode="after")
    def _check(self) -> RtspConfig:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"rtsp.backoff_initial_s must be <= rtsp.backoff_max_s, got {self.backoff_initial_s} > "
                f"{self.backoff_max_s}"
            )
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rtsp.cameras names must be unique, got duplicates {dupes}")
        return self


class BatchConfig(_Section):
    """Archive batch jobs (owned by the batch module, docs/BATCH.md). Not part of the config hash."""

    patterns: list[str] = Field(
        default_factory=lambda: ["**/*.mp4", "**/*.mkv", "**/*.avi", "**/*.mov", "**/*.ts"], min_length=1
    )  # archive-relative globs, case-insensitive
    workers: int = Field(default=1, ge=1)  # worker processes (local) or actors (ray)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # existing cluster ("auto", "ray://head:10001"); None: start a local one
    gpus_per_worker: float | None = Field(default=None, ge=0)  # ray num_gpus; None: 1 if the cluster has GPUs
    gpus: list[int] = Field(default_factory=list)  # local: GPU ids, worker i -> gpus[i % len]
    retry_failed: bool = False  # retry files that failed in an earlier run
    min_age_s: float = Field(default=0.0, ge=0)  # leave files modified more recently for the next run


class AppConfig(_Section):
    """Everything a run needs. Every section defaults to its defaults."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    crop: CropConfig = Field(default_factory=CropConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    backend: BackendConfig = Field(default_factory=AutoBackendConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    rtsp: RtspConfig = Field(default_factory=RtspConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    @model_validator(mode="after")
    def _check(self) -> AppConfig:
        check_full_every(self.detector.full_every, self.batching.detect_workers)
        return self


def check_full_every(full_every: int | None, workers: int) -> None:
    """Detection around known faces (``full_every`` > 1) needs one detect worker, seeing frames in order.

    Raises:
        ValueError: ``full_every`` > 1 with more than one worker.
    """
    if full_every is not None and full_every > 1 and workers > 1:
        raise ValueError(
            f"detector.full_every {full_every} needs the frames in order: set "
            f"batching.detect_workers to 1 (got {workers}) or detector.full_every to 1"
        )


def _check_keys(data: Any, model: type[BaseModel], where: str, origin: str) -> None:
    """Raise ConfigError for the first unknown key, with the closest known key as a hint."""
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            hint = did_you_mean(str(key), fields, where)
            raise ConfigError(f"unknown config key '{where}{key}' in {origin}{hint}")
        ann = fields[key].annotation
        if key == "backend" and model is AppConfig and isinstance(value, dict):
            _check_backend_keys(value, origin)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            _check_keys(value, ann, f"{where}{key}.", origin)


def _check_backend_keys(data: dict[str, Any], origin: str) -> None:
    """Each backend kind takes its own options: one that belongs to another kind names the backend."""
    kind = data.get("kind", "auto")
    model = _BACKEND_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ConfigError(
            f"config {origin}: backend.kind must be one of {', '.join(_BACKEND_MODELS)}, got {kind!r}"
        )
    every = set().union(*(m.model_fields for m in _BACKEND_MODELS.values()))
    for key in data:
        if key in model.model_fields:
            continue
        if key in every:
            takes = ", ".join(k for k in model.model_fields if k != "kind")
            raise ConfigError(
                f"config key 'backend.{key}' in {origin} does not apply to backend {kind} (it takes: {takes})"
            )
        raise ConfigError(
            f"unknown config key 'backend.{key}' in {origin}{did_you_mean(str(key), every, 'backend.')}"
        )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if "." in key:  # dotted override: {"detector.kind": "yunet"}
            head, rest = key.split(".", 1)
            value, key = {rest: value}, head
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, dict) and any("." in k for k in value):
            out[key] = _merge({}, value)
        else:
            out[key] = value
    return out


# The one override table: short names -> config keys, for `facelog run` flags (their argparse dest
# is the short name) and the notebook API's keyword arguments (``api.analyze_video(stride=2)``).
SHORTCUTS: dict[str, str] = {
    "stride": "sampling.stride",
    "target_fps": "sampling.target_fps",
    "detector": "detector.kind",
    "yunet_path": "detector.yunet_path",
    "det_threshold": "detector.score_threshold",
    "min_face_px": "detector.min_face_px",
    "batch_size": "batching.batch_size",
    "backend": "backend.kind",
    "model": "model.path",
}


def with_overrides(config: AppConfig | str | Path | None = None, **overrides: Any) -> AppConfig:
    """A config (a YAML path, None for defaults, or a ready ``AppConfig``) plus overrides given by
    short name (``SHORTCUTS``), dotted key (``{"sampling.stride": 2}`` via ``**``) or whole section
    (``tracking={"enabled": False}``); None values are ignored. Paths become strings.

    Raises:
        ConfigError: unknown override or invalid value.
    """
    mapped = {SHORTCUTS.get(k, k): str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
    if isinstance(config, AppConfig):
        if not any(v is not None for v in mapped.values()):
            return config
        return load_config(None, _merge(config.model_dump(), mapped))
    return load_config(config, mapped)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> AppConfig:
    """Load and validate a config.

    Args:
        path: a YAML file; None = all defaults.
        overrides: nested (``{"sampling": {"stride": 2}}``) or dotted (``{"sampling.stride": 2}``)
            values applied on top of the file; None values are ignored.

    Returns:
        The frozen ``AppConfig``.

    Raises:
        ConfigError: missing/unreadable file, bad YAML, unknown key (with a hint) or invalid value.
    """
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        p = Path(path)
        origin = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {p} is not valid YAML: {first_line(exc)}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {p} must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    if overrides:
        data = _merge(data, _drop_none(overrides))
        origin = f"{origin} + overrides"
    _check_keys(data, AppConfig, "", origin)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        from facelog.pipeline.live.redact import redact_text  # camera URLs carry passwords

        if loc:
            message = f"config {origin}: {loc}: {err['msg']} (got {err.get('input')!r})"
        else:  # a rule across sections
            message = f"config {origin}: {str(err['msg']).removeprefix('Value error, ')}"
        raise ConfigError(redact_text(message)) from exc


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}
