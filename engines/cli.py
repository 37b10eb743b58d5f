"""``facelog engine build|quantize`` and ``facelog doctor``.

``register`` only adds argparse parsers; TensorRT, cuda-python and ONNX Runtime's quantizer are
imported inside the handlers so ``facelog --help`` stays fast on any install.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL = "https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet"
SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "facelog_age_gender.onnx"


def register(subparsers: Any) -> None:
    """Add ``engine`` (build, quantize) and ``doctor`` to the ``facelog`` command."""
    engine = subparsers.add_parser("engine", help="build TensorRT engines and INT8 Q/DQ models")
    sub = engine.add_subparsers(dest="engine_command", required=True)

    build = sub.add_parser("build", help="compile MODEL.onnx into a cached TensorRT engine (needs a GPU)")
    build.add_argument("model", type=Path, help="facelog ONNX model (or its Q/DQ version for int8)")
    build.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16")
    build.add_argument("--calib", type=Path, help="int8: folder of face crops or a CSV with a 'file' column")
    build.add_argument("--calib-images", type=int, default=512, help="int8: crops to calibrate on (512)")
    build.add_argument("--min-batch", type=int, default=1)
    build.add_argument("--opt-batch", type=int, default=32)
    build.add_argument("--max-batch", type=int, default=128)
    build.add_argument("--workspace-mb", type=int, default=1024, help="builder workspace limit in MiB")
    build.add_argument("--device", type=int, default=0, help="CUDA device index")
    build.add_argument("--cache-dir", type=Path, help="engine cache (default ~/.cache/facelog/engines)")
    build.set_defaults(func=_cmd_build)

    quant = sub.add_parser("quantize", help="make the INT8 Q/DQ ONNX model on the CPU (ONNX Runtime)")
    quant.add_argument("model", type=Path, help="facelog FP32 ONNX model")
    quant.add_argument("--calib", type=Path, required=True, help="folder of face crops or a CSV")
    quant.add_argument("--calib-images", type=int, default=512)
    quant.add_argument("--method", choices=("entropy", "minmax", "percentile"), default="percentile")
    quant.add_argument(
        "--target",
        choices=("tensorrt", "cpu"),
        default="tensorrt",
        help="tensorrt: symmetric int8, runs in TensorRT and ORT (default); cpu: faster in ORT on x86 only",
    )
    quant.add_argument("--out", type=Path, help="also copy the Q/DQ model here")
    quant.set_defaults(func=_cmd_quantize)

    doctor = subparsers.add_parser(
        "doctor", help="show which backends, GPUs and model files are usable, and why not"
    )
    doctor.add_argument("--yunet", type=Path, help="YuNet ONNX path from your config (else $FACELOG_YUNET)")
    doctor.add_argument("--model", type=Path, help="age/gender model to check (default: the shipped one)")
    doctor.set_defaults(func=_cmd_doctor)


def _fail(msg: str) -> int:
    print(f"facelog: error: {msg}", file=sys.stderr)
    return 2


def _cmd_build(args: argparse.Namespace) -> int:
    from facelog.engines.base import BackendUnavailable
    from facelog.engines.cache import EngineMismatch
    from facelog.engines.trt_build import BatchProfile, EngineBuildError, ensure_engine

    if not args.model.is_file():
        return _fail(f"model not found: {args.model}")
    try:
        profile = BatchProfile(args.min_batch, args.opt_batch, args.max_batch)
        engine, built = ensure_engine(
            args.model,
            args.precision,
            profile,
            workspace_mb=args.workspace_mb,
            device=args.device,
            cache_dir=args.cache_dir,
            calib=args.calib,
            calib_images=args.calib_images,
        )
    except (BackendUnavailable, EngineMismatch, EngineBuildError, ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    print(f"{'built' if built else 'cached'}: {engine}")
    print(f"sidecar: {engine.with_name(engine.name + '.json')}")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    import shutil

    from facelog.engines.quantize import quantize_int8

    if not args.model.is_file():
        return _fail(f"model not found: {args.model}")
    try:
        q = quantize_int8(
            args.model, args.calib, n_images=args.calib_images, method=args.method, target=args.target
        )
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    print(f"{'cached' if q.reused else 'quantized'}: {q.qdq_path}")
    print(f"calibration ranges: {q.ranges_path}")
    if args.out:
        shutil.copyfile(q.qdq_path, args.out)
        print(f"copied to: {args.out}")
    return 0


def find_yunet(explicit: Path | None = None) -> tuple[Path | None, list[str]]:
    """Resolve the YuNet detector: explicit/config path, then $FACELOG_YUNET, then ~/.cache/facelog.

    Returns:
        (path or None, one line per place looked at, saying what was found there).
    """
    candidates: list[tuple[str, Path]] = []
    if explicit is not None:
        candidates.append(("--yunet/config", explicit))
    if os.environ.get("FACELOG_YUNET"):
        candidates.append(("$FACELOG_YUNET", Path(os.environ["FACELOG_YUNET"])))
    base = (
        Path(os.environ["FACELOG_CACHE"])
        if os.environ.get("FACELOG_CACHE")
        else Path.home() / ".cache" / "facelog"
    )
    candidates.append(("cache", base / YUNET_FILE))
    notes = []
    for origin, path in candidates:
        if not path.is_file():
            notes.append(f"{origin}: {path} (missing)")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if path.name == YUNET_FILE and digest != YUNET_SHA256:
            notes.append(
                f"{origin}: {path} (sha256 {digest[:12]}... is not the pinned {YUNET_SHA256[:12]}...)"
            )
            continue
        notes.append(f"{origin}: {path} (ok)")
        return path, notes
    return None, notes


def _cmd_doctor(args: argparse.Namespace) -> int:
    from facelog.engines.gpu import cuda_devices, ort_providers, tensorrt_status
    from facelog.engines.registry import choose_backend

    rows: list[tuple[str, str]] = [("python", f"{platform.python_version()} ({sys.executable})")]
    devices, why = cuda_devices()
    if devices:
        for d in devices:
            rows.append((f"CUDA device {d.index}", f"yes: {d.name}, {d.sm}, {d.total_memory_mb} MiB"))
    else:
        rows.append(("CUDA device", f"no: {why}"))
    trt = tensorrt_status()
    rows.append(("TensorRT", f"yes: {trt.detail}" if trt.ok else f"no: {trt.detail}"))
    import onnxruntime as ort

    providers = ort_providers()
    rows.append(("ONNX Runtime", f"{ort.__version__}, providers: {', '.join(providers)}"))
    if "CUDAExecutionProvider" not in providers:
        rows.append(
            ("ORT CUDA", "no: CUDAExecutionProvider missing (pip install onnxruntime-gpu, or 'facelog[gpu]')")
        )
    choice = choose_backend("auto")
    rows.append(("backend auto", f"-> {choice.name}: {choice.reason}"))
    yunet, notes = find_yunet(args.yunet)
    rows.append(("YuNet detector", f"yes: {yunet}" if yunet else f"no: get {YUNET_FILE} from {YUNET_URL}"))
    rows.extend(("", f"  looked at {n}") for n in notes)
    rows.append(("age/gender model", _model_line(args.model or SHIPPED_MODEL)))
    width = max(len(k) for k, _ in rows)
    print("facelog doctor")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    return 0


def _model_line(path: Path) -> str:
    from facelog.engines.onnxruntime_backend import read_meta

    if not path.is_file():
        return f"no: {path} not found (train one: see docs/TRAINING.md, or pass --model)"
    try:
        meta = read_meta(path)
    except ValueError as exc:
        return f"no: {exc}"
    return f"yes: {path} ({meta.name} {meta.version}, input {meta.input_hw[0]}x{meta.input_hw[1]})"
