"""The INT8 (Q/DQ, target cpu) twin of an exported model, with its accuracy gate in the metadata.

    python -m facelog.training.int8_export MODEL.onnx --data ../shared/data/utkface \\
        --split RUN/split.json --out engines/models/facelog_age_gender.int8.onnx

Calibrates ``engines.quantize.quantize_int8(target="cpu")`` on crops from the split's training part
(percentile, 512 faces, seeded), measures FP32 and INT8 age MAE and gender accuracy on its
validation part (the same pixels for both), stores the record of ``engines.int8_gate.gate_record``
under ``int8_validation`` in the INT8 file and writes it (``.partial``, then renamed). The CPU
backend may use the INT8 file by default only where ``within_tolerance`` is true.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from facelog.engines import int8_gate, onnx_meta, quantize
from facelog.engines.cpu import cpu_int8_saturates
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
from facelog.training import datasets as dsets
from facelog.training.metrics import accuracy, age_mae, expected_age

log = logging.getLogger(__name__)


def scores(model: Path, images_rgb: np.ndarray, table: dsets.FaceTable) -> dict[str, float]:
    """``{"age_mae", "gender_acc"}`` of ``model`` on uint8 RGB faces at its input size (no flip)."""
    backend = OnnxRuntimeBackend(model)
    try:
        meta = backend.meta
        x = (images_rgb.astype(np.float32) - meta.mean) / meta.std
        parts = [backend.infer(x[i : i + 256]) for i in range(0, len(x), 256)]
    finally:
        backend.close()
    age = np.concatenate([p["age"] for p in parts])
    gender = np.concatenate([p["gender"] for p in parts])
    return {
        "age_mae": age_mae(expected_age(age), table.column("age", "age")),
        "gender_acc": accuracy(gender.argmax(1), table.column("gender", "categorical")),
    }


def export_int8(
    fp32: Path, data: Path, split: Path, out: Path, n_calib: int = 512, cache_root: Path | None = None
) -> dict[str, object]:
    """Quantize ``fp32``, measure both on the validation part of ``split``, write ``out``; the record."""
    table = dsets.read_utkface(data)
    tr, va = dsets.read_split(split, dsets.split_names(table))
    with tempfile.TemporaryDirectory(prefix="facelog_int8_") as tmp:
        calib = Path(tmp) / "calib.csv"
        with calib.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path"])
            w.writerows([[str(table.paths[i].resolve())] for i in tr])
        q = quantize.quantize_int8(
            fp32, calib, n_images=n_calib, target="cpu", cache_root=cache_root or Path(tmp) / "int8"
        )
        val_t = table.subset(va)
        size = OnnxRuntimeBackend(fp32).meta.input_hw[0]
        images, ok = dsets.preload(val_t.paths, size)
        val_t = val_t.subset(ok)
        s32, s8 = scores(fp32, images, val_t), scores(q.qdq_path, images, val_t)
        record = int8_gate.gate_record(s32, s8, len(val_t), f"{split} (val part)")
        record["fp32_model"] = fp32.name
        # the machine's kind matters: 8-bit weights measured fine on VNNI and not on AVX2
        record["cpu_int8_saturates"] = cpu_int8_saturates()
        onnx_meta.update_extra(q.qdq_path, out, **{int8_gate.GATE_KEY: record})
    log.info("wrote %s: %s", out, json.dumps(record))
    return record


def main(argv: list[str] | None = None) -> int:
    """CLI; prints the gate record as JSON."""
    ap = argparse.ArgumentParser(
        prog="python -m facelog.training.int8_export", description=__doc__.split("\n")[0]
    )
    ap.add_argument("model", type=Path, help="FP32 ONNX model (facelog metadata inside)")
    ap.add_argument("--data", type=Path, required=True, help="UTKFace folder")
    ap.add_argument("--split", type=Path, required=True, help="split.json of the model's training run")
    ap.add_argument("--out", type=Path, required=True, help="INT8 ONNX path")
    ap.add_argument("--calib-images", type=int, default=512)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    record = export_int8(args.model, args.data, args.split, args.out, args.calib_images)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
