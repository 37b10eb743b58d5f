"""What GPU software is usable here, and why not: CUDA devices (cuda-python), TensorRT, ORT providers.

Every probe returns a value plus a one-line reason; nothing here raises for a missing GPU stack,
because ``backend: auto`` and ``facelog doctor`` must work on a CPU-only install. TensorRT itself is
imported only by ``tensorrt_backend`` and ``trt_build``; ``tensorrt_status`` asks ``importlib`` only.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from facelog.engines.base import BackendUnavailable

log = logging.getLogger(__name__)

INSTALL_GPU = "pip install 'facelog[gpu]' (TensorRT wheels come from NVIDIA's index: pypi.nvidia.com)"
# TensorRT 11 removed weak typing (BuilderFlag.FP16/INT8, platform_has_fast_fp16), which trt_build uses.
SUPPORTED_TENSORRT_MAJOR = 10
TENSORRT_11_WHY = (
    "facelog builds engines with TensorRT 10's FP16/INT8 builder flags, which TensorRT 11 removed; "
    "install TensorRT 10 (the gpu extra pins tensorrt-cu12>=10.1,<11)"
)


@dataclass(frozen=True)
class GpuInfo:
    """One CUDA device as the CUDA runtime reports it."""

    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory_mb: int

    @property
    def sm(self) -> str:
        """Compute capability as TensorRT writes it, e.g. "sm90"."""
        return f"sm{self.compute_capability[0]}{self.compute_capability[1]}"


@dataclass(frozen=True)
class Probe:
    """Result of one availability check: ``ok`` plus a version string or the reason it is unusable."""

    ok: bool
    detail: str


def import_cudart() -> ModuleType:
    """The CUDA runtime module of cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` before 12.6).

    Raises:
        ImportError: cuda-python is not installed; the message says what to install.
    """
    try:
        import cuda.bindings.runtime as runtime

        return runtime
    except ImportError:
        pass
    try:
        import cuda.cudart as cudart  # cuda-python < 12.6

        return cudart
    except ImportError:
        raise ImportError(f"cuda-python is not installed: {INSTALL_GPU}") from None


def check_cuda(result: Any, call: str) -> Any:
    """Unpack a cuda-python ``(err, *values)`` tuple; raise ``RuntimeError`` naming ``call`` on error.

    Returns:
        None, the single value, or a tuple of values.
    """
    cudart = import_cudart()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        _, text = cudart.cudaGetErrorString(err)
        msg = text.decode() if isinstance(text, bytes) else str(text)
        raise RuntimeError(f"{call} failed: {getattr(err, 'name', err)} ({msg})")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def cuda_devices() -> tuple[list[GpuInfo], str]:
    """List CUDA devices. Returns (devices, reason); reason explains an empty list, else is "".

    Never raises: a missing cuda-python, driver or device is a reason, not an error.
    """
    try:
        cudart = import_cudart()
    except ImportError as exc:
        return [], str(exc)
    try:
        count = int(check_cuda(cudart.cudaGetDeviceCount(), "cudaGetDeviceCount"))
    except (RuntimeError, OSError) as exc:  # OSError: cuda-python's DynamicLibNotFoundError
        return [], f"no usable CUDA driver/device: {exc}"
    if count == 0:
        return [], "the CUDA driver reports 0 devices"
    devices = []
    for i in range(count):
        props = check_cuda(cudart.cudaGetDeviceProperties(i), "cudaGetDeviceProperties")
        name = (
            props.name.decode(errors="replace").rstrip("\x00")
            if isinstance(props.name, bytes)
            else props.name
        )
        devices.append(
            GpuInfo(
                index=i,
                name=str(name),
                compute_capability=(int(props.major), int(props.minor)),
                total_memory_mb=int(props.totalGlobalMem) // (1024 * 1024),
            )
        )
    return devices, ""


def pick_device(index: int, purpose: str) -> GpuInfo:
    """The CUDA device ``index``, for ``purpose`` (named in the error).

    Raises:
        BackendUnavailable: no usable CUDA device (the reason says why).
        ValueError: ``index`` is not one of the devices.
    """
    devices, why = cuda_devices()
    if not devices:
        raise BackendUnavailable(f"{purpose} needs a CUDA device: {why}")
    if not 0 <= index < len(devices):
        raise ValueError(f"device must be in 0..{len(devices) - 1}, got {index}")
    return devices[index]


def tensorrt_status() -> Probe:
    """Whether the full TensorRT Python package (with Builder and ONNX parser) imports here."""
    spec = importlib.util.find_spec("tensorrt")
    if spec is None or spec.origin in (
        None,
        "namespace",
    ):  # tensorrt-stubs alone leaves a bare tensorrt/ folder
        lean = importlib.util.find_spec("tensorrt_lean") is not None
        hint = " (only tensorrt_lean is installed: it has no Builder/ONNX parser)" if lean else ""
        return Probe(False, f"the tensorrt package is not installed{hint}: {INSTALL_GPU}")
    try:
        import tensorrt as trt
    except Exception as exc:  # a broken install raises anything from ImportError to OSError
        return Probe(False, f"tensorrt is installed but does not import ({type(exc).__name__}: {exc})")
    if not hasattr(trt, "Builder") or not hasattr(trt, "OnnxParser"):
        return Probe(
            False, "this tensorrt has no Builder/OnnxParser (a lean or dispatch runtime?): " + INSTALL_GPU
        )
    version = str(getattr(trt, "__version__", "unknown"))
    major = version.split(".")[0]
    if major.isdigit() and int(major) > SUPPORTED_TENSORRT_MAJOR:
        return Probe(False, f"TensorRT {version} is installed, but {TENSORRT_11_WHY}: {INSTALL_GPU}")
    return Probe(True, version)


def ort_providers() -> list[str]:
    """ONNX Runtime's available execution providers, e.g. ["CUDAExecutionProvider", ...]."""
    import onnxruntime as ort

    return list(ort.get_available_providers())
