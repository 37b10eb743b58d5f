"""GPU self-check: run once on a machine with an NVIDIA GPU and TensorRT.

Builds FP16 and INT8 TensorRT engines, checks them against ONNX Runtime on the same batch of real
faces, and measures faces/s at batch 1/32/128, printed as a table. Without TensorRT or a GPU it runs
what it can (ONNX Runtime CPU and CUDA, the INT8 Q/DQ model) and lists what it skipped and why.

    .venv/bin/python benchmarks/gpu_selfcheck.py [--model M.onnx] [--faces DIR_OR_CSV]

Exit code 0 when every check that ran is within tolerance, 1 otherwise. Speed includes the host to
device copies (TensorRT) but not decoding or preprocessing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from int8_quant import SHARED, SHIPPED, faces_per_s, tiny_model

from facelog.engines.base import Backend
from facelog.engines.gpu import cuda_devices, ort_providers, tensorrt_status
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend, read_meta
from facelog.engines.preprocess import decode_age
from facelog.engines.quantize import FaceCalibrationReader, list_calibration_images, quantize_int8

# Same tolerances as tests/engines/test_tensorrt_gpu.py: (max |prob diff|, max |age diff| in years).
TOLERANCES = {"fp32": (1e-4, 0.01), "fp16": (1e-2, 0.5), "int8": (5e-2, 2.0)}
# Quantization error (Q/DQ vs FP32), as in tests/engines/test_quantize.py: mean |age diff| in years
# and the share of faces whose gender argmax agrees.
QUANT_MAX_MEAN_AGE_DIFF_YEARS = 0.75
QUANT_MIN_GENDER_AGREEMENT = 0.95


@dataclass
class Row:
    path: str
    precision: str
    parity: str
    ok: bool
    speed: dict[int, float]


def parity(out: dict[str, np.ndarray], ref: dict[str, np.ndarray], precision: str) -> tuple[str, bool]:
    prob = max(float(np.abs(out[k] - ref[k]).max()) for k in ("age", "gender"))
    age = float(np.abs(decode_age(out["age"]) - decode_age(ref["age"])).max())
    p_tol, a_tol = TOLERANCES[precision]
    ok = prob <= p_tol and age <= a_tol
    return f"max abs dprob {prob:.1e}, dage {age:.3f} y ({'ok' if ok else 'FAIL'})", ok


def quant_check(out: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> tuple[str, bool]:
    age = float(np.abs(decode_age(out["age"]) - decode_age(ref["age"])).mean())
    agree = float((out["gender"].argmax(1) == ref["gender"].argmax(1)).mean())
    ok = age <= QUANT_MAX_MEAN_AGE_DIFF_YEARS and agree >= QUANT_MIN_GENDER_AGREEMENT
    return f"vs fp32: mean dage {age:.3f} y, gender agree {agree * 100:.1f}% ({'ok' if ok else 'FAIL'})", ok


def speeds(be: Backend, pixels: np.ndarray, batches: list[int], min_s: float) -> dict[int, float]:
    return {b: faces_per_s({"x": be}, pixels, b, rounds=2, min_s=min_s)["x"] for b in batches}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=SHIPPED if SHIPPED.is_file() else None)
    ap.add_argument(
        "--faces",
        type=Path,
        default=SHARED / "data" / "utkface" / "labels.csv",
        help="face crops (folder or CSV) for parity, calibration and speed",
    )
    ap.add_argument("--n-faces", type=int, default=256)
    ap.add_argument("--batches", default="1,32,128")
    ap.add_argument("--seconds", type=float, default=1.0, help="per speed measurement")
    ap.add_argument("--cache-dir", type=Path, help="engine cache (default: a temporary folder)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    batches = [int(b) for b in args.batches.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="gpu_selfcheck_"))
    model = args.model or tiny_model(tmp / "tiny.onnx")
    meta = read_meta(model)
    images = list_calibration_images(args.faces, limit=args.n_faces)
    batch = FaceCalibrationReader(images, meta, batch_size=len(images)).get_next()
    assert batch is not None
    pixels = batch[meta.input_name]
    devices, no_gpu = cuda_devices()
    trt = tensorrt_status()
    providers = ort_providers()
    print(f"model: {model} ({meta.name} {meta.version}); {len(pixels)} faces from {args.faces}")
    print(f"CUDA: {', '.join(f'{d.name} ({d.sm})' for d in devices) if devices else 'no: ' + no_gpu}")
    print(f"TensorRT: {'yes ' + trt.detail if trt.ok else 'no: ' + trt.detail}")
    print(f"ONNX Runtime providers: {', '.join(providers)}")

    rows: list[Row] = []
    skipped: list[str] = []
    cpu = OnnxRuntimeBackend(model)
    reference = cpu.infer(pixels)
    rows.append(Row("onnxruntime CPU", "fp32", "reference", True, speeds(cpu, pixels, batches, args.seconds)))

    if "CUDAExecutionProvider" in providers and devices:
        cuda = OnnxRuntimeBackend(model, provider="cuda")
        text, ok = parity(cuda.infer(pixels), reference, "fp32")
        rows.append(Row("onnxruntime CUDA", "fp32", text, ok, speeds(cuda, pixels, batches, args.seconds)))
    else:
        why = "no CUDAExecutionProvider (install onnxruntime-gpu)" if devices else no_gpu
        skipped.append(f"onnxruntime CUDA: {why}")

    t0 = time.perf_counter()
    q = quantize_int8(model, args.faces, n_images=min(512, args.n_faces), cache_root=tmp / "int8")
    quant_s = time.perf_counter() - t0
    qdq_cpu = OnnxRuntimeBackend(q.qdq_path)
    qdq_ref = qdq_cpu.infer(pixels)
    text, ok = quant_check(qdq_ref, reference)
    rows.append(
        Row(
            "onnxruntime CPU Q/DQ",
            "int8",
            text,
            ok,
            speeds(qdq_cpu, pixels, batches, args.seconds),
        )
    )

    if trt.ok and devices:
        from facelog.engines.cache import read_sidecar
        from facelog.engines.tensorrt_backend import TensorRTBackend
        from facelog.engines.trt_build import BatchProfile, ensure_engine

        profile = BatchProfile(1, 32, max(batches))
        cache_dir = args.cache_dir or tmp / "engines"
        for precision in ("fp16", "int8"):
            t0 = time.perf_counter()
            engine, built = ensure_engine(
                model,
                precision,
                profile,
                cache_dir=cache_dir,
                calib=args.faces,
                calib_images=min(512, args.n_faces),
            )
            took = f"built in {time.perf_counter() - t0:.0f} s" if built else "from cache"
            be = TensorRTBackend(engine)
            try:
                ref = reference
                if (
                    precision == "int8"
                ):  # ORT on the very Q/DQ file the engine came from: checks TensorRT only
                    ref = OnnxRuntimeBackend(read_sidecar(engine).extra["qdq_onnx"]).infer(pixels)
                text, ok = parity(be.infer(pixels), ref, precision)
                rows.append(
                    Row(f"tensorrt ({took})", precision, text, ok, speeds(be, pixels, batches, args.seconds))
                )
            finally:
                be.close()
    else:
        skipped.append(f"TensorRT FP16/INT8 engines: {trt.detail if not trt.ok else no_gpu}")

    print(f"\nQ/DQ model: {q.qdq_path} (calibrated in {quant_s:.1f} s)\n")
    print("| path | precision | parity | " + " | ".join(f"faces/s b{b}" for b in batches) + " |")
    print("|---|---|---|" + "---|" * len(batches))
    for r in rows:
        print(
            f"| {r.path} | {r.precision} | {r.parity} | "
            + " | ".join(f"{r.speed[b]:,.0f}" for b in batches)
            + " |"
        )
    for s in skipped:
        print(f"skipped: {s}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
