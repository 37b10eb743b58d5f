"""Compile an ONNX model into a TensorRT engine (ONNX parser, builder config, dynamic batch profile).

``tensorrt`` is imported inside the functions, so this module imports on a CPU-only install.
INT8 is explicit quantization: the ONNX must already hold Q/DQ nodes (``engines.quantize``);
TensorRT 10.1+ deprecates the implicit-calibrator route. Nothing is downgraded silently: asking for
FP16/INT8 on a GPU without fast FP16/INT8 raises ``BackendUnavailable``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from facelog.engines.base import BackendUnavailable, FacelogError
from facelog.engines.cache import Precision, as_precision
from facelog.engines.fileio import write_bytes_atomic

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)


class EngineBuildError(FacelogError, RuntimeError):
    """TensorRT could not parse or build the model; the message carries TensorRT's own errors."""


# The TensorRT build defaults, written once: the config (backend.tensorrt), the registry and
# `facelog engine build` all take them from here (BatchProfile's fields are the batch defaults).
DEFAULT_PRECISION: Precision = "fp16"
DEFAULT_WORKSPACE_MB = 1024
DEFAULT_CALIB_IMAGES = 512


@dataclass(frozen=True)
class BatchProfile:
    """Dynamic-batch optimisation profile: TensorRT tunes kernels for ``opt`` and accepts min..max."""

    min: int = 1
    opt: int = 32
    max: int = 128

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(
                f"batch profile must satisfy 1 <= min <= opt <= max, got {self.min}/{self.opt}/{self.max}"
            )


def require_tensorrt() -> str:
    """Check that the full TensorRT Python API imports; return its version.

    Raises:
        BackendUnavailable: saying what is missing and what to install.
    """
    from facelog.engines.gpu import tensorrt_status

    status = tensorrt_status()
    if not status.ok:
        raise BackendUnavailable(f"TensorRT unavailable: {status.detail}")
    return status.detail


def build_engine(
    onnx_path: str | Path,
    out_path: str | Path,
    precision: Precision | str = DEFAULT_PRECISION,
    profile: BatchProfile | None = None,
    workspace_mb: int = DEFAULT_WORKSPACE_MB,
    timing_cache: str | Path | None = None,
) -> Path:
    """Build a serialized TensorRT engine from ``onnx_path`` and write it to ``out_path``.

    Args:
        onnx_path: facelog ONNX model, batch dimension dynamic; a Q/DQ model for ``int8``.
        out_path: where to write the ``.engine``.
        precision: "fp32", "fp16" or "int8" (int8 also enables fp16 for layers outside Q/DQ pairs).
        profile: batch sizes the engine accepts (min/opt/max).
        workspace_mb: builder workspace memory pool limit in MiB.
        timing_cache: file to read and update with kernel timings (speeds up later builds).

    Returns:
        ``out_path``.

    Raises:
        BackendUnavailable: TensorRT missing, or the GPU lacks fast fp16/int8 for ``precision``.
        EngineBuildError: the ONNX parser or the builder failed (TensorRT's messages included).
        ValueError: int8 asked for on a model without Q/DQ nodes, or a bad argument.
    """
    require_tensorrt()
    import tensorrt as trt

    onnx_path, out_path = Path(onnx_path), Path(out_path)
    precision = as_precision(str(precision))
    profile = profile or BatchProfile()
    _check_build_inputs(onnx_path, precision, workspace_mb)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)  # keep it alive while the network is used
    _parse_onnx(parser, onnx_path)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb * 1024 * 1024)
    _set_precision(builder, config, precision)
    _add_profile(builder, network, config, profile)

    cache = None
    if timing_cache is not None:
        timing_cache = Path(timing_cache)
        cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
        config.set_timing_cache(cache, ignore_mismatch=False)

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT failed to build {onnx_path.name} at {precision}; see the log above")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_path, memoryview(serialized))
    log.info(
        "built %s (%s, batch %d..%d) in %.1f s",
        out_path.name,
        precision,
        profile.min,
        profile.max,
        time.perf_counter() - t0,
    )
    if cache is not None and timing_cache is not None:
        timing_cache.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(timing_cache, memoryview(cache.serialize()))
    return out_path


def _check_build_inputs(onnx_path: Path, precision: Precision, workspace_mb: int) -> None:
    """Raise before TensorRT starts: a bad workspace, a missing model, int8 without Q/DQ nodes."""
    if workspace_mb < 1:
        raise ValueError(f"workspace_mb must be >= 1, got {workspace_mb}")
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    if precision == "int8":
        from facelog.engines.quantize import check_tensorrt_qdq, is_qdq_model

        if not is_qdq_model(onnx_path):
            raise ValueError(
                f"int8 needs a Q/DQ model (explicit quantization), {onnx_path.name} has no QuantizeLinear "
                "nodes; run `facelog engine build MODEL.onnx --precision int8 --calib FOLDER_OR_CSV`, "
                "which quantizes first"
            )
        check_tensorrt_qdq(onnx_path)


def _parse_onnx(parser: trt.OnnxParser, onnx_path: Path) -> None:
    """Fill the parser's network from ``onnx_path``; raise with TensorRT's messages when it cannot."""
    if not parser.parse_from_file(str(onnx_path)):
        errs = [parser.get_error(i) for i in range(parser.num_errors)]
        errors = "; ".join(f"node {e.node_name() or e.node()}: {e.desc()}" for e in errs)
        raise EngineBuildError(f"TensorRT's ONNX parser rejected {onnx_path.name}: {errors}")


def _set_precision(builder: trt.Builder, config: trt.IBuilderConfig, precision: Precision) -> None:
    import tensorrt as trt

    if precision == "fp32":
        return
    if not builder.platform_has_fast_fp16:
        raise BackendUnavailable(
            f"{precision} asked for, but this GPU has no fast FP16; build with --precision fp32 instead"
        )
    config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if not builder.platform_has_fast_int8:
            raise BackendUnavailable("int8 asked for, but this GPU has no fast INT8; use --precision fp16")
        config.set_flag(trt.BuilderFlag.INT8)


def _add_profile(
    builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig, profile: BatchProfile
) -> None:
    import tensorrt as trt

    opt_profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tensor.shape
        dims = [shape[j] for j in range(len(shape))]
        if dims[0] != -1:
            raise EngineBuildError(
                f"input {tensor.name} has a fixed batch dimension {dims}; export with a dynamic batch"
            )
        if any(d < 0 for d in dims[1:]):
            raise EngineBuildError(f"input {tensor.name} has dynamic non-batch dimensions {dims}")
        rest = dims[1:]
        opt_profile.set_shape(
            tensor.name,
            trt.Dims([profile.min, *rest]),
            trt.Dims([profile.opt, *rest]),
            trt.Dims([profile.max, *rest]),
        )
    config.add_optimization_profile(opt_profile)


def ensure_engine(
    onnx_path: str | Path,
    precision: Precision | str = DEFAULT_PRECISION,
    profile: BatchProfile | None = None,
    *,
    workspace_mb: int = DEFAULT_WORKSPACE_MB,
    device: int = 0,
    cache_dir: str | Path | None = None,
    calib: str | Path | None = None,
    calib_images: int = DEFAULT_CALIB_IMAGES,
) -> tuple[Path, bool]:
    """Return the cached engine for this model/GPU/TensorRT/precision/profile, building it on a miss.

    For ``int8`` the FP32 model is first quantized to Q/DQ (``engines.quantize``, itself cached)
    with crops from ``calib`` (a folder or CSV); a model that is already Q/DQ is used as is.

    Returns:
        (engine path, True when it was built now).
    """
    from facelog.engines.cache import EngineCache, EngineKey
    from facelog.engines.fileio import file_sha256
    from facelog.engines.gpu import pick_device
    from facelog.engines.onnxruntime_backend import read_meta
    from facelog.engines.quantize import is_qdq_model, quantize_int8

    trt_version = require_tensorrt()
    gpu = pick_device(device, "building a TensorRT engine")
    onnx_path = Path(onnx_path)
    precision = as_precision(str(precision))
    profile = profile or BatchProfile()
    source = onnx_path
    extra: dict[str, str] = {"source_onnx": str(onnx_path.resolve())}
    if precision == "int8" and not is_qdq_model(onnx_path):
        if calib is None:
            raise ValueError("int8 needs calibration crops: pass --calib FOLDER_OR_CSV (or a Q/DQ model)")
        int8_root = Path(cache_dir) / "int8" if cache_dir is not None else None  # else ~/.cache/facelog/int8
        quant = quantize_int8(onnx_path, calib, n_images=calib_images, cache_root=int8_root)
        source = quant.qdq_path
        extra["qdq_onnx"] = str(source)
        extra["calibration_ranges"] = str(quant.ranges_path)
    meta = read_meta(source)
    key = EngineKey(
        model_sha256=file_sha256(source),
        trt_version=trt_version,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        precision=precision,
        min_batch=profile.min,
        opt_batch=profile.opt,
        max_batch=profile.max,
    )
    cache = EngineCache(cache_dir)
    timing = cache.timing_cache_path(trt_version, gpu.compute_capability)

    def build(out: Path) -> Path:
        return build_engine(source, out, precision, profile, workspace_mb, timing)

    return cache.get_or_build(key, meta, device, build, **extra)
