"""The accuracy gate of an INT8 twin: may the CPU backend use it by default? (issue 11)

Measured at export (``training/int8_export.py``) on the training run's validation split and stored
in the INT8 file's metadata under ``GATE_KEY``; ``engines.registry`` reads it when it picks the
model variant. Kept apart from ``engines.quantize`` so that reading it does not import the
quantizer and the ``onnx`` package (about a second of every ``facelog`` start).
"""

from __future__ import annotations

from typing import Any

from facelog.engines.base import ModelMeta

# Only a loss counts: INT8 may be at most this much worse than its FP32 model.
GATE_KEY = "int8_validation"
GATE_MAE_YEARS = 0.05
GATE_GENDER_PTS = 0.2


def gate_record(
    fp32: dict[str, float], int8: dict[str, float], n_faces: int, held_out: str
) -> dict[str, Any]:
    """The record stored under ``GATE_KEY``: both models' numbers, the deltas and the verdict.

    Args:
        fp32, int8: ``{"age_mae": years, "gender_acc": 0..1}`` of each model on the same faces.
        n_faces: how many faces they were measured on.
        held_out: what the faces were (e.g. the split file and part).
    """
    for name, scores in (("fp32", fp32), ("int8", int8)):
        missing = {"age_mae", "gender_acc"} - set(scores)
        if missing:
            raise ValueError(f"{name} scores need age_mae and gender_acc, missing {sorted(missing)}")
    d_mae = int8["age_mae"] - fp32["age_mae"]
    d_gender_pts = 100.0 * (int8["gender_acc"] - fp32["gender_acc"])
    return {
        "fp32": {k: round(v, 4) for k, v in fp32.items()},
        "int8": {k: round(v, 4) for k, v in int8.items()},
        "delta_age_mae_years": round(d_mae, 4),
        "delta_gender_pts": round(d_gender_pts, 3),
        "tolerance": {"age_mae_years": GATE_MAE_YEARS, "gender_pts": GATE_GENDER_PTS},
        "within_tolerance": bool(d_mae <= GATE_MAE_YEARS and d_gender_pts >= -GATE_GENDER_PTS),
        "n_faces": n_faces,
        "held_out": held_out,
    }


def int8_accepted(meta: ModelMeta) -> bool:
    """True when an INT8 model's metadata records a passed accuracy gate (see ``gate_record``)."""
    record = meta.extra.get(GATE_KEY)
    return isinstance(record, dict) and record.get("within_tolerance") is True
