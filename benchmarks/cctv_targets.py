"""Issue 20's targets, clip by clip, from ``cctv_bench.py --json`` results: which clips meet each.

    python benchmarks/cctv_targets.py --world "as made=R0.json,R1.json" --world "dim=D0.json" [--misses] \\
        [--means] [--presets walk720,counter720]

Each ``--world`` is a name and the JSON files of its runs (``benchmarks/cctv_bench.py --json``); a
clip (its GT file: seed, camera and preset) run in two files of one world counts once, the later
file's run. Printed: a
Markdown table, per world, of the clips that meet each target of issue 20:

- tracks holding two or more people <= 3% (``tracks_multi_person``);
- a new person at a just-vacated spot gets a new id in >= 95% of the cases (clips with such cases);
- people split <= 5%; IDF1 >= 0.9;
- the tracks CSV's persons within 10% of the people present;
- per-person gender >= the per-frame gender of the same people, per-person age MAE <= theirs (clips
  whose people got a tracks-CSV row).

``queue720_still`` is left out (people as still as a poster: all ``static`` by design, nobody to
count; docs/BENCHMARKS.md, thirteenth session). ``--misses`` also lists each clip's missed targets.
``--means`` also prints, per world, means over its clips: detection recall (all faces, and 32-47 px),
IDF1, people split, the per-frame age MAE and gender, the sum of |persons - people| and the tracks
marked ``no_face``. ``--presets`` keeps only the named presets (so worlds run on more presets compare
on the same ones).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

LEFT_OUT = ("queue720_still",)
COLUMNS = ("multi", "new_id", "split", "idf1", "persons", "gender", "age")
HEADER = (
    "tracks with 2+ people <= 3%",
    "new id at a vacated spot >= 95%",
    "people split <= 5%",
    "IDF1 >= 0.9",
    "persons within 10%",
    "per-person gender >= per-frame",
    "per-person age MAE <= per-frame",
)


def misses(r: dict[str, Any]) -> dict[str, str | None]:
    """Per target: None where the clip meets it (or it does not apply: key absent), else what missed."""
    i, pp = r["identity"], r["per_person"]
    out: dict[str, str | None] = {}
    multi = i["tracks_multi_person"] or 0.0
    out["multi"] = None if multi <= 0.03 else f"multi {multi:.3f}"
    rn = i["replacement_new_id"]
    if rn.get("new_id_share") is not None:
        out["new_id"] = None if rn["new_id_share"] >= 0.95 else f"new id {rn['new_id']}/{rn['scored']}"
    split = i["people_split"] or 0.0
    out["split"] = None if split <= 0.05 else f"split {split:.3f}"
    out["idf1"] = None if i["idf1"] >= 0.9 else f"IDF1 {i['idf1']:.3f}"
    gt, seen = r["gt"]["persons"], r["run"]["persons_reported"]
    out["persons"] = None if abs(seen - gt) <= 0.1 * gt else f"persons {seen}/{gt}"
    tc, pf = pp.get("tracks_csv") or {}, pp.get("per_frame_by_person") or {}
    if tc and pf:
        g, gf = tc["gender_acc"], pf["gender_acc"]
        out["gender"] = None if g >= gf - 1e-9 else f"gender {g:.3f} < {gf:.3f}"
        a, af = tc["age_mae"], pf["age_mae"]
        out["age"] = None if a <= af + 1e-9 else f"age {a:.2f} > {af:.2f}"
    return out


def load_clips(files: str, leave_out: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Comma-separated ``cctv_bench.py --json`` files -> {GT file: result}, one clip each (a clip in two
    files counts once, the later file's run); presets in ``leave_out`` are left out.

    Raises:
        ValueError: a file that cannot be read or is not JSON, named in one line.
    """
    clips: dict[str, dict[str, Any]] = {}
    for f in filter(None, files.split(",")):
        try:
            rows = json.loads(Path(f).read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{f}: {e}") from e
        for r in rows:
            if r.get("preset") not in leave_out:
                clips[r["gt_file"]] = r
    return clips


def clip_name(gt_file: str) -> str:
    """A clip's short name: its GT file's folder and preset (``clips_s1_dim/walk720``)."""
    return "/".join(Path(gt_file).parts[-2:]).removesuffix(".gt.csv")


MEANS_HEADER = (
    "recall",
    "recall 32-47 px",
    "IDF1",
    "people split",
    "frame age MAE",
    "frame gender",
    "sum of abs(persons - people)",
    "no_face tracks",
)


def means(clips: dict[str, dict[str, Any]]) -> list[str]:
    """``--means``' cells for one world (``MEANS_HEADER``)."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    rs = list(clips.values())
    det = [r["detection"] for r in rs]
    small = [d["by_size"]["32-47"]["recall"] for d in det if d["by_size"]["32-47"]["recall"] is not None]
    # a clip with no detection matched has no per-frame age or gender: left out of those means
    per_frame = {
        k: [d["per_frame"][k] for d in det if d["per_frame"][k] is not None]
        for k in ("age_mae", "gender_acc")
    }
    return [
        f"{mean([d['recall'] for d in det]):.3f}",
        f"{mean(small):.3f}",
        f"{mean([r['identity']['idf1'] for r in rs]):.3f}",
        f"{mean([r['identity']['people_split'] or 0.0 for r in rs]):.3f}",
        f"{mean(per_frame['age_mae']):.2f}",
        f"{mean(per_frame['gender_acc']):.3f}",
        str(sum(abs(r["run"]["persons_reported"] - r["gt"]["persons"]) for r in rs)),
        str(sum(r["run"]["persons_dropped"].get("no_face", 0) for r in rs)),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", action="append", required=True, help="NAME=RESULT.json[,RESULT.json...]")
    ap.add_argument("--misses", action="store_true", help="also list each clip's missed targets")
    ap.add_argument("--means", action="store_true", help="also print each world's means over its clips")
    ap.add_argument("--presets", help="comma-separated presets: keep only these")
    args = ap.parse_args(argv)
    print("| world | clips | " + " | ".join(HEADER) + " |")
    print("|---" * (len(HEADER) + 2) + "|")
    listed: list[str] = []
    mean_rows: list[str] = []
    keep = set(args.presets.split(",")) if args.presets else None
    for spec in args.world:
        name, _, files = spec.partition("=")
        try:
            clips = load_clips(files, LEFT_OUT)
        except ValueError as e:
            print(f"cctv_targets: {e}", file=sys.stderr)
            return 2
        if keep is not None:
            clips = {k: r for k, r in clips.items() if r.get("preset") in keep}
        met = dict.fromkeys(COLUMNS, 0)
        asked = dict.fromkeys(COLUMNS, 0)
        for gt_file, r in sorted(clips.items()):
            m = misses(r)
            for k, v in m.items():
                asked[k] += 1
                met[k] += v is None
            if any(m.values()):
                listed.append(f"{name}, {clip_name(gt_file)}: " + "; ".join(v for v in m.values() if v))
        cells = [str(met[k]) if asked[k] == len(clips) else f"{met[k]} of {asked[k]}" for k in COLUMNS]
        print(f"| {name} | {len(clips)} | " + " | ".join(cells) + " |")
        if args.means:
            mean_rows.append(f"| {name} | {len(clips)} | " + " | ".join(means(clips)) + " |")
    if args.means:
        print()
        print("| world | clips | " + " | ".join(MEANS_HEADER) + " |")
        print("|---" * (len(MEANS_HEADER) + 2) + "|")
        print("\n".join(mean_rows))
    if args.misses:
        print()
        print("\n".join(listed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
