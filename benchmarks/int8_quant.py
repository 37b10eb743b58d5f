"""FP32 vs INT8 (Q/DQ from ONNX Runtime static quantization) in ONNX Runtime on this CPU, in one run.

Measures age MAE, gender accuracy and faces/s at batch 32 on the same held UTKFace faces for: FP32,
INT8 "tensorrt" (symmetric int8, the model TensorRT builds) and INT8 "cpu" (ORT's x86 recipe,
uint8 activations; ORT only). Calibration crops come from the other faces, never the held ones.

    .venv/bin/python benchmarks/int8_quant.py [--model engines/models/facelog_age_gender.onnx]

Held subset: ``--split`` = the training run's split JSON (``{"train": [...], "val": [...]}``,
written by ``training.datasets.write_split``: held = val, calibration from train) or a CSV of held
files (column ``file``); without it, the faces whose sha1(file name) is 0 mod 10 (a fixed ~10%).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelog.engines.base import Backend
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend, read_meta
from facelog.engines.preprocess import crops_to_pixels, decode_age
from facelog.engines.quantize import quantize_int8

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
SHIPPED = REPO / "engines" / "models" / "facelog_age_gender.onnx"


@dataclass(frozen=True)
class Faces:
    """Preprocessed held faces with labels."""

    pixels: np.ndarray  # (N, H, W, 3) float32
    age: np.ndarray  # (N,) float32, clipped to 0..100
    female: np.ndarray  # (N,) bool


def load_rows(utk: Path) -> list[dict[str, str]]:
    with (utk / "labels.csv").open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["gender"] in ("0", "1")]


def is_held(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10 == 0


def split_rows(
    rows: list[dict[str, str]], split: Path | None
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(held rows, calibration-pool rows)."""
    if split is not None and split.suffix == ".json":
        doc = json.loads(split.read_text())
        val, train = {Path(n).name for n in doc["val"]}, {Path(n).name for n in doc["train"]}
        return [r for r in rows if r["file"] in val], [r for r in rows if r["file"] in train]
    if split is not None:
        with split.open(newline="") as f:
            held_names = {Path(r["file"]).name for r in csv.DictReader(f)}
        held = [r for r in rows if r["file"] in held_names]
    else:
        held = [r for r in rows if is_held(r["file"])]
    held_set = {r["file"] for r in held}
    return held, [r for r in rows if r["file"] not in held_set]


def load_faces(utk: Path, rows: list[dict[str, str]], model: Path) -> Faces:
    meta = read_meta(model)
    crops = []
    for r in rows:
        img = cv2.imread(str(utk / "images" / r["file"]), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode {r['file']}")
        crops.append(img)
    return Faces(
        pixels=crops_to_pixels(crops, meta),
        age=np.clip(np.array([float(r["age"]) for r in rows], np.float32), 0, 100),
        female=np.array([r["gender"] == "1" for r in rows]),
    )


def accuracy(backend: Backend, faces: Faces, batch: int = 256) -> tuple[float, float, np.ndarray]:
    """(age MAE in years, gender accuracy, predicted ages)."""
    ages, female = [], []
    for i in range(0, len(faces.pixels), batch):
        out = backend.infer(faces.pixels[i : i + batch])
        ages.append(decode_age(out["age"]))
        labels = backend.meta.head("gender")
        female_idx = labels.labels.index("female") if labels and labels.labels else 1
        female.append(out["gender"].argmax(1) == female_idx)
    pred_age, pred_f = np.concatenate(ages), np.concatenate(female)
    return float(np.abs(pred_age - faces.age).mean()), float((pred_f == faces.female).mean()), pred_age


def faces_per_s(
    backends: Mapping[str, Backend],
    pixels: np.ndarray,
    batch: int,
    rounds: int = 5,
    min_s: float = 1.0,
) -> dict[str, float]:
    """Best-of-``rounds`` faces/s per backend, rounds interleaved so background load hits all alike."""
    x = np.ascontiguousarray(pixels[:batch])
    if len(x) < batch:
        x = np.resize(pixels, (batch, *pixels.shape[1:])).astype(np.float32)
    best = dict.fromkeys(backends, 0.0)
    for be in backends.values():
        be.infer(x)  # warm-up
    for _ in range(rounds):
        for name, be in backends.items():
            n, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < min_s:
                be.infer(x)
                n += batch
            best[name] = max(best[name], n / elapsed)
    return best


def tiny_model(path: Path) -> Path:
    """The test suite's tiny real ONNX model, for runs before the shipped model exists."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import make_tiny_model

    make_tiny_model(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=SHIPPED if SHIPPED.is_file() else None)
    ap.add_argument(
        "--split", type=Path, help="training split JSON or CSV of held faces; default: hash split"
    )
    ap.add_argument("--eval-images", type=int, default=0, help="0: all held faces")
    ap.add_argument("--calib-images", type=int, default=512)
    ap.add_argument("--method", choices=("entropy", "minmax", "percentile"), default="percentile")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    utk = SHARED / "data" / "utkface"
    if not (utk / "labels.csv").is_file():
        print(f"UTKFace not found at {utk} (set FACELOG_SHARED)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="int8_quant_"))
    model = args.model or tiny_model(tmp / "tiny.onnx")
    held, pool = split_rows(load_rows(utk), args.split)
    held = held[: args.eval_images] if args.eval_images else held
    calib_csv = tmp / "calib.csv"
    with calib_csv.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file"])
        w.writerows([[utk / "images" / r["file"]] for r in pool])
    t0 = time.perf_counter()
    q = quantize_int8(
        model, calib_csv, n_images=args.calib_images, method=args.method, cache_root=tmp / "int8"
    )
    quant_s = time.perf_counter() - t0
    q_cpu = quantize_int8(
        model,
        calib_csv,
        n_images=args.calib_images,
        method=args.method,
        target="cpu",
        cache_root=tmp / "int8",
    )
    faces = load_faces(utk, held, model)
    backends = {
        "fp32": OnnxRuntimeBackend(model, threads=args.threads),
        "int8": OnnxRuntimeBackend(q.qdq_path, threads=args.threads),
        "int8-cpu": OnnxRuntimeBackend(q_cpu.qdq_path, threads=args.threads),
    }
    acc = {name: accuracy(be, faces) for name, be in backends.items()}
    speed = faces_per_s(backends, faces.pixels, args.batch)
    sizes = {
        "fp32": model.stat().st_size,
        "int8": q.qdq_path.stat().st_size,
        "int8-cpu": q_cpu.qdq_path.stat().st_size,
    }

    print(
        f"model {model.name} ({read_meta(model).name} {read_meta(model).version}); "
        f"held faces {len(held)} ({args.split or 'sha1 hash split'}); "
        f"calibration {args.calib_images} other faces, {args.method}, {quant_s:.1f} s; "
        f"ORT threads {args.threads}"
    )
    print(f"| variant | age MAE | gender acc | faces/s b{args.batch} | file MB |")
    print("|---|---|---|---|---|")
    for name in backends:
        mae, gacc, _ = acc[name]
        print(f"| {name} | {mae:.3f} | {gacc * 100:.2f}% | {speed[name]:,.0f} | {sizes[name] / 1e6:.2f} |")
    for name in ("int8", "int8-cpu"):
        shift = np.abs(acc[name][2] - acc["fp32"][2])
        print(
            f"{name}/fp32: speed {speed[name] / speed['fp32']:.2f}x; "
            f"MAE {acc[name][0] - acc['fp32'][0]:+.3f} years; "
            f"gender {(acc[name][1] - acc['fp32'][1]) * 100:+.2f} pts; per-face |age - fp32| mean "
            f"{shift.mean():.3f}, p99 {np.percentile(shift, 99):.3f} years"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
