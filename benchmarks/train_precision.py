"""Training step time in bf16 mixed precision vs float32 on this machine (``optim.mixed_precision``).

    python benchmarks/train_precision.py [--config configs/train_utkface.yaml] [--batch 64] [--steps 10]

Builds the recipe's network twice per round (bf16, float32), alternating, and times
``train_on_batch`` on random images and labels after one warm-up step. Prints ms per step and the
ratio, and what ``mixed_precision: auto`` picks here. On an AVX-512 BF16 CPU bf16 trained 1.45x
faster; on an AVX2 CPU it is emulated (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from facelog.training.config import load_recipe
from facelog.training.train import compile_model, use_bf16


def step_ms(config: str, bf16: bool, batch: int, steps: int) -> float:
    recipe = load_recipe(config, {"optim.mixed_precision": bf16})
    model, _ = compile_model(recipe, 100)
    size = recipe.data.image_size
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = {
        name: rng.integers(0, 101 if name.startswith("age") else 2, batch).astype(np.float32)
        for name in model.output_names
    }
    model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return 1000 * (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/train_utkface.yaml")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for bf16 in (True, False):
            times[bf16].append(step_ms(args.config, bf16, args.batch, args.steps))
    bf, fp = min(times[True]), min(times[False])
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}; batch {args.batch}")
    print(f"bf16 {bf:.0f} ms/step, float32 {fp:.0f} ms/step (best of {args.rounds}): bf16 is {fp / bf:.2f}x")
    print(f"mixed_precision: auto picks {'bf16' if use_bf16('auto') else 'float32'} here")


if __name__ == "__main__":
    main()
