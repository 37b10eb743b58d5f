"""TensorRT backend: one engine, buffers allocated once, copies and execution on one CUDA stream.

The only module (with ``trt_build``) that imports ``tensorrt``; CUDA calls go through cuda-python's
runtime API (``cuda.bindings.runtime``). The engine is checked against its ``*.engine.json`` sidecar
(TensorRT version, GPU) before TensorRT deserializes it, so a foreign engine fails with an
explanation instead of a crash.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facelog.engines.base import ModelMeta
from facelog.engines.cache import EngineMismatch, check_engine
from facelog.engines.gpu import check_cuda, import_cudart, pick_device
from facelog.engines.trt_build import require_tensorrt

log = logging.getLogger(__name__)


@dataclass
class _Binding:
    """One I/O tensor: its pinned host buffer (a NumPy view at max batch) and device buffer."""

    name: str
    is_input: bool
    dtype: np.dtype[Any]
    item_shape: tuple[int, ...]  # shape without the batch dimension
    host_ptr: int
    device_ptr: int
    host: np.ndarray  # (max_batch, *item_shape) view of the pinned memory

    @property
    def item_bytes(self) -> int:
        return int(np.prod(self.item_shape, dtype=np.int64)) * self.dtype.itemsize


class TensorRTBackend:
    """Runs a serialized TensorRT engine built by ``trt_build.build_engine``.

    Args:
        engine_path: the ``.engine`` file; its ``.engine.json`` sidecar must sit beside it.
        device: CUDA device index.

    Raises:
        BackendUnavailable: TensorRT or a CUDA device is missing.
        EngineMismatch: the engine was built for another GPU or TensorRT version (rebuild it).
    """

    def __init__(self, engine_path: str | Path, device: int = 0) -> None:
        trt_version = require_tensorrt()
        import tensorrt as trt

        gpu = pick_device(device, "TensorRT")
        engine_path = Path(engine_path)
        side = check_engine(engine_path, trt_version, gpu.name, gpu.compute_capability)
        self.meta: ModelMeta = side.meta
        self.name = f"tensorrt:{side.key.precision}"
        self._cudart = import_cudart()
        self._bindings: list[_Binding] = []
        self._stream: Any = None
        self._device = device
        check_cuda(self._cudart.cudaSetDevice(device), "cudaSetDevice")

        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise EngineMismatch(
                f"TensorRT could not deserialize {engine_path}; rebuild it with `facelog engine build`"
            )
        self._engine = engine
        self._context = engine.create_execution_context()
        self._input = self.meta.input_name
        self.max_batch = int(engine.get_tensor_profile_shape(self._input, 0)[2][0])
        in_shape = engine.get_tensor_shape(self._input)
        max_in = [self.max_batch, *(in_shape[i] for i in range(1, len(in_shape)))]
        self._context.set_input_shape(self._input, trt.Dims(max_in))
        try:
            self._stream = check_cuda(self._cudart.cudaStreamCreate(), "cudaStreamCreate")
            for i in range(engine.num_io_tensors):
                self._bindings.append(self._allocate(engine.get_tensor_name(i)))
        except Exception:
            self.close()
            raise
        missing = set(self.meta.outputs) - {b.name for b in self._bindings if not b.is_input}
        if missing:
            self.close()
            raise EngineMismatch(
                f"engine {engine_path.name} lacks outputs {sorted(missing)} named in its metadata"
            )
        log.info("loaded %s on %s (%s), max batch %d", engine_path.name, gpu.name, self.name, self.max_batch)

    def _allocate(self, name: str) -> _Binding:
        import tensorrt as trt

        engine, ctx = self._engine, self._context
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = ctx.get_tensor_shape(name)  # concrete: the input shape was set to max batch
        dims = tuple(int(shape[i]) for i in range(len(shape)))
        if dims[0] != self.max_batch or any(d < 0 for d in dims):
            raise EngineMismatch(
                f"tensor {name} has shape {dims} at max batch {self.max_batch}; expected (B, ...)"
            )
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        nbytes = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
        device_ptr = int(check_cuda(self._cudart.cudaMalloc(nbytes), "cudaMalloc"))
        try:
            host_ptr = int(check_cuda(self._cudart.cudaMallocHost(nbytes), "cudaMallocHost"))
        except Exception:
            self._cudart.cudaFree(device_ptr)
            raise
        raw = (ctypes.c_byte * nbytes).from_address(host_ptr)
        host = np.frombuffer(raw, dtype=dtype).reshape(dims)
        if not ctx.set_tensor_address(name, device_ptr):
            raise EngineMismatch(f"TensorRT refused the address of tensor {name}")
        return _Binding(name, is_input, dtype, dims[1:], host_ptr, device_ptr, host)

    def infer(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Run (B, H, W, 3) float32 pixels; any B (split into max-batch chunks, partial last chunk)."""
        pixels = self.meta.to_input_layout(pixels)
        outputs = [b for b in self._bindings if not b.is_input]
        if len(pixels) == 0:
            return {b.name: np.empty((0, *b.item_shape), b.dtype) for b in outputs}
        parts: dict[str, list[np.ndarray]] = {b.name: [] for b in outputs}
        for start in range(0, len(pixels), self.max_batch):
            chunk = pixels[start : start + self.max_batch]
            for name, arr in self._run_chunk(chunk).items():
                parts[name].append(arr)
        return {name: arrs[0] if len(arrs) == 1 else np.concatenate(arrs) for name, arrs in parts.items()}

    def _run_chunk(self, chunk: np.ndarray) -> dict[str, np.ndarray]:
        import tensorrt as trt

        cudart, n = self._cudart, len(chunk)
        # The CUDA runtime's current device is per thread: the caller may not be the thread that loaded us.
        check_cuda(cudart.cudaSetDevice(self._device), "cudaSetDevice")
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        inp = next(b for b in self._bindings if b.name == self._input)
        inp.host[:n] = chunk  # casts to the engine's input dtype
        if not self._context.set_input_shape(self._input, trt.Dims([n, *inp.item_shape])):
            raise RuntimeError(f"TensorRT rejected batch {n} (engine profile 1..{self.max_batch})")
        check_cuda(
            cudart.cudaMemcpyAsync(inp.device_ptr, inp.host_ptr, n * inp.item_bytes, h2d, self._stream),
            "cudaMemcpyAsync(H2D)",
        )
        if not self._context.execute_async_v3(int(self._stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed; see the TensorRT log")
        outputs = [b for b in self._bindings if not b.is_input]
        for b in outputs:
            check_cuda(
                cudart.cudaMemcpyAsync(b.host_ptr, b.device_ptr, n * b.item_bytes, d2h, self._stream),
                "cudaMemcpyAsync(D2H)",
            )
        check_cuda(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return {b.name: b.host[:n].copy() for b in outputs}

    def close(self) -> None:
        """Free device and pinned buffers and the stream; safe to call twice."""
        for b in self._bindings:
            self._cudart.cudaFree(b.device_ptr)
            self._cudart.cudaFreeHost(b.host_ptr)
        self._bindings = []
        if self._stream is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        for attr in ("_context", "_engine"):
            if hasattr(self, attr):
                delattr(self, attr)
