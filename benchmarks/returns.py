"""People who come back: are a person's visits one person in ``tracks.csv``, or one each?

    python benchmarks/returns.py --work WORK --label L --seed S [--presets walk720_returns static720_returns]

Reads ``WORK/clips[_sS]/PRESET.gt.csv`` and the run ``WORK/runs/L/PRESET.csv`` (+ ``.tracks.csv``) that
``cctv_bench.py --work WORK --label L --seed S`` made; which visits are one person is drawn as
``cctv_synth`` draws it (``cctv_people.plan_people``, ``Person.same_as``). Frame rows are matched to GT
faces as ``cctv_score`` matches them; a visit's track is the track of most of its matched rows.

Prints per preset: visits (GT ``person_id``s), people (visits of one face counted once), persons in
``tracks.csv``; each return and whether its track is that of the person's visit before (linked) or a
new one (counted again), with the time since that visit left the view; tracks holding two different
people.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED, read_gt
from cctv_people import plan_people
from cctv_score import match_frames
from cctv_synth import PRESETS, validation_faces


def visits_of(preset: str, seed: int, shared: Path) -> pd.DataFrame:
    """One row per visit: ``person_id``, ``who`` (the first visit's ``person_id``), ``first``, ``end``."""
    people = plan_people(PRESETS[preset], validation_faces(shared), seed)
    return pd.DataFrame(
        {
            "person_id": [p.person_id for p in people],
            "who": [p.person_id if p.same_as is None else p.same_as for p in people],
            "first": [p.first_frame for p in people],
            "end": [p.first_frame + len(p.path) for p in people],
        }
    )


def score_returns(gt: pd.DataFrame, frames: pd.DataFrame, tracks: pd.DataFrame, visits: pd.DataFrame,
                  fps: float) -> dict[str, object]:  # fmt: skip
    """Visits, people, persons and the returns' links (see the module docstring)."""
    det = match_frames(gt, frames)
    tp = det[det["status"] == "tp"]
    vid = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    track_of = tp.assign(visit=vid).groupby("visit")["track_id"].agg(lambda t: t.value_counts().idxmax())
    who = visits.set_index("person_id")["who"]
    tp_who = who.reindex(vid).to_numpy()
    mixed = tp.assign(who=tp_who).groupby("track_id")["who"].nunique()
    returns = []
    for v in visits[visits["who"] != visits["person_id"]].itertuples():
        before = visits[(visits["who"] == v.who) & (visits["end"] <= v.first)]
        last = before.sort_values("end").iloc[-1]
        gap_s = (v.first - last.end) / fps
        mine = track_of.get(v.person_id)
        earlier = {track_of.get(p) for p in before["person_id"]} - {None}
        state = "not found" if mine is None else "linked" if mine in earlier else "counted again"
        returns.append({"visit": v.person_id, "of": v.who, "gap_s": round(gap_s, 1), "state": state})
    status = tracks["status"] if "status" in tracks.columns else pd.Series(["person"] * len(tracks))
    present = visits[visits["person_id"].isin(gt.loc[gt["care"], "person_id"].unique())]
    return {
        "visits": len(present),
        "people": present["who"].nunique(),
        "persons": int((status == "person").sum()),
        "tracks_two_people": int((mixed > 1).sum()),
        "returns": returns,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", nargs="+", default=["walk720_returns", "static720_returns"])
    ap.add_argument("--shared", type=Path, default=SHARED)
    args = ap.parse_args(argv)
    clips = args.work / ("clips" if args.seed == 0 else f"clips_s{args.seed}")
    for preset in args.presets:
        if PRESETS.get(preset) is None or not PRESETS[preset].returns:
            print(f"returns: {preset} is not a preset with returns", file=sys.stderr)
            return 2
        run = args.work / "runs" / args.label / f"{preset}.csv"
        paths = (clips / f"{preset}.gt.csv", run, run.with_suffix(".tracks.csv"))
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            print(f"returns: not found: {', '.join(missing)}", file=sys.stderr)
            return 2
        gt, frames, tracks = read_gt(paths[0]), pd.read_csv(paths[1]), pd.read_csv(paths[2])
        visits = visits_of(preset, args.seed, args.shared)
        res = score_returns(gt, frames, tracks, visits, PRESETS[preset].fps)
        ret = pd.DataFrame(res["returns"])
        print(
            f"{preset} seed {args.seed}: {res['visits']} visits of {res['people']} people, "
            f"{res['persons']} persons in tracks.csv, {res['tracks_two_people']} tracks with two people"
        )
        for r in ret.sort_values("gap_s").itertuples():
            print(f"  visit {r.visit} (again person {r.of}) {r.gap_s:5.1f} s after: {r.state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
