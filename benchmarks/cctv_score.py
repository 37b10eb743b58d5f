"""Score facelog's output on a synthetic CCTV clip against its ground truth (``cctv_synth``).

    python benchmarks/cctv_score.py --gt DIR/NAME.gt.csv --frames OUT.csv [--tracks OUT.tracks.csv]
        [--json result.json] [--replace-frames 10] [--detection-only]

Definitions (all from the GT file and facelog's CSVs; nothing is tuned per detector):

- Matching: per frame, detections and GT boxes are matched one-to-one by maximum total IoU
  (``scipy.optimize.linear_sum_assignment``), a pair counts when IoU >= 0.5. GT faces cut by the
  frame edge to under 75% of their area are "don't care": a detection matched to one is ignored.
- Detection: recall per GT size bucket (GT ``face_px``: 16-31, 32-47, 48-63, 64-95, 96+), precision
  per bucket with false positives bucketed by their own box width; ``recall_ge32``/``recall_ge40``.
- Per frame: age MAE and gender accuracy of the matched rows' single-frame ``age``/``gender``.
- Identity (py-motmetrics, IoU >= 0.5): IDF1, IDP, IDR, ID switches, fragmentations, MOTA.
  ``people_split``: share of GT persons whose matched rows carry more than one ``track_id``;
  ``tracks_multi_person``: share of tracks whose matched rows cover more than one GT person.
  ``replacement_new_id``: GT person B whose first box lies where person A's last box was (IoU >= 0.3
  or centres closer than half A's width) and starts within ``--replace-frames`` frames after A's last
  frame; B counts as "new id" when B's first matched ``track_id`` differs from A's last one.
- Per person: a GT person's track is the majority ``track_id`` of its matched rows. ``last_smooth``:
  that track's ``age_smooth``/``gender_smooth`` on the person's last matched row of that track (what a
  user reads today). ``tracks_csv`` (with ``--tracks``): that track's ``age``/``gender`` row in
  ``OUT.tracks.csv``. ``per_frame_by_person``: the same persons' per-frame errors, averaged per person
  first (the fair comparison for per-person numbers). ``frames_majority``: a reference answer, what
  each person would get from its own frames alone: the gender most of them give and their median age
  (per-person gender can beat per-frame only where it gets right people whom most frames read wrong).
- A run that sampled frames on purpose (its ``OUT.summary.json``'s ``sampling``: ``target_fps`` set or
  ``stride`` > 1, i.e. ``facelog run --fps``) is scored on the frames it analysed (the summary's
  ``processed_frames``): GT rows of the other frames are left out, as if the clip held only those.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SIZE_BUCKETS, bucket_name, iou_matrix, read_csv_checked, read_gt
from cctv_identity import identity_metrics

log = logging.getLogger("cctv_score")

IOU_MATCH = 0.5
FRAME_COLUMNS = (
    "frame_index",
    "track_id",
    "x1",
    "y1",
    "x2",
    "y2",
    "age",
    "gender",
    "age_smooth",
    "gender_smooth",
)
TRACK_COLUMNS = ("track_id", "age", "gender")
BOX = ["x1", "y1", "x2", "y2"]


def match_frames(gt: pd.DataFrame, det: pd.DataFrame) -> pd.DataFrame:
    """One-to-one IoU matching per frame.

    Returns:
        ``det`` with ``gt_row`` (index into ``gt``; -1 = unmatched), ``iou`` and ``status``
        (``tp``, ``fp`` or ``ignored`` for a match with a don't-care GT face).
    """
    det = det.copy()
    gt_row = np.full(len(det), -1, np.int64)
    iou_col = np.zeros(len(det), np.float64)
    gt_by_frame = {f: g for f, g in gt.groupby("frame_index")}
    det_pos = pd.Series(np.arange(len(det)), index=det.index)
    for f, d in det.groupby("frame_index"):
        g = gt_by_frame.get(f)
        if g is None:
            continue
        iou = iou_matrix(d[BOX].to_numpy(float), g[BOX].to_numpy(float))
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= IOU_MATCH:
                gt_row[det_pos[d.index[r]]] = g.index[c]
                iou_col[det_pos[d.index[r]]] = iou[r, c]
    det["gt_row"], det["iou"] = gt_row, iou_col
    care = gt["care"].to_numpy()
    det["status"] = np.where(gt_row < 0, "fp", np.where(care[np.maximum(gt_row, 0)], "tp", "ignored"))
    return det


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def detection_metrics(gt: pd.DataFrame, det: pd.DataFrame) -> dict[str, Any]:
    """Recall/precision by GT size bucket, plus age MAE and gender accuracy of the matched rows."""
    care = gt[gt["care"]]
    tp = det[det["status"] == "tp"]
    tp_gt = gt.loc[tp["gt_row"].to_numpy()]
    fp = det[det["status"] == "fp"]
    fp_w = (fp["x2"] - fp["x1"]).to_numpy()
    tp_px = tp_gt["face_px"].to_numpy()
    labelled = "age" in det.columns and "gender" in det.columns and len(tp) > 0
    age_err = np.abs(tp["age"].to_numpy(float) - tp_gt["age"].to_numpy(float)) if labelled else None
    gender_ok = tp["gender"].to_numpy() == tp_gt["gender"].to_numpy() if labelled else None
    by_size = {}
    for lo, hi in SIZE_BUCKETS:
        n_gt = int(((care["face_px"] >= lo) & (care["face_px"] < hi)).sum())
        in_b = (tp_px >= lo) & (tp_px < hi)
        n_tp, n_fp = int(in_b.sum()), int(((fp_w >= lo) & (fp_w < hi)).sum())
        by_size[bucket_name(lo, hi)] = {
            "gt": n_gt,
            "tp": n_tp,
            "fp": n_fp,
            "recall": _ratio(n_tp, n_gt),
            "precision": _ratio(n_tp, n_tp + n_fp),
            "age_mae": round(float(age_err[in_b].mean()), 2) if n_tp and age_err is not None else None,
            "gender_acc": round(float(gender_ok[in_b].mean()), 4) if n_tp and gender_ok is not None else None,
        }
    out: dict[str, Any] = {"by_size": by_size, "tp": len(tp), "fp": len(fp), "gt": len(care)}
    for px in (32, 40):
        n_tp = int((tp_px >= px).sum())
        out[f"recall_ge{px}"] = _ratio(n_tp, int((care["face_px"] >= px).sum()))
        out[f"precision_ge{px}"] = _ratio(n_tp, n_tp + int((fp_w >= px).sum()))
    out["recall"] = _ratio(len(tp), len(care))
    out["precision"] = _ratio(len(tp), len(tp) + len(fp))
    out["per_frame"] = {
        "n": len(tp),
        "age_mae": round(float(age_err.mean()), 3) if age_err is not None else None,
        "gender_acc": round(float(gender_ok.mean()), 4) if gender_ok is not None else None,
    }
    return out


def person_rows(gt: pd.DataFrame, det: pd.DataFrame, tracks: pd.DataFrame | None) -> pd.DataFrame:
    """One row per GT person with a matched row: its majority ``track_id``, its frames' errors, that
    track's last smoothed answer and (``track_age``/``track_gender``, NaN/None where absent) its
    tracks-CSV row."""
    tp = det[det["status"] == "tp"].copy()
    tp["person_id"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    tp["gt_age"] = gt.loc[tp["gt_row"].to_numpy(), "age"].to_numpy(float)
    tp["gt_gender"] = gt.loc[tp["gt_row"].to_numpy(), "gender"].to_numpy()
    by_track: dict[Any, tuple[float, Any]] = {}
    if tracks is not None:
        t = tracks.drop_duplicates("track_id")
        ages, genders = t["age"].to_numpy(float), t["gender"].to_numpy()
        by_track = {k: (ages[i], genders[i]) for i, k in enumerate(t["track_id"].to_numpy())}
    rows = []
    for _, rows_p in tp.groupby("person_id"):
        track = rows_p["track_id"].value_counts().idxmax()
        last = rows_p[rows_p["track_id"] == track].sort_values("frame_index").iloc[-1]
        rec = {
            "person_id": int(rows_p["person_id"].to_numpy()[0]),
            "track_id": track,
            "frames": len(rows_p),
            "gt_age": float(last["gt_age"]),
            "gt_gender": last["gt_gender"],
            "frame_age_err": float(np.abs(rows_p["age"] - rows_p["gt_age"]).mean()),
            "frame_gender_ok": float((rows_p["gender"] == rows_p["gt_gender"]).mean()),
            "majority_age": float(rows_p["age"].median()),
            "majority_gender": _majority(rows_p["gender"]),
            "smooth_age": float(last["age_smooth"]),
            "smooth_gender": last["gender_smooth"],
            "track_age": np.nan,
            "track_gender": None,
        }
        if track in by_track:
            rec["track_age"], rec["track_gender"] = by_track[track]
        rows.append(rec)
    return pd.DataFrame(rows)


def per_person_metrics(gt: pd.DataFrame, det: pd.DataFrame, tracks: pd.DataFrame | None) -> dict[str, Any]:
    """Per-person age/gender: last smoothed value of the majority track, and the tracks CSV's answer."""
    pp = person_rows(gt, det, tracks)
    if pp.empty:
        return {"persons": 0}

    def summary(age: pd.Series, gender: pd.Series) -> dict[str, Any]:
        ok = age.notna()
        return {
            "n": int(ok.sum()),
            "age_mae": round(float((age[ok] - pp["gt_age"][ok]).abs().mean()), 3) if ok.any() else None,
            "gender_acc": round(float((gender[ok] == pp["gt_gender"][ok]).mean()), 4) if ok.any() else None,
        }

    out: dict[str, Any] = {
        "persons": len(pp),
        "per_frame_by_person": {
            "n": len(pp),
            "age_mae": round(float(pp["frame_age_err"].mean()), 3),
            "gender_acc": round(float(pp["frame_gender_ok"].mean()), 4),
        },
        "last_smooth": summary(pp["smooth_age"], pp["smooth_gender"]),
        "frames_majority": summary(pp["majority_age"], pp["majority_gender"]),
    }
    out["tracks_csv"] = summary(pp["track_age"], pp["track_gender"]) if tracks is not None else None
    if tracks is not None:
        out["tracks_csv"] |= tracks_rows(tracks)
    return out


def _majority(genders: pd.Series) -> Any:
    """The gender most of a person's frames give (a tie reads female, as ``types.gender_of`` does)."""
    female = int((genders == "female").sum())
    return "female" if 2 * female >= len(genders) else "male"


def tracks_rows(tracks: pd.DataFrame) -> dict[str, int]:
    """Rows of the tracks CSV: all, and by ``status`` (``person``/``static``/``no_face``; all persons
    when the CSV has no status column, schema 1)."""
    status = tracks["status"] if "status" in tracks.columns else pd.Series(["person"] * len(tracks))
    return {
        "tracks_rows": len(tracks),
        "tracks_rows_person": int((status == "person").sum()),
        "tracks_rows_static": int((status == "static").sum()),
        "tracks_rows_no_face": int((status == "no_face").sum()),
    }


def sampled_frames(frames_path: Path) -> set[int] | None:
    """The frame indices a run analysed when it sampled frames on purpose (``--fps``, a stride), from
    its summary beside ``frames_path``; None when it analysed every frame it could, or has no summary."""
    summary = frames_path.with_suffix(".summary.json")
    if not summary.is_file():
        return None
    s = json.loads(summary.read_text())
    sampling = s.get("sampling") or {}
    if sampling.get("target_fps") is None and (sampling.get("stride") or 1) <= 1:
        return None
    return {i for start, stop, step in s["processed_frames"] for i in range(start, stop, step)}


def score(
    gt_path: Path,
    frames_path: Path,
    tracks_path: Path | None,
    replace_frames: int = 10,
    detection_only: bool = False,
) -> dict[str, Any]:
    """All metrics of one clip as a JSON-ready dict.

    ``detection_only``: the CSV needs only ``frame_index,x1,y1,x2,y2`` (a detector's output); identity
    and per-person metrics are left out.
    """
    gt = read_gt(gt_path)
    if detection_only:
        det = match_frames(gt, read_csv_checked(frames_path, ("frame_index", *BOX), "detections CSV"))
        res = {
            "gt_file": str(gt_path),
            "frames_file": str(frames_path),
            "detection": detection_metrics(gt, det),
        }
        return res | {"gt": {"persons": int(gt["person_id"].nunique()), "care_rows": int(gt["care"].sum())}}
    analysed = sampled_frames(frames_path)
    if analysed is not None:
        gt = gt[gt["frame_index"].isin(analysed)].reset_index(drop=True)
    det = read_csv_checked(frames_path, FRAME_COLUMNS, "frame CSV")
    tracks = read_csv_checked(tracks_path, TRACK_COLUMNS, "tracks CSV") if tracks_path else None
    det = match_frames(gt, det)
    persons = per_person_metrics(gt, det, tracks)
    if tracks is not None and not persons.get("tracks_csv"):  # no person matched (a clip of stills)
        persons["tracks_csv"] = tracks_rows(tracks)
    return {
        "gt_file": str(gt_path),
        "frames_file": str(frames_path),
        "gt": {
            "frames": int(gt["frame_index"].max()) + 1 if len(gt) else 0,
            "persons": int(gt["person_id"].nunique()),
            "rows": len(gt),
            "care_rows": int(gt["care"].sum()),
        },
        "detection": detection_metrics(gt, det),
        "identity": identity_metrics(gt, det, replace_frames),
        "per_person": persons,
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def print_report(res: dict[str, Any]) -> None:
    """Compact text table of one result (CLI output)."""
    d, i, pp = res["detection"], res.get("identity"), res.get("per_person") or {}
    print(f"{res['frames_file']}: {res['gt']['persons']} persons, {res['gt']['care_rows']} GT faces")
    print("size      gt     recall  precision  age_mae  gender")
    for name, b in d["by_size"].items():
        print(
            f"{name:8s} {b['gt']:5d}   {_fmt(b['recall']):>6s}  {_fmt(b['precision']):>9s}"
            f"  {_fmt(b['age_mae']):>7s}  {_fmt(b['gender_acc']):>6s}"
        )
    print(
        f"recall>=32 {_fmt(d['recall_ge32'])}  recall>=40 {_fmt(d['recall_ge40'])}  "
        f"precision {_fmt(d['precision'])}  (tp {d['tp']}, fp {d['fp']})"
    )
    if i is None:
        return
    print(
        f"IDF1 {_fmt(i['idf1'])}  MOTA {_fmt(i['mota'])}  ID switches {i['id_switches']}  "
        f"fragmentations {i['fragmentations']}  tracks {i['tracks']} for {i['persons_matched']} persons"
    )
    r = i["replacement_new_id"]
    print(
        f"people split {_fmt(i['people_split'])}  tracks with 2+ persons {_fmt(i['tracks_multi_person'])}  "
        f"replacement new id {_fmt(r['new_id_share'])} ({r['scored']} of {r['events']} events)"
    )
    pf = d["per_frame"]
    mae, acc = _fmt(pf["age_mae"]), _fmt(pf["gender_acc"])
    print(f"{'per frame (rows):':24s} age MAE {mae}  gender {acc}  n {pf['n']}")
    if pp.get("persons"):
        for key in ("per_frame_by_person", "frames_majority", "last_smooth", "tracks_csv"):
            s = pp.get(key)
            if s:
                mae, acc = _fmt(s["age_mae"]), _fmt(s["gender_acc"])
                print(f"{key + ':':24s} age MAE {mae}  gender {acc}  n {s['n']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", required=True, type=Path, help="NAME.gt.csv from cctv_synth")
    ap.add_argument("--frames", required=True, type=Path, help="facelog's frame CSV")
    ap.add_argument("--tracks", type=Path, help="facelog's OUT.tracks.csv (per-track answers)")
    ap.add_argument("--json", type=Path, help="write the result here")
    ap.add_argument("--replace-frames", type=int, default=10, help="max gap of a replacement event")
    ap.add_argument(
        "--detection-only", action="store_true", help="--frames holds boxes only (frame_index,x1,y1,x2,y2)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        res = score(args.gt, args.frames, args.tracks, args.replace_frames, args.detection_only)
    except ValueError as e:
        log.error("%s", e)
        return 2
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
