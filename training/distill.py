"""Distillation from an ensemble of exported ONNX models (the teachers stay outside the package).

Step 1 (ONNX Runtime, no TensorFlow): the teachers' flip-averaged, model-averaged head
probabilities on the clean training faces, written to an ``.npz`` keyed by file name::

    python -m facelog.training.distill --data ../shared/data/utkface --split RUN/split.json \\
        --teacher a.onnx --teacher b.onnx --out targets.npz

It also reports each teacher's and the ensemble's validation numbers on the same split (a split
file that does not exist yet is written with the recipe's seed, as ``facelog train`` would).

Step 2: a recipe with ``distill: {targets: targets.npz, weight: 0.5}`` trains each head on
``(1 - weight) * its hard-label loss + weight * cross-entropy to the teacher distribution``.
Labels travel packed: column 0 is the hard label, the rest the teacher's probabilities.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelog.training import datasets as dsets

log = logging.getLogger(__name__)

_EPS = 1e-7
BATCH = 256


class DistillError(dsets.DatasetError):
    """Teacher targets are missing, do not cover the training faces or do not fit the heads."""


def ensemble_probs(
    teachers: Sequence[Path], images_rgb: np.ndarray, flip: bool = True
) -> dict[str, np.ndarray]:
    """Average head probabilities of ``teachers`` over (n, H, W, 3) uint8 RGB faces at their input size.

    Each teacher normalises with its own metadata; with ``flip`` each also averages the mirror image.
    """
    from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend

    if not teachers:
        raise DistillError("at least one teacher model is needed")
    total: dict[str, np.ndarray] = {}
    for path in teachers:
        probs = teacher_probs(OnnxRuntimeBackend(path), images_rgb, flip)
        for k, v in probs.items():
            total[k] = total.get(k, 0.0) + v / len(teachers)
    return total


def teacher_probs(backend: Any, images_rgb: np.ndarray, flip: bool) -> dict[str, np.ndarray]:
    """One model's head probabilities (age/gender heads only) on uint8 RGB faces; closes the backend."""
    meta = backend.meta
    if images_rgb.shape[1:3] != tuple(meta.input_hw):
        raise DistillError(f"faces must be {meta.input_hw}, got {images_rgb.shape[1:3]}")
    heads = [h.name for h in meta.heads]
    parts: dict[str, list[np.ndarray]] = {h: [] for h in heads}
    try:
        for i in range(0, len(images_rgb), BATCH):
            x = (images_rgb[i : i + BATCH].astype(np.float32) - meta.mean) / meta.std
            out = backend.infer(x)
            if flip:
                out_f = backend.infer(np.ascontiguousarray(x[:, :, ::-1]))
                out = {k: (out[k] + out_f[k]) / 2 for k in heads}
            for h in heads:
                parts[h].append(np.asarray(out[h], np.float32))
    finally:
        backend.close()
    return {h: np.concatenate(v) for h, v in parts.items()}


def write_targets(path: Path, names: Sequence[str], probs: dict[str, np.ndarray]) -> None:
    """``names`` (n,) plus one (n, classes) float32 array per head, in one ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {f"head_{k}": v for k, v in probs.items()}
    np.savez_compressed(path, names=np.array(names), **arrays)


def read_targets(path: Path, names: Sequence[str], heads: Sequence[str]) -> dict[str, np.ndarray]:
    """Teacher probabilities of ``heads`` in the order of ``names``.

    Raises:
        DistillError: the file is missing, lacks a head, or lacks any of ``names``.
    """
    if not Path(path).is_file():
        raise DistillError(f"teacher targets not found: {path}")
    doc = np.load(path)
    where = {str(n): i for i, n in enumerate(doc["names"])}
    missing = [n for n in names if n not in where]
    if missing:
        raise DistillError(f"{path}: {len(missing)} training faces have no target, e.g. {missing[0]!r}")
    idx = np.array([where[n] for n in names], np.int64)
    out = {}
    for h in heads:
        if f"head_{h}" not in doc:
            raise DistillError(f"{path}: no targets for head {h!r} (has {sorted(doc.files)})")
        out[h] = doc[f"head_{h}"][idx].astype(np.float32)
    return out


def pack_labels(labels: dict[str, np.ndarray], soft: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per head: (n, 1 + classes) float32, column 0 the hard label (NaN / -1 = missing), then the soft one."""
    out = {}
    for name, y in labels.items():
        p = soft[name]
        if p.shape[0] != y.shape[0]:
            raise DistillError(f"head {name!r}: {p.shape[0]} targets for {y.shape[0]} labels")
        out[name] = np.concatenate([y.astype(np.float32)[:, None], p], axis=1)
    return out


def distill_loss(hard: Any, weight: float) -> Any:
    """Wrap a per-sample hard loss ``hard(y, p)`` for packed labels (see ``pack_labels``)."""
    import tensorflow as tf

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y_true = tf.cast(y_true, tf.float32)
        p = tf.clip_by_value(tf.cast(y_pred, tf.float32), _EPS, 1.0)
        soft_ce = -tf.reduce_sum(y_true[:, 1:] * tf.math.log(p), axis=-1)
        return (1.0 - weight) * hard(y_true[:, :1], y_pred) + weight * soft_ce

    loss.__name__ = f"distill_{getattr(hard, '__name__', 'loss')}"
    return loss


def hard_part(fn: Any) -> Any:
    """Wrap a metric ``fn(y, p)`` so it reads only column 0 of packed labels."""

    def metric(y_true: Any, y_pred: Any) -> Any:
        return fn(y_true[:, :1], y_pred)

    metric.__name__ = getattr(fn, "__name__", "metric")
    return metric


def _scores(probs: dict[str, np.ndarray], table: dsets.FaceTable) -> dict[str, float]:
    from facelog.training.metrics import accuracy, age_mae, expected_age

    return {
        "mae": round(age_mae(expected_age(probs["age"]), table.column("age", "age")), 4),
        "gender_acc": round(accuracy(probs["gender"].argmax(1), table.column("gender", "categorical")), 4),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: teacher targets on the training part, plus each teacher's validation numbers."""
    ap = argparse.ArgumentParser(
        prog="python -m facelog.training.distill", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--data", type=Path, required=True, help="UTKFace folder")
    ap.add_argument("--split", type=Path, required=True, help="split.json (written with the seed if absent)")
    ap.add_argument("--teacher", type=Path, action="append", required=True, help="ONNX model (repeat)")
    ap.add_argument("--out", type=Path, required=True, help="targets .npz")
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--split-seed", type=int, default=1234)
    ap.add_argument("--size", type=int, default=64, help="teacher input size (all teachers share it)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    table = dsets.read_utkface(args.data)
    names = dsets.split_names(table)
    if not args.split.is_file():
        tr, va = dsets.split_indices(names, args.val_fraction, args.split_seed)
        dsets.write_split(args.split, names, tr, va, args.split_seed)
        log.info("wrote %s (seed %d)", args.split, args.split_seed)
    tr, va = dsets.read_split(args.split, names)
    val_t = table.subset(va)
    val_x, ok = dsets.preload(val_t.paths, args.size)
    val_t = val_t.subset(ok)
    report: dict[str, Any] = {}
    for t in args.teacher:
        report[str(t)] = _scores(ensemble_probs([t], val_x), val_t)
        log.info("teacher %s, val (flip): %s", t, report[str(t)])
    report["ensemble"] = _scores(ensemble_probs(args.teacher, val_x), val_t)
    log.info("ensemble, val (flip): %s", report["ensemble"])
    train_t = table.subset(tr)
    train_x, ok = dsets.preload(train_t.paths, args.size)
    train_t = train_t.subset(ok)
    probs = ensemble_probs(args.teacher, train_x)
    report["ensemble_train"] = _scores(probs, train_t)
    write_targets(args.out, dsets.split_names(train_t), probs)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
