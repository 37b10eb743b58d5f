"""The answer ``facelog run`` ends with: the people of one run, one line each, from its tracks CSV."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

NEEDED = ("track_id", "first_pts_ms", "age", "age_low", "age_high", "gender", "dwell_s", "status")


def _clock(ms: float) -> str:
    s = ms / 1000
    return f"{int(s // 60)}:{s % 60:04.1f}"


def people_lines(tracks_csv: Path, source: str) -> list[str]:
    """``N people in SOURCE:`` then one line per person (``status == "person"``) in order of arrival:
    gender, fused age with its 80% interval, seconds in view and when they were first seen. The tracks
    left out (``static``, ``no_face``) are counted in the first line.

    Returns no lines when the tracks CSV is absent (tracking off) or of another schema (logged).
    """
    if not tracks_csv.is_file():
        return []
    with tracks_csv.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
        if missing:
            log.warning("%s: no columns %s: no people summary", tracks_csv, missing)
            return []
        rows = list(reader)
    people = sorted((r for r in rows if r["status"] == "person"), key=lambda r: float(r["first_pts_ms"]))
    left = Counter(r["status"] for r in rows if r["status"] != "person")  # static, no_face
    head = f"{len(people)} {'person' if len(people) == 1 else 'people'} in {source}"
    if left:
        parts = ", ".join(
            f"{n} {status}" for status, n in sorted(left.items(), key=lambda kv: kv[0] != "static")
        )
        head += f" ({parts} track{'s' if left.total() != 1 else ''} left out)"
    lines = [head + (":" if people else "")]
    for i, r in enumerate(people, 1):
        lines.append(
            f"  {i}. {r['gender'] or 'unknown'}, age {float(r['age']):.0f} "
            f"({float(r['age_low']):.0f}-{float(r['age_high']):.0f}), {float(r['dwell_s']):.1f} s in view "
            f"from {_clock(float(r['first_pts_ms']))} (track {r['track_id']})"
        )
    return lines
