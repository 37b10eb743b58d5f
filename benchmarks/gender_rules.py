"""How a person's two gender readings are combined, scored per person and per clip (issue 20's rule).

    python benchmarks/gender_rules.py --work WORK --label L --seeds 0 1 --presets walk720 counter720 ...

Each clip (``cctv_bench.clip_paths``: rendered when absent, which needs ``../shared``) runs through
``process_video`` at default settings, in this process, while the debug line of
``gender.GenderReading.person_gender`` is recorded: per person, the age/gender model's fused
female log-odds and the descriptor's reading of each kept face. The frame and tracks CSVs land in
``WORK/runs/L_sS/``. Each GT person gets its majority track (as ``cctv_score`` does), and every rule
below is applied to that track's two readings:

- ``shipped``: the mean of the model's log-odds and the readings' mean (what the tracks CSV holds);
- ``model``: the model's fused log-odds alone (``tracking.gender_faces: 0``);
- ``descriptor``: the readings' mean alone (the model's where no face gave one);
- ``descriptor wN``: the weighted mean, weight N on the readings;
- ``frames majority``: what most of the person's frames say (``cctv_score``'s ``frames_majority``).

Printed per rule: persons right, and clips where per-person gender is under the per-frame gender of
the same persons averaged per person (issue 20: per person >= per frame on every clip).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_bench import clip_paths
from cctv_common import read_csv_checked, read_gt
from cctv_score import FRAME_COLUMNS, match_frames

from facelog.pipeline.config import load_config
from facelog.pipeline.file.process import process_video

READINGS_LOGGER = "facelog.pipeline.tracking.gender"
WEIGHTS = (0.3, 0.4, 0.6, 0.7)


class _Readings(logging.Handler):
    """Keeps (track id, model log-odds, descriptor log-odds) from ``person_gender``'s debug line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.rows: dict[int, tuple[float, list[float]]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("track %d gender readings") and isinstance(record.args, tuple):
            tid, model, desc = record.args
            self.rows[int(tid)] = (float(model), [float(x) for x in desc])


def run_clip(clip: Path, out_csv: Path) -> dict[int, tuple[float, list[float]]]:
    """Run one clip at default settings; the readings of each person, by track id."""
    handler = _Readings()
    logger = logging.getLogger(READINGS_LOGGER)
    logger.addHandler(handler)
    old = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the lines are kept, not printed
    try:
        process_video(clip, out_csv, load_config())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]
    return handler.rows


def persons(gt_csv: Path, frames_csv: Path) -> pd.DataFrame:
    """Per GT person: majority track, truth, share of frames read right, the frames' majority answer."""
    gt = read_gt(gt_csv)
    det = match_frames(gt, read_csv_checked(frames_csv, FRAME_COLUMNS, "frame CSV"))
    tp = det[det["status"] == "tp"].copy()
    tp["person_id"] = gt.loc[tp["gt_row"].to_numpy(), "person_id"].to_numpy()
    tp["truth"] = gt.loc[tp["gt_row"].to_numpy(), "gender"].to_numpy()
    rows = []
    for pid, r in tp.groupby("person_id"):
        female = r["truth"].iloc[0] == "female"
        frames_female = float((r["gender"] == "female").mean())
        rows.append(
            {
                "person_id": pid,
                "track_id": int(r["track_id"].value_counts().idxmax()),
                "female": female,
                "per_frame": float((r["gender"] == r["truth"]).mean()),
                "frames_majority": (frames_female >= 0.5) == female,
            }
        )
    return pd.DataFrame(rows)


def rules() -> dict[str, Callable[[float, list[float]], float]]:
    """Rule name -> female log-odds from (model log-odds, descriptor readings)."""

    def weighted(w: float) -> Callable[[float, list[float]], float]:
        return lambda m, d: (1 - w) * m + w * float(np.mean(d)) if d else m

    out: dict[str, Callable[[float, list[float]], float]] = {
        "shipped": weighted(0.5),
        "model": lambda m, d: m,
        "descriptor": lambda m, d: float(np.mean(d)) if d else m,
    }
    out |= {f"descriptor w{w}": weighted(w) for w in WEIGHTS}
    return out


Readings = dict[int, tuple[float, list[float]]]  # track id -> (model log-odds, descriptor log-odds)


def score(clips: list[tuple[str, pd.DataFrame, Readings]]) -> list[dict[str, Any]]:
    """Per rule: persons right (of those whose track gave readings) and clips under per-frame."""
    out = []
    names = [*rules(), "frames majority"]
    for name in names:
        right = total = under = 0
        for _, pp, readings in clips:
            pp = pp[pp["track_id"].isin(list(readings))]
            if pp.empty:
                continue
            if name == "frames majority":
                ok = pp["frames_majority"].to_numpy(bool)
            else:
                rule = rules()[name]
                logit = np.array([rule(*readings[t]) for t in pp["track_id"]])
                ok = (logit >= 0) == pp["female"].to_numpy(bool)  # a tie reads female (types.gender_of)
            right, total = right + int(ok.sum()), total + len(ok)
            under += bool(ok.mean() < pp["per_frame"].mean() - 1e-9)
        out.append({"rule": name, "right": right, "persons": total, "clips_under": under})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, type=Path, help="folder for clips/ and runs/ (not the repo)")
    ap.add_argument("--label", required=True, help="run folder name: WORK/runs/LABEL_sSEED")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--presets", nargs="+", required=True)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    clips = []
    for seed in args.seeds:
        runs = args.work / "runs" / f"{args.label}_s{seed}"
        runs.mkdir(parents=True, exist_ok=True)
        for preset in args.presets:
            video, gt = clip_paths(args.work, preset, seed, args.shared)
            readings = run_clip(video, runs / f"{preset}.csv")
            pp = persons(gt, runs / f"{preset}.csv")
            if not pp.empty:
                clips.append((f"{preset}:{seed}", pp, readings))
            print(f"{preset} seed {seed}: {len(pp)} people, {len(readings)} persons read", flush=True)
    for r in score(clips):
        right = f"{r['right']}/{r['persons']}"
        print(f"{r['rule']:18s} right {right}  clips under per-frame {r['clips_under']}/{len(clips)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
