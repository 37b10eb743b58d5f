"""Progress of a file run on stderr: a tqdm bar on a terminal, plain lines in a log file.

A bar redraws itself with carriage returns, which turn a log file into one long line of frames.
When stderr is not a terminal (``2>log``, systemd, docker logs), ``LineProgress`` writes one plain
line every ``interval_s`` instead::

    facelog: progress: clip.mp4: 1200/4100 frames (29%), 45.2 fps, 310 faces, ETA 64 s
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

LOG_INTERVAL_S = 10.0


class Progress(Protocol):
    """What a file run reports as frames are written."""

    def update(self, frames_done: int, faces: int) -> None:
        """``frames_done``: frames of the file passed so far (read order); ``faces``: found so far."""

    def close(self) -> None: ...


class BarProgress:
    """A tqdm bar (terminals only)."""

    def __init__(self, total: int, name: str, stream: TextIO) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(
            total=total or None, desc=name, unit="frame", dynamic_ncols=True, leave=False, file=stream
        )

    def update(self, frames_done: int, faces: int) -> None:
        self._bar.update(frames_done - self._bar.n)
        self._bar.set_postfix(faces=faces, refresh=False)

    def close(self) -> None:
        self._bar.close()


class LineProgress:
    """One plain line (no carriage return) every ``interval_s`` seconds, for log files.

    Args:
        total: frames the container announces (0: unknown, no percentage or ETA).
        name: the file's name, at the start of each line.
        stream: where lines go (stderr).
        interval_s: seconds between lines; nothing is written for runs shorter than that.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        total: int,
        name: str,
        stream: TextIO,
        interval_s: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.name, self._stream = total, name, stream
        self.interval_s, self._clock = interval_s, clock
        self._t0 = clock()
        self._next = self._t0 + interval_s

    def update(self, frames_done: int, faces: int) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self.interval_s
        self._stream.write(self.line(frames_done, faces, now - self._t0) + "\n")
        self._stream.flush()

    def line(self, frames_done: int, faces: int, elapsed_s: float) -> str:
        """The progress line after ``elapsed_s`` seconds."""
        fps = frames_done / elapsed_s if elapsed_s > 0 else 0.0
        done = f"{frames_done} frames"
        if self.total:
            done = f"{frames_done}/{self.total} frames ({100 * frames_done / self.total:.0f}%)"
        eta = ""
        if self.total and fps > 0:
            eta = f", ETA {max(self.total - frames_done, 0) / fps:.0f} s"
        return f"facelog: progress: {self.name}: {done}, {fps:.1f} fps, {faces} faces{eta}"

    def close(self) -> None:
        return None


def make_progress(enabled: bool, total: int, name: str, stream: TextIO | None = None) -> Progress | None:
    """A bar when ``stream`` (default stderr) is a terminal, log lines when not, None when disabled."""
    if not enabled:
        return None
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return BarProgress(total, name, stream)
    return LineProgress(total, name, stream)
