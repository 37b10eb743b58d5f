"""ONNX Runtime backend (CPU here; CUDA provider where onnxruntime-gpu is installed)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidGraph, InvalidProtobuf

from facelog.engines.base import META_KEY, BackendUnavailable, ModelMeta

log = logging.getLogger(__name__)

# What InferenceSession raises for a file it cannot use (they derive from Exception, not RuntimeError).
ORT_LOAD_ERRORS = (Fail, InvalidArgument, InvalidGraph, InvalidProtobuf)


def read_meta(model_path: str | Path) -> ModelMeta:
    """Read the ``ModelMeta`` that export stored in the ONNX file's metadata_props.

    Raises:
        ValueError: the file is not an ONNX model, or has no facelog metadata.
    """
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except DecodeError as exc:
        raise ValueError(f"{model_path} is not an ONNX model ({exc})") from exc
    props = {p.key: p.value for p in model.metadata_props}
    if META_KEY not in props:
        raise ValueError(f"{model_path} has no '{META_KEY}' metadata: was it exported by facelog?")
    return ModelMeta.from_json(props[META_KEY])


class OnnxRuntimeBackend:
    """Runs the model with ONNX Runtime. ``provider`` is "cpu" or "cuda"."""

    def __init__(self, model_path: str | Path, provider: str = "cpu", threads: int = 0) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(f"model file not found: {model_path}")
        self.meta = read_meta(model_path)
        wanted = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}[provider]
        available = ort.get_available_providers()
        if wanted not in available:
            raise BackendUnavailable(
                f"ONNX Runtime has no {wanted} here (available: {', '.join(available)}); "
                "for CUDA install onnxruntime-gpu (pip install 'facelog[gpu]')"
            )
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(str(model_path), opts, providers=[wanted])
        except ORT_LOAD_ERRORS as exc:
            why = " ".join(str(exc).split())[:300]
            raise ValueError(f"ONNX Runtime cannot load {model_path}: {why}") from exc
        if wanted not in self._session.get_providers():  # ORT falls back to CPU when CUDA fails to load
            raise BackendUnavailable(
                f"ONNX Runtime could not start {wanted} (session runs on {self._session.get_providers()}); "
                "check the CUDA/cuDNN libraries that onnxruntime-gpu needs"
            )
        self._outputs = list(self.meta.outputs)
        self.name = f"onnxruntime:{wanted}"

    def infer(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        feed = {self.meta.input_name: self.meta.to_input_layout(pixels)}
        out = self._session.run(self._outputs, feed)
        return dict(zip(self._outputs, out, strict=True))

    def close(self) -> None:
        del self._session
