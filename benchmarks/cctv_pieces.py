"""Which persons of a run are pieces of a GT person already counted, and how long each was seen: what
a minimum span of faces (``tracking.min_evidence_s``) would take from the persons count.

    python benchmarks/cctv_pieces.py RUNS/LABEL:CLIPS [RUNS/LABEL2:CLIPS2 ...] [--spans 0.1,0.2,0.3]

Each argument pairs a run folder (``cctv_bench.py``'s ``runs/LABEL``: ``NAME.csv`` and
``NAME.tracks.csv``) with the clips folder holding ``NAME.gt.csv``. A ``person`` row of the tracks CSV
is its GT person's *main* track when it holds most of that person's matched frame rows, as the
scorer picks a person's track (``cctv_score.person_rows``), else a *piece*. Per span S: the pieces
and main tracks whose faces span less than S (``dwell_s``: first to last face), and, over the
clips, the sum of ``abs(persons - people)`` and the clips whose persons are within 10% of their
people, were the
tracks under S not persons (the rule drops whole tracks only, so this is what the tracks CSV would
say; the frame rows of such tracks move to ``NAME.left_out.csv``). ``--list`` prints the main tracks
under the largest span: people seen that briefly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GroundTruthError, read_csv_checked, read_gt
from cctv_score import FRAME_COLUMNS, match_frames, person_rows

TRACK_COLUMNS = ("track_id", "frames", "dwell_s", "face_px", "status")


def clip_tracks(run: Path, gt_file: Path) -> tuple[pd.DataFrame, int]:
    """The clip's ``person`` tracks with ``main`` (bool) and its number of GT people."""
    name = gt_file.name.removesuffix(".gt.csv")
    gt = read_gt(gt_file)
    det = read_csv_checked(run / f"{name}.csv", FRAME_COLUMNS, "frame CSV")
    tracks = read_csv_checked(run / f"{name}.tracks.csv", TRACK_COLUMNS, "tracks CSV")
    tracks = tracks[tracks["status"] == "person"].copy()
    per_person = person_rows(gt, match_frames(gt, det), None)  # the scorer's track of each GT person
    main = set(per_person["track_id"]) if len(per_person) else set()
    tracks["main"] = tracks["track_id"].isin(main)
    tracks["clip"] = f"{run.name}/{name}"
    return tracks[["clip", "track_id", "frames", "dwell_s", "face_px", "main"]], int(
        gt["person_id"].nunique()
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("worlds", nargs="+", help="RUN_DIR:CLIPS_DIR")
    ap.add_argument("--spans", default="0.1,0.2,0.3,0.4,0.5", help="comma-separated seconds")
    ap.add_argument("--list", action="store_true", help="also list the main tracks under the largest span")
    args = ap.parse_args(argv)
    spans = [float(s) for s in args.spans.split(",")]
    frames, people = [], {}
    try:
        for world in args.worlds:
            run_s, _, clips_s = world.partition(":")
            run, clips = Path(run_s), Path(clips_s)
            for tf in sorted(run.glob("*.tracks.csv")):
                gt_file = clips / tf.name.replace(".tracks.csv", ".gt.csv")
                if gt_file.exists():
                    t, n = clip_tracks(run, gt_file)
                    frames.append(t)
                    people[f"{run.name}/{gt_file.name.removesuffix('.gt.csv')}"] = n
    except (GroundTruthError, OSError) as e:
        print(f"cctv_pieces: {e}", file=sys.stderr)
        return 2
    if not frames:
        print("cctv_pieces: no run with a tracks CSV and a GT file", file=sys.stderr)
        return 2
    d = pd.concat(frames, ignore_index=True)
    print(f"{len(people)} clips, {int(d['main'].sum())} main tracks, {int((~d['main']).sum())} pieces")
    print("| span under | pieces | main tracks | sum abs(persons - people) | clips within 10% |")
    print("|---|---|---|---|---|")
    for s in [0.0, *spans]:
        short = d["dwell_s"] < s
        kept = d[~short].groupby("clip").size()
        diff = [abs(int(kept.get(c, 0)) - n) for c, n in people.items()]
        within = sum(x <= 0.1 * n for x, n in zip(diff, people.values(), strict=True))
        label = "none" if s == 0 else f"{s:g} s"
        pieces, mains = int((short & ~d["main"]).sum()), int((short & d["main"]).sum())
        print(f"| {label} | {pieces} | {mains} | {sum(diff)} | {within} |")
    if args.list:
        brief = d[d["main"] & (d["dwell_s"] < max(spans))]
        print(brief.to_string(index=False) if len(brief) else f"no main track under {max(spans):g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
