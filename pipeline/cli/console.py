"""What the CLI prints on failure: one line, ``facelog: error: <message>``, never a traceback."""

from __future__ import annotations

import sys

from facelog.pipeline.errors import first_line

USAGE_EXIT = 2  # bad usage, config, model or backend


def print_error(message: object) -> None:
    """Print ``facelog: error: <first line of message>`` on stderr."""
    print(f"facelog: error: {first_line(message)}", file=sys.stderr)


def fail(message: object) -> int:
    """Print the error line and return the usage exit code (2)."""
    print_error(message)
    return USAGE_EXIT
