"""Typed errors of the pipeline. The CLI prints each as one line: ``facelog: error: <message>``."""

from __future__ import annotations

# the one error root and the one ConfigError live in engines (the layer everything imports)
from facelog.engines.base import BackendUnavailable, ConfigError, FacelogError, first_line

__all__ = ["BackendUnavailable", "ConfigError", "FacelogError", "ModelError", "SourceError", "first_line"]


class SourceError(FacelogError):
    """An input cannot be read as video: missing, empty, not a video, unsupported codec or truncated.

    Attributes:
        path: the input as given.
        partial: for a truncated input, the file that holds the rows read before the break (else None).
        partial_tracks: for a truncated input with tracking, the file that holds the persons of
            those rows (one row per track, ended at the break; else None).
    """

    def __init__(
        self, message: str, *, path: str = "", partial: str | None = None, partial_tracks: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.partial = partial
        self.partial_tracks = partial_tracks


class ModelError(FacelogError):
    """The age/gender model or the detector weights cannot be found or loaded."""
