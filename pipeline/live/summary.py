"""The summary of a live run (``<out>/rtsp_summary.json``), written once when the run stops.

Built from counts the run owns (each camera's reader and the processing loop), not read back from
the Prometheus registry, and written atomically like a file run's summary (``engines.fileio``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facelog.engines.fileio import write_text_atomic
from facelog.pipeline.live.redact import redact_text

SUMMARY_NAME = "rtsp_summary.json"


@dataclass(slots=True)
class LoopCounts:
    """What the processing loop counted for one camera (its reader counts the frames it read)."""

    frames_processed: int = 0
    faces: int = 0
    faces_ignored: int = 0  # in the camera's ignore zones (``FrameResult.ignored``)


@dataclass(frozen=True, slots=True)
class CameraSummary:
    """One camera of a live run (no credentials: ``url`` is redacted)."""

    url: str
    state: str  # the reader's last state: stopped, failed...
    last_error: str
    connections: int
    reconnects: int
    frames_read: int
    frames_dropped: int  # replaced in the one-frame mailbox before the loop took them
    frames_skipped: int  # left out by sampling
    frames_processed: int
    # keeping up: analysed rate (first to last analysed frame) against the target
    analysed_fps: float
    target_fps: float | None
    dropped_share: float
    keeping_up: bool
    faces: int
    faces_ignored: int  # detections in the camera's ignore zones, dropped (pipeline/detect/zones.py)
    rows: int
    files: list[str]  # the camera's frame CSVs, one per rotation period
    persons: int  # people counted: tracks CSV rows with status "person", as a file run's summary
    tracks_rows: int  # tracks CSV rows, every status
    left_out: dict[str, int]  # tracks CSV rows left out of ``persons``, by status (static, no_face)
    joined: int  # tracks joined to a person written (its ``pieces``): not counted again (tracking/join.py)
    tracks_files: list[str]
    detector: dict[str, Any]  # ``Detector.describe()`` of the camera's detector; {} before a frame
    # the camera's frames were interlaced: one field kept from this analysed frame on (frames/interlace.py)
    interlaced_from: int | None = None
    # a stored pixel's width over its height on the last connection; frames resized to square pixels
    # when it is not 1 (frames/aspect.py)
    sample_aspect: float = 1.0


@dataclass(frozen=True, slots=True)
class LiveSummary:
    """Every camera of a live run, by name."""

    cameras: dict[str, CameraSummary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, folder: Path, secrets: set[str]) -> Path:
        """Write ``folder/SUMMARY_NAME`` atomically (never half a summary), with ``secrets`` masked."""
        text = redact_text(json.dumps(self.to_dict(), indent=2, sort_keys=True), secrets)
        folder.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(folder / SUMMARY_NAME, text + "\n")
