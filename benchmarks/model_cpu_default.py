"""faces/s of the CPU default model (INT8) against model 1.2.0 FP32, timed in one run (issue 11).

    python benchmarks/model_cpu_default.py --ref /work/coord/model_1.2.0_orig.onnx \\
        engines/models/facelog_age_gender.int8.onnx engines/models/facelog_age_gender.onnx

ONNX Runtime on CPU, ``--threads`` intra-op threads, batch ``--batch`` (default 32) of random
preprocessed pixels (the cost does not depend on content). Rounds are interleaved (ref, a, b, ref,
a, b, ...) so background load hits every model alike; each model's best and median round are
reported with its ratio to the reference. The machine's load average is printed next to them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np

from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend


def one_round(backend: OnnxRuntimeBackend, x: np.ndarray, seconds: float) -> float:
    """Faces per second over ``seconds`` of wall time."""
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        backend.infer(x)
        n += len(x)
    return n / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+", help="models to compare with --ref")
    ap.add_argument("--ref", type=Path, required=True, help="reference model (1.2.0 FP32)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    paths = [args.ref, *args.models]
    backends = {p: OnnxRuntimeBackend(p, threads=args.threads) for p in paths}
    rng = np.random.default_rng(0)
    xs = {  # each model at its own input size (one 80-px model costs more than a 64-px one)
        p: rng.normal(0, 1, (args.batch, *be.meta.input_hw, 3)).astype(np.float32)
        for p, be in backends.items()
    }
    for p, be in backends.items():
        for _ in range(5):
            be.infer(xs[p])
    rates: dict[Path, list[float]] = {p: [] for p in paths}
    for _ in range(args.rounds):
        for p, be in backends.items():
            rates[p].append(one_round(be, xs[p], args.seconds))
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; ORT threads {args.threads}, "
        f"batch {args.batch}, {args.rounds} interleaved rounds of {args.seconds:.0f} s"
    )
    print("| model | version | input | faces/s best | median | best / ref | median / ref |")
    print("|---|---|---|---|---|---|---|")
    ref_best, ref_med = max(rates[args.ref]), float(np.median(rates[args.ref]))
    for p, be in backends.items():
        best, med = max(rates[p]), float(np.median(rates[p]))
        print(
            f"| {p.name} | {be.meta.version} | {be.meta.input_hw[0]} px | {best:,.0f} | {med:,.0f} | "
            f"{best / ref_best:.2f}x | {med / ref_med:.2f}x |"
        )
    for be in backends.values():
        be.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
