"""Where people split: each GT person whose matched frame rows carry two or more track ids, its pieces.

    python benchmarks/cctv_splits.py --gt CLIPS/NAME.gt.csv --frames RUNS/L/NAME.csv [--left-out]

The frame CSV's rows are matched to the GT as ``cctv_score`` matches them (one-to-one IoU per frame;
only faces the scoring cares about). Per split person, one line: its median face size and each
piece in time order, ``[track first-last frame, box centre x first -> last, last box width]``; a
track that comes back after another is a new piece. ``--left-out`` also reads ``NAME.left_out.csv``
(rows of tracks that are not persons: a young track given back to an older one shows there). The
scoring (``people_split``) reads only the frame CSV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GroundTruthError, read_csv_checked, read_gt
from cctv_score import FRAME_COLUMNS, match_frames


class Piece(NamedTuple):
    """A run of one person's matched rows under one track id."""

    track_id: int
    first: int
    last: int
    x_first: float
    x_last: float
    width: float


def person_pieces(gt: pd.DataFrame, det: pd.DataFrame) -> dict[int, list[Piece]]:
    """Per GT person with two or more track ids among its matched rows, its pieces in time order."""
    m = match_frames(gt, det)
    tp = m[m["status"] == "tp"].copy()
    tp["person_id"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    out: dict[int, list[Piece]] = {}
    for pid, rows in tp.groupby("person_id"):
        if rows["track_id"].nunique() < 2:
            continue
        pieces: list[Piece] = []
        for r in rows.sort_values("frame_index").itertuples():
            cx, w = (r.x1 + r.x2) / 2, r.x2 - r.x1
            if pieces and pieces[-1].track_id == r.track_id:
                pieces[-1] = pieces[-1]._replace(last=int(r.frame_index), x_last=cx, width=w)
            else:
                pieces.append(Piece(int(r.track_id), int(r.frame_index), int(r.frame_index), cx, cx, w))
        out[int(pid)] = pieces
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", required=True, type=Path)
    ap.add_argument("--frames", required=True, type=Path, help="the run's frame CSV (facelog run -o)")
    ap.add_argument("--left-out", action="store_true", help="also read FRAMES' .left_out.csv beside it")
    args = ap.parse_args(argv)
    left_out = args.frames.with_name(args.frames.stem + ".left_out.csv")
    try:
        gt = read_gt(args.gt)
        parts = [read_csv_checked(args.frames, FRAME_COLUMNS, "frame CSV")]
        if args.left_out and left_out.is_file():
            parts.append(read_csv_checked(left_out, FRAME_COLUMNS, "left-out CSV"))
    except GroundTruthError as e:
        print(f"cctv_splits: {e}", file=sys.stderr)
        return 2
    det = pd.concat(parts, ignore_index=True)
    det = det[det["track_id"] >= 0]  # -1: a box that continued no track
    size = gt.groupby("person_id")["face_px"].median()
    for pid, pieces in person_pieces(gt, det).items():
        shown = "  ".join(
            f"[{p.track_id} f{p.first}-{p.last} x{p.x_first:.0f}->{p.x_last:.0f} w{p.width:.0f}]"
            for p in pieces
        )
        print(f"person {pid} ~{size[pid]:.0f} px: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
