"""CPU per analysed frame of the live loop's work, one camera: what one live camera costs.

    python benchmarks/live_cpu.py CLIP [--gap 3] [--frames 96] [--set section.key=value ...]

The frames of CLIP are decoded beforehand and every ``--gap``-th one (3 = 5 of 15 fps: a machine
that keeps up) goes through what ``live.loop.CameraLoop`` does per frame: its camera's detector
(``live.detectors.CameraDetectors``: regions around known faces, key frames) and the run's analyzer
(crops, model, tracking, identity checks, fusion, the gender reading of persons who leave).
Process CPU time, after 4 warm-up frames. Each
``--set`` is a config override (``tracking.use_identity=false``, ``detector.full_every=1``); give
several configurations in one run with ``--compare`` to get ratios measured side by side:

    python benchmarks/live_cpu.py CLIP --compare "" "tracking.use_identity=false"

Decoding is not counted here (``benchmarks/live_capacity.py`` runs whole cameras, decode included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import cv2

from facelog.pipeline.config import load_config
from facelog.pipeline.live.detectors import CameraDetectors
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.types import Frame

WARM_UP = 4


def read_frames(clip: Path, gap: int, n: int) -> tuple[list[Frame], float]:
    """Every ``gap``-th frame of ``clip`` (at most ``n + WARM_UP``) as live frames of camera ``cam0``."""
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise SystemExit(f"live_cpu: error: cannot open {clip}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
    frames: list[Frame] = []
    i = 0
    while len(frames) < n + WARM_UP:
        ok, img = cap.read()
        if not ok:
            break
        if i % gap == 0:
            ns = int(i / fps * 1e9)
            frames.append(Frame("cam0", i, ns, img, wall_ns=ns))
        i += 1
    cap.release()
    if len(frames) <= WARM_UP:
        raise SystemExit(f"live_cpu: error: {clip} has too few frames")
    return frames, fps


def decode_cpu_ms(clip: Path, gap: int, n: int = 450) -> float:
    """CPU ms per camera frame of what a live reader does: ``grab()`` every frame, ``retrieve()`` the
    ones sampling keeps (every ``gap``-th), one decoder thread as in ``live.source``."""
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    c0, done = _cpu_s(), 0
    while done < n and cap.grab():
        if done % gap == 0:
            cap.retrieve()
        done += 1
    cap.release()
    return (_cpu_s() - c0) * 1000 / max(done, 1)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def recall(boxes: dict[int, list[tuple[float, ...]]], gt: Path, min_px: float = 32.0) -> float:
    """Share of the ground-truth faces (``cctv_synth``'s CSV, frame indices of the clip) of at least
    ``min_px`` in the analysed frames that a logged box overlaps with IoU >= 0.5."""
    import numpy as np
    import pandas as pd

    g = pd.read_csv(gt)
    g = g[g.frame_index.isin(list(boxes)) & (g.face_px >= min_px)]
    hit = 0
    for k in sorted(set(g.frame_index.tolist())):
        rows = g[g.frame_index == k]
        found = np.array(boxes[int(k)], np.float64).reshape(-1, 4)
        for x1, y1, x2, y2 in rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float64):
            if not len(found):
                continue
            iw = np.clip(np.minimum(found[:, 2], x2) - np.maximum(found[:, 0], x1), 0, None)
            ih = np.clip(np.minimum(found[:, 3], y2) - np.maximum(found[:, 1], y1), 0, None)
            inter = iw * ih
            union = (x2 - x1) * (y2 - y1) + (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1]) - inter
            hit += bool((inter / union >= 0.5).any())
    return hit / max(len(g), 1)


def measure(frames: list[Frame], overrides: dict[str, Any], gt: Path | None = None) -> dict[str, Any]:
    """CPU ms per analysed frame for one configuration (and what its detector and tracker did; with
    ``gt``, the recall of its logged boxes)."""
    session = InferenceSession(load_config(None, overrides))
    detectors, analyzer = CameraDetectors(session), session.analyzer()
    for f in frames[:WARM_UP]:
        analyzer.analyze([(f, detectors.detect(f))])
    c0, t0, faces = _cpu_s(), time.perf_counter(), 0
    boxes: dict[int, list[tuple[float, ...]]] = {}
    for f in frames[WARM_UP:]:
        results = analyzer.analyze([(f, detectors.detect(f))])
        faces += sum(len(r.predictions) for r in results)
        boxes[f.index] = [p.xyxy for r in results for p in r.predictions]
    n = len(frames) - WARM_UP
    cpu_ms, wall_ms = (_cpu_s() - c0) * 1000 / n, (time.perf_counter() - t0) * 1000 / n
    analyzer.finish()
    return {
        "overrides": overrides,
        "frames": n,
        "faces": faces,
        "cpu_ms_per_frame": round(cpu_ms, 1),
        "wall_ms_per_frame": round(wall_ms, 1),
        "detector": detectors.describe("cam0"),
        "identity_embeddings": analyzer.times.identity_embeddings,
        "identity_s": round(analyzer.times.identity_s, 2),
        "recall_ge32": round(recall(boxes, gt), 3) if gt is not None else None,
    }


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``section.key=value`` strings as config overrides (values parsed as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"live_cpu: error: expected section.key=value, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("--gap", type=int, default=3, help="analyse every GAP-th frame (3: 5 of 15 fps)")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--set", action="append", default=[], help="section.key=value (repeatable)")
    ap.add_argument("--compare", nargs="+", help="configurations, each a space-separated list of --set")
    ap.add_argument("--gt", type=Path, help="ground truth of CLIP (cctv_synth CSV): recall of faces >= 32 px")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    frames, fps = read_frames(args.clip, args.gap, args.frames)
    configs = [c.split() for c in args.compare] if args.compare else [args.set]
    base = {"tracking.max_lost_frames": 50}  # as benchmarks/live_capacity.py's cams.yaml
    rows = [measure(frames, base | parse_sets(c), args.gt) for c in configs]
    cpu, decode = os.cpu_count(), decode_cpu_ms(args.clip, args.gap)
    print(
        f"clip {args.clip.name}: every {args.gap}th of {fps:.0f} fps, {len(frames) - WARM_UP} frames, "
        f"{cpu} CPUs, load {os.getloadavg()[0]:.1f}; decode {decode:.2f} CPU ms per camera frame"
    )
    for r in rows:
        sets = " ".join(f"{k}={v}" for k, v in r["overrides"].items() if k not in base) or "defaults"
        print(f"  {sets}: {r['cpu_ms_per_frame']} CPU ms / analysed frame ({r['faces']} faces, "
              f"{r['identity_embeddings']} identity embeddings, {r['identity_s']} s, "
              f"recall >= 32 px {r['recall_ge32']})")  # fmt: skip
        # a camera-second: fps frames decoded, fps / gap analysed
        per_s = fps * decode + fps / args.gap * r["cpu_ms_per_frame"]
        print(f"    -> {per_s:.0f} CPU ms per camera-second: {1000 / per_s:.1f} cameras per idle core")
        r["decode_cpu_ms"], r["cameras_per_core"] = round(decode, 2), round(1000 / per_s, 2)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
