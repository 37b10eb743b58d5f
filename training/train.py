"""Train a recipe: read + split + preload data, fit with checkpoints/early stop/time limit, resume.

Files written to ``out_dir``: ``split.json``, ``recipe.json``, ``history.csv``, ``tb/`` (TensorBoard),
``best.weights.h5``, ``last.weights.h5`` + ``last_optimizer.npz`` + ``state.json`` (resume),
``trunk.weights.h5`` (re-usable backbone) and ``train_summary.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from facelog.engines.cpu import cpu_has_bf16
from facelog.training import datasets as dsets
from facelog.training.augment import train_dataset
from facelog.training.averaging import WeightAverage
from facelog.training.config import HeadConfig, TrainRecipe, higher_is_better
from facelog.training.losses import head_loss, head_metric
from facelog.training.metrics import accuracy, age_mae, cumulative_score, expected_age
from facelog.training.model import build_model, trunk_of
from facelog.training.schedule import BudgetCosine, epochs_in_budget

log = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Preloaded train/val arrays plus the tables they came from."""

    train_images: np.ndarray  # (n, load_size, load_size, 3) uint8 RGB
    train_labels: dict[str, np.ndarray]
    val_images: np.ndarray  # (m, image_size, image_size, 3) uint8 RGB
    val_labels: dict[str, np.ndarray]
    val_table: dsets.FaceTable
    train_names: tuple[str, ...] = ()  # split names of the training rows (teacher targets key)


def read_table(recipe: TrainRecipe) -> dsets.FaceTable:
    """The dataset named by ``recipe.data``."""
    d = recipe.data
    if d.kind == "utkface":
        if d.root is None:
            raise dsets.DatasetError("data.kind=utkface needs data.root")
        return dsets.read_utkface(d.root)
    if d.kind == "csv":
        assert d.labels is not None
        return dsets.read_csv_list(d.labels, d.root)
    if d.kind == "wiki":
        from facelog.training.wiki import read_wiki_mat

        assert d.labels is not None
        return read_wiki_mat(d.labels, d.root, key=d.mat_key, min_score=d.min_face_score)
    if d.root is None:
        raise dsets.DatasetError("data.kind=folders needs data.root")
    return dsets.read_class_folders(d.root)


def head_labels(table: dsets.FaceTable, heads: tuple[HeadConfig, ...]) -> dict[str, np.ndarray]:
    """One label array per head (float32 ages with NaN, or int64 classes with -1)."""
    out = {}
    for h in heads:
        col = table.column(h.column or h.name, h.kind)
        out[h.name] = col.astype(np.float32) if h.kind == "age" else col.astype(np.int64)
    return out


def prepare_data(recipe: TrainRecipe, out_dir: Path, split_file: Path | None = None) -> PreparedData:
    """Read, split (seeded; written to ``out_dir/split.json``) and preload the dataset."""
    d = recipe.data
    table = read_table(recipe)
    if d.limit is not None and d.limit < len(table):
        keep = np.sort(np.random.default_rng(d.split_seed).permutation(len(table))[: d.limit])
        table = table.subset(keep)
    names = dsets.split_names(table)
    if split_file is not None:
        tr, va = dsets.read_split(split_file, names)
    else:
        tr, va = dsets.split_indices(names, d.val_fraction, d.split_seed)
    dsets.write_split(out_dir / "split.json", names, tr, va, d.split_seed)
    t0 = time.perf_counter()
    train_t, val_t = table.subset(tr), table.subset(va)
    train_x, ok_tr = dsets.preload(train_t.paths, d.load_size)
    val_x, ok_va = dsets.preload(val_t.paths, d.image_size)
    train_t, val_t = train_t.subset(ok_tr), val_t.subset(ok_va)
    if len(train_t) == 0 or len(val_t) == 0:
        raise dsets.DatasetError(f"no readable images: train {len(train_t)}, val {len(val_t)}")
    log.info(
        "preloaded %d train + %d val faces in %.1f s", len(train_t), len(val_t), time.perf_counter() - t0
    )
    train_names = tuple(n for n, ok in zip((names[i] for i in tr), ok_tr, strict=True) if ok)
    return PreparedData(
        train_x,
        head_labels(train_t, recipe.heads),
        val_x,
        head_labels(val_t, recipe.heads),
        val_t,
        train_names,
    )


def validate_onnx(recipe: TrainRecipe, run_dir: Path, onnx_path: Path) -> dict[str, float]:
    """Validation numbers of an exported model on the run's own split (``run_dir/split.json``).

    Used when the exported weights are not the ones ``train_summary.json`` describes.
    """
    from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend

    table = read_table(recipe)
    _, va = dsets.read_split(run_dir / "split.json", dsets.split_names(table))
    val_t = table.subset(va)
    images, ok = dsets.preload(val_t.paths, recipe.data.image_size)
    val_t = val_t.subset(ok)
    backend = OnnxRuntimeBackend(onnx_path)
    try:
        x = (images.astype(np.float32) - recipe.mean) / recipe.std
        parts = [backend.infer(x[i : i + 256]) for i in range(0, len(x), 256)]
    finally:
        backend.close()
    probs = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return head_scores(probs, head_labels(val_t, recipe.heads), recipe)


def predict_val(
    model: keras.Model, images: np.ndarray, recipe: TrainRecipe, flip: bool = False
) -> dict[str, np.ndarray]:
    """Head probabilities on preloaded uint8 images (optionally averaged with the mirror image)."""
    x = (images.astype(np.float32) - recipe.mean) / recipe.std
    out = {k: np.asarray(v) for k, v in model.predict(x, batch_size=256, verbose=0).items()}
    if flip:
        out_f = model.predict(x[:, :, ::-1], batch_size=256, verbose=0)
        out = {k: (v + np.asarray(out_f[k])) / 2 for k, v in out.items()}
    return out


def head_scores(
    probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], recipe: TrainRecipe
) -> dict[str, float]:
    """val_<head>_mae / _cs5 for the age head, val_<head>_acc for categorical heads, val_loss."""
    out: dict[str, float] = {}
    total = 0.0
    for h in recipe.heads:
        p, y = probs[h.name], labels[h.name]
        loss = float(np.mean(head_loss(h)(tf.constant(y), tf.constant(p)).numpy()))
        total += h.loss_weight * loss
        if h.kind == "age":
            est = expected_age(p)
            out[f"val_{h.name}_mae"] = age_mae(est, y)
            out[f"val_{h.name}_cs5"] = cumulative_score(est, y, 5)
        else:
            out[f"val_{h.name}_acc"] = accuracy(p.argmax(1), y)
    out["val_loss"] = total
    return out


def is_improvement(value: float, best: float | None, monitor: str) -> bool:
    """Whether ``value`` of ``monitor`` beats ``best`` (None: nothing yet). NaN never improves."""
    if not np.isfinite(value):
        return False
    if best is None or not np.isfinite(best):
        return True
    return value > best if higher_is_better(monitor) else value < best


class EpochEnd(keras.callbacks.Callback):
    """Validation metrics, best/last checkpoints, early stopping, time limit, one progress line."""

    def __init__(
        self,
        data: PreparedData,
        recipe: TrainRecipe,
        out_dir: Path,
        state: dict[str, Any],
        steps_per_epoch: int,
    ) -> None:
        super().__init__()
        self.data, self.recipe, self.out_dir, self.state = data, recipe, out_dir, state
        self.steps_per_epoch = steps_per_epoch
        self.schedule: BudgetCosine | None = None  # shortened when the time budget gets tight
        self.average: WeightAverage | None = None  # EMA of the weights, evaluated each epoch
        self.epoch_times: list[float] = []
        self.t_start = time.monotonic() - state.get("elapsed_s", 0.0)
        self.t_epoch = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.t_epoch = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        o = self.recipe.optim
        logs.update(
            head_scores(
                predict_val(self.model, self.data.val_images, self.recipe), self.data.val_labels, self.recipe
            )
        )
        lr = self.model.optimizer.learning_rate
        logs["lr"] = float(lr.numpy() if hasattr(lr, "numpy") else lr)
        value = float(logs[o.monitor])  # the recipe checked that the monitor is logged
        best = self.state.get("best")
        improved = is_improvement(value, best, o.monitor)
        if improved:
            self.state.update(best=value, best_epoch=epoch + 1, wait=0)
            self.model.save_weights(self.out_dir / "best.weights.h5")
        else:
            self.state["wait"] = self.state.get("wait", 0) + 1
        now = time.monotonic()
        epoch_s = now - self.t_epoch
        self.state.update(epoch=epoch + 1, elapsed_s=now - self.t_start)
        self._save_last()
        if self.average is not None:
            ema = self.average.evaluate_and_save(
                lambda: head_scores(
                    predict_val(self.model, self.data.val_images, self.recipe),
                    self.data.val_labels,
                    self.recipe,
                ),
                self.out_dir / "ema.weights.h5",
            )
            logs.update({f"ema_{k}": v for k, v in (ema or {}).items()})
        shown = " ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "lr")
        log.info(
            "epoch %d/%d %.0fs lr %.2e %s%s",
            epoch + 1,
            o.epochs,
            epoch_s,
            logs["lr"],
            shown,
            " *" if improved else "",
        )
        if o.early_stopping_patience and self.state["wait"] >= o.early_stopping_patience:
            log.info("early stop: %s did not improve for %d epochs", o.monitor, self.state["wait"])
            self.model.stop_training = True
        if o.max_minutes:
            self._plan_budget(epoch + 1, now - self.t_start, epoch_s)

    def _plan_budget(self, done: int, elapsed_s: float, epoch_s: float) -> None:
        o = self.recipe.optim
        assert o.max_minutes is not None
        self.epoch_times.append(epoch_s)
        recent = float(np.median(self.epoch_times[-3:]))
        before = int(self.state.get("planned_epochs", o.epochs))
        planned = epochs_in_budget(done, elapsed_s, recent, o.max_minutes * 60, before)
        if len(self.epoch_times) < 2 and planned > done:
            planned = before  # the first epoch includes graph tracing: plan from the second one on
        self.state["planned_epochs"] = planned
        if planned < before:
            log.info("time budget %.1f min: planning %d epochs instead of %d", o.max_minutes, planned, before)
            if self.schedule is not None:
                self.schedule.set_total_steps(planned * self.steps_per_epoch)
        if done >= planned and done < o.epochs:
            log.info("time budget %.1f min: stopping after epoch %d (best kept)", o.max_minutes, done)
            self.state["stopped_by_time"] = True
            self.model.stop_training = True
        (self.out_dir / "state.json").write_text(json.dumps(self.state, indent=1))

    def _save_last(self) -> None:
        self.model.save_weights(self.out_dir / "last.weights.h5")
        opt_vars = {f"v{i}": v.numpy() for i, v in enumerate(self.model.optimizer.variables)}
        np.savez(self.out_dir / "last_optimizer.npz", **opt_vars)
        (self.out_dir / "state.json").write_text(json.dumps(self.state, indent=1))


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def use_bf16(setting: bool | str, gpu: bool | None = None, cpu_bf16: bool | None = None) -> bool:
    """Resolve ``optim.mixed_precision``: ``auto`` is bf16 on a GPU or a CPU with native bf16.

    Elsewhere (an AVX2 CPU) bf16 is emulated: one training step of the shipped network took 2.5 s
    in bf16 against 0.26 s in float32 (docs/BENCHMARKS.md). ``gpu``, ``cpu_bf16``: for tests.
    """
    if setting != "auto":
        return bool(setting)
    if gpu is None:
        gpu = bool(tf.config.list_physical_devices("GPU"))
    return gpu or (cpu_has_bf16() if cpu_bf16 is None else cpu_bf16)


def compile_model(recipe: TrainRecipe, steps_per_epoch: int) -> tuple[keras.Model, BudgetCosine | None]:
    """Build and compile the model for ``recipe`` (mixed precision per config).

    Returns:
        (model, its learning-rate schedule or None for a constant rate).
    """
    o = recipe.optim
    bf16 = use_bf16(o.mixed_precision)
    log.info("mixed precision %s: %s", o.mixed_precision, "bf16" if bf16 else "float32")
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if bf16 else "float32")
    try:
        model = build_model(recipe.model, recipe.heads, recipe.data.image_size)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    total = o.epochs * steps_per_epoch
    warmup = min(int(o.warmup_epochs * steps_per_epoch), total - 1)
    schedule = BudgetCosine(o.lr, warmup, total) if o.schedule == "cosine" else None
    lr: Any = schedule if schedule is not None else o.lr
    opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=o.weight_decay)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    losses: dict[str, Any] = {h.name: head_loss(h) for h in recipe.heads}
    metrics: dict[str, Any] = {h.name: [head_metric(h)] for h in recipe.heads}
    if recipe.distill is not None:  # labels arrive packed: hard label, then teacher probabilities
        from facelog.training.distill import distill_loss, hard_part

        losses = {k: distill_loss(v, recipe.distill.weight) for k, v in losses.items()}
        metrics = {k: [hard_part(m) for m in v] for k, v in metrics.items()}
    model.compile(
        optimizer=opt,
        loss=losses,
        loss_weights={h.name: h.loss_weight for h in recipe.heads},
        metrics=metrics,
    )
    return model, schedule


def make_callbacks(
    recipe: TrainRecipe, out_dir: Path, epoch_end: keras.callbacks.Callback, resume: bool
) -> list[keras.callbacks.Callback]:
    """``epoch_end`` first (it adds the validation metrics the others read), then the loggers."""
    o = recipe.optim
    callbacks = [epoch_end]
    if o.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=o.monitor,
                mode="max" if higher_is_better(o.monitor) else "min",
                factor=o.plateau_factor,
                patience=o.plateau_patience,
                min_delta=0.0,  # "improved" means what it means for checkpoints: is_improvement
                min_lr=o.lr * 1e-3,
                verbose=0,
            )
        )
    callbacks.append(keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=resume))
    if _has_tensorboard():
        callbacks.append(keras.callbacks.TensorBoard(str(out_dir / "tb"), write_graph=False, profile_batch=0))
    else:
        log.info("tensorboard is not installed: no TensorBoard logs (history.csv has the same numbers)")
    return callbacks


def train(recipe: TrainRecipe, out_dir: Path, resume: bool = False, split_file: Path | None = None) -> Path:
    """Run training; return the path of the best weights. ``resume`` continues from ``out_dir/last.*``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(recipe.optim.seed)
    state: dict[str, Any] = {}
    if resume:
        if not (out_dir / "state.json").is_file():
            raise FileNotFoundError(f"nothing to resume: {out_dir / 'state.json'} not found")
        state = json.loads((out_dir / "state.json").read_text())
        split_file = out_dir / "split.json"
    (out_dir / "recipe.json").write_text(recipe.model_dump_json(indent=1))
    data = prepare_data(recipe, out_dir, split_file)
    o = recipe.optim
    steps = max(len(data.train_images) // o.batch_size, 1)
    model, schedule = compile_model(recipe, steps)
    if schedule is not None and "planned_epochs" in state:
        schedule.set_total_steps(int(state["planned_epochs"]) * steps)
    if resume:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(out_dir / "last.weights.h5")
        saved = np.load(out_dir / "last_optimizer.npz")
        for i, var in enumerate(model.optimizer.variables):
            var.assign(saved[f"v{i}"])
        log.info("resumed from epoch %d (best %s = %s)", state["epoch"], o.monitor, state.get("best"))
    train_labels = data.train_labels
    if recipe.distill is not None:
        from facelog.training.distill import pack_labels, read_targets

        soft = read_targets(recipe.distill.targets, data.train_names, [h.name for h in recipe.heads])
        train_labels = pack_labels(train_labels, soft)
        log.info("distilling from %s (weight %.2f)", recipe.distill.targets, recipe.distill.weight)
    codec_images = None
    if recipe.augment.codec.prob:
        from facelog.training.h264 import load_or_build_pool

        codec_images = load_or_build_pool(data.train_images, recipe.augment.codec).images
    ds = train_dataset(
        data.train_images,
        train_labels,
        recipe.augment,
        recipe.data.image_size,
        o.batch_size,
        recipe.mean,
        recipe.std,
        o.seed,
        codec_images,
    )
    epoch_end = EpochEnd(data, recipe, out_dir, state, steps)
    epoch_end.schedule = schedule
    callbacks = make_callbacks(recipe, out_dir, epoch_end, resume)
    if o.ema_decay:
        epoch_end.average = WeightAverage(o.ema_decay, o.ema_every, o.ema_start_epoch, out_dir / "ema.npz")
        if resume:
            epoch_end.average.load()
        callbacks.insert(0, epoch_end.average)
    log.info("training %d params, %d steps/epoch x %d epochs", model.count_params(), steps, o.epochs)
    model.fit(
        ds,
        epochs=o.epochs,
        steps_per_epoch=steps,
        initial_epoch=state.get("epoch", 0),
        callbacks=callbacks,
        verbose=0,
    )
    best = out_dir / "best.weights.h5"
    model.load_weights(best)
    trunk_of(model).save_weights(out_dir / "trunk.weights.h5")
    summary = {
        **state,
        "params": model.count_params(),
        "val_plain": head_scores(predict_val(model, data.val_images, recipe), data.val_labels, recipe),
        "val_flip": head_scores(
            predict_val(model, data.val_images, recipe, flip=True), data.val_labels, recipe
        ),
        "n_train": len(data.train_images),
        "n_val": len(data.val_images),
    }
    (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=1))
    log.info("best epoch %s: %s", state.get("best_epoch"), summary["val_plain"])
    log.info("with flip averaging: %s", summary["val_flip"])
    return best
