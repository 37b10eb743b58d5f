"""Typed errors of the pipeline. The CLI prints each as one line: ``facelog: error: <message>``."""

from __future__ import annotations


class FacelogError(Exception):
    """Base of every error the CLI reports as one line without a traceback."""


class ConfigError(FacelogError, ValueError):
    """A config file or override is invalid (unknown key, wrong type, inconsistent values)."""


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
