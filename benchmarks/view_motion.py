"""How well and how cheaply ``detect.motion.ViewMotion`` follows a camera's view, per clip.

    python benchmarks/view_motion.py WORK/clips_shake/walk720.mp4 WORK/clips/walk720.mp4 ... [--json OUT]

Each clip is read with OpenCV and its frames given to one ``ViewMotion`` with the clip's GT face boxes
(``NAME.gt.csv`` beside it, from ``cctv_synth``/``cctv_bench --camera``) as the faces to keep out.
Reported per clip: frames, frames measured, whether the view was found moving, CPU ms a frame of
``observe`` alone (one thread, decode excluded), and the largest measured shift. For a clip of
``--camera shake`` (folder ``clips*_shake``) also the error against the shift the clip was made with
(``cctv_bench.shake_offset``, in frame px), from the first frame found moving on, less its median
(the shift counts from where the fixed camera was taken to be): median, 99th percentile and largest.
A fixed camera should read "moving no" and 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_bench import SHAKE_VIEW, shake_offset

from facelog.pipeline.detect.motion import ViewMotion


def measure(clip: Path) -> dict[str, Any]:
    """One clip's row (see the module docstring)."""
    gt = pd.read_csv(clip.with_suffix(".gt.csv"))
    faces = {int(k): g[["x1", "y1", "x2", "y2"]].to_numpy(np.float64) for k, g in gt.groupby("frame_index")}
    cap = cv2.VideoCapture(str(clip))
    vm, got, seconds = ViewMotion(), [], 0.0
    img_width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            t0 = time.thread_time()
            got.append(vm.observe(img, faces.get(len(got), np.zeros((0, 4)))))
            seconds += time.thread_time() - t0
    finally:
        cap.release()
    shift = np.array(got).reshape(-1, 2)
    row: dict[str, Any] = {
        "clip": f"{clip.parent.name}/{clip.name}",
        "frames": len(shift),
        "measured": vm.measured,
        "moving": vm.moving,
        "cpu_ms": round(1000 * seconds / max(len(shift), 1), 3),
        "max_shift_px": round(float(np.abs(shift).max(initial=0.0)), 2),
    }
    if clip.parent.name.endswith("_shake") and vm.moving:
        start = int(np.flatnonzero(np.abs(shift).max(axis=1) > 0)[0])
        scale = img_width / SHAKE_VIEW[0]  # the view is sent at the scene's size again
        true = np.array([shake_offset(k) for k in range(len(shift))], np.float64) * scale
        dev = (shift - true)[start:]
        err = np.abs(dev - np.median(dev, axis=0))
        row |= {
            "moving_from_frame": start,
            "error_px_p50_p99_max": [round(float(v), 2) for v in np.percentile(err, [50, 99, 100])],
        }
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    rows = []
    for clip in args.clips:
        row = measure(clip)
        rows.append(row)
        err = row.get("error_px_p50_p99_max")
        print(
            f"{row['clip']}: {row['frames']} frames, {row['measured']} measured, moving "
            f"{'yes' if row['moving'] else 'no'}, {row['cpu_ms']} CPU ms a frame, max shift "
            f"{row['max_shift_px']} px" + (f", error p50/p99/max {err} px" if err else "")
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
