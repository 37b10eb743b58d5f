"""A person's age from its track, by two rules, against the age of its frames: issue 20's age rule.

    python benchmarks/age_rules.py RUN_DIR:CLIP_DIR [RUN_DIR:CLIP_DIR ...] [--misses]

Each ``RUN_DIR`` holds ``cctv_bench.py``'s outputs of the clips in ``CLIP_DIR`` (``P.csv``,
``P.tracks.csv`` beside ``P.gt.csv``). Every GT person gets its majority track (as ``cctv_score``
does) if that track is a person in the tracks CSV. Per clip, the mean over its people of:

- ``frames``: the mean absolute error of the person's own frames (``per_frame_by_person``);
- ``pooled``: the tracks CSV's age (what facelog answers: tempered log-linear pooling of the frames'
  age distributions, weighted by quality; ``pipeline/tracking/fusion.py``);
- ``mean``: the plain mean of the track's frame ages (the frame CSV's ``age`` column);
- ``long``: ``mean`` for a person seen ``--long-s`` seconds or more (the tracks CSV's ``dwell_s``),
  ``pooled`` for the others.

Issue 20 asks for the per-person age MAE to be at most the per-frame one on every clip. The mean
meets it by construction for a person whose track holds all of its frames: the error of a mean is at
most the mean of the errors. The pooled answer does not have to. Printed: per rule, the MAE over all
clips' people and the clips where the rule is met; ``--misses`` lists the clips missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GroundTruthError, read_gt
from cctv_score import match_frames, person_rows

RULES = ("frames", "pooled", "mean", "long")
LONG_S = 10.0  # ``long``: the mean for people seen this long


def person_errors(
    gt: pd.DataFrame, frames: pd.DataFrame, tracks: pd.DataFrame, long_s: float = LONG_S
) -> pd.DataFrame:
    """One row per GT person with a person row in ``tracks``: its error under each rule (years)."""
    persons = tracks[tracks["status"] == "person"] if "status" in tracks.columns else tracks
    det = match_frames(gt, frames)
    pp = person_rows(gt, det, persons)  # cctv_score's people: each with its majority track
    pp = pp[pp["track_age"].notna()] if not pp.empty else pp
    if pp.empty:
        return pd.DataFrame(columns=["person_id", *RULES])
    dwell = persons.drop_duplicates("track_id").set_index("track_id")
    mean = det.groupby("track_id")["age"].mean()  # each track's frame rows
    tid = pp["track_id"]
    mean_err = np.abs(mean.loc[tid].to_numpy() - pp["gt_age"].to_numpy())
    pooled_err = (pp["track_age"] - pp["gt_age"]).abs().to_numpy()
    seen_long = dwell["dwell_s"].loc[tid].to_numpy() >= long_s if "dwell_s" in dwell else False
    return pd.DataFrame(
        {
            "person_id": pp["person_id"].to_numpy(),
            "frames": pp["frame_age_err"].to_numpy(),
            "pooled": pooled_err,
            "mean": mean_err,
            "long": np.where(seen_long, mean_err, pooled_err),
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", nargs="+", help="RUN_DIR:CLIP_DIR")
    ap.add_argument("--misses", action="store_true", help="list the clips where a rule is over the frames")
    ap.add_argument("--long-s", type=float, default=LONG_S, help="long rule: mean from this dwell (s)")
    args = ap.parse_args(argv)
    every: list[pd.DataFrame] = []
    met = dict.fromkeys(RULES[1:], 0)
    clips = 0
    missed: list[str] = []
    for pair in args.pairs:
        run_dir, _, clip_dir = pair.partition(":")
        for tracks_csv in sorted(Path(run_dir).glob("*.tracks.csv")):
            name = tracks_csv.name.removesuffix(".tracks.csv")
            try:
                gt = read_gt(Path(clip_dir) / f"{name}.gt.csv")
                frames = pd.read_csv(Path(run_dir) / f"{name}.csv")
                err = person_errors(gt, frames, pd.read_csv(tracks_csv), args.long_s)
            except (OSError, GroundTruthError, KeyError, ValueError) as e:
                print(f"age_rules: {name} in {run_dir}: {e}", file=sys.stderr)
                return 2
            if err.empty:
                continue
            clips += 1
            every.append(err)
            mae = err[list(RULES)].mean()
            for rule in RULES[1:]:
                ok = bool(mae[rule] <= mae["frames"] + 1e-9)
                met[rule] += ok
                if not ok:
                    missed.append(f"{run_dir} {name}: {rule} {mae[rule]:.2f} > frames {mae['frames']:.2f}")
    if not every:
        print("age_rules: no clip with persons found", file=sys.stderr)
        return 2
    people = pd.concat(every, ignore_index=True)
    print(f"{clips} clips, {len(people)} people")
    for rule in RULES:
        where = "" if rule == "frames" else f", per-person <= per-frame on {met[rule]} of {clips} clips"
        print(f"{rule:7s} MAE {float(np.mean(people[rule])):.3f} years{where}")
    if args.misses and missed:
        print("\n".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
