"""Whether the identity descriptor could tell people apart on faces narrower than it reads (32 px).

    python benchmarks/small_face_identity.py --out PAIRS.csv [--min-px 24 --max-px 32] \\
        CLIPS_DIR:RUNS_DIR:PRESET [CLIPS_DIR:RUNS_DIR:PRESET ...]

For each clip (``CLIPS_DIR/PRESET.mp4`` and its GT, ``RUNS_DIR/PRESET.csv`` a ``facelog run`` of it,
as ``cctv_bench.py`` lays them out) it takes facelog's detections matched to the GT
(``cctv_score.match_frames``), not cut by the frame edge, and computes dlib's descriptor
(``identity.IdentityEmbedder``, with its 32-px floor lifted) on pairs of them:

- ``same``: one person's faces 2-6 frames apart, both ``--min-px``..``--max-px`` wide (up to 4 pairs a
  person): what the tracker's ``gap`` question compares after a missed face;
- ``replace``: the person who left a spot (last detection) and the newcomer there (first detection),
  the GT's replacement events (``cctv_identity.replacement_events``), the smaller face 20 px to
  ``--max-px``: the question the tracker cannot ask today;
- ``diff``: faces of two people of the clip in that size range (60 sampled, each with a neighbour).

Prints, per camera (a clips folder named ``*_dim`` is the dim camera) and kind, the count, the median
distance and the share over 0.6 / 0.65 / 0.7, and writes every pair to ``--out``.
Used in docs/BENCHMARKS.md (thirty-seventh session).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import read_gt
from cctv_identity import replacement_events
from cctv_score import match_frames

import facelog.pipeline.tracking.identity as identity

BOX = ["x1", "y1", "x2", "y2"]


def clip_pairs(
    embedder: identity.IdentityEmbedder,
    clips: Path,
    runs: Path,
    preset: str,
    lo: float,
    hi: float,
    rng: random.Random,
) -> list[dict]:
    """Descriptor distances of one clip's pairs (see the module docstring)."""
    gt = read_gt(clips / f"{preset}.gt.csv")
    det = match_frames(gt, pd.read_csv(runs / f"{preset}.csv"))
    tp = det[det["status"] == "tp"].copy()
    tp["pid"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    tp["w"] = tp["x2"] - tp["x1"]
    cap = cv2.VideoCapture(str(clips / f"{preset}.mp4"))
    width, height = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
    tp = tp[(tp["x1"] > 1) & (tp["y1"] > 1) & (tp["x2"] < width - 1) & (tp["y2"] < height - 1)]
    small = tp[(tp["w"] >= lo) & (tp["w"] < hi)]
    pairs = []
    for pid, g in small.groupby("pid"):
        frames = list(g["frame_index"])
        near = [(a, b) for a in frames for b in frames if 2 <= b - a <= 6]
        pairs += [("same", pid, a, pid, b) for a, b in rng.sample(near, min(4, len(near)))]
    for a, b in replacement_events(gt, 10):
        ra, rb = tp[tp["pid"] == a].sort_values("frame_index"), tp[tp["pid"] == b].sort_values("frame_index")
        if len(ra) and len(rb) and 20 <= min(ra["w"].iloc[-1], rb["w"].iloc[0]) < hi:
            pairs.append(("replace", a, int(ra["frame_index"].iloc[-1]), b, int(rb["frame_index"].iloc[0])))
    rows = list(small.sample(min(len(small), 60), random_state=0).itertuples())
    for k, x in enumerate(rows):
        y = rows[(k + 7) % len(rows)]
        if x.pid != y.pid:
            pairs.append(("diff", x.pid, x.frame_index, y.pid, y.frame_index))
    images = {}
    for f in sorted({p[2] for p in pairs} | {p[4] for p in pairs}):
        cap.set(cv2.CAP_PROP_POS_FRAMES, f)
        images[f] = cap.read()[1]
    cap.release()

    def descriptor(f: int, pid: int) -> tuple[np.ndarray | None, float]:
        r = tp[(tp["frame_index"] == f) & (tp["pid"] == pid)].iloc[0]
        return embedder.embed(identity.cut_patch(images[f], r[BOX].to_numpy(float), f)), float(r["w"])

    out = []
    for kind, pa, fa, pb, fb in pairs:
        (da, wa), (db, wb) = descriptor(fa, pa), descriptor(fb, pb)
        if da is not None and db is not None:
            d = identity.identity_distance(da, db)
            out.append({"clip": f"{clips.name}/{preset}", "kind": kind, "person_a": pa, "frame_a": fa,
                        "person_b": pb, "frame_b": fb, "px_a": wa, "px_b": wb, "distance": d})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+", help="CLIPS_DIR:RUNS_DIR:PRESET")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--min-px", type=float, default=24.0)
    ap.add_argument("--max-px", type=float, default=identity.MIN_FACE_PX)
    args = ap.parse_args(argv)
    identity.MIN_FACE_PX = 0.0  # the descriptor's floor lifted: what it would answer under it
    rng, rows, embedder = random.Random(0), [], identity.IdentityEmbedder()
    for spec in args.clips:
        clips, runs, preset = spec.split(":")
        rows += clip_pairs(embedder, Path(clips), Path(runs), preset, args.min_px, args.max_px, rng)
    df = pd.DataFrame(rows)
    df.to_csv(args.out, index=False)
    df["camera"] = np.where(df["clip"].str.split("/").str[0].str.endswith("_dim"), "dim", "other")
    print("| camera | pairs of | count | median | over 0.6 | over 0.65 | over 0.7 |")
    print("|---|---|---|---|---|---|---|")
    for (camera, kind), g in df.groupby(["camera", "kind"]):
        d = g["distance"]
        print(f"| {camera} | {kind} | {len(g)} | {d.median():.3f} | {(d > 0.6).mean():.3f} | "
              f"{(d > 0.65).mean():.3f} | {(d > 0.7).mean():.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
