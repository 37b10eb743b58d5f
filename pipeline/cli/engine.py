"""``facelog engine build|quantize``: TensorRT engines (needs the gpu extra) and INT8 Q/DQ models.

TensorRT, cuda-python and ONNX Runtime's quantizer are imported inside the handlers, so
``facelog --help`` stays fast on any install.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from facelog.cli.console import fail
from facelog.engines import trt_build as trt
from facelog.engines.base import FacelogError


def register(subparsers: Any) -> None:
    """Add ``engine`` (build, quantize) to the ``facelog`` command."""
    engine = subparsers.add_parser("engine", help="build TensorRT engines and INT8 Q/DQ models")
    sub = engine.add_subparsers(dest="engine_command", required=True)

    build = sub.add_parser("build", help="compile MODEL.onnx into a cached TensorRT engine (needs a GPU)")
    build.add_argument("model", type=Path, help="facelog ONNX model (or its Q/DQ version for int8)")
    build.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=trt.DEFAULT_PRECISION)
    build.add_argument("--calib", type=Path, help="int8: folder of face crops or a CSV with a 'file' column")
    build.add_argument(
        "--calib-images", type=int, default=trt.DEFAULT_CALIB_IMAGES, help="int8: crops to calibrate on"
    )
    profile = trt.BatchProfile()
    build.add_argument("--min-batch", type=int, default=profile.min)
    build.add_argument("--opt-batch", type=int, default=profile.opt)
    build.add_argument("--max-batch", type=int, default=profile.max)
    build.add_argument(
        "--workspace-mb", type=int, default=trt.DEFAULT_WORKSPACE_MB, help="builder workspace limit in MiB"
    )
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


def _cmd_build(args: argparse.Namespace) -> int:
    from facelog.engines.trt_build import BatchProfile, ensure_engine

    if not args.model.is_file():
        return fail(f"model not found: {args.model}")
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
    except (FacelogError, ValueError, OSError) as exc:
        return fail(str(exc))
    print(f"{'built' if built else 'cached'}: {engine}")
    print(f"sidecar: {engine.with_name(engine.name + '.json')}")
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    import shutil

    from facelog.engines.quantize import quantize_int8

    if not args.model.is_file():
        return fail(f"model not found: {args.model}")
    try:
        q = quantize_int8(
            args.model, args.calib, n_images=args.calib_images, method=args.method, target=args.target
        )
    except (ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    print(f"{'cached' if q.reused else 'quantized'}: {q.qdq_path}")
    print(f"calibration ranges: {q.ranges_path}")
    if args.out:
        shutil.copyfile(q.qdq_path, args.out)
        print(f"copied to: {args.out}")
    return 0
