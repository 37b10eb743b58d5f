"""``facelog doctor``: what a run would use here (backend, detector file, model, cache) and why not.

It resolves the config with the functions ``facelog run`` calls (``detect.choose_detector``,
``registry.choose_backend``, ``model.path``, ``engines.cache.cache_root``), so the two cannot
disagree about the detector file, the model, the backend or the cache folder.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path
from typing import Any

import onnxruntime as ort

from facelog.cli.console import fail
from facelog.engines.base import BackendUnavailable
from facelog.engines.cache import cache_root
from facelog.engines.cpu import cpu_has_bf16, cpu_int8_saturates
from facelog.engines.gpu import cuda_devices, ort_providers, tensorrt_status
from facelog.engines.onnxruntime_backend import read_meta
from facelog.engines.registry import choose_backend, pick_model_variant
from facelog.pipeline.config import AppConfig, ConfigError, load_config
from facelog.pipeline.detect import choose_detector
from facelog.pipeline.errors import ModelError


def register(subparsers: Any) -> None:
    """Add ``doctor`` to the ``facelog`` command."""
    doctor = subparsers.add_parser(
        "doctor", help="show which backends, GPUs, detector and model files a run would use, and why not"
    )
    doctor.add_argument("--config", type=Path, help="YAML config of the run to check")
    doctor.add_argument("--yunet", help="YuNet ONNX path (as 'facelog run --yunet')")
    doctor.add_argument("--model", help="age/gender model to check (default: the config's, else shipped)")
    doctor.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Print one row per component; exit 0 (2 only for a bad config)."""
    try:
        cfg = load_config(args.config, {"detector.yunet_path": args.yunet, "model.path": args.model})
    except ConfigError as exc:
        return fail(exc)
    rows = _platform_rows()
    rows.append(("backend " + cfg.backend.kind, _backend_line(cfg)))
    rows.extend(_detector_rows(cfg))
    rows.append(("age/gender model", _model_line(Path(cfg.model.path).expanduser())))
    rows.append(("model precision", _variant_line(cfg)))
    rows.append(("cache folder", str(cache_root())))
    width = max(len(k) for k, _ in rows)
    print("facelog doctor")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


def _platform_rows() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("python", f"{platform.python_version()} ({sys.executable})")]
    devices, why = cuda_devices()
    if devices:
        for d in devices:
            rows.append((f"CUDA device {d.index}", f"yes: {d.name}, {d.sm}, {d.total_memory_mb} MiB"))
    else:
        rows.append(("CUDA device", f"no: {why}"))
    rows.append(("CPU", _cpu_line()))
    trt = tensorrt_status()
    rows.append(("TensorRT", f"yes: {trt.detail}" if trt.ok else f"no: {trt.detail}"))
    providers = ort_providers()
    rows.append(("ONNX Runtime", f"{ort.__version__}, providers: {', '.join(providers)}"))
    if "CUDAExecutionProvider" not in providers:
        rows.append(
            ("ORT CUDA", "no: CUDAExecutionProvider missing (pip install onnxruntime-gpu, or 'facelog[gpu]')")
        )
    return rows


def _backend_line(cfg: AppConfig) -> str:
    try:
        choice = choose_backend(cfg.backend.kind)
    except BackendUnavailable as exc:
        return f"no: {exc}"
    return f"-> {choice.name}: {choice.reason}"


def _detector_rows(cfg: AppConfig) -> list[tuple[str, str]]:
    try:
        choice = choose_detector(cfg.detector)
    except ModelError as exc:
        return [("detector " + cfg.detector.kind, f"no: {exc}")]
    return [("detector " + cfg.detector.kind, f"-> {choice.name}: {choice.path} ({choice.reason})")]


def _model_line(path: Path) -> str:
    if not path.is_file():
        return f"no: {path} not found (train one: see docs/TRAINING.md, or pass --model)"
    try:
        meta = read_meta(path)
    except ValueError as exc:
        return f"no: {exc}"
    return f"yes: {path} ({meta.name} {meta.version}, input {meta.input_hw[0]}x{meta.input_hw[1]})"


def _cpu_line() -> str:
    int8 = (
        "no VNNI: INT8 models with 8-bit weights saturate, 7-bit ones are fine"
        if cpu_int8_saturates()
        else "INT8 without saturation"
    )
    bf16 = "native bf16" if cpu_has_bf16() else "no native bf16 (mixed_precision auto trains float32)"
    return f"{platform.machine()}; {int8}; {bf16}"


def _variant_line(cfg: AppConfig) -> str:
    try:
        backend = choose_backend(cfg.backend.kind).name
        variant = pick_model_variant(Path(cfg.model.path).expanduser(), backend, cfg.model.cpu_precision)
    except (BackendUnavailable, ValueError, OSError) as exc:
        return f"no: {exc}"
    return f"-> {variant.precision}: {variant.path.name} ({variant.reason})"
