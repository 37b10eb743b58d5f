"""Detection at the scale the smallest face needs: speed and recall of YuNet on full vs scaled frames,
and ``facelog run`` end to end against full-frame detect-only fps, on ``cctv_synth`` clips.

    python benchmarks/cctv_synth.py --out CLIPS --preset walk1080   # (and walk720, static1080, walk4k)
    nice -n 5 .venv/bin/python benchmarks/detect_scale.py --clips CLIPS \\
        [--presets walk720,walk1080,static1080] [--frames 100] [--step 1] [--settings full,32,48,64] \\
        [--threshold 0.4] [--e2e] [--workers 1x1,2x1] [--repeats 2] [--json OUT.json]

Per clip (``--frames`` frames, every ``--step``-th, decoded once into memory; decode is not timed):

- ``detect``: one ``YuNetDetector`` per setting. ``full`` runs on full frames (``input_face_px=0``);
  ``MIN[:INPUT[:MAX_SCALE]]`` is ``min_face_px=MIN`` (the frame resized so a MIN-px face is INPUT px
  at the input, default ``input_face_px``; enlarged only up to MAX_SCALE, default 1). Reported: input
  size, wall fps, CPU ms per frame (process CPU time, all threads), recall/precision by GT face
  size and for faces >= 32/40 px, scored with ``cctv_score`` (one-to-one IoU >= 0.5; faces cut by
  the frame edge are don't-care). Settings are interleaved round by round, so a busy machine slows
  them alike: compare ratios.
- ``--e2e``: ``facelog run`` (a subprocess, default config plus ``--workers`` variants
  ``DETECT_WORKERSxORT_THREADS``) on the same frames cut to a clip (``ffmpeg -c copy``); its fps is
  the run summary's ``timings.fps``. Each round runs full-frame detect-only then every variant, and the
  ratios e2e / full-frame detect-only are taken within the round.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import read_gt
from cctv_score import detection_metrics, match_frames

from facelog.pipeline.detect import Detector, YuNetDetector
from facelog.pipeline.weights import YUNET_PATH

log = logging.getLogger("detect_scale")


@dataclass(frozen=True)
class Setting:
    """One detector setting: ``full``, or ``MIN[:INPUT[:MAX_SCALE]]`` (min_face_px, input_face_px,
    max_input_scale; omitted parts are the detector's defaults)."""

    name: str
    min_face_px: int
    input_face_px: int | None  # None: the detector's default; 0: full frames
    max_input_scale: float = 1.0

    @classmethod
    def parse(cls, text: str) -> Setting:
        if text == "full":
            return cls("full", 32, 0)
        parts = text.split(":")
        inp = int(parts[1]) if len(parts) > 1 else None
        return cls(f"min{text}", int(parts[0]), inp, float(parts[2]) if len(parts) > 2 else 1.0)


def load_frames(clip: Path, n: int, step: int = 1, start: int = 0) -> dict[int, np.ndarray]:
    """Frame index -> BGR image for ``n`` frames of ``clip``: every ``step``-th from ``start``."""
    cap = cv2.VideoCapture(str(clip))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            break
        if index >= start and (index - start) % step == 0:
            frames[index] = img
        index += 1
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read frames from {clip}")
    return frames


def run_detector(det: Detector, frames: dict[int, np.ndarray]) -> tuple[float, float, pd.DataFrame]:
    """(wall s, CPU s, detections as frame_index,x1,y1,x2,y2 rows): the detector reset, then given the
    frames in order with their indices (a RoiDetector needs both; the others ignore them)."""
    det.reset()
    rows: list[tuple[float, ...]] = []
    w0, c0 = time.perf_counter(), time.process_time()
    for i, img in frames.items():
        faces = det.detect(img, i).accepted()  # what is logged
        rows.extend((i, *box) for box in faces.xyxy.tolist())
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    det_df = pd.DataFrame(rows, columns=["frame_index", "x1", "y1", "x2", "y2"])
    det_df["age"], det_df["gender"] = 0.0, ""  # cctv_score wants them; not scored here
    return wall, cpu, det_df


def interleaved(
    dets: Mapping[str, Detector],
    frames: dict[int, np.ndarray],
    repeats: int,
    run: Callable[[Detector, dict[int, np.ndarray]], tuple[float, float, pd.DataFrame]] = run_detector,
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, float]]]:
    """Time every detector on ``frames``, detectors interleaved within each of ``repeats`` rounds
    (after one warm-up call each): the last round's detections and the median fps / CPU ms per frame."""
    for d in dets.values():  # warm-up (first call allocates)
        d.detect(next(iter(frames.values())))
    walls: dict[str, list[float]] = {k: [] for k in dets}
    cpus: dict[str, list[float]] = {k: [] for k in dets}
    found: dict[str, pd.DataFrame] = {}
    for _ in range(repeats):
        for name, d in dets.items():
            wall, cpu, found[name] = run(d, frames)
            walls[name].append(wall)
            cpus[name].append(cpu)
    n = len(frames)
    speed = {
        name: {
            "fps": round(n / statistics.median(walls[name]), 2),
            "cpu_ms_per_frame": round(1000 * statistics.median(cpus[name]) / n, 1),
        }
        for name in dets
    }
    return found, speed


def accuracy(gt: pd.DataFrame, dets: pd.DataFrame) -> dict[str, Any]:
    """Recall/precision by size bucket and for faces >= 32/40 px (``cctv_score`` definitions)."""
    m = detection_metrics(gt, match_frames(gt, dets))
    keys = ("recall_ge32", "precision_ge32", "recall_ge40", "precision_ge40", "recall", "precision")
    out: dict[str, Any] = {k: m[k] for k in keys}
    out["recall_by_size"] = {k: v["recall"] for k, v in m["by_size"].items()}
    return out


def detect_table(
    frames: dict[int, np.ndarray],
    gt: pd.DataFrame,
    settings: list[Setting],
    threshold: float | None,
    repeats: int,
) -> dict[str, dict[str, Any]]:
    """Speed and accuracy per setting, settings interleaved within each round."""
    dets = {
        s.name: YuNetDetector(
            YUNET_PATH,
            threshold,
            min_face_px=s.min_face_px,
            input_face_px=s.input_face_px,
            max_input_scale=s.max_input_scale,
        )
        for s in settings
    }
    found, speed = interleaved(dets, frames, repeats)
    out = {}
    for name, d in dets.items():
        out[name] = {"input_size": list(d.input_size or ()), **speed[name], **accuracy(gt, found[name])}
    full = out.get("full")
    if full:
        for row in out.values():
            row["speedup_vs_full"] = round(row["fps"] / full["fps"], 2)
    return out


def cut_clip(clip: Path, n: int, dest: Path) -> Path:
    """The first ``n`` frames of ``clip`` as their own file (stream copy, no re-encode)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg not found (needed for --e2e)")
    cmd = [ffmpeg, "-v", "error", "-y", "-i", str(clip), "-frames:v", str(n), "-c", "copy", str(dest)]
    subprocess.run(cmd, check=True)
    return dest


def run_e2e(clip: Path, tmp: Path, name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """``facelog run`` with a config of ``overrides``; the run summary's fps and detector fields."""
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(overrides))
    out = tmp / f"{name}.csv"
    cmd = [
        sys.executable,
        "-m",
        "facelog.cli",
        "run",
        str(clip),
        "-o",
        str(out),
        "--config",
        str(cfg),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"facelog run failed ({name}): {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(out.with_name(f"{out.stem}.summary.json").read_text())
    return {"fps": summary["timings"]["fps"], "rows": summary.get("rows"), "timings": summary["timings"]}


def e2e_table(
    clip: Path, frames: dict[int, np.ndarray], workers: list[str], repeats: int, tmp: Path
) -> dict[str, Any]:
    """Full-frame detect-only fps and ``facelog run`` fps per variant, ratios taken within a round."""
    short = cut_clip(clip, len(frames), tmp / f"{clip.stem}_cut.mp4")
    full = YuNetDetector(YUNET_PATH, input_face_px=0)
    full.detect(next(iter(frames.values())))
    variants: dict[str, dict[str, Any]] = {"default": {}}
    for w in workers:
        dw, th = (int(x) for x in w.split("x"))
        variants[f"workers{dw}_threads{th}"] = {
            "batching": {"detect_workers": dw},
            "backend": {"threads": th},
        }
    det_fps: list[float] = []
    fps: dict[str, list[float]] = {k: [] for k in variants}
    ratios: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(repeats):
        wall, _, _ = run_detector(full, frames)
        det_fps.append(len(frames) / wall)
        for name, over in variants.items():
            got = run_e2e(short, tmp, f"{name}_{r}", over)
            fps[name].append(got["fps"])
            ratios[name].append(got["fps"] / det_fps[-1])
            log.info("round %d %s: %.2f fps (detect-only full %.2f)", r, name, got["fps"], det_fps[-1])
    return {
        "full_detect_only_fps": round(statistics.median(det_fps), 2),
        "e2e_fps": {k: round(statistics.median(v), 2) for k, v in fps.items()},
        "e2e_over_full_detect": {k: round(statistics.median(v), 2) for k, v in ratios.items()},
    }


def print_tables(results: dict[str, Any]) -> None:
    """Markdown tables (the docs/BENCHMARKS.md format)."""
    print(
        "| clip | setting | input | fps | x full | CPU ms/frame | R>=32 | P>=32 | R>=40 | P>=40 "
        "| recall by size |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for clip, res in results.items():
        for name, r in res["detect"].items():
            size = "x".join(str(v) for v in r["input_size"])
            by = ", ".join(f"{k}: {v}" for k, v in r["recall_by_size"].items() if v is not None)
            print(
                f"| {clip} | {name} | {size} | {r['fps']} | {r.get('speedup_vs_full', '')} | "
                f"{r['cpu_ms_per_frame']} | {r['recall_ge32']} | {r['precision_ge32']} | "
                f"{r['recall_ge40']} | {r['precision_ge40']} | {by} |"
            )
    for clip, res in results.items():
        if "e2e" in res:
            e = res["e2e"]
            print(f"\n{clip}: full-frame detect-only {e['full_detect_only_fps']} fps")
            for k, v in e["e2e_fps"].items():
                print(f"- facelog run {k}: {v} fps = {e['e2e_over_full_detect'][k]}x full-frame detect-only")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "--clips", type=Path, required=True, help="folder of cctv_synth clips (NAME.mp4 + .gt.csv)"
    )
    ap.add_argument("--presets", default="walk720,walk1080,static1080")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--step", type=int, default=1, help="detect table: every STEP-th frame (e2e: the first)")
    ap.add_argument("--settings", default="full,32,48,64", help="'full' and/or min_face_px values")
    ap.add_argument("--threshold", type=float, default=None, help="score threshold (default: the detector's)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--e2e", action="store_true", help="also time 'facelog run' against detect-only")
    ap.add_argument("--workers", default="1x1,2x1,2x2", help="DETECT_WORKERSxORT_THREADS variants for --e2e")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = [Setting.parse(s) for s in args.settings.split(",") if s]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="detect_scale_") as tmp:
        for preset in [p for p in args.presets.split(",") if p]:
            clip = args.clips / f"{preset}.mp4"
            frames = load_frames(clip, args.frames, args.step)
            gt = read_gt(args.clips / f"{preset}.gt.csv")
            gt = gt[gt["frame_index"].isin(list(frames))].reset_index(drop=True)
            h, w = next(iter(frames.values())).shape[:2]
            log.info("%s: %d frames (every %d-th) %dx%d", preset, len(frames), args.step, w, h)
            results[preset] = {"frames": len(frames), "step": args.step, "detect": {}}
            results[preset]["detect"] = detect_table(frames, gt, settings, args.threshold, args.repeats)
            if args.e2e:
                workers = [w for w in args.workers.split(",") if w]
                first = load_frames(clip, args.frames) if args.step > 1 else frames
                results[preset]["e2e"] = e2e_table(clip, first, workers, args.repeats, Path(tmp))
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
