"""The tracker's motion model: a constant-velocity Kalman filter on a face box (``tracker.Tracker``).

State ``(cx, cy, w, h)`` and their velocities per frame of the tracker's clock (25 fps); process and
measurement noise scale with the box size, so a 24-px face and a 160-px face are followed alike.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np


class KalmanNoise(Protocol):
    """The noise levels ``BoxKalman`` reads (``tracker.TrackerParams`` has them)."""

    @property
    def std_position(self) -> float:
        """Measurement and process noise of positions and sizes, per unit of box size."""
        ...

    @property
    def std_velocity(self) -> float:
        """Process noise of velocities, per unit of box size per frame."""
        ...

    @property
    def init_std_velocity(self) -> float:
        """Initial velocity uncertainty, per unit of box size per frame."""
        ...


class BoxKalman:
    """Constant-velocity Kalman filter on (cx, cy, w, h, vcx, vcy, vw, vh); noise scales with size.

    The four coordinates share one motion model, start with the same variances and get the same
    process and measurement noise, so their 8x8 covariance stays four identical 2x2 (position,
    velocity) blocks: it is kept as the three numbers of one block (``pp``, ``pv``, ``vv``), which
    gives the 8x8 filter's results at a fraction of its cost.
    """

    __slots__ = ("p", "pp", "pv", "vv", "x")

    def __init__(self, box_xyxy: np.ndarray, p: KalmanNoise) -> None:
        self.p = p
        z = _to_cxcywh(box_xyxy)
        self.x = np.concatenate([z, np.zeros(4)])
        s = _size(z)
        self.pp = (2 * p.std_position * s) ** 2
        self.pv = 0.0
        self.vv = (p.init_std_velocity * s) ** 2

    def predict(self, dt_frames: float) -> None:
        dt = float(dt_frames)
        s = _size(self.x[:4])
        x = self.x
        x[:4] += dt * x[4:]
        x[2:4] = np.maximum(x[2:4], 1.0)  # a shrinking lost box never inverts
        pp, pv, vv = self.pp, self.pv, self.vv
        self.pp = pp + 2 * dt * pv + dt * dt * vv + (self.p.std_position * s) ** 2 * dt
        self.pv = pv + dt * vv
        self.vv = vv + (self.p.std_velocity * s) ** 2 * dt

    def update(self, box_xyxy: np.ndarray) -> None:
        z = _to_cxcywh(box_xyxy)
        r = (self.p.std_position * _size(self.x[:4])) ** 2
        k_pos, k_vel = self.pp / (self.pp + r), self.pv / (self.pp + r)  # Kalman gain of each block
        innovation = z - self.x[:4]
        self.x[:4] += k_pos * innovation
        self.x[4:] += k_vel * innovation
        self.vv -= k_vel * self.pv
        self.pv -= k_pos * self.pv
        self.pp -= k_pos * self.pp

    def position_std(self) -> float:
        """Standard deviation (px) of the predicted centre: large for a young or long-lost track."""
        return math.sqrt(self.pp)

    def box(self) -> np.ndarray:
        """The predicted (or updated) box, xyxy (4,)."""
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


def _size(cxcywh: np.ndarray) -> float:
    return float(np.sqrt(max(cxcywh[2], 1.0) * max(cxcywh[3], 1.0)))
