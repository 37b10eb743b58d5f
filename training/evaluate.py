"""Evaluation report of head probabilities against a ``FaceTable``: JSON plus PNG plots (Agg, no display)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from facelog.engines.base import ModelMeta
from facelog.training.datasets import FaceTable
from facelog.training.metrics import (
    accuracy,
    age_buckets,
    age_mae,
    confusion,
    cumulative_score,
    expected_age,
    per_class_accuracy,
)

log = logging.getLogger(__name__)


def evaluate_predictions(probs: dict[str, np.ndarray], table: FaceTable, meta: ModelMeta) -> dict[str, Any]:
    """Metrics for every head the model and the table share.

    Args:
        probs: head name -> (n, classes) probabilities, rows aligned with ``table``.
        table: the labels (age NaN / class -1 = missing).
        meta: the model's metadata (head kinds and labels).

    Returns:
        ``{"n": n, "age": {"mae", "cs5", "n_labelled", "buckets": [...]}, "gender": {"acc",
        "per_class": {...}, "confusion": [[...]]}, ...}``
    """
    n = len(table)
    report: dict[str, Any] = {"n": n}
    for head in meta.heads:
        if head.name not in probs:
            continue
        p = probs[head.name]
        if p.shape[0] != n:
            raise ValueError(f"head {head.name!r}: {p.shape[0]} predictions for {n} rows")
        if head.kind == "age":
            true = table.column("age", "age").astype(np.float64)
            est = expected_age(p)
            report[head.name] = {
                "mae": age_mae(est, true),
                "cs5": cumulative_score(est, true, 5),
                "n_labelled": int((~np.isnan(true)).sum()),
                "buckets": age_buckets(est, true),
            }
        else:
            true_c = table.column(head.name, "categorical")
            pred = p.argmax(axis=1)
            report[head.name] = {
                "acc": accuracy(pred, true_c),
                "n_labelled": int((true_c >= 0).sum()),
                "per_class": per_class_accuracy(pred, true_c, head.labels),
                "confusion": confusion(pred, true_c, len(head.labels)).tolist(),
                "labels": list(head.labels),
            }
            if "age" in probs and table.labels.get("age") is not None:
                ages = table.labels["age"]
                report[head.name]["acc_by_age"] = [
                    {"range": b["range"], "acc": accuracy(pred[sel], true_c[sel]), "n": int(sel.sum())}
                    for b, sel in _bucket_masks(ages)
                ]
    return report


def _bucket_masks(ages: np.ndarray) -> list[tuple[dict[str, Any], np.ndarray]]:
    from facelog.training.metrics import AGE_BUCKETS

    return [({"range": f"{lo}-{hi}"}, (ages >= lo) & (ages <= hi)) for lo, hi in AGE_BUCKETS]


def write_report(
    report: dict[str, Any], probs: dict[str, np.ndarray], table: FaceTable, meta: ModelMeta, out_dir: Path
) -> list[Path]:
    """Write ``metrics.json``, ``error_vs_age.png`` and ``confusion_<head>.png``; return the paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "metrics.json"]
    written[0].write_text(json.dumps(report, indent=1, default=float))
    for head in meta.heads:
        if head.name not in report:
            continue
        fig = Figure(figsize=(6, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if head.kind == "age":
            true = table.column("age", "age")
            ok = ~np.isnan(true)
            err = expected_age(probs[head.name])[ok] - true[ok]
            ax.scatter(true[ok], err, s=3, alpha=0.3)
            centers = [(lo + hi) / 2 for lo, hi in _ranges(report[head.name]["buckets"])]
            ax.plot(centers, [b["mae"] for b in report[head.name]["buckets"]], "r-o", label="MAE per bucket")
            ax.axhline(0, color="k", lw=0.5)
            ax.set(
                xlabel="true age",
                ylabel="predicted - true (years)",
                title=f"age error (MAE {report[head.name]['mae']:.2f})",
            )
            ax.legend()
            path = out_dir / "error_vs_age.png"
        else:
            m = np.array(report[head.name]["confusion"])
            ax.imshow(m, cmap="Blues")
            for (i, j), v in np.ndenumerate(m):
                ax.text(j, i, str(v), ha="center", va="center")
            ax.set_xticks(range(len(head.labels)), head.labels)
            ax.set_yticks(range(len(head.labels)), head.labels)
            ax.set(
                xlabel="predicted", ylabel="true", title=f"{head.name} (acc {report[head.name]['acc']:.3f})"
            )
            path = out_dir / f"confusion_{head.name}.png"
        fig.tight_layout()
        fig.savefig(path)
        written.append(path)
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def _ranges(buckets: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(int(b["range"].split("-")[0]), int(b["range"].split("-")[1])) for b in buckets]


def size_summary(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Compact rows of per-size reports (``evaluate_predictions`` output keyed by ``size_label``).

    Returns:
        ``{label: {"mae", "cs5", "gender_acc", "buckets": [{"range", "n", "mae", "gender_acc"}]}}``.
    """
    out: dict[str, Any] = {}
    for label, rep in reports.items():
        row: dict[str, Any] = {"n": rep["n"]}
        if "age" in rep:
            row.update(mae=rep["age"]["mae"], cs5=rep["age"]["cs5"])
            row["buckets"] = [dict(b) for b in rep["age"]["buckets"]]
        if "gender" in rep:
            row["gender_acc"] = rep["gender"]["acc"]
            by_range = {b["range"]: b["acc"] for b in rep["gender"].get("acc_by_age", [])}
            for b in row.get("buckets", []):
                b["gender_acc"] = by_range.get(b["range"], float("nan"))
        out[label] = row
    return out


def size_table_markdown(summary: dict[str, Any], recipe: str) -> str:
    """Two Markdown tables: by face size, then age MAE / gender accuracy per age bucket and size."""
    labels = list(summary)
    lines = [
        f"Degradation recipe `{recipe}` (training/degrade.py).",
        "",
        "| faces | n | age MAE | CS@5 | gender |",
        "|---|---|---|---|---|",
    ]
    for label, row in summary.items():
        mae, cs5, acc = (row.get(k, float("nan")) for k in ("mae", "cs5", "gender_acc"))
        lines.append(f"| {label} | {row['n']} | {mae:.2f} | {cs5:.3f} | {100 * acc:.1f}% |")
    first = summary[labels[0]]
    if "buckets" in first:
        lines += ["", "| true age | n | " + " | ".join(f"{lb} MAE / gender" for lb in labels) + " |"]
        lines.append("|---|---|" + "---|" * len(labels))
        for i, b in enumerate(first["buckets"]):
            cells = [_bucket_cell(summary[lb]["buckets"][i]) for lb in labels]
            lines.append(f"| {b['range']} | {b['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _bucket_cell(bucket: dict[str, Any]) -> str:
    return f"{bucket['mae']:.2f} / {100 * bucket.get('gender_acc', float('nan')):.1f}%"
