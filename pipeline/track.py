"""A light IoU tracker: track ids across frames, smoothed age and majority gender per track.

Greedy matching by IoU between this frame's boxes and each live track's last box. A track that
finds no match for more than ``max_missed`` processed frames ends; ids are never reused within a
source. Per track, age is smoothed by a running mean (or an EMA) and gender is the majority of the
per-frame labels (ties go to the higher summed probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.types import Gender, Prediction


@dataclass(slots=True)
class _Track:
    track_id: int
    box: np.ndarray
    missed: int = 0
    n: int = 0
    age: float = 0.0  # running mean or EMA
    votes: dict[str, int] = field(default_factory=dict)
    mass: dict[str, float] = field(default_factory=dict)

    def update(self, p: Prediction, cfg: TrackingConfig) -> None:
        self.n += 1
        if cfg.smoothing == "ema" and self.n > 1:
            self.age += cfg.ema_alpha * (p.age - self.age)
        else:
            self.age += (p.age - self.age) / self.n
        self.votes[p.gender] = self.votes.get(p.gender, 0) + 1
        self.mass[p.gender] = self.mass.get(p.gender, 0.0) + p.gender_score

    def gender(self) -> Gender:
        best = max(self.votes, key=lambda g: (self.votes[g], self.mass[g]))
        return "female" if best == "female" else "male"


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between (n, 4) and (m, 4) xyxy boxes: (n, m)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)).astype(np.float32)


class IouTracker:
    """Tracks faces of one source. Call ``update`` once per processed frame, in frame order."""

    def __init__(self, cfg: TrackingConfig) -> None:
        self.cfg = cfg
        self._tracks: list[_Track] = []
        self._next_id = 0

    def reset(self) -> None:
        """Forget live tracks (after a reconnect or a seek); ids keep increasing."""
        self._tracks = []

    def update(self, predictions: tuple[Prediction, ...]) -> tuple[Prediction, ...]:
        """Assign track ids and smoothed values to one frame's predictions (same order)."""
        boxes = np.array([p.xyxy for p in predictions], np.float32).reshape(-1, 4)
        live = np.array([t.box for t in self._tracks], np.float32).reshape(-1, 4)
        ious = iou_matrix(boxes, live)
        assigned: dict[int, _Track] = {}
        used: set[int] = set()
        # greedy: best IoU pairs first
        for flat in np.argsort(-ious, axis=None) if ious.size else ():
            i, j = divmod(int(flat), len(self._tracks))
            if ious[i, j] < self.cfg.iou_threshold:
                break
            if i in assigned or j in used:
                continue
            assigned[i] = self._tracks[j]
            used.add(j)
        out = []
        for i, p in enumerate(predictions):
            t = assigned.get(i)
            if t is None:
                t = _Track(self._next_id, boxes[i])
                self._next_id += 1
                self._tracks.append(t)
            t.box, t.missed = boxes[i], 0
            t.update(p, self.cfg)
            out.append(replace(p, track_id=t.track_id, age_smooth=t.age, gender_smooth=t.gender()))
        matched = {id(t) for t in assigned.values()} | {id(t) for t in self._tracks[len(live) :]}
        for t in self._tracks:
            if id(t) not in matched:
                t.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.cfg.max_missed]
        return tuple(out)
