"""The tracker's motion model: a constant-velocity Kalman filter on a face box (``tracker.Tracker``),
and the clock its motion is counted in (``FrameClock``).

State ``(cx, cy, w, h)`` and their velocities per frame of the clock; process and measurement noise
scale with the box size, so a 24-px face and a 160-px face are followed alike.

The clock: a source's time in frames of a 25-fps source (``REFERENCE_FPS``). The tracker's limits
(``tracking.*_frames``), its Kalman velocities and a file run's detection regions (``detect.roi``)
count frames. Counted as the source's own frames, a camera that records 5 frames a second would move
its faces five times as far per counted frame as the 25-fps clips those limits were measured on: on
the CCTV clips recorded at 5 fps (every 5th frame of the 25-fps clips) fast walkers got a new track at
every frame, and regions around the known faces missed 3-5% of the faces whole frames found
(docs/BENCHMARKS.md, "Cameras that record 5 and 8 frames a second"). ``FrameClock`` counts
frames of 25 fps instead, from the frames' timestamps: a 5-fps recording steps 5 a frame, as a 25-fps
file analysed every 5th frame does, and a 30-fps one 0.83. Where timestamps are missing or do not
increase, a frame of the source counts as one.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np


class KalmanNoise(Protocol):
    """The noise levels ``BoxKalman`` reads (``track.TrackerParams`` has them)."""

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

    def shift(self, dx: float, dy: float) -> None:
        """Move the box by (dx, dy) px, velocity and uncertainty unchanged (the camera moved)."""
        self.x[0] += dx
        self.x[1] += dy

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


REFERENCE_FPS = 25
_NS_PER_FRAME = 1e9 / REFERENCE_FPS


class FrameClock:
    """The clock of one source, advanced once per processed frame, in order.

    ``now``: this frame's time in frames of ``REFERENCE_FPS`` (float); ``tick``: the same as a whole
    number that grows by at least one a frame (for counters that need whole frames: a 30-fps source
    ticks one a frame, a 5-fps one five); ``index``: this frame's ``frame_index`` (None before the
    first frame after a ``reset``).

    Example:
        >>> c = FrameClock()
        >>> [c.advance(k, k * 200_000_000) for k in range(3)]  # 5 fps
        [0.0, 5.0, 10.0]
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a new source, a reconnect): the next frame starts the clock at
        its own index."""
        self.index: int | None = None
        self._pts: int | None = None
        self.now = 0.0
        self.tick = 0

    def advance(self, frame_index: int, pts_ns: int | None = None) -> float:
        """Move the clock to the frame ``frame_index`` (its timestamp ``pts_ns``, if known) and return
        ``now``: the previous frame's plus the time between their timestamps, or plus their index
        difference without increasing timestamps. An index that does not increase restarts the clock
        (a new source)."""
        if self.index is None or frame_index <= self.index:
            self.now, self.tick = float(frame_index), frame_index
        else:
            if pts_ns is not None and self._pts is not None and pts_ns > self._pts:
                self.now += (pts_ns - self._pts) / _NS_PER_FRAME
            else:
                self.now += frame_index - self.index
            self.tick = max(self.tick + 1, round(self.now))
        self.index, self._pts = frame_index, pts_ns
        return self.now
