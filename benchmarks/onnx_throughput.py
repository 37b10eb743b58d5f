"""ONNX Runtime CPU throughput (faces/s) of a facelog age/gender model at several batch sizes.

Usage:
    python benchmarks/onnx_throughput.py [--model engines/models/facelog_age_gender.onnx]
        [--threads 2] [--batches 1 8 32 64] [--seconds 5] [--json out.json]

Feeds random preprocessed pixels (the cost does not depend on content) through
``OnnxRuntimeBackend.infer`` and reports faces/s after warm-up; each batch size is timed for
``--seconds`` of wall time, best of ``--repeats`` rounds (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "engines" / "models" / "facelog_age_gender.onnx"


def measure(backend: OnnxRuntimeBackend, batch: int, seconds: float) -> float:
    """Faces per second for one batch size over ``seconds`` of wall time."""
    h, w = backend.meta.input_hw
    x = np.random.default_rng(0).normal(0, 1, (batch, h, w, 3)).astype(np.float32)
    for _ in range(3):
        backend.infer(x)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        backend.infer(x)
        n += batch
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    backend = OnnxRuntimeBackend(args.model, threads=args.threads)
    size_mb = args.model.stat().st_size / 1e6
    print(f"model {args.model} ({size_mb:.1f} MB), input {backend.meta.input_hw}, threads {args.threads}")
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    results = {}
    for b in args.batches:
        rates = [measure(backend, b, args.seconds) for _ in range(args.repeats)]
        results[b] = {"best": max(rates), "median": float(np.median(rates))}
        print(
            f"batch {b:3d}: {max(rates):8.0f} faces/s best, {np.median(rates):8.0f} median of {args.repeats}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"model": str(args.model), "threads": args.threads, "faces_per_s": results})
        )


if __name__ == "__main__":
    main()
