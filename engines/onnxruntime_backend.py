"""ONNX Runtime backend (CPU here; CUDA provider where onnxruntime-gpu is installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidGraph, InvalidProtobuf

from facelog.engines.base import META_KEY, BackendUnavailable, ModelMeta

# What InferenceSession raises for a file it cannot use (they derive from Exception, not RuntimeError).
ORT_LOAD_ERRORS = (Fail, InvalidArgument, InvalidGraph, InvalidProtobuf)


def read_meta(model_path: str | Path) -> ModelMeta:
    """Read the ``ModelMeta`` that export stored in the ONNX file's metadata_props.

    Reads it through an ONNX Runtime session (graph optimisation off: ~15 ms for the shipped
    model) rather than the ``onnx`` package, whose import alone costs about a second of every
    ``facelog`` command's start.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an ONNX model, ONNX Runtime cannot load it, or it has no
            facelog metadata.
    """
    if not Path(model_path).is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return _meta_of(_open_session(Path(model_path), opts, "CPUExecutionProvider"), model_path)


def _open_session(model_path: Path, opts: ort.SessionOptions, provider: str) -> ort.InferenceSession:
    """An ``InferenceSession`` of ``model_path``; a file ORT cannot use is a one-line ValueError."""
    try:
        return ort.InferenceSession(str(model_path), opts, providers=[provider])
    except InvalidProtobuf as exc:  # also one of ORT_LOAD_ERRORS: this branch comes first
        raise ValueError(f"{model_path} is not an ONNX model ({_one_line(exc)})") from exc
    except ORT_LOAD_ERRORS as exc:
        raise ValueError(f"ONNX Runtime cannot load {model_path}: {_one_line(exc)}") from exc


def _meta_of(session: ort.InferenceSession, model_path: str | Path) -> ModelMeta:
    props = session.get_modelmeta().custom_metadata_map
    if META_KEY not in props:
        raise ValueError(f"{model_path} has no '{META_KEY}' metadata: was it exported by facelog?")
    return ModelMeta.from_json(props[META_KEY])


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


class OnnxRuntimeBackend:
    """Runs the model with ONNX Runtime. ``provider`` is "cpu" or "cuda"."""

    def __init__(self, model_path: str | Path, provider: str = "cpu", threads: int = 0) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(f"model file not found: {model_path}")
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
        self._session = _open_session(model_path, opts, wanted)
        self.meta = _meta_of(self._session, model_path)
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
