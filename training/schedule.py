"""Learning-rate schedule that fits a wall-time budget: warm-up, then cosine to the planned last epoch.

With ``optim.max_minutes`` a run on a shared, noisy machine may not reach ``optim.epochs``. Instead
of cutting a cosine schedule half-way (high learning rate at the stop), the training callback
re-plans the number of epochs that fit (``epochs_in_budget``) and shortens the schedule, so the
learning rate still anneals before the budget ends.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf


def epochs_in_budget(done: int, elapsed_s: float, epoch_s: float, budget_s: float, planned: int) -> int:
    """Epochs to plan in total: ``done`` plus those that still fit; never more than ``planned``.

    Args:
        done: epochs finished so far (>= 1).
        elapsed_s: wall time used so far.
        epoch_s: expected time of one more epoch (e.g. the median of recent epochs).
        budget_s: the whole wall-time budget.
        planned: the current plan (initially ``optim.epochs``); the plan only ever shrinks.
    """
    if epoch_s <= 0:
        raise ValueError(f"epoch_s must be > 0, got {epoch_s}")
    fit = math.floor(max(budget_s - elapsed_s, 0.0) / epoch_s)
    return max(done, min(planned, done + fit))


class BudgetCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 5% of ``peak`` over ``warmup_steps``, then cosine to 1% of ``peak`` at

    ``total_steps``; ``set_total_steps`` moves the end while training runs.
    """

    def __init__(self, peak: float, warmup_steps: int, total_steps: int) -> None:
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.total = tf.Variable(float(total_steps), trainable=False, dtype=tf.float32, name="lr_total_steps")

    def set_total_steps(self, total_steps: int) -> None:
        self.total.assign(float(total_steps))

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warm = float(max(self.warmup_steps, 1))
        warm_lr = self.peak * (0.05 + 0.95 * step / warm)
        span = tf.maximum(self.total - self.warmup_steps, 1.0)
        progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        cos_lr = self.peak * (0.01 + 0.99 * 0.5 * (1.0 + tf.cos(math.pi * progress)))
        return tf.where(step < self.warmup_steps, warm_lr, cos_lr)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": float(self.total.numpy()),
        }
