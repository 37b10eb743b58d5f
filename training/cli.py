"""``facelog train|eval|export|predict``.

``register`` only adds argparse parsers; TensorFlow is imported inside the handlers that need it
(``eval`` and ``predict`` never do), so every command is listed on any install and ``facelog --help``
stays fast. Without TensorFlow, ``train`` and ``export`` say to install the ``train`` extra (exit 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

from facelog.engines.base import UsageError, print_error
from facelog.training.cli_eval import register_eval_predict

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "engines" / "models" / "facelog_age_gender.onnx"

log = logging.getLogger(__name__)


def _fail(msg: str) -> NoReturn:
    """Stop the command: ``facelog.cli.main`` prints ``facelog: error: <msg>`` and exits 2."""
    raise UsageError(msg)


def _missing_tensorflow(command: str) -> str | None:
    """Why ``command`` cannot run here (TensorFlow, from the ``train`` extra, is absent), else None."""
    try:
        import tensorflow  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "tensorflow":
            raise  # a broken install, not a missing extra: show it
        return f"'facelog {command}' needs TensorFlow: pip install 'facelog[train]'"
    return None


def _overrides(pairs: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def register(subparsers: Any) -> None:
    """Add ``train``, ``eval``, ``export`` and ``predict`` to the ``facelog`` command."""
    tr = subparsers.add_parser("train", help="train an age/gender model from a YAML recipe, then export ONNX")
    tr.add_argument("config", type=Path, help="training recipe, e.g. configs/train_utkface.yaml")
    tr.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, logs, model.onnx)")
    tr.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. optim.epochs=2"
    )
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last.weights.h5")
    tr.add_argument("--split", type=Path, help="reuse a split.json written by an earlier run")
    tr.add_argument("--max-minutes", type=float, help="stop cleanly after this wall time (keeps best)")
    tr.add_argument("--flip-average", action="store_true", help="fold flip averaging into the exported model")
    tr.set_defaults(func=_cmd_train)

    ex = subparsers.add_parser("export", help="export a run's best weights to ONNX with metadata")
    ex.add_argument("run", type=Path, help="run folder written by 'facelog train'")
    ex.add_argument("--out", type=Path, help="ONNX path (default RUN/model.onnx)")
    ex.add_argument("--weights", type=Path, help="weights file (default RUN/best.weights.h5)")
    ex.add_argument("--flip-average", action="store_true", help="fold flip averaging into the model")
    ex.set_defaults(func=_cmd_export)

    register_eval_predict(subparsers)


def _cmd_train(args: argparse.Namespace) -> int:
    missing = _missing_tensorflow("train")
    if missing:
        return _fail(missing)
    from facelog.training.config import ConfigError, load_recipe
    from facelog.training.datasets import DatasetError

    try:
        overrides = _overrides(args.set)
        if args.max_minutes is not None:
            overrides["optim.max_minutes"] = args.max_minutes
        recipe = load_recipe(args.config, overrides)
    except (ConfigError, ValueError) as err:
        return _fail(str(err))
    from facelog.training.train import train

    try:
        best = train(recipe, args.out, resume=args.resume, split_file=args.split)
    except (DatasetError, FileNotFoundError) as err:
        return _fail(str(err))
    return _export(args.out, best, args.out / "model.onnx", args.flip_average)


def _cmd_export(args: argparse.Namespace) -> int:
    missing = _missing_tensorflow("export")
    if missing:
        return _fail(missing)
    weights = args.weights or args.run / "best.weights.h5"
    if not (args.run / "recipe.json").is_file():
        return _fail(f"{args.run} is not a training run folder (no recipe.json)")
    if not weights.is_file():
        return _fail(f"weights not found: {weights}")
    return _export(args.run, weights, args.out or args.run / "model.onnx", args.flip_average)


def _export(run: Path, weights: Path, out: Path, flip_average: bool) -> int:
    from facelog.training.config import recipe_from_dict
    from facelog.training.export import ExportError, export_onnx

    recipe = recipe_from_dict(json.loads((run / "recipe.json").read_text()), str(run / "recipe.json"))
    extra: dict[str, Any] = {
        "training_data": f"{recipe.data.kind}: {recipe.data.root or recipe.data.labels}",
        "split_seed": recipe.data.split_seed,
        "val_fraction": recipe.data.val_fraction,
    }
    summary_path = run / "train_summary.json"
    best = run / "best.weights.h5"
    other_weights = weights.resolve() != best.resolve()
    if other_weights:
        extra["weights"] = weights.name  # train_summary.json describes best.weights.h5, not these
    elif summary_path.is_file():
        s = json.loads(summary_path.read_text())
        key = "val_flip" if flip_average else "val_plain"
        extra.update(
            validation={k: round(v, 4) for k, v in s[key].items()},
            n_train=s["n_train"],
            n_val=s["n_val"],
            best_epoch=s.get("best_epoch"),
        )
    try:
        meta = export_onnx(recipe, weights, out, extra, flip_average=flip_average)
    except ExportError as err:
        return _fail(str(err))
    if other_weights:
        from facelog.training.export import update_meta_extra
        from facelog.training.train import validate_onnx

        if not (run / "split.json").is_file():
            return _fail(f"{run / 'split.json'} not found: cannot validate {weights.name}")
        scores = validate_onnx(recipe, run, out)
        meta = update_meta_extra(out, validation={k: round(v, 4) for k, v in scores.items()})
        log.info("validation of %s on %s: %s", weights.name, run / "split.json", meta.extra["validation"])
    print(f"wrote {out} ({meta.name} {meta.version}, outputs {', '.join(meta.outputs)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m facelog.training.cli SUBCOMMAND ...``."""
    parser = argparse.ArgumentParser(prog="facelog", description="facelog training tools")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args))
    except UsageError as exc:
        print_error(exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
