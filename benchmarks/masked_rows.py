"""Per-frame age and gender of the people with and without a mask (or sunglasses) in a preset run.

    python benchmarks/masked_rows.py --work WORK --label L --seed S [--world masks|sunglasses]
        [--presets walk720_masks counter720_masks]

Reads ``WORK/clips[_sS]/PRESET.gt.csv`` and the run ``WORK/runs/L/PRESET.csv`` that ``cctv_bench.py
--work WORK --label L --seed S`` made; who wears a mask (``--world masks``, the default) or sunglasses
is drawn per person as ``cctv_synth`` draws it (``covered_people``). A plain preset (``walk720``) is
split as its ``_masks`` / ``_sunglasses`` variant draws its people, which are the same people on the
same paths: the same faces with and without. A frame row belongs to the GT face whose box holds its box
centre. Prints, for the people with and without: how many never appear in the frame log (which holds
only the rows of persons), GT faces, rows found, age MAE, mean signed age error, gender.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_synth import PRESETS, WORLD_STREAMS, wears


def covered_people(person_ids: pd.Series, seed: int, share: float, world: str = "masks") -> pd.Series:
    """Whether each person wears a mask (or sunglasses), drawn as the clip drew it (``cctv_synth.wears``)."""
    return person_ids.map(lambda p: wears(seed, int(p), world, share))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", choices=sorted(WORLD_STREAMS), default="masks")
    ap.add_argument("--presets", nargs="+", help="default: walk720_WORLD counter720_WORLD")
    args = ap.parse_args(argv)
    presets = args.presets or [f"walk720_{args.world}", f"counter720_{args.world}"]
    for preset in presets:
        drawn = preset if preset.endswith("_" + args.world) else f"{preset}_{args.world}"
        if drawn not in PRESETS:
            print(f"masked_rows: no preset {drawn} draws the people of {preset}", file=sys.stderr)
            return 2
    clips = args.work / ("clips" if args.seed == 0 else f"clips_s{args.seed}")
    for preset in presets:
        gt_path, run = (
            clips / f"{preset}.gt.csv",
            args.work / "runs" / args.label / f"{preset}.csv",
        )
        if not gt_path.is_file() or not run.is_file():
            print(f"masked_rows: {gt_path} or {run} not found", file=sys.stderr)
            return 2
        gt = pd.read_csv(gt_path)
        drawn = preset if preset.endswith("_" + args.world) else f"{preset}_{args.world}"
        share = getattr(PRESETS[drawn], args.world)
        gt["masked"] = covered_people(gt["person_id"], args.seed, share, args.world)
        rows = pd.read_csv(run).merge(gt, on="frame_index", suffixes=("", "_gt"))
        cx, cy = (rows.x1 + rows.x2) / 2, (rows.y1 + rows.y2) / 2
        rows = rows[(cx > rows.x1_gt) & (cx < rows.x2_gt) & (cy > rows.y1_gt) & (cy < rows.y2_gt)]
        rows = rows.assign(err=(rows.age - rows.age_gt).abs(), signed=rows.age - rows.age_gt)
        rows = rows.assign(right=rows.gender == rows.gender_gt)
        for masked, part in rows.groupby("masked"):
            gt_part = gt[gt.masked == masked]
            unseen = gt_part.person_id.nunique() - part.person_id.nunique()  # no row: not a person
            print(
                f"{preset} seed {args.seed} {'with' if masked else 'without'} {args.world}: "
                f"{gt_part.person_id.nunique()} people ({unseen} never in the frame log), "
                f"{len(gt_part)} GT faces, {len(part)} rows found "
                f"({len(part) / len(gt_part):.0%}), age MAE {part.err.mean():.2f}, "
                f"signed {part.signed.mean():+.2f}, gender {part.right.mean():.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
