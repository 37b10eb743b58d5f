"""Exponential moving average (EMA) of all model weights, BatchNorm statistics included.

Keras' own ``use_ema`` averages only trainable variables (the BN moving statistics then belong to
other weights); this callback averages ``model.get_weights()`` in NumPy every ``every`` steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

log = logging.getLogger(__name__)


class WeightAverage(keras.callbacks.Callback):
    """EMA of the weights; ``on_epoch_end`` of ``EpochEnd`` calls ``evaluate_and_save``.

    Args:
        decay: per-step decay (0.998 ~ a horizon of 500 steps); applied as ``decay ** every``.
        every: update interval in steps.
        start_epoch: the average starts (as a copy of the weights) at this epoch.
        state_path: ``.npz`` holding the average, for ``--resume``.
    """

    def __init__(self, decay: float, every: int, start_epoch: int, state_path: Path) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay, self.every, self.start_epoch, self.state_path = decay, every, start_epoch, state_path
        self.avg: list[np.ndarray] | None = None
        self.epoch = 0
        self.step = 0

    def load(self) -> None:
        """Restore the average saved by an earlier run (no file: start fresh)."""
        if self.state_path.is_file():
            saved = np.load(self.state_path)
            self.avg = [saved[f"w{i}"] for i in range(len(saved.files))]
            log.info("resumed the weight average from %s", self.state_path)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.step += 1
        if self.epoch < self.start_epoch or self.step % self.every:
            return
        weights = self.model.get_weights()
        if self.avg is None:
            self.avg = [np.array(w, np.float32) for w in weights]
            return
        d = self.decay**self.every
        for a, w in zip(self.avg, weights, strict=True):
            a *= d
            a += (1.0 - d) * w

    def evaluate_and_save(
        self, evaluate: Callable[[], dict[str, float]], weights_path: Path
    ) -> dict[str, float] | None:
        """With the average swapped in: ``evaluate()`` and save it to ``weights_path``; then swap back."""
        if self.avg is None:
            return None
        live = self.model.get_weights()
        self.model.set_weights(self.avg)
        try:
            scores = evaluate()
            self.model.save_weights(weights_path)
        finally:
            self.model.set_weights(live)
        arrays: dict[str, Any] = {f"w{i}": a for i, a in enumerate(self.avg)}
        np.savez(self.state_path, **arrays)
        return scores
