"""A source's clock: its time in frames of a 25-fps source (``REFERENCE_FPS``).

The tracker's limits (``tracking.*_frames``), its Kalman velocities and a file run's detection regions
(``detect.roi``) count frames. Counted as the source's own frames, a camera that records 5 frames a
second would move its faces five times as far per counted frame as the 25-fps clips those limits were
measured on: on the CCTV clips recorded at 5 fps (every 5th frame of the 25-fps clips) fast walkers
got a new track at every frame, and regions around the known faces missed 3-5% of the faces whole
frames found at the same CPU (docs/BENCHMARKS.md, "Cameras that record 5 and 8 frames a second").
``FrameClock`` counts frames of 25 fps instead, from the frames' timestamps: a 5-fps recording steps
5 a frame, as a 25-fps file analysed every 5th frame does, and a 30-fps one 0.83. Where timestamps are
missing or do not increase, a frame of the source counts as one.
"""

from __future__ import annotations

REFERENCE_FPS = 25
_NS_PER_FRAME = 1e9 / REFERENCE_FPS


class FrameClock:
    """The clock of one source, advanced once per processed frame, in order.

    ``now``: this frame's time in frames of ``REFERENCE_FPS`` (float); ``tick``: the same as a whole
    number that grows by at least one a frame (for counters that need whole frames: a 30-fps source
    ticks one a frame, a 5-fps one five).

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
        self._index: int | None = None
        self._pts: int | None = None
        self.now = 0.0
        self.tick = 0

    @property
    def started(self) -> bool:
        """Whether a frame was seen since the last ``reset``."""
        return self._index is not None

    def advance(self, frame_index: int, pts_ns: int | None = None) -> float:
        """Move the clock to the frame ``frame_index`` (its timestamp ``pts_ns``, if known) and return
        ``now``: the previous frame's plus the time between their timestamps, or plus their index
        difference without increasing timestamps. An index that does not increase restarts the clock
        (a new source)."""
        if self._index is None or frame_index <= self._index:
            self.now, self.tick = float(frame_index), frame_index
        else:
            if pts_ns is not None and self._pts is not None and pts_ns > self._pts:
                self.now += (pts_ns - self._pts) / _NS_PER_FRAME
            else:
                self.now += frame_index - self._index
            self.tick = max(self.tick + 1, round(self.now))
        self._index, self._pts = frame_index, pts_ns
        return self.now
