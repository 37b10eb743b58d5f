"""A light IoU tracker: track ids across frames, smoothed age and majority gender per track.

Greedy matching by IoU between this frame's boxes and each live track's last box. A track that
finds no match for more than ``max_missed`` processed frames ends; ids are never reused within a
source. Per track, age is smoothed by a running mean (or an EMA) and gender is the majority of the
per-frame labels (ties go to the higher summed probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from facelog.pipeline.boxes import iou_matrix
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


class IouTracker:
    """Tracks faces of one source. Call ``update`` once per processed frame, in frame order."""

    def __init__(self, cfg: TrackingConfig) -> None:
        self.cfg = cfg
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_index: int | None = None

    def reset(self) -> None:
        """Forget live tracks and the frame order (after a reconnect or a seek); ids keep increasing."""
        self._tracks = []
        self._last_index = None

    def update(
        self, predictions: tuple[Prediction, ...], frame_index: int | None = None
    ) -> tuple[Prediction, ...]:
        """Assign track ids and smoothed values to one frame's predictions (same order).

        Args:
            predictions: the frame's faces.
            frame_index: the frame's index; when given, it must increase from call to call.

        Raises:
            ValueError: ``frame_index`` is not after the previous frame's (frames out of order).
        """
        if frame_index is not None:
            if self._last_index is not None and frame_index <= self._last_index:
                raise ValueError(
                    f"frames must come in increasing index order: got frame {frame_index} after "
                    f"frame {self._last_index} (reset() after a seek or a reconnect)"
                )
            self._last_index = frame_index
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
