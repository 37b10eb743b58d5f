"""What the CLI prints on failure: one line, ``facelog: error: <message>``, never a traceback."""

from __future__ import annotations

from facelog.engines.base import print_error

__all__ = ["USAGE_EXIT", "fail", "print_error"]

USAGE_EXIT = 2  # bad usage, config, model or backend


def fail(message: object) -> int:
    """Print the error line and return the usage exit code (2)."""
    print_error(message)
    return USAGE_EXIT
