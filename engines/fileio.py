"""File primitives every package shares: atomic writes and a file's sha256.

An output appears under its final name only when complete: it is written to ``temp_path(final)``
(a hidden name in the same folder, so the rename stays on one file system), fsynced, renamed with
``os.replace``, and the folder is fsynced. ``commit_file`` is the one place that renames an output.
Stale temporary files left by a crash match ``TEMP_NAME``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# ".<final name>.tmp-<pid><final suffix>": hidden, per process, and keeping the suffix so that tools
# that pick a format by it (FFmpeg's muxer, matplotlib's savefig) still do.
TEMP_NAME = re.compile(r"^\..+\.tmp-\d+(\.[A-Za-z0-9]+)?$")


def temp_path(final: str | Path) -> Path:
    """The temporary name ``final`` is written under before ``commit_file`` renames it."""
    final = Path(final)
    return final.with_name(f".{final.name}.tmp-{os.getpid()}{final.suffix}")


def commit_file(tmp: str | Path, final: str | Path) -> Path:
    """fsync ``tmp``, rename it to ``final`` (atomically replacing it) and fsync the folder (POSIX).

    Returns:
        ``final`` as a Path.
    """
    tmp, final = Path(tmp), Path(final)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    try:
        fd = os.open(final.parent, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some systems: the rename itself is done
        return final
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def write_bytes_atomic(final: str | Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``final`` atomically (temporary name, fsync, rename)."""
    tmp = temp_path(final)
    try:
        tmp.write_bytes(data)
        return commit_file(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(final: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``final`` atomically."""
    return write_bytes_atomic(final, text.encode("utf-8"))


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (streamed in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
