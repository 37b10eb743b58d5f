"""Per-frame age and gender of the masked and the unmasked people of a ``*_masks`` preset run.

    python benchmarks/masked_rows.py --work WORK --label L --seed S [--presets walk720_masks counter720_masks]

Reads ``WORK/clips[_sS]/PRESET.gt.csv`` and the run ``WORK/runs/L/PRESET.csv`` that
``cctv_bench.py --work WORK --label L --seed S`` made; who wears a mask is drawn per person as ``cctv_synth``
draws it (``masked_people``). A frame row belongs to the GT face whose box holds its box centre.
Prints, for masked and unmasked people: how many never appear in the frame log (which holds only the
rows of persons), GT faces, rows found, age MAE, mean signed age error, gender.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_synth import PRESETS


def masked_people(person_ids: pd.Series, seed: int, share: float) -> pd.Series:
    """Whether each person wears a mask, drawn as ``cctv_synth._face_image`` draws it."""
    return person_ids.map(lambda p: bool(np.random.default_rng([seed, int(p), 11]).random() < share))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", nargs="+", default=["walk720_masks", "counter720_masks"])
    args = ap.parse_args(argv)
    clips = args.work / ("clips" if args.seed == 0 else f"clips_s{args.seed}")
    for preset in args.presets:
        gt_path, run = (
            clips / f"{preset}.gt.csv",
            args.work / "runs" / args.label / f"{preset}.csv",
        )
        if not gt_path.is_file() or not run.is_file():
            print(f"masked_rows: {gt_path} or {run} not found", file=sys.stderr)
            return 2
        gt = pd.read_csv(gt_path)
        gt["masked"] = masked_people(gt["person_id"], args.seed, PRESETS[preset].masks)
        rows = pd.read_csv(run).merge(gt, on="frame_index", suffixes=("", "_gt"))
        cx, cy = (rows.x1 + rows.x2) / 2, (rows.y1 + rows.y2) / 2
        rows = rows[(cx > rows.x1_gt) & (cx < rows.x2_gt) & (cy > rows.y1_gt) & (cy < rows.y2_gt)]
        rows = rows.assign(err=(rows.age - rows.age_gt).abs(), signed=rows.age - rows.age_gt)
        rows = rows.assign(right=rows.gender == rows.gender_gt)
        for masked, part in rows.groupby("masked"):
            gt_part = gt[gt.masked == masked]
            unseen = gt_part.person_id.nunique() - part.person_id.nunique()  # no row: not a person
            print(
                f"{preset} seed {args.seed} {'masked' if masked else 'unmasked'}: "
                f"{gt_part.person_id.nunique()} people ({unseen} never in the frame log), "
                f"{len(gt_part)} GT faces, {len(part)} rows found "
                f"({len(part) / len(gt_part):.0%}), age MAE {part.err.mean():.2f}, "
                f"signed {part.signed.mean():+.2f}, gender {part.right.mean():.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
