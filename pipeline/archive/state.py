"""The batch job's state: one SQLite database in the output folder, owned by the driver process.

Each archive file has one row in ``files`` (keyed by its path relative to the archive) saying what
happened to it last: ``running`` (dispatched; a crash leaves it so and the next run redoes it),
``done`` (its CSV is complete and in place), ``failed`` (with the error) or ``skipped`` (seen but
deliberately not processed, with the reason). The row also stores the identity the result was
computed from (size, mtime, content fingerprint, model id, config hash), so a rerun can tell
whether the file, the model or the config changed. ``runs`` keeps one row per ``facelog batch``
invocation.

Only the driver writes here (workers and Ray tasks never touch SQLite). WAL mode keeps readers
(``sqlite3 state.sqlite3 'select ...'`` while a run is going) from blocking the writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from facelog.pipeline.errors import FacelogError

log = logging.getLogger(__name__)

STATE_DB_NAME = "facelog_state.sqlite3"
SCHEMA_VERSION = 1
FINGERPRINT_CHUNK_BYTES = 1 << 20  # first and last MiB

STATUSES = ("running", "done", "failed", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    rel_path    TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'skipped')),
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    model_id    TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    output      TEXT,             -- CSV path relative to the output folder (done rows)
    rows        INTEGER,          -- CSV data rows
    frames      INTEGER,
    faces       INTEGER,
    video_s     REAL,             -- media duration processed
    wall_s      REAL,             -- wall-clock seconds the task took in its worker
    error       TEXT,             -- failed: the error; skipped: the reason
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_id      TEXT NOT NULL,
    updated_at  REAL NOT NULL     -- unix seconds
);
CREATE INDEX IF NOT EXISTS files_status ON files (status);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    started_at  REAL NOT NULL,
    finished_at REAL,
    summary     TEXT              -- JSON, see batch.RunReport
);
"""


class StateError(FacelogError, RuntimeError):
    """The state database cannot be used (wrong schema version, locked by another run...)."""


class Action(StrEnum):
    PROCESS = "process"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What a result was computed from; any change means the stored result is stale."""

    size: int
    mtime_ns: int
    fingerprint: str
    model_id: str
    config_hash: str


@dataclass(frozen=True, slots=True)
class FileRow:
    """One row of ``files``."""

    rel_path: str
    status: str
    size: int
    mtime_ns: int
    fingerprint: str
    model_id: str
    config_hash: str
    output: str | None
    rows: int | None
    frames: int | None
    faces: int | None
    video_s: float | None
    wall_s: float | None
    error: str | None
    attempts: int
    run_id: str
    updated_at: float


def fingerprint(path: str | Path, chunk_bytes: int = FINGERPRINT_CHUNK_BYTES) -> str:
    """Fast content fingerprint: sha256 over the size, the first and the last ``chunk_bytes``.

    Reads at most 2 MiB whatever the file size, so a nightly rescan of a large archive stays cheap.
    A change inside the middle of a file that keeps its size is not seen; recorders append or
    rewrite whole files, which this catches.

    Raises:
        OSError: the file cannot be read.
    """
    p = Path(path)
    h = hashlib.sha256()
    with p.open("rb") as f:
        size = f.seek(0, 2)
        h.update(f"size={size};".encode())
        f.seek(0)
        h.update(f.read(chunk_bytes))
        if size > chunk_bytes:
            f.seek(max(chunk_bytes, size - chunk_bytes))
            h.update(f.read(chunk_bytes))
    return h.hexdigest()


def config_hash(values: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the settings that shape the outputs."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def decide(
    row: FileRow | None, current: FileIdentity, *, retry_failed: bool, output_exists: bool
) -> tuple[Action, str]:
    """Whether a file needs processing given its stored row, and why (for logs and the summary).

    A done row is reused only when the file content, the model and the config are unchanged and its
    CSV is still there. Failed files are retried only when asked or when the file itself changed
    (not for a new model or config: the failure was the file's).
    """
    if row is None:
        return Action.PROCESS, "new"
    if row.size != current.size or row.fingerprint != current.fingerprint:
        return Action.PROCESS, "file changed"
    if row.status == "failed":  # a bad file stays bad whatever the model: retried only when asked
        return (Action.PROCESS, "retry failed") if retry_failed else (Action.SKIP, "failed before")
    if row.model_id != current.model_id:
        return Action.PROCESS, "model changed"
    if row.config_hash != current.config_hash:
        return Action.PROCESS, "config changed"
    if row.status == "running":
        return Action.PROCESS, "interrupted"
    if row.status == "skipped":
        return Action.PROCESS, "previously skipped"
    if not output_exists:
        return Action.PROCESS, "output missing"
    return Action.SKIP, "unchanged"


class StateDB:
    """The batch state database (see the module docstring). Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; multi-row changes use explicit transactions.
        self._con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self._con.row_factory = sqlite3.Row
        self._con.execute("PRAGMA journal_mode=WAL")
        # FULL: a row marked done survives power loss, not just a process kill.
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)
        got = self._con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if got is None:
            self._con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(got["value"]) != SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: state schema version {got['value']}, expected {SCHEMA_VERSION}; "
                "use a new output folder"
            )

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def get(self, rel_path: str) -> FileRow | None:
        r = self._con.execute("SELECT * FROM files WHERE rel_path = ?", (rel_path,)).fetchone()
        return FileRow(**dict(r)) if r is not None else None

    def rows(self, status: str | None = None) -> Iterator[FileRow]:
        """All rows (or those with ``status``), ordered by path."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        q = "SELECT * FROM files" + (" WHERE status = ?" if status else "") + " ORDER BY rel_path"
        for r in self._con.execute(q, (status,) if status else ()).fetchall():
            yield FileRow(**dict(r))

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        return {r[0]: r[1] for r in self._con.execute("SELECT status, count(*) FROM files GROUP BY status")}

    def mark(
        self,
        rel_path: str,
        status: str,
        ident: FileIdentity,
        run_id: str,
        *,
        output: str | None = None,
        rows: int | None = None,
        frames: int | None = None,
        faces: int | None = None,
        video_s: float | None = None,
        wall_s: float | None = None,
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        """Insert or replace the row of ``rel_path``; ``attempt`` adds one to its attempt count."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        self._con.execute(
            """INSERT INTO files (rel_path, status, size, mtime_ns, fingerprint, model_id, config_hash,
                                  output, rows, frames, faces, video_s, wall_s, error, attempts, run_id,
                                  updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (rel_path) DO UPDATE SET
                 status = excluded.status, size = excluded.size, mtime_ns = excluded.mtime_ns,
                 fingerprint = excluded.fingerprint, model_id = excluded.model_id,
                 config_hash = excluded.config_hash, output = excluded.output, rows = excluded.rows,
                 frames = excluded.frames, faces = excluded.faces, video_s = excluded.video_s,
                 wall_s = excluded.wall_s, error = excluded.error,
                 attempts = files.attempts + excluded.attempts, run_id = excluded.run_id,
                 updated_at = excluded.updated_at""",
            (
                rel_path, status, ident.size, ident.mtime_ns, ident.fingerprint, ident.model_id,
                ident.config_hash, output, rows, frames, faces, video_s, wall_s, error, int(attempt),
                run_id, time.time(),
            ),
        )  # fmt: skip

    def touch_mtime(self, rel_path: str, mtime_ns: int) -> None:
        """Record a new mtime for a file whose content fingerprint did not change."""
        self._con.execute("UPDATE files SET mtime_ns = ? WHERE rel_path = ?", (mtime_ns, rel_path))

    def start_run(self, run_id: str) -> None:
        self._con.execute("INSERT INTO runs (run_id, started_at) VALUES (?, ?)", (run_id, time.time()))

    def finish_run(self, run_id: str, summary: Mapping[str, Any]) -> None:
        self._con.execute(
            "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?",
            (time.time(), json.dumps(summary, sort_keys=True), run_id),
        )

    def runs(self) -> list[dict[str, Any]]:
        """All runs, oldest first; ``summary`` is None for a run that never finished (crashed)."""
        out = []
        for r in self._con.execute("SELECT * FROM runs ORDER BY started_at").fetchall():
            d = dict(r)
            d["summary"] = json.loads(d["summary"]) if d["summary"] else None
            out.append(d)
        return out
