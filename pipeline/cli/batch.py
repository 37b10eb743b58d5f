"""``facelog batch ARCHIVE_DIR -o OUT_DIR``: the archive run (``facelog.pipeline.archive``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from facelog.cli.console import fail
from facelog.pipeline.archive.batch import SUMMARY_NAME, RunReport, run_batch
from facelog.pipeline.archive.discovery import parse_since
from facelog.pipeline.config import load_config
from facelog.pipeline.errors import FacelogError


def register(subparsers: Any) -> None:
    """Add ``facelog batch`` to the ``facelog`` command."""
    p = subparsers.add_parser(
        "batch",
        help="process a footage archive: new/changed files only, crash-safe, parallel, optionally on Ray",
        description="Process every new or changed video under ARCHIVE_DIR into one CSV each under OUT_DIR "
        "(the archive tree mirrored), then write OUT_DIR/report.csv+png per camera folder and day. "
        "Exit code 1 when a file failed in this run. See docs/BATCH.md.",
    )
    p.add_argument("archive", type=Path, metavar="ARCHIVE_DIR")
    p.add_argument(
        "-o", "--out", type=Path, required=True, metavar="OUT_DIR", help="outputs, state DB and report"
    )
    p.add_argument("-c", "--config", type=Path, default=None, help="YAML config (default: built-in defaults)")
    p.add_argument("--model", type=Path, default=None, help="age/gender ONNX model (overrides model.path)")
    p.add_argument(
        "--pattern", action="append", default=None, metavar="GLOB",
        help="archive-relative glob, repeatable (default: batch.patterns, **/*.mp4 ...)",
    )  # fmt: skip
    p.add_argument(
        "--since", default=None, help="only files modified since: ISO date/datetime (UTC) or 36h, 7d"
    )
    p.add_argument("--workers", type=int, default=None, help="worker processes / Ray actors (batch.workers)")
    p.add_argument(
        "--executor", choices=("local", "ray"), default=None, help="where tasks run (batch.executor)"
    )
    p.add_argument("--ray-address", default=None, help="existing Ray cluster, e.g. auto or ray://head:10001")
    p.add_argument("--retry-failed", action="store_true", default=None, help="retry files that failed before")
    p.add_argument("--min-age", type=float, default=None, metavar="S",
                   help="skip files modified less than S seconds ago (still being recorded)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=handle)


def _batch_overrides(args: argparse.Namespace) -> dict[str, Any]:
    flags = {
        "patterns": args.pattern, "workers": args.workers, "executor": args.executor,
        "ray_address": args.ray_address, "retry_failed": args.retry_failed, "min_age_s": args.min_age,
    }  # fmt: skip
    return {k: v for k, v in flags.items() if v is not None}


def final_line(run: RunReport) -> str:
    """The last line of a batch run: this run's counts, and the files still failed from earlier runs
    (skipped as ``failed before``), so that a rerun after a crash does not read "0 failed"."""
    failed = f"{run.failed} failed"
    if run.failed_earlier:
        failed += f" + {run.failed_earlier} failed in earlier runs (not retried; --retry-failed retries them)"
    return (
        f"{run.processed} processed, {run.skipped} skipped, {failed} of {run.discovered} found "
        f"in {run.wall_s:.1f} s -> {Path(run.out_dir) / SUMMARY_NAME}"
    )


def handle(args: argparse.Namespace) -> int:
    """``facelog batch``: exit 0 when every file of this run succeeded, 1 when some failed (files that
    failed in earlier runs and were not retried are counted on the last line, not in the exit code)."""
    try:
        since = parse_since(args.since) if args.since else None
        model = {"path": str(args.model) if args.model else None}
        cfg = load_config(args.config, {"batch": _batch_overrides(args), "model": model})
        run = run_batch(args.archive, args.out, cfg, since=since, progress=not args.no_progress)
    except (FacelogError, ValueError, OSError) as exc:  # FacelogError: every facelog error (issue 19)
        return fail(exc)
    print(final_line(run))
    for f in run.failures:
        print(f"  failed: {f['rel_path']}: {f['error']}", file=sys.stderr)
    return 1 if run.failed else 0
