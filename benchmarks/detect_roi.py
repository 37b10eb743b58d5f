"""Detection around tracks (``detector.full_every``): speed and recall against full-frame YuNet (issue 12).

    nice -n 5 .venv/bin/python benchmarks/detect_roi.py --clips CLIPS \\
        [--presets walk1080,static1080] [--frames 150] [--start 0] [--stride 1] \\
        [--settings full,5:1.0,8:1.0] [--threshold 0.5] [--min-megapixels 0] [--repeats 1] \\
        [--json OUT.json]

Per clip, ``--frames`` consecutive frames (every ``--stride``-th from ``--start``), decoded once into
memory (decode is not timed). A setting is ``full`` (``full_every`` 1: the default detector on every
frame) or ``K:M[:P[:F[:T]]]``: ``full_every`` K, ``roi_margin`` M, ``roi_min_margin_px`` P,
``RoiDetector.face_px`` F, ``roi_score_threshold`` T (empty parts: the defaults). Each setting is
built by ``make_detector`` from a ``DetectorConfig``, reset, and fed the frames in order with their
indices. Reported: CPU ms per frame (process CPU time), wall fps, recall /
precision by GT size and for faces >= 32/40 px (``cctv_score``: one-to-one IoU >= 0.5), and the
detector's own ``describe()`` counts (key frames, regions, input pixel fraction). Settings are
interleaved round by round, so a busy machine slows them alike: compare within a round.

``--e2e default,1,4`` instead: per round, full-frame detect-only fps on the frames, then ``facelog
run`` (default config, or ``detector.full_every`` K) on the same frames cut to a clip; ratios within
the round, medians over ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import read_gt
from detect_scale import accuracy, cut_clip, interleaved, load_frames, run_detector, run_e2e

from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.detect import Detector, RoiDetector, make_detector

log = logging.getLogger("detect_roi")


def parse_setting(
    text: str, threshold: float | None, min_megapixels: float | None = None
) -> tuple[str, DetectorConfig]:
    """``full`` or ``K:M[:P[:F[:T]]]`` -> (name, detector config)."""
    opts: dict[str, Any] = {"score_threshold": threshold, "full_every": 1}
    if min_megapixels is not None:
        opts["roi_min_megapixels"] = min_megapixels
    if text != "full":
        parts = text.split(":")
        opts["full_every"], opts["roi_margin"] = int(parts[0]), float(parts[1])
        if len(parts) > 2 and parts[2]:
            opts["roi_min_margin_px"] = int(parts[2])
        if len(parts) > 4 and parts[4]:
            opts["roi_score_threshold"] = float(parts[4])
    return text, DetectorConfig(**opts)


def face_px_of(text: str) -> float | None:
    """The FACE_PX part of ``K:M:P:FACE_PX:THR`` (None: the default)."""
    parts = text.split(":")
    return float(parts[3]) if len(parts) > 3 and parts[3] else None


def table(
    frames: dict[int, np.ndarray],
    gt: pd.DataFrame,
    settings: list[str],
    threshold: float | None,
    repeats: int,
    min_megapixels: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Speed and accuracy per setting, settings interleaved within each round."""
    cfgs = (parse_setting(s, threshold, min_megapixels) for s in settings)
    dets = {name: make_detector(cfg) for name, cfg in cfgs}
    for name, d in dets.items():
        if isinstance(d, RoiDetector) and face_px_of(name):
            d.face_px = face_px_of(name) or d.face_px
    described: dict[str, dict[str, Any]] = {}
    names = {id(d): name for name, d in dets.items()}

    def run(d: Detector, frames: dict[int, np.ndarray]) -> tuple[float, float, pd.DataFrame]:
        if isinstance(d, RoiDetector):  # describe() counts this run only
            d.frames_full = d.frames_roi = d.regions = 0
            d._pixel_fraction_sum = 0.0
        got = run_detector(d, frames)
        described[names[id(d)]] = d.describe()
        return got

    found, speed = interleaved(dets, frames, repeats, run)
    out = {}
    for name in dets:
        desc = described[name]
        out[name] = {
            **speed[name],
            **{k: desc.get(k) for k in ("frames_full", "frames_roi", "roi_regions", "input_pixel_fraction")},
            **accuracy(gt, found[name]),
        }
    full = out.get("full")
    if full:
        for row in out.values():
            row["cpu_x_full"] = round(row["cpu_ms_per_frame"] / full["cpu_ms_per_frame"], 3)
    return out


def e2e_rounds(
    clip: Path, frames: dict[int, np.ndarray], variants: list[str], repeats: int, tmp: Path
) -> dict[str, Any]:
    """Per round: full-frame YuNet detect-only on the frames (wall fps), then ``facelog run`` on the
    same frames cut to a clip for each variant (``default`` or ``detector.full_every`` K); the ratio
    e2e fps / detect-only fps is taken within the round, the medians reported."""
    short = cut_clip(clip, len(frames), tmp / f"{clip.stem}_cut.mp4")
    full = make_detector(DetectorConfig(full_every=1))
    full.detect(next(iter(frames.values())))
    ratios: dict[str, list[float]] = {v: [] for v in variants}
    fps: dict[str, list[float]] = {v: [] for v in variants}
    det: list[float] = []
    desc: dict[str, Any] = {}
    for r in range(repeats):
        w0 = time.perf_counter()
        for img in frames.values():
            full.detect(img)
        det.append(len(frames) / (time.perf_counter() - w0))
        for v in variants:
            over = {} if v == "default" else {"detector": {"full_every": int(v)}}
            got = run_e2e(short, tmp, f"{clip.stem}_{v}_{r}", over)
            fps[v].append(got["fps"])
            ratios[v].append(got["fps"] / det[-1])
            desc[v] = got["timings"]
    return {
        "detect_only_fps": [round(x, 2) for x in det],
        **{
            v: {"fps": fps[v], "ratios": [round(x, 2) for x in ratios[v]], "median_ratio": round(
                statistics.median(ratios[v]), 2), "timings_last": desc[v]}
            for v in variants
        },
    }  # fmt: skip


def _f(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def print_table(results: dict[str, Any]) -> None:
    print("| clip | setting | CPU ms/frame | x full | fps | key / region frames | input px fraction |"
          " recall >=32 | recall >=40 | recall 32-47 | precision >=32 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for clip, rows in results.items():
        for name, r in rows.items():
            print(
                f"| {clip} | {name} | {r['cpu_ms_per_frame']} | {r.get('cpu_x_full', '')} | {r['fps']} | "
                f"{r['frames_full'] or ''} / {r['frames_roi'] or ''} | {r['input_pixel_fraction'] or ''} | "
                f"{_f(r['recall_ge32'])} | {_f(r['recall_ge40'])} | "
                f"{_f(r['recall_by_size'].get('32-47'))} | {_f(r['precision_ge32'])} |"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--clips", type=Path, required=True, help="folder of cctv_synth clips (NAME.mp4 + .gt.csv)"
    )
    ap.add_argument("--presets", default="walk1080,static1080")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--stride", type=int, default=1, help="every STRIDE-th frame (sampling.stride)")
    ap.add_argument("--settings", default="full,5:1.0,8:1.0")
    ap.add_argument("--threshold", type=float, default=None, help="score threshold (default: the detector's)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument(
        "--min-megapixels", type=float, default=None, help="roi_min_megapixels (0: regions at any size)"
    )
    ap.add_argument("--e2e", default="", help="also 'facelog run' vs detect-only: variants, e.g. default,1,4")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = [s for s in args.settings.split(",") if s]
    results: dict[str, Any] = {}
    for preset in [p for p in args.presets.split(",") if p]:
        frames = load_frames(args.clips / f"{preset}.mp4", args.frames, args.stride, args.start)
        gt = read_gt(args.clips / f"{preset}.gt.csv")
        gt = gt[gt["frame_index"].isin(list(frames))].reset_index(drop=True)
        if args.e2e:
            with tempfile.TemporaryDirectory() as tmp:
                variants = args.e2e.split(",")
                results[preset] = {"e2e": e2e_rounds(args.clips / f"{preset}.mp4", frames, variants,
                                                     args.repeats, Path(tmp))}  # fmt: skip
            print(preset, json.dumps(results[preset]["e2e"]))
            continue
        results[preset] = table(frames, gt, settings, args.threshold, args.repeats, args.min_megapixels)
    if not args.e2e:
        print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
