"""Whether the identity descriptor could tell people apart on faces narrower than it reads (32 px).

    python benchmarks/small_face_identity.py --out PAIRS.csv [--min-px 24 --max-px 32] [--faces K] \\
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

``--faces K`` (K > 1) reads each side as the mean of K faces, all in the size range and not cut:
``same``: one person's K detections up to a gap of 2-6 frames that facelog missed and the K after it
(what a ``gap`` question could compare: up to 4 gaps a person); ``replace``: the leaver's last K and
the newcomer's first K; no ``diff`` pairs. ``distance`` is then mean against mean, and
``distance_one`` the earlier side's mean against the later side's first face alone (what the tracker
has at the gap itself).
Used in docs/BENCHMARKS.md (thirty-seventh and thirty-ninth sessions).
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


def _runs_of(
    tp: pd.DataFrame, gt: pd.DataFrame, lo: float, hi: float, k: int, rng: random.Random
) -> list[tuple]:
    """``--faces K`` pairs of detections ``tp`` (matched to ``gt``, with ``pid`` and width ``w``):
    (kind, person a, frames a, person b, frames b), each side K detections."""
    pairs = []
    by = {pid: g.sort_values("frame_index") for pid, g in tp.groupby("pid")}
    for pid, g in by.items():
        f, w = g["frame_index"].to_numpy(), g["w"].to_numpy()
        small = (w >= lo) & (w < hi)
        gaps = [
            j for j in np.nonzero((np.diff(f) >= 2) & (np.diff(f) <= 6))[0]
            if j + 1 >= k and j + 1 + k <= len(g) and small[j + 1 - k : j + 1 + k].all()
        ]  # fmt: skip
        for j in rng.sample(gaps, min(4, len(gaps))):
            pairs.append(("same", pid, tuple(f[j + 1 - k : j + 1]), pid, tuple(f[j + 1 : j + 1 + k])))
    for a, b in replacement_events(gt, 10):
        if a in by and b in by and len(by[a]) >= k and len(by[b]) >= k:
            ra, rb = by[a].tail(k), by[b].head(k)
            if (
                ra["w"].between(lo, hi, inclusive="left").all()
                and rb["w"].between(lo, hi, inclusive="left").all()
            ):
                pairs.append(("replace", a, tuple(ra["frame_index"]), b, tuple(rb["frame_index"])))
    return pairs


def clip_pairs(
    embedder: identity.IdentityEmbedder,
    clips: Path,
    runs: Path,
    preset: str,
    lo: float,
    hi: float,
    rng: random.Random,
    k: int = 1,
) -> list[dict]:
    """Descriptor distances of one clip's pairs (see the module docstring; ``k``: ``--faces``)."""
    gt = read_gt(clips / f"{preset}.gt.csv")
    det = match_frames(gt, pd.read_csv(runs / f"{preset}.csv"))
    tp = det[det["status"] == "tp"].copy()
    tp["pid"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    tp["w"] = tp["x2"] - tp["x1"]
    cap = cv2.VideoCapture(str(clips / f"{preset}.mp4"))
    width, height = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
    tp = tp[(tp["x1"] > 1) & (tp["y1"] > 1) & (tp["x2"] < width - 1) & (tp["y2"] < height - 1)]
    if k > 1:
        return _mean_pairs(embedder, clips, preset, tp, _runs_of(tp, gt, lo, hi, k, rng), cap)
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


def _mean_pairs(
    embedder: identity.IdentityEmbedder,
    clips: Path,
    preset: str,
    tp: pd.DataFrame,
    pairs: list[tuple],
    cap: cv2.VideoCapture,
) -> list[dict]:
    """``--faces K``: each side's mean descriptor (a side with a face not read is left out)."""
    images = {}
    for f in sorted({x for p in pairs for x in p[2] + p[4]}):
        cap.set(cv2.CAP_PROP_POS_FRAMES, f)
        images[f] = cap.read()[1]
    cap.release()

    def side(pid: int, frames: tuple) -> list[np.ndarray | None]:
        rows = tp[(tp["pid"] == pid) & tp["frame_index"].isin(frames)].sort_values("frame_index")
        boxes = rows[BOX].to_numpy(float)
        return [
            embedder.embed(identity.cut_patch(images[f], box, f))
            for f, box in zip(rows["frame_index"], boxes, strict=True)
        ]

    out = []
    for kind, pa, fa, pb, fb in pairs:
        va, vb = side(pa, fa), side(pb, fb)
        if any(v is None for v in va + vb) or not va or not vb:
            continue
        mean_a = np.mean(va, axis=0)
        out.append({"clip": f"{clips.name}/{preset}", "kind": kind, "person_a": pa, "frame_a": fa[-1],
                    "person_b": pb, "frame_b": fb[0], "faces": len(va),
                    "distance": identity.identity_distance(mean_a, np.mean(vb, axis=0)),
                    "distance_one": identity.identity_distance(mean_a, vb[0])})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+", help="CLIPS_DIR:RUNS_DIR:PRESET")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--min-px", type=float, default=24.0)
    ap.add_argument("--max-px", type=float, default=identity.MIN_FACE_PX)
    ap.add_argument("--faces", type=int, default=1, help="K > 1: each side the mean of K faces")
    args = ap.parse_args(argv)
    identity.MIN_FACE_PX = 0.0  # the descriptor's floor lifted: what it would answer under it
    rng, rows, embedder = random.Random(0), [], identity.IdentityEmbedder()
    for spec in args.clips:
        clips, runs, preset = spec.split(":")
        rows += clip_pairs(
            embedder, Path(clips), Path(runs), preset, args.min_px, args.max_px, rng, args.faces
        )
    df = pd.DataFrame(rows)
    df.to_csv(args.out, index=False)
    df["camera"] = np.where(df["clip"].str.split("/").str[0].str.endswith("_dim"), "dim", "other")
    if args.faces > 1:  # quantiles: where a limit would fall
        print("| camera | pairs of | count | mean vs mean: min, p5, median, p95, max | mean vs one face |")
        print("|---|---|---|---|---|")
        for (camera, kind), g in df.groupby(["camera", "kind"]):
            q = [
                " ".join(f"{v:.3f}" for v in g[c].quantile([0, 0.05, 0.5, 0.95, 1]))
                for c in ("distance", "distance_one")
            ]
            print(f"| {camera} | {kind} | {len(g)} | {q[0]} | {q[1]} |")
        return 0
    print("| camera | pairs of | count | median | over 0.6 | over 0.65 | over 0.7 |")
    print("|---|---|---|---|---|---|---|")
    for (camera, kind), g in df.groupby(["camera", "kind"]):
        d = g["distance"]
        print(f"| {camera} | {kind} | {len(g)} | {d.median():.3f} | {(d > 0.6).mean():.3f} | "
              f"{(d > 0.65).mean():.3f} | {(d > 0.7).mean():.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
