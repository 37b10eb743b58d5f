"""The config's sections for detection, crops, the model and its backend, batching, sampling,
output, live cameras and archive jobs: pydantic models with ``extra="forbid"``, frozen.

Each key's default is written once, here (or in the parameter dataclass a section mirrors:
``tracking.py``); code that takes one as an argument reads it with ``default_of``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from facelog.pipeline.errors import ConfigError
from facelog.pipeline.sinks import DECIMALS


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
    """Which frames are processed: every ``stride``-th, or about ``target_fps`` per second of video;
    and how they are read: interlaced frames reduced to one field (``deinterlace``,
    ``frames/interlace.py``)."""

    stride: int = Field(default=1, gt=0)
    target_fps: float | None = Field(default=None, gt=0)
    deinterlace: Literal["auto", "on", "off"] = "auto"  # auto: when frames show the comb of woven fields

    @field_validator("deinterlace", mode="before")
    @classmethod
    def _on_off(cls, v: object) -> object:
        # YAML reads a bare on / off as true / false
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_of(self) -> SamplingConfig:
        if self.stride != 1 and self.target_fps is not None:
            raise ValueError(
                f"set sampling.stride or sampling.target_fps, not both (got {self.stride}, {self.target_fps})"
            )
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
