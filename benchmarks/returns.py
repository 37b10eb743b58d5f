"""People who come back: are a person's visits one person in ``tracks.csv``, or one each?

    python benchmarks/returns.py --work WORK --label L --seed S [--presets walk720_returns static720_returns]

Reads ``WORK/clips[_sS]/PRESET.gt.csv`` and the run ``WORK/runs/L/PRESET.csv`` (+ ``.tracks.csv``) that
``cctv_bench.py --work WORK --label L --seed S`` made (one label per seed: the run folder does not
say which seed's clips it ran); which visits are one person is drawn as
``cctv_synth`` draws it (``cctv_people.plan_people``, ``Person.same_as``). Frame rows are matched to GT
faces as ``cctv_score`` matches them; a visit's track is the track of most of its matched rows.

Prints per preset: visits (GT ``person_id``s), people (visits of one face counted once), persons in
``tracks.csv``; each return and whether its track is that of the person's visit before (linked) or a
new one (counted again; ``earlier not found`` when no earlier visit has a track, ``not found`` when
this one has none), with the time since that visit left the view; tracks holding two different
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
from cctv_score import match_frames, tracks_rows
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
    det = match_frames(gt, frames[frames["track_id"] >= 0])
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
        if mine is None:
            state = "not found"
        elif not earlier:
            state = "earlier not found"
        else:
            state = "linked" if mine in earlier else "counted again"
        returns.append({"visit": v.person_id, "of": v.who, "gap_s": round(gap_s, 1), "state": state})
    present = visits[visits["person_id"].isin(gt.loc[gt["care"], "person_id"].unique())]
    return {
        "visits": len(present),
        "people": present["who"].nunique(),
        "persons": tracks_rows(tracks)["tracks_rows_person"],
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
    inputs = {}
    for preset in args.presets:  # every input checked before anything is printed
        if PRESETS.get(preset) is None or not PRESETS[preset].returns:
            print(f"returns: {preset} is not a preset with returns", file=sys.stderr)
            return 2
        run = args.work / "runs" / args.label / f"{preset}.csv"
        inputs[preset] = (clips / f"{preset}.gt.csv", run, run.with_suffix(".tracks.csv"))
    missing = [str(p) for paths in inputs.values() for p in paths if not p.is_file()]
    if missing:
        print(f"returns: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    for preset, paths in inputs.items():
        gt, frames, tracks = read_gt(paths[0]), pd.read_csv(paths[1]), pd.read_csv(paths[2])
        visits = visits_of(preset, args.seed, args.shared)
        res = score_returns(gt, frames, tracks, visits, PRESETS[preset].fps)
        ret = pd.DataFrame(res["returns"])
        print(
            f"{preset} seed {args.seed}: {res['visits']} visits of {res['people']} people, "
            f"{res['persons']} persons in tracks.csv, {res['tracks_two_people']} tracks with two people"
        )
        if ret.empty:
            print("  no returns")
            continue
        for r in ret.sort_values("gap_s").itertuples():
            print(f"  visit {r.visit} (again person {r.of}) {r.gap_s:5.1f} s after: {r.state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
