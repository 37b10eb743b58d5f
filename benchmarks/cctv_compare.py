"""Two sets of ``cctv_bench.py --json`` runs of the same clips, clip by clip: what changed.

    python benchmarks/cctv_compare.py --before A_s0.json,A_s1.json --after B_s0.json,B_s1.json

Clips are paired by their GT file (preset, seed, camera). Printed: a Markdown table of the clips whose
identity numbers differ (people split, tracks holding two or more people, IDF1, persons in the
tracks CSV against the people in the GT, new ids at vacated spots), then, over every paired clip,
the sum of |persons - people| before and after. Clips in only one set are named, not compared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_targets import clip_name, load_clips

FIELDS = ("split", "multi", "idf1", "persons", "new_id")


def clip_numbers(r: dict[str, Any]) -> dict[str, Any]:
    """The compared numbers of one clip's result."""
    i = r["identity"]
    tc = (r.get("per_person") or {}).get("tracks_csv") or {}
    rn = i.get("replacement_new_id") or {}
    return {
        "split": i["people_split"] or 0.0,
        "multi": i["tracks_multi_person"] or 0.0,
        "idf1": i["idf1"],
        "persons": tc.get("tracks_rows_person"),
        "people": r["gt"]["persons"],
        "new_id": (rn["new_id"], rn["scored"]) if rn.get("scored") else None,
    }


def load(paths: str) -> dict[str, dict[str, Any]]:
    """Comma-separated JSON files -> {GT file: numbers} (``cctv_targets.load_clips``)."""
    return {gt_file: clip_numbers(r) for gt_file, r in load_clips(paths).items()}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, tuple):
        return f"{v[0]}/{v[1]}"
    return "-" if v is None else str(v)


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """The table's lines, the sums and the unpaired clips."""
    lines = ["| clip | " + " | ".join(FIELDS) + " |", "|---|" + "---|" * len(FIELDS)]
    sums = [0, 0]
    for key in sorted(before.keys() & after.keys()):
        b, a = before[key], after[key]
        for k, side in enumerate((b, a)):
            if side["persons"] is not None:
                sums[k] += abs(side["persons"] - side["people"])
        if any(b[f] != a[f] for f in FIELDS):
            cells = [f"{_fmt(b[f])} -> {_fmt(a[f])}" if b[f] != a[f] else _fmt(b[f]) for f in FIELDS]
            lines.append(f"| {clip_name(key)} | " + " | ".join(cells) + " |")
    lines.append(
        f"\n|persons - people| summed over {len(before.keys() & after.keys())} clips: {sums[0]} -> {sums[1]}"
    )
    for key in sorted(before.keys() ^ after.keys()):
        lines.append(f"only {'before' if key in before else 'after'}: {clip_name(key)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="comma-separated cctv_bench.py --json files")
    ap.add_argument("--after", required=True, help="the same clips run again")
    args = ap.parse_args(argv)
    try:
        before, after = load(args.before), load(args.after)
    except ValueError as e:
        print(f"cctv_compare: {e}", file=sys.stderr)
        return 2
    print("\n".join(compare(before, after)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
