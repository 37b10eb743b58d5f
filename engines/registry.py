"""Pick and load an inference backend from an explicit config value.

Kinds: ``auto``, ``onnxruntime`` (CPU), ``onnxruntime-cuda`` and ``tensorrt``. ``auto`` takes
TensorRT when it imports and a CUDA device exists, else ONNX Runtime's CUDA provider when present,
else ONNX Runtime on the CPU, and says why in ``BackendChoice.reason`` (for the run summary). An
explicit kind that cannot run here raises ``BackendUnavailable`` with one line: why, and what to
install. The backend is never chosen from a file suffix or an input shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facelog.engines import trt_build
from facelog.engines.base import Backend, BackendUnavailable
from facelog.engines.gpu import cuda_devices, ort_providers, tensorrt_status

log = logging.getLogger(__name__)

KINDS = ("auto", "onnxruntime", "onnxruntime-cuda", "tensorrt")
_ORT_OPTS = {"threads"}
_TRT_OPTS = {
    "precision",
    "max_batch",
    "opt_batch",
    "workspace_mb",
    "device",
    "cache_dir",
    "calib",
    "calib_images",
}


def precision_of(kind: str, opts: dict[str, Any]) -> str:
    """The precision a backend of resolved ``kind`` runs at with ``opts`` (ONNX Runtime: the model's)."""
    if kind == "tensorrt":
        return str(opts.get("precision") or trt_build.DEFAULT_PRECISION)
    return "fp32"


@dataclass(frozen=True)
class BackendChoice:
    """Which backend a run uses and why (``requested`` is the config value, ``name`` the resolved kind)."""

    requested: str
    name: str
    reason: str


def choose_backend(kind: str) -> BackendChoice:
    """Resolve ``kind`` to a concrete backend kind without loading a model.

    Raises:
        ValueError: ``kind`` is not one of ``KINDS``.
        BackendUnavailable: an explicit kind cannot run here (the message says what to install).
    """
    if kind not in KINDS:
        raise ValueError(f"backend must be one of {', '.join(KINDS)}, got {kind!r}")
    providers = ort_providers()
    has_ort_cuda = "CUDAExecutionProvider" in providers
    if kind == "onnxruntime":
        return BackendChoice(kind, kind, "requested explicitly")
    if kind == "onnxruntime-cuda":
        if not has_ort_cuda:
            raise BackendUnavailable(
                "backend onnxruntime-cuda: ONNX Runtime has no CUDAExecutionProvider here "
                f"(has {', '.join(providers)}); pip uninstall onnxruntime && pip install onnxruntime-gpu "
                "(or 'facelog[gpu]')"
            )
        return BackendChoice(kind, kind, "requested explicitly")
    trt = tensorrt_status()
    devices, no_gpu = cuda_devices()
    if kind == "tensorrt":
        if not trt.ok:
            raise BackendUnavailable(f"backend tensorrt: {trt.detail}")
        if not devices:
            raise BackendUnavailable(f"backend tensorrt: TensorRT {trt.detail} imports but {no_gpu}")
        return BackendChoice(kind, kind, f"requested explicitly (TensorRT {trt.detail} on {devices[0].name})")
    # auto
    if trt.ok and devices:
        return BackendChoice(
            kind, "tensorrt", f"TensorRT {trt.detail} imports and CUDA device 0 is {devices[0].name}"
        )
    why_not_trt = trt.detail if not trt.ok else no_gpu
    if has_ort_cuda:
        return BackendChoice(
            kind, "onnxruntime-cuda", f"ONNX Runtime has CUDAExecutionProvider; no TensorRT: {why_not_trt}"
        )
    return BackendChoice(
        kind, "onnxruntime", f"CPU fallback: no TensorRT ({why_not_trt}); no ORT CUDA provider"
    )


def load_backend(kind: str, model_path: str | Path, **opts: Any) -> Backend:
    """Choose the backend ``kind`` resolves to (``choose_backend``) and load ``model_path`` with it.

    Args:
        kind: one of ``KINDS``.
        model_path: facelog ONNX model; for tensorrt also a built ``.engine`` with its sidecar.
        **opts: see ``open_backend``.

    Raises:
        ValueError: unknown kind, or an option the resolved backend does not take.
        BackendUnavailable: the backend cannot run here.
    """
    return open_backend(choose_backend(kind), model_path, **opts)


def open_backend(choice: BackendChoice, model_path: str | Path, **opts: Any) -> Backend:
    """Load ``model_path`` with an already chosen backend (a run chooses once, then loads).

    Args:
        choice: from ``choose_backend``.
        model_path: facelog ONNX model; for tensorrt also a built ``.engine`` with its sidecar.
        **opts: onnxruntime and onnxruntime-cuda: ``threads``. tensorrt: ``precision`` (fp16),
            ``max_batch`` (128), ``opt_batch`` (32), ``workspace_mb``, ``device``, ``cache_dir``,
            ``calib`` and ``calib_images`` (int8).

    Raises:
        ValueError: an option this backend does not take (named with the backend), or an unknown one.
        BackendUnavailable: the backend cannot run here.
    """
    unknown = set(opts) - _ORT_OPTS - _TRT_OPTS
    if unknown:
        raise ValueError(f"unknown backend options {sorted(unknown)}; known: {sorted(_ORT_OPTS | _TRT_OPTS)}")
    takes = _TRT_OPTS if choice.name == "tensorrt" else _ORT_OPTS
    wrong = sorted(set(opts) - takes)
    if wrong:
        raise ValueError(f"backend {choice.name} does not take options {wrong}; it takes {sorted(takes)}")
    log.info("backend %s -> %s: %s", choice.requested, choice.name, choice.reason)
    model_path = Path(model_path)
    if choice.name in ("onnxruntime", "onnxruntime-cuda"):
        from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend

        provider = "cuda" if choice.name == "onnxruntime-cuda" else "cpu"
        return OnnxRuntimeBackend(model_path, provider=provider, threads=int(opts.get("threads", 0)))
    return _load_tensorrt(model_path, opts)


def _load_tensorrt(model_path: Path, opts: dict[str, Any]) -> Backend:
    from facelog.engines.cache import sidecar_path
    from facelog.engines.tensorrt_backend import TensorRTBackend
    from facelog.engines.trt_build import BatchProfile, ensure_engine

    device = int(opts.get("device", 0))
    if sidecar_path(model_path).is_file():  # a built engine (its sidecar says so), not an ONNX model
        return TensorRTBackend(model_path, device=device)
    default = BatchProfile()
    max_batch = int(opts.get("max_batch") or default.max)
    profile = BatchProfile(default.min, min(int(opts.get("opt_batch") or default.opt), max_batch), max_batch)
    engine, _ = ensure_engine(
        model_path,
        opts.get("precision") or trt_build.DEFAULT_PRECISION,
        profile,
        workspace_mb=int(opts.get("workspace_mb") or trt_build.DEFAULT_WORKSPACE_MB),
        device=device,
        cache_dir=opts.get("cache_dir"),
        calib=opts.get("calib"),
        calib_images=int(opts.get("calib_images") or trt_build.DEFAULT_CALIB_IMAGES),
    )
    return TensorRTBackend(engine, device=device)


INT8_SUFFIX = ".int8.onnx"  # the CPU INT8 twin of ``X.onnx`` lies beside it as ``X.int8.onnx``


@dataclass(frozen=True)
class ModelVariant:
    """The model file a backend loads, its precision and why (for the run summary)."""

    path: Path
    precision: str
    reason: str


def pick_model_variant(
    model_path: str | Path, backend: str, cpu_precision: str = "auto", int8_saturates: bool | None = None
) -> ModelVariant:
    """Choose between an FP32 model and its INT8 twin for ONNX Runtime on the CPU.

    The twin (``X.int8.onnx`` beside ``X.onnx``) is used by default when its metadata records an
    accuracy gate that passed at export (``engines.int8_gate.int8_accepted``) and it was quantized from
    this very FP32 file (sha256 in its metadata), so a stale twin is never used. A twin with full
    8-bit weights (quantized before ``reduce_range``) is not used on an x86 CPU without VNNI, where
    ONNX Runtime's kernels saturate on it (``engines.cpu.cpu_int8_saturates``). Other backends
    always get the FP32 file (TensorRT makes its own precision choice).

    Args:
        model_path: the FP32 facelog ONNX model.
        backend: the resolved backend kind (``choose_backend(...).name``).
        cpu_precision: ``auto`` (INT8 twin when accepted), ``fp32`` or ``int8`` (the twin, or an error).
        int8_saturates: whether this CPU saturates 8-bit weights (None: ask the CPU; for tests).

    Raises:
        ValueError: unknown ``cpu_precision``; ``int8`` asked on a backend other than ONNX Runtime's
            CPU one; ``int8`` asked and no usable twin.
    """
    from facelog.engines.cpu import cpu_int8_saturates
    from facelog.engines.fileio import file_sha256
    from facelog.engines.int8_gate import GATE_KEY, int8_accepted
    from facelog.engines.onnxruntime_backend import read_meta

    if cpu_precision not in ("auto", "fp32", "int8"):
        raise ValueError(f"cpu_precision must be auto, fp32 or int8, got {cpu_precision!r}")
    path = Path(model_path)
    if backend != "onnxruntime":
        if cpu_precision == "int8":
            raise ValueError(f"model.cpu_precision int8 is for the onnxruntime CPU backend, not {backend}")
        return ModelVariant(path, "fp32", f"{backend} loads the FP32 model")
    if cpu_precision == "fp32":
        return ModelVariant(path, "fp32", "model.cpu_precision: fp32")
    twin = path.with_name(path.name.removesuffix(".onnx") + INT8_SUFFIX)
    problem = ""
    if not twin.is_file():
        problem = f"no INT8 twin {twin.name} beside the model"
    else:
        meta = read_meta(twin)
        quantization = meta.extra.get("quantization", {})
        if quantization.get("fp32_sha256") != file_sha256(path):
            problem = f"{twin.name} was not quantized from this {path.name} (sha256 differs)"
        elif not int8_accepted(meta):
            problem = f"{twin.name} failed its accuracy gate at export"
        elif not quantization.get("reduce_range") and (
            cpu_int8_saturates() if int8_saturates is None else int8_saturates
        ):
            problem = (
                f"{twin.name} has 8-bit weights and this x86 CPU has no VNNI, where ONNX Runtime's "
                "INT8 kernels saturate on them (quantize it again with this facelog)"
            )
        else:
            gate = meta.extra[GATE_KEY]
            reason = (
                f"INT8 twin {twin.name}: validation MAE {gate['delta_age_mae_years']:+.3f} years, "
                f"gender {gate['delta_gender_pts']:+.2f} points vs FP32 (gate passed at export)"
            )
            return ModelVariant(twin, "int8", reason)
    if cpu_precision == "int8":
        raise ValueError(f"model.cpu_precision int8: {problem}")
    return ModelVariant(path, "fp32", problem)
