"""Identity metrics of the CCTV benchmark: py-motmetrics (IDF1, switches, MOTA), splits, replacements.

Definitions are in ``cctv_score``'s docstring. ``det`` is facelog's frame CSV after
``cctv_score.match_frames`` (columns ``gt_row`` and ``status``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import motmetrics as mm
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import iou_matrix

IOU_MATCH = 0.5
REPLACE_IOU = 0.3
BOX = ["x1", "y1", "x2", "y2"]


def _motmetrics(gt: pd.DataFrame, det: pd.DataFrame) -> dict[str, Any]:
    acc = mm.MOTAccumulator(auto_id=False)
    g_care = gt[gt["care"]]
    d_used = det[det["status"] != "ignored"]
    g_by = {int(g["frame_index"].to_numpy()[0]): g for _, g in g_care.groupby("frame_index")}
    d_by = {int(d["frame_index"].to_numpy()[0]): d for _, d in d_used.groupby("frame_index")}
    empty = pd.DataFrame(columns=[*BOX, "person_id", "track_id"])
    for f in sorted(set(g_by) | set(d_by)):
        g, d = g_by.get(f, empty), d_by.get(f, empty)
        iou = iou_matrix(g[BOX].to_numpy(float), d[BOX].to_numpy(float))
        dist = np.where(iou >= IOU_MATCH, 1.0 - iou, np.nan)
        acc.update(g["person_id"].tolist(), d["track_id"].tolist(), dist, frameid=int(f))
    names = ["idf1", "idp", "idr", "num_switches", "num_fragmentations", "mota", "motp", "mostly_tracked"]
    s = mm.metrics.create().compute(acc, metrics=names, name="clip")
    row = s.loc["clip"]
    return {
        "idf1": round(float(row["idf1"]), 4),
        "idp": round(float(row["idp"]), 4),
        "idr": round(float(row["idr"]), 4),
        "id_switches": int(row["num_switches"]),
        "fragmentations": int(row["num_fragmentations"]),
        "mota": round(float(row["mota"]), 4),
        "motp_1_minus_iou": round(float(row["motp"]), 4),
        "mostly_tracked": int(row["mostly_tracked"]),
    }


def replacement_events(gt: pd.DataFrame, max_gap: int) -> list[tuple[int, int]]:
    """(A, B) person pairs: B starts where A's last box was, 1..``max_gap`` frames after A's last frame."""
    ordered = gt.sort_values("frame_index", kind="stable")
    first = ordered.groupby("person_id").head(1)
    last = ordered.groupby("person_id").tail(1)
    f_id, f_frame, f_box = (
        first["person_id"].to_numpy(),
        first["frame_index"].to_numpy(),
        first[BOX].to_numpy(float),
    )
    l_id, l_frame, l_box = (
        last["person_id"].to_numpy(),
        last["frame_index"].to_numpy(),
        last[BOX].to_numpy(float),
    )
    iou = iou_matrix(f_box, l_box)  # (persons by first row, persons by last row)
    fc = (f_box[:, :2] + f_box[:, 2:]) / 2
    lc = (l_box[:, :2] + l_box[:, 2:]) / 2
    dist = np.hypot(*(fc[:, None, :] - lc[None, :, :]).transpose(2, 0, 1))
    events = []
    for i in range(len(f_id)):
        gap = f_frame[i] - l_frame
        ok = (
            (gap >= 1)
            & (gap <= max_gap)
            & ((iou[i] >= REPLACE_IOU) | (dist[i] < 0.5 * (l_box[:, 2] - l_box[:, 0])))
        )
        if ok.any():
            j = int(np.argmax(np.where(ok, iou[i] + 1.0, 0.0)))
            events.append((int(l_id[j]), int(f_id[i])))
    return events


def _replacement_new_id(gt: pd.DataFrame, tp: pd.DataFrame, max_gap: int) -> dict[str, Any]:
    events = replacement_events(gt, max_gap)
    scored = new = 0
    for a, b in events:
        ra = tp[tp["person_id"] == a].sort_values("frame_index")
        rb = tp[tp["person_id"] == b].sort_values("frame_index")
        if ra.empty or rb.empty:
            continue
        scored += 1
        new += int(ra["track_id"].iloc[-1] != rb["track_id"].iloc[0])
    return {
        "events": len(events),
        "scored": scored,
        "new_id": new,
        "new_id_share": round(new / scored, 4) if scored else None,
    }


def identity_metrics(gt: pd.DataFrame, det: pd.DataFrame, replace_frames: int) -> dict[str, Any]:
    """motmetrics numbers plus people split, multi-person tracks and replacement new-id share."""
    out = _motmetrics(gt, det)
    tp = det[det["status"] == "tp"].copy()
    tp["person_id"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    ids_per_person = tp.groupby("person_id")["track_id"].nunique()
    persons_per_track = tp.groupby("track_id")["person_id"].nunique()
    out.update(
        {
            "persons_matched": len(ids_per_person),
            "tracks": int(det["track_id"].nunique()),
            "tracks_matched": len(persons_per_track),
            "people_split": round(float((ids_per_person > 1).mean()), 4) if len(ids_per_person) else None,
            "tracks_per_person": round(float(ids_per_person.mean()), 3) if len(ids_per_person) else None,
            "tracks_multi_person": round(float((persons_per_track > 1).mean()), 4)
            if len(persons_per_track)
            else None,
            "replacement_new_id": _replacement_new_id(gt, tp, replace_frames),
        }
    )
    return out
