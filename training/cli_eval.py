"""``facelog eval`` and ``facelog predict``: run an exported ONNX model through ONNX Runtime.

Neither needs TensorFlow. Images are read with OpenCV and fed exactly as the pipeline feeds crops
(``engines.preprocess.crops_to_pixels``), so these numbers describe the shipped artifact.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from facelog.engines.base import UsageError
from facelog.training.datasets import IMAGE_SUFFIXES

BATCH = 64


def register_eval_predict(subparsers: Any) -> None:
    """Add ``eval`` and ``predict`` parsers (called by ``facelog.training.cli.register``)."""
    from facelog.training.cli import SHIPPED_MODEL

    ev = subparsers.add_parser(
        "eval", help="age MAE, CS@5, gender accuracy (+ breakdowns, plots) of an ONNX model"
    )
    ev.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="ONNX model (default: the shipped one)")
    ev.add_argument(
        "--data", type=Path, required=True, help="UTKFace folder, CSV list, class-folder root or .mat"
    )
    ev.add_argument("--kind", choices=("utkface", "csv", "folders", "wiki"), default="utkface")
    ev.add_argument("--split", type=Path, help="split.json of a training run: evaluate only one part")
    ev.add_argument("--part", choices=("val", "train"), default="val")
    ev.add_argument("--flip", action="store_true", help="average with the mirrored image")
    ev.add_argument("--out", type=Path, required=True, help="folder for metrics.json and PNG plots")
    ev.add_argument(
        "--by-size",
        action="store_true",
        help="also evaluate chips shrunk to 64/48/32/24 px, JPEG 60, enlarged (by_size.md, metrics.json)",
    )
    ev.set_defaults(func=_cmd_eval)

    pr = subparsers.add_parser("predict", help="age and gender of face crops, as CSV on stdout")
    pr.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR")
    pr.add_argument("--cropped", action="store_true", help="inputs are face crops (UTKFace-like framing)")
    pr.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    pr.add_argument("--flip", action="store_true", help="average with the mirrored image")
    pr.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0 = default)")
    pr.set_defaults(func=_cmd_predict)


def _fail(msg: str) -> NoReturn:
    """Stop the command: ``facelog.cli.main`` prints ``facelog: error: <msg>`` and exits 2."""
    raise UsageError(msg)


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given, folders expanded to their image files (sorted, not recursive)."""
    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def _read_batches(
    paths: Sequence[Path], skipped: list[Path]
) -> Iterator[tuple[list[Path], list[np.ndarray]]]:
    import cv2

    names: list[Path] = []
    crops: list[np.ndarray] = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR) if p.is_file() else None
        if img is None:
            print(f"facelog: warning: cannot read image {p}: skipped", file=sys.stderr)
            skipped.append(p)
            continue
        names.append(p)
        crops.append(img)
        if len(crops) == BATCH:
            yield names, crops
            names, crops = [], []
    if crops:
        yield names, crops


def run_model(backend: Any, crops_bgr: list[np.ndarray], flip: bool) -> dict[str, np.ndarray]:
    """Head probabilities for BGR crops, optionally averaged with the mirror image."""
    from facelog.engines.preprocess import crops_to_pixels

    x = crops_to_pixels(crops_bgr, backend.meta)
    out: dict[str, np.ndarray] = backend.infer(x)
    if flip:
        out_f = backend.infer(np.ascontiguousarray(x[:, :, ::-1]))
        out = {k: (v + out_f[k]) / 2 for k, v in out.items()}
    return out


def _open_backend(model: Path, threads: int = 0) -> Any:
    from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(model, threads=threads)


def _cmd_predict(args: argparse.Namespace) -> int:
    from facelog.engines.preprocess import decode_age

    if not args.cropped:
        return _fail("predict needs --cropped (face crops); for whole frames and videos use 'facelog run'")
    if not args.model.is_file():
        return _fail(f"model not found: {args.model}")
    try:
        backend = _open_backend(args.model, args.threads)
    except ValueError as err:  # not an ONNX model, no facelog metadata, ORT cannot load it
        return _fail(str(err))
    age_head, gender_head = backend.meta.head("age"), backend.meta.head("gender")
    if age_head is None or gender_head is None:
        return _fail(f"{args.model} has no age and gender heads (heads: {backend.meta.outputs})")
    paths = expand_inputs(args.inputs)
    skipped: list[Path] = []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["path", "age", "gender", "gender_score"])
    n = 0
    for names, crops in _read_batches(paths, skipped):
        out = run_model(backend, crops, args.flip)
        ages = decode_age(out[age_head.name])
        g = out[gender_head.name]
        for p, age, probs in zip(names, ages, g, strict=True):
            k = int(np.argmax(probs))
            writer.writerow([str(p), f"{age:.1f}", gender_head.labels[k], f"{probs[k]:.4f}"])
            n += 1
    sys.stdout.flush()
    if skipped:
        print(f"facelog: {len(skipped)} of {len(paths)} images unreadable and skipped", file=sys.stderr)
    if n == 0:
        return _fail(f"no readable images among {len(paths)} inputs")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from facelog.training import datasets as dsets
    from facelog.training.evaluate import evaluate_predictions, write_report

    if not args.model.is_file():
        return _fail(f"model not found: {args.model}")
    try:
        table = _read_eval_table(args)
    except dsets.DatasetError as err:
        return _fail(str(err))
    try:
        backend = _open_backend(args.model)
    except ValueError as err:
        return _fail(str(err))
    from facelog.training.degrade import EVAL_SIZES_PX

    sizes = EVAL_SIZES_PX if args.by_size else (None,)
    skipped: list[Path] = []
    kept: list[Path] = []
    probs = _collect(backend, table, sizes, args.flip, skipped, kept)
    if not kept:
        return _fail(f"no readable images among {len(table)} rows")
    keep = np.isin(np.array([str(p) for p in table.paths]), [str(p) for p in kept])
    table = table.subset(keep)
    merged = probs["full"]
    report = evaluate_predictions(merged, table, backend.meta)
    if args.by_size:
        from facelog.training.degrade import RECIPE
        from facelog.training.evaluate import size_summary, size_table_markdown

        report["by_size"] = size_summary(
            {label: evaluate_predictions(p, table, backend.meta) for label, p in probs.items()}
        )
        report["by_size_recipe"] = RECIPE
        args.out.mkdir(parents=True, exist_ok=True)
        md = size_table_markdown(report["by_size"], RECIPE)
        (args.out / "by_size.md").write_text(md)
        print(md)
    report.update(
        model=str(args.model),
        data=str(args.data),
        split=str(args.split),
        part=args.part,
        flip=args.flip,
        n_unreadable=len(skipped),
    )
    write_report(report, merged, table, backend.meta, args.out)
    print(_summary_line(report))
    return 0


def _collect(
    backend: Any,
    table: Any,
    sizes: Sequence[int | None],
    flip: bool,
    skipped: list[Path],
    kept: list[Path],
) -> dict[str, dict[str, np.ndarray]]:
    """Head probabilities per face size label ("full", "32px", ...), rows in the order of ``kept``."""
    from facelog.training.degrade import degrade_chips, size_label

    parts: dict[str, dict[str, list[np.ndarray]]] = {size_label(s): {} for s in sizes}
    for names, crops in _read_batches(list(table.paths), skipped):
        for s in sizes:
            for k, v in run_model(backend, degrade_chips(crops, s), flip).items():
                parts[size_label(s)].setdefault(k, []).append(v)
        kept.extend(names)
    return {lb: {k: np.concatenate(v) for k, v in p.items()} for lb, p in parts.items() if p}


def _read_eval_table(args: argparse.Namespace) -> Any:
    from facelog.training import datasets as dsets

    if args.kind == "utkface":
        table = dsets.read_utkface(args.data)
    elif args.kind == "csv":
        table = dsets.read_csv_list(args.data)
    elif args.kind == "folders":
        table = dsets.read_class_folders(args.data)
    else:
        from facelog.training.wiki import read_wiki_mat

        table = read_wiki_mat(args.data)
    if args.split is not None:
        tr, va = dsets.read_split(args.split, dsets.split_names(table))
        table = table.subset(va if args.part == "val" else tr)
    return table


def _summary_line(report: dict[str, Any]) -> str:
    parts = [f"n {report['n']}"]
    if "age" in report:
        parts.append(f"age MAE {report['age']['mae']:.3f} CS@5 {report['age']['cs5']:.3f}")
    if "gender" in report:
        parts.append(f"gender acc {report['gender']['acc']:.4f}")
    return ", ".join(parts)
