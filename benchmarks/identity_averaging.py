"""The identity descriptor on one frame against a mean of several: same and different people of a clip.

    python benchmarks/identity_averaging.py --clip WORK/clips_dim/static720_away.mp4 \\
        --gt WORK/clips_dim/static720_away.gt.csv --frames RUN/static720_away.csv [--json OUT.json]

``--frames`` is ``facelog run``'s frame log of the clip (``benchmarks/cctv_bench.py`` writes one per
preset); its rows are matched to the GT boxes (``cctv_score.match_frames``), so the faces are the
detector's boxes, cut and embedded as the tracker does (``identity.cut_patch``,
``IdentityEmbedder``). Per GT person it takes runs of 5 consecutive detected frames (faces from 32
px), at least 25 frames apart. Pairs of runs: the same person 50 frames (2 s) or more apart, as a
face turned away or out of sight and back; different people within 300 frames and of sizes within
1.5x of each other. For each pair: the distance of one face to one face (the identity veto's single
read), of one face to the mean of three and of five, of the mean of three to the mean of three and
of five to five. Printed per statistic: the share of same-person pairs refused (over 0.5) and of
different-person pairs passed at 0.5, and the limit at which 0.5%, 1% and 2% of different-person
pairs pass with the share of same-person pairs refused there.

Used in docs/BENCHMARKS.md (twenty-seventh session: ``track.AGAIN_MAX_DISTANCE``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from cctv_common import read_gt
from cctv_score import match_frames

from facelog.pipeline.tracking.identity import IdentityEmbedder, cut_patch, identity_distance

RUN = 5  # consecutive detected frames per run
RUN_GAP = 25  # frames between the starts of two runs of one person
SAME_APART = 50  # same person: runs at least this many frames apart
DIFF_WITHIN = 300  # different people: runs at most this many frames apart
LIMIT = 0.5  # ``identity_max_distance``
STATS = ("one_one", "one_three", "one_five", "three_three", "five_five")


def runs_of(tp: pd.DataFrame) -> dict[int, list[pd.DataFrame]]:
    """Per person, runs of ``RUN`` consecutive detected frames at least ``RUN_GAP`` frames apart."""
    out: dict[int, list[pd.DataFrame]] = {}
    for pid, q in tp.groupby("pid"):
        f = q.frame_index.to_numpy()
        last = -(10**9)
        for k in range(len(f) - RUN + 1):
            if f[k + RUN - 1] - f[k] == RUN - 1 and f[k] - last >= RUN_GAP:
                out.setdefault(int(pid), []).append(q.iloc[k : k + RUN])
                last = int(f[k])
    return out


def embed_runs(clip: Path, runs: dict[int, list[pd.DataFrame]]) -> dict[tuple[int, int], np.ndarray | None]:
    """(person, frame) -> descriptor of that person's detected face in that frame."""
    need: dict[int, list[tuple[int, np.ndarray]]] = {}
    for pid, rs in runs.items():
        for r in rs:
            for row in r.itertuples():
                need.setdefault(int(row.frame_index), []).append(
                    (pid, np.array([row.x1, row.y1, row.x2, row.y2], np.float64))
                )
    emb = IdentityEmbedder()
    cap = cv2.VideoCapture(str(clip))
    out: dict[tuple[int, int], np.ndarray | None] = {}
    k = 0
    while need:
        ok, frame = cap.read()
        if not ok:
            break
        for pid, box in need.pop(k, []):
            out[pid, k] = emb.embed(cut_patch(frame, box, k))
        k += 1
    cap.release()
    return out


def pair_distances(
    runs: dict[int, list[pd.DataFrame]], desc: dict[tuple[int, int], np.ndarray | None]
) -> pd.DataFrame:
    """One row per pair of runs: same person or not, and the distances of each statistic."""
    items = [(pid, r) for pid, rs in runs.items() for r in rs]
    rows = []
    for (pa, ra), (pb, rb) in itertools.permutations(items, 2):
        ta, tb = int(ra.frame_index.iloc[0]), int(rb.frame_index.iloc[0])
        if (pa == pb and tb - ta < SAME_APART) or (pa != pb and abs(tb - ta) > DIFF_WITHIN):
            continue
        wa, wb = float((ra.x2 - ra.x1).median()), float((rb.x2 - rb.x1).median())
        if max(wa, wb) / min(wa, wb) > 1.5:
            continue
        a = [desc.get((pa, int(f))) for f in ra.frame_index]
        b = [desc.get((pb, int(f))) for f in rb.frame_index]
        if any(v is None for v in a + b):
            continue
        va, vb = np.array(a), np.array(b)
        rows.append({
            "same": pa == pb,
            "one_one": identity_distance(va[0], vb[0]),
            "one_three": identity_distance(va[0], vb[:3].mean(0)),
            "one_five": identity_distance(va[0], vb.mean(0)),
            "three_three": identity_distance(va[-3:].mean(0), vb[:3].mean(0)),
            "five_five": identity_distance(va.mean(0), vb.mean(0)),
        })  # fmt: skip
    return pd.DataFrame(rows)


def summarise(d: pd.DataFrame) -> dict[str, Any]:
    same, diff = d[d.same], d[~d.same]
    out: dict[str, Any] = {"same_pairs": len(same), "different_pairs": len(diff)}
    for s in STATS:
        row: dict[str, Any] = {
            "same_refused_at_0.5": float(np.mean(same[s] > LIMIT)),
            "different_passed_at_0.5": float(np.mean(diff[s] <= LIMIT)),
        }
        for share in (0.005, 0.01, 0.02):
            limit = float(np.quantile(diff[s], share))
            row[f"limit_passing_{share:g}_of_different"] = round(limit, 3)
            row[f"same_refused_there_{share:g}"] = float(np.mean(same[s] > limit))
        out[s] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--frames", type=Path, required=True, help="facelog run's frame log of the clip")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    for p in (args.clip, args.gt, args.frames):
        if not p.is_file():
            print(f"error: no such file: {p}", file=sys.stderr)
            return 2
    gt = read_gt(args.gt)
    det = match_frames(gt, pd.read_csv(args.frames))
    tp = det[det.status == "tp"].copy()
    tp["pid"] = gt.loc[tp.gt_row.to_numpy(), "person_id"].to_numpy()
    tp = tp[(tp.x2 - tp.x1) >= 32].sort_values("frame_index")
    runs = runs_of(tp)
    d = pair_distances(runs, embed_runs(args.clip, runs))
    if d.empty or d.same.all() or not d.same.any():
        print("error: too few pairs of the same or of different people", file=sys.stderr)
        return 1
    res = {"clip": str(args.clip), **summarise(d)}
    print(f"{args.clip.name}: {res['same_pairs']} same-person pairs, {res['different_pairs']} different")
    for s in STATS:
        r = res[s]
        print(
            f"  {s:12s} at 0.5: same refused {r['same_refused_at_0.5']:.3f}, different passed "
            f"{r['different_passed_at_0.5']:.4f}; limit passing 1% of different "
            f"{r['limit_passing_0.01_of_different']:.3f} (same refused {r['same_refused_there_0.01']:.3f})"
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
