"""``facelog report``: people per camera and hour or day from facelog outputs (report.csv + report.html)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facelog.cli.console import fail, print_error
from facelog.pipeline.report import ReportInputError, make_report

log = logging.getLogger(__name__)

_SPAN = re.compile(r"^(\d+)([hd])$")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="people per camera and hour/day from facelog outputs (report.csv + report.html)",
        description=(
            "Read the facelog outputs under PATH (facelog run outputs, live camera folders, batch output "
            "folders; recognised by their files) and write OUT/report.csv and OUT/report.html: per camera "
            "and period, people, gender, age histogram, dwell time, faces, hours with and without video. "
            "Columns: docs/REPORT.md."
        ),
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="output files or folders")
    p.add_argument("-o", "--out", required=True, type=Path, help="folder for report.csv and report.html")
    p.add_argument("--by", choices=("hour", "day"), default="day", help="period length (default: day)")
    p.add_argument(
        "--since", help="first period: ISO date or date-time (in --tz unless it has an offset), or 7d, 36h"
    )
    p.add_argument("--until", help="end (exclusive): ISO date or date-time, as --since")
    p.add_argument("--tz", default="UTC", help="time zone of the periods, e.g. Europe/Berlin (default: UTC)")
    p.set_defaults(func=handle_report)


def parse_time(text: str, tz: ZoneInfo, now: dt.datetime, flag: str) -> dt.datetime:
    """An aware datetime from ``2026-11-20`` or ``2026-11-20T08:00`` (in ``tz`` without an offset) or
    from ``7d`` / ``36h`` (back from ``now``)."""
    m = _SPAN.match(text.strip())
    if m:
        n = int(m[1])
        return now - (dt.timedelta(hours=n) if m[2] == "h" else dt.timedelta(days=n))
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{flag} must be an ISO date or date-time (2026-11-20, 2026-11-20T08:00) or 7d/36h, "
                         f"got {text!r}") from None  # fmt: skip
    return t if t.tzinfo else t.replace(tzinfo=tz)


def handle_report(args: argparse.Namespace) -> int:
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        return fail(f"--tz: unknown time zone {args.tz!r} (use an IANA name such as UTC or Europe/Berlin)")
    now = dt.datetime.now(dt.UTC)
    try:
        since = parse_time(args.since, tz, now, "--since") if args.since else None
        until = parse_time(args.until, tz, now, "--until") if args.until else None
        if since and until and until <= since:
            raise ValueError(f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})")
        result = make_report(args.paths, args.out, by=args.by, tz=tz, since=since, until=until)
    except (ReportInputError, ValueError) as exc:
        return fail(exc)
    except OSError as exc:
        print_error(f"cannot write the report in {args.out}: {exc.strerror or exc}")
        return 1
    t = result.table
    skipped = sum(result.skipped.values())
    if not args.quiet:
        line = (
            f"report: {t['camera'].nunique()} camera(s), {len(t)} period(s), {int(t['persons'].sum())} "
            f"people, {t['video_h'].sum():.1f} h of video, {t['no_video_h'].sum():.1f} h without"
        )
        if skipped:
            reasons = "; ".join(f"{k} ({v})" for k, v in sorted(result.skipped.items()))
            line += f"; skipped {skipped}: {reasons}"
        print(f"{line} -> {result.html_path}", file=sys.stderr)
    return 0
