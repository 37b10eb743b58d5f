"""Train on an accelerator with any Keras 3 backend (JAX on a GPU): cross-fitted teachers, then the student.

Issue 21. The product's trainer (``train.py``) is TensorFlow and takes ~90 min on the 2-core CPU; this
module uses only ``keras``/``keras.ops`` and NumPy, so with ``KERAS_BACKEND=jax`` it runs on a GPU
machine, and its ``.weights.h5`` load into the TensorFlow model here for the product's export::

    python -m facelog.training.gpu_train pack --data ../shared/data/utkface --split SPLIT \\
        --out .gpudata/utk.npz
    KERAS_BACKEND=jax python -m facelog.training.gpu_train train --pack .gpudata/utk.npz \\
        --recipe configs/train_utkface_gpu.yaml --out OUT --budget-s 460
    python -m facelog.training.cli export RUN --weights OUT/student_ema.weights.h5 --out m.onnx

Other input sizes: pack with ``--load-px`` and ``--input-px`` equal to the recipe's ``data.load_size``
and ``data.image_size`` (``configs/train_utkface_gpu80.yaml``: 88 and 80; ``--codec webp`` keeps such a
pack under the device's 64 MiB); ``train`` refuses a pack whose sizes differ from the recipe's.

``train``: (1) ``--folds`` K wider teachers (``--teacher-width`` x the recipe's channels), teacher k
trained on the training faces outside fold k; all K share one compiled step (each head's labels are
masked on its own fold). (2) Soft targets: each training face gets the flip-averaged probabilities of
the one teacher that never saw it (``teacher_targets_oof.npz``, readable by ``distill.read_targets``).
(3) The recipe's network trained with those targets (``distill.weight``), its augmentation and an EMA
of the weights and BatchNorm statistics, updated at each epoch's end; the EMA of the last epoch is
``student_ema.weights.h5``. Epoch counts follow from ``--budget-s`` (measured epoch time, cosine
learning rate per epoch). ``report.json`` holds validation numbers on the pack's chips
(JPEG q88 copies of what ``facelog eval`` feeds: close to, not the same as, its numbers).

Augmentation: the recipe's degradation (``augment.degrade``) is done once on the CPU cores with
OpenCV, ``--variants`` random copies per face, drawn with ``degrade.prob`` each epoch; crop box, flip,
colour jitter and random erasing run on the device in ``Augment``.

Modules: ``gpu_pack`` (the pack, its decoding and the degraded copies), ``gpu_ops`` (``Augment`` and
the head losses in ``keras.ops``), this one (the training loop with its EMA, teachers, out-of-fold
targets, student and the CLI).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np

from facelog.training.config import ConfigError, HeadConfig, ModelConfig, load_recipe
from facelog.training.datasets import DatasetError
from facelog.training.distill import read_targets
from facelog.training.gpu_ops import Augment, head_loss
from facelog.training.gpu_pack import INPUT_PX, LOAD_PX, Pack, degrade_pool, pack_utkface, read_pack
from facelog.training.metrics import accuracy, age_mae, expected_age
from facelog.training.model import build_model

log = logging.getLogger(__name__)


def teacher_config(cfg: ModelConfig, width: float, blocks: tuple[int, ...] | None) -> ModelConfig:
    """The student's network with ``width`` x the channels (and ``blocks`` if given)."""
    return cfg.model_copy(
        update={
            "stem_channels": round(cfg.stem_channels * width),
            "widths": tuple(round(w * width) for w in cfg.widths),
            "tower_units": round(cfg.tower_units * width),
            "blocks": blocks or cfg.blocks,
            "init_weights": None,
            "backbone_weights": None,
        }
    )


def _optimizer(lr: float, weight_decay: float) -> keras.optimizers.Optimizer:
    opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


def float_variables(model: keras.Model) -> list[Any]:
    """The model's float variables (weights and BatchNorm statistics; not the random-seed state)."""
    return [v for v in model.variables if "float" in str(v.dtype)]


def fit_budget(
    model: keras.Model,
    images: np.ndarray,
    pool: np.ndarray,
    deg_prob: float,
    labels: dict[str, np.ndarray],
    batch: int,
    lr: float,
    ema: float,
    budget_s: float,
    max_epochs: int,
    seed: int,
    name: str,
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Train ``model`` (compiled) for as many epochs as fit in ``budget_s`` (at most ``max_epochs``).

    Learning rate per epoch: 2 warm-up epochs, then cosine to ~0 over the planned epochs; the plan is
    made from the second epoch's time and only ever shortened. Each epoch: a fresh permutation (a
    whole number of batches), each face replaced by a random one of its degraded copies with
    ``deg_prob``; the next epoch's data is gathered in a thread while this one trains.

    Returns:
        (report, EMA of ``float_variables``). The average (per-step decay ``ema``) is updated at each
        epoch's end, with ``ema ** steps`` as the weight of the old average: Keras' own ``use_ema``
        overwrites the weights at the end of every ``fit`` call and leaves buffers aliased under JAX.
    """
    rng = np.random.default_rng(seed)
    n = len(images) // batch * batch
    if n == 0:
        raise DatasetError(f"{name}: {len(images)} training faces, fewer than one batch of {batch}")
    variables = float_variables(model)
    keep = ema ** (n // batch)

    def epoch_data() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        idx = rng.permutation(len(images))[:n]
        x = images[idx]
        on = rng.random(n) < deg_prob
        pick = rng.integers(0, len(pool), n)
        sel = np.flatnonzero(on)
        x[sel] = pool[pick[sel], idx[sel]]  # each chosen face: its copy number pick
        return x, {k: v[idx] for k, v in labels.items()}

    start, planned, history = time.monotonic(), max_epochs, []
    avg: list[np.ndarray] = []
    with ThreadPoolExecutor(1) as ex:
        nxt = ex.submit(epoch_data)
        for epoch in range(max_epochs):
            if epoch >= planned:
                break
            t = (epoch - 2) / max(planned - 2, 1)
            rate = lr * (epoch + 1) / 3 if epoch < 2 else 0.5 * lr * (1 + np.cos(np.pi * t))
            model.optimizer.learning_rate.assign(rate)
            x, y = nxt.result()
            nxt = ex.submit(epoch_data)
            t0 = time.monotonic()
            h = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
            now = [np.array(keras.ops.convert_to_numpy(v.value), np.float32) for v in variables]
            avg = now if not avg else [keep * a + (1.0 - keep) * w for a, w in zip(avg, now, strict=True)]
            took, elapsed = time.monotonic() - t0, time.monotonic() - start
            history.append(
                {"epoch": epoch, "s": round(took, 2), "lr": rate, "loss": float(h.history["loss"][-1])}
            )
            if epoch >= 1:  # epoch 0 holds the compilation
                planned = min(planned, epoch + 1 + int((budget_s - elapsed) / (1.05 * took)))
            log.info("%s epoch %d/%d: %.1f s, loss %.4f", name, epoch + 1, planned, took, history[-1]["loss"])
    report = {"epochs": len(history), "seconds": round(time.monotonic() - start, 1), "history": history}
    return report, avg


def set_values(variables: list[Any], values: list[np.ndarray]) -> None:
    """Assign ``values`` to ``variables`` (same order, e.g. an EMA from ``fit_budget``)."""
    for v, a in zip(variables, values, strict=True):
        v.assign(a.astype(v.dtype))


def _scores(age_p: np.ndarray, gender_p: np.ndarray, age: np.ndarray, gender: np.ndarray) -> dict[str, float]:
    return {  # facelog eval's own scoring (``training.metrics``)
        "mae": round(age_mae(expected_age(age_p), np.asarray(age, np.float64)), 4),
        "gender_acc": round(accuracy(gender_p.argmax(1), gender), 4),
    }


def _predict(
    model: keras.Model, images: np.ndarray, mean: float, std: float, flip: bool, batch: int = 1024
) -> dict[str, np.ndarray]:
    """Head probabilities on uint8 RGB faces (flip-averaged if ``flip``). Padded to whole batches so
    that one compiled function serves every call."""
    n = len(images)
    x = np.zeros((-(-n // batch) * batch, *images.shape[1:]), np.float32)
    x[:n] = (images.astype(np.float32) - mean) / std
    out = model.predict(x, batch_size=batch, verbose=0)
    if flip:
        out_f = model.predict(np.ascontiguousarray(x[:, :, ::-1]), batch_size=batch, verbose=0)
        out = {k: (out[k] + out_f[k]) / 2 for k in out}
    return {k: np.asarray(v[:n], np.float32) for k, v in out.items()}


def _to_input(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])


def _head_labels(data: Pack, heads: tuple[HeadConfig, ...]) -> dict[str, np.ndarray]:
    cols = {"age": data.train_age.astype(np.float32), "gender": data.train_gender.astype(np.float32)}
    return {h.name: cols[h.column or h.name] for h in heads}


def fold_ids(n: int, k_folds: int, seed: int) -> np.ndarray:
    """(n,) int fold of each training face, 0..k_folds-1, sizes within one of each other (seeded)."""
    if k_folds < 2:
        raise ValueError(f"--folds must be at least 2 (teacher k trains outside fold k), got {k_folds}")
    return np.random.default_rng(seed).permutation(n) % k_folds


def fold_labels(y: np.ndarray, fold: np.ndarray, k: int, head: HeadConfig) -> np.ndarray:
    """(n, 1) labels of teacher ``k``: ``y`` with fold ``k`` masked (age NaN, class -1), never seen."""
    return np.where(fold == k, np.nan if head.kind == "age" else -1.0, y)[:, None]


def out_of_fold(probs: dict[str, np.ndarray], fold: np.ndarray, heads: list[str]) -> dict[str, np.ndarray]:
    """Per head, (n, C): row i from teacher ``fold[i]`` (``probs["t{k}_{head}"]``, (n, C) each)."""
    k_folds = int(fold.max()) + 1
    rows = np.arange(len(fold))
    return {h: np.stack([probs[f"t{k}_{h}"] for k in range(k_folds)])[fold, rows] for h in heads}


def train_teachers(
    data: Pack, recipe: Any, args: argparse.Namespace, pool: np.ndarray, budget_s: float
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """K teachers on K-1 folds each; returns the training faces' out-of-fold soft targets and a report."""
    heads, k_folds = recipe.heads, args.folds
    size, load = recipe.data.image_size, recipe.data.load_size
    fold = fold_ids(len(data.train), k_folds, args.seed)
    blocks = tuple(int(b) for b in args.teacher_blocks.split(",")) if args.teacher_blocks else None
    cfg = teacher_config(recipe.model, args.teacher_width, blocks)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if args.bf16 else "float32")
    try:
        teachers = [build_model(cfg, heads, size) for _ in range(k_folds)]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    inp = keras.Input((load, load, 3), dtype="uint8")
    x = Augment(recipe.augment, size, recipe.mean, recipe.std, args.seed, name="augment")(inp)
    outs, losses, labels = {}, {}, {}
    hard = _head_labels(data, heads)
    for k, m in enumerate(teachers):
        m.name = f"teacher{k}"
        o = m(x)
        for h in heads:
            key = f"t{k}_{h.name}"
            outs[key], losses[key] = o[h.name], head_loss(h, 0.0)
            labels[key] = fold_labels(hard[h.name], fold, k, h)
    model = keras.Model(inp, outs)
    model.compile(optimizer=_optimizer(args.teacher_lr, recipe.optim.weight_decay), loss=losses)
    log.info("%d teachers, %s, %d parameters each", k_folds, cfg.widths, teachers[0].count_params())
    run, avg = fit_budget(
        model, data.train, pool, args.teacher_degrade, labels, args.teacher_batch, args.teacher_lr,
        0.998, budget_s, args.max_teacher_epochs, args.seed, "teachers",
    )  # fmt: skip
    set_values(float_variables(model), avg)
    x_in = keras.Input((size, size, 3))
    infer = keras.Model(
        x_in, {f"t{k}_{h.name}": m(x_in)[h.name] for k, m in enumerate(teachers) for h in heads}
    )
    p = _predict(infer, _to_input(data.train, size), recipe.mean, recipe.std, flip=True)
    oof = out_of_fold(p, fold, [h.name for h in heads])
    report: dict[str, Any] = {
        "config": cfg.model_dump(mode="json"),
        "params": teachers[0].count_params(),
        "run": run,
        "oof_train_flip": _scores(oof["age"], oof["gender"], data.train_age, data.train_gender),
    }
    for size, images in data.val.items():
        pv = _predict(infer, images, recipe.mean, recipe.std, flip=True)
        ens = {h.name: np.mean([pv[f"t{k}_{h.name}"] for k in range(k_folds)], axis=0) for h in heads}
        single = [
            _scores(pv[f"t{k}_age"], pv[f"t{k}_gender"], data.val_age, data.val_gender)
            for k in range(k_folds)
        ]
        report[f"val_{size}_flip"] = {
            "ensemble": _scores(ens["age"], ens["gender"], data.val_age, data.val_gender),
            "single": single,
        }
    return oof, report


def train_student(
    data: Pack,
    recipe: Any,
    args: argparse.Namespace,
    pool: np.ndarray,
    soft: dict[str, np.ndarray],
    budget_s: float,
) -> tuple[keras.Model, dict[str, Any]]:
    """The recipe's network on the packed labels (hard + ``soft``); returns the model holding its EMA."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if args.bf16 else "float32")
    try:
        base = build_model(recipe.model, recipe.heads, recipe.data.image_size)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    load, size = recipe.data.load_size, recipe.data.image_size
    inp = keras.Input((load, load, 3), dtype="uint8")
    out = base(Augment(recipe.augment, size, recipe.mean, recipe.std, args.seed + 1, name="augment")(inp))
    model = keras.Model(inp, {h.name: out[h.name] for h in recipe.heads})
    o, w = recipe.optim, recipe.distill.weight
    model.compile(
        optimizer=_optimizer(o.lr, o.weight_decay),
        loss={h.name: head_loss(h, w) for h in recipe.heads},
        loss_weights={h.name: h.loss_weight for h in recipe.heads},
    )
    hard = _head_labels(data, recipe.heads)
    labels = {h.name: np.concatenate([hard[h.name][:, None], soft[h.name]], axis=1) for h in recipe.heads}
    run, avg = fit_budget(
        model, data.train, pool, recipe.augment.degrade.prob, labels, o.batch_size, o.lr,
        o.ema_decay, budget_s, args.max_student_epochs, args.seed + 1, "student",
    )  # fmt: skip
    base.save_weights(args.out / "student_last.weights.h5")
    report: dict[str, Any] = {"run": run, "params": base.count_params(), "distill_weight": w}
    report["val_last"] = _val_scores(base, data, recipe, flip=False)
    set_values(float_variables(model), avg)
    base.save_weights(args.out / "student_ema.weights.h5")
    report["val_ema"] = _val_scores(base, data, recipe, flip=False)
    report["val_ema_flip"] = _val_scores(base, data, recipe, flip=True)
    return base, report


def _val_scores(model: keras.Model, data: Pack, recipe: Any, flip: bool) -> dict[str, dict[str, float]]:
    out = {}
    for size, images in data.val.items():
        p = _predict(model, images, recipe.mean, recipe.std, flip)
        out[size] = _scores(p["age"], p["gender"], data.val_age, data.val_gender)
    return out


def check_sizes(data: Pack, recipe: Any, recipe_path: Path) -> None:
    """Raise ``ConfigError`` unless the pack's chips have the recipe's load size (training) and input
    size (validation, where the pack has it), and the recipe asks for no augmentation this trainer
    lacks (nothing is left out silently)."""
    a = recipe.augment  # what the TensorFlow trainer applies and Augment (gpu_ops) does not: refused
    asked = {
        "augment.roll.prob": a.roll.prob,
        "augment.occlude.prob": a.occlude.prob,
        "augment.light.cast_prob": a.light.cast_prob,
        "augment.light.dark_prob": a.light.dark_prob,
        "augment.codec.prob": a.codec.prob,
    }
    missing = [name for name, prob in asked.items() if prob]
    if missing:
        raise ConfigError(
            f"{recipe_path}: the GPU trainer does not apply {', '.join(missing)}: train this recipe with "
            "facelog train, or set them to 0"
        )
    train_px = data.train.shape[1]
    val_px = next(iter(data.val.values())).shape[1] if data.val else recipe.data.image_size
    if (train_px, val_px) != (recipe.data.load_size, recipe.data.image_size):
        raise ConfigError(
            f"{recipe_path}: the pack has {train_px} px training and {val_px} px validation chips, the recipe"
            f" data.load_size {recipe.data.load_size} and data.image_size {recipe.data.image_size}"
            " (pack again with --load-px and --input-px)"
        )


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Teachers, out-of-fold targets, student; everything under ``args.out`` (see the module docstring)."""
    start = time.monotonic()
    recipe = load_recipe(args.recipe)
    if recipe.distill is None:
        raise ConfigError(f"{args.recipe}: the recipe needs a distill section (its weight is used)")
    args.out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    data = read_pack(args.pack, args.threads, args.limit)
    check_sizes(data, recipe, args.recipe)
    pool = degrade_pool(
        data.train, recipe.augment.degrade, args.variants, args.seed, args.threads, recipe.data.image_size
    )
    report: dict[str, Any] = {
        "backend": keras.backend.backend(),
        "n_train": len(data.train),
        "n_val": len(data.val_age),
    }
    report["setup_s"] = round(time.monotonic() - start, 1)
    log.info("data and %d degraded copies ready in %.1f s", args.variants, report["setup_s"])

    def save() -> None:
        (args.out / "report.json").write_text(json.dumps(report, indent=1))

    left = args.budget_s - (time.monotonic() - start)
    if args.targets is not None:  # soft targets made elsewhere (``distill``): no teachers here
        names = [str(n) for n in data.train_names]
        soft = read_targets(args.targets, names, [h.name for h in recipe.heads])
        report["targets"] = str(args.targets)
    else:
        soft, report["teachers"] = train_teachers(data, recipe, args, pool, args.teacher_share * (left - 60))
        arrays: dict[str, Any] = {f"head_{k}": v.astype(np.float16) for k, v in soft.items()}
        np.savez_compressed(args.out / "teacher_targets_oof.npz", names=data.train_names, **arrays)
    save()
    left = args.budget_s - (time.monotonic() - start)
    _, report["student"] = train_student(data, recipe, args, pool, soft, left - 25)
    report["total_s"] = round(time.monotonic() - start, 1)
    save()
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI: ``pack`` (here, with the dataset) and ``train`` (on the accelerator)."""
    ap = argparse.ArgumentParser(
        prog="python -m facelog.training.gpu_train", description=__doc__.split("\n")[0]
    )
    sub = ap.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("pack", help="pack UTKFace and its split into one .npz")
    pk.add_argument("--data", type=Path, required=True, help="UTKFace folder")
    pk.add_argument("--split", type=Path, required=True, help="split.json (seed-1234 split)")
    pk.add_argument("--out", type=Path, required=True)
    pk.add_argument("--jpeg-quality", type=int, default=88, help="quality of either codec")
    pk.add_argument("--codec", choices=["jpg", "webp"], default="jpg")
    pk.add_argument("--no-val", dest="val", action="store_false", help="leave the validation faces out")
    pk.add_argument(
        "--load-px", type=int, default=LOAD_PX, help="training chips (the recipe's data.load_size)"
    )
    pk.add_argument(
        "--input-px", type=int, default=INPUT_PX, help="validation chips (the recipe's data.image_size)"
    )
    tr = sub.add_parser("train", help="teachers, out-of-fold targets and the student")
    tr.add_argument("--pack", type=Path, required=True)
    tr.add_argument(
        "--recipe", type=Path, required=True, help="the student's recipe (model, augment, optim, distill)"
    )
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--budget-s", type=float, required=True, help="wall time for everything, from the start")
    tr.add_argument("--targets", type=Path, help="soft targets (.npz by distill); skips the teachers")
    tr.add_argument(
        "--teacher-share", type=float, default=0.6, help="share of the training time for teachers"
    )
    tr.add_argument("--folds", type=int, default=5)
    tr.add_argument("--teacher-width", type=float, default=2.0)
    tr.add_argument("--teacher-blocks", default="", help="e.g. 1,2,2 (default: the recipe's)")
    tr.add_argument("--teacher-batch", type=int, default=256)
    tr.add_argument("--teacher-lr", type=float, default=3e-3)
    tr.add_argument("--teacher-degrade", type=float, default=0.3, help="share of degraded faces for teachers")
    tr.add_argument("--max-teacher-epochs", type=int, default=150)
    tr.add_argument("--max-student-epochs", type=int, default=200)
    tr.add_argument("--variants", type=int, default=6, help="degraded copies per face")
    tr.add_argument("--threads", type=int, default=16)
    tr.add_argument("--limit", type=int, default=None, help="first N faces of each part (tests)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--no-bf16", dest="bf16", action="store_false")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "train" and args.targets is None and args.folds < 2:
        ap.error(f"--folds must be at least 2 (teacher k trains outside fold k), got {args.folds}")
    try:
        if args.command == "pack":
            pack_utkface(
                args.data, args.split, args.out, args.jpeg_quality, val=args.val,
                load_px=args.load_px, input_px=args.input_px, codec=args.codec,
            )  # fmt: skip
            return 0
        report = train(args)
    except (ConfigError, DatasetError, FileNotFoundError) as err:  # bad input: one line, no traceback
        ap.error(str(err))
    print(json.dumps({k: v for k, v in report.items() if k != "history"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
