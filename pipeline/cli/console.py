"""What the CLI prints on failure: one line, ``facelog: error: <message>``, never a traceback."""

from __future__ import annotations

import sys

USAGE_EXIT = 2  # bad usage, config, model or backend


def first_line(message: object) -> str:
    """The first non-empty line of ``message`` (an exception or a string), or its type name."""
    text = str(message).strip()
    if text:
        return text.splitlines()[0]
    return type(message).__name__ if isinstance(message, BaseException) else "unknown error"


def print_error(message: object) -> None:
    """Print ``facelog: error: <first line of message>`` on stderr."""
    print(f"facelog: error: {first_line(message)}", file=sys.stderr)


def fail(message: object) -> int:
    """Print the error line and return the usage exit code (2)."""
    print_error(message)
    return USAGE_EXIT
