"""Typed errors of the pipeline. The CLI prints each as one line: ``facelog: error: <message>``."""

from __future__ import annotations

from facelog.engines.base import ConfigError  # the one ConfigError (a ValueError; the CLI prints it)


class FacelogError(Exception):
    """Base of every error the CLI reports as one line without a traceback."""


__all__ = ["ConfigError", "FacelogError", "ModelError", "SourceError"]


class SourceError(FacelogError):
    """An input cannot be read as video: missing, empty, not a video, unsupported codec or truncated.

    Attributes:
        path: the input as given.
        partial: for a truncated input, the file that holds the rows read before the break (else None).
    """

    def __init__(self, message: str, *, path: str = "", partial: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.partial = partial


class ModelError(FacelogError):
    """The age/gender model or the detector weights cannot be found or loaded."""
