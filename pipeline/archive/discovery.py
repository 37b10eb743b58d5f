"""The archive and output folder layout of ``facelog batch``: discovery, mirrored output paths,
the output folder's lock and the clean-up of temporary files an interrupted run left behind."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facelog.engines.fileio import TEMP_NAME, write_text_atomic
from facelog.pipeline.errors import FacelogError

log = logging.getLogger(__name__)

LOCK_NAME = ".facelog_batch.lock"
OUTPUT_SUFFIX = ".csv"
# Temporary names this package writes (the runner's CSV/summary temps and our own): removed at start.
# temporary files of an interrupted run: engines.fileio's names, and the older ".x.tmp" / ".tmp-<pid>" ones
STALE_TEMP = re.compile(rf"({TEMP_NAME.pattern})|(^\..*\.tmp(\.[A-Za-z0-9]+)?$)|(\.tmp-[A-Za-z0-9_-]+$)")


class BatchError(FacelogError):
    """The batch run cannot start (bad archive folder, another run holds the output folder...)."""


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One video found in the archive."""

    rel_path: str  # relative to the archive, posix separators
    path: Path
    size: int
    mtime_ns: int


# ------------------------------------------------------------------ discovery
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over archive-relative posix paths: ``**/`` any folders, ``*``/``?`` within one
    name, ``[...]`` classes; matched case-insensitively (cameras write ``.MP4`` as often as ``.mp4``)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
            continue
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 1
        elif c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (j := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : j]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def parse_since(text: str) -> dt.datetime:
    """``--since``: an ISO date or datetime (UTC when no offset), or a span back from now: 36h, 7d."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([hd])", text.strip())
    if m:
        hours = float(m[1]) * (24 if m[2] == "d" else 1)
        return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"--since must be an ISO date/datetime or a span like 36h or 7d, got {text!r}"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def discover(
    archive: Path, patterns: Sequence[str], *, since: dt.datetime | None = None, exclude: Sequence[Path] = ()
) -> list[ArchiveFile]:
    """Videos under ``archive`` matching any of ``patterns``, sorted by path.

    Hidden files and folders (a leading dot: recorders' partial files) and anything under
    ``exclude`` (the output folder when it sits inside the archive) are left out; with ``since``,
    so are files last modified before it.
    """
    if not archive.is_dir():
        raise BatchError(
            f"archive must be a folder, got {archive} ({'missing' if not archive.exists() else 'a file'})"
        )
    if not patterns:
        raise ValueError("patterns must not be empty")
    regexes = [glob_regex(p) for p in patterns]
    skip_dirs = {p.resolve() for p in exclude}
    since_ns = int(since.timestamp() * 1e9) if since else None
    found = []
    for dirpath, dirnames, filenames in os.walk(archive):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in skip_dirs
        )
        for name in filenames:
            path = here / name
            rel = path.relative_to(archive).as_posix()
            if name.startswith(".") or not any(r.match(rel) for r in regexes):
                continue
            try:
                info = path.stat()
            except OSError as exc:  # vanished or unreadable folder entry: the caller records it
                log.warning("cannot stat %s: %s", path, exc)
                info = None
            if info is not None and since_ns is not None and info.st_mtime_ns < since_ns:
                continue
            found.append(
                ArchiveFile(rel, path, info.st_size if info else -1, info.st_mtime_ns if info else 0)
            )
    return sorted(found, key=lambda f: f.rel_path)


# ------------------------------------------------------------------ output folder
def output_path(out_dir: Path, rel_path: str) -> Path:
    """The CSV of one archive file: the archive tree mirrored, full file name + ``.csv``."""
    return out_dir / (rel_path + OUTPUT_SUFFIX)


def clean_stale_temps(out_dir: Path) -> list[Path]:
    """Remove temporary files a killed run left in ``out_dir`` (never a complete output)."""
    removed = []
    for dirpath, _, filenames in os.walk(out_dir):
        for name in filenames:
            if STALE_TEMP.search(name) and name != LOCK_NAME:
                p = Path(dirpath) / name
                p.unlink(missing_ok=True)
                removed.append(p)
    if removed:
        log.info("removed %d stale temporary file(s) from an interrupted run", len(removed))
    return removed


@contextmanager
def exclusive_lock(out_dir: Path) -> Iterator[None]:
    """Hold an flock on OUT/.facelog_batch.lock; the kernel drops it when the process dies."""
    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BatchError(
                f"another facelog batch is running on {out_dir} (lock {LOCK_NAME} is held)"
            ) from exc
        yield
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """``data`` as indented, key-sorted JSON, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
