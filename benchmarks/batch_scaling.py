"""Batch throughput with 1 and 2 local workers: files/hour, video-hours per wall-clock hour, scaling.

Builds an archive of copies of the shared short clips (480x270, 12.5 fps) under a temporary folder,
then runs ``facelog batch`` (``run_batch``, local executor) on it once per worker count, each time
into a fresh output folder, and prints one Markdown table. Wall time is the whole run as a nightly
job sees it: discovery, fingerprints, worker start-up (spawn, model load), processing, report.

    .venv/bin/python benchmarks/batch_scaling.py --copies 4 --workers 1 2

Detector: YuNet from ../shared (``--yunet``). Model: ``--model`` (default: the shipped
engines/models/facelog_age_gender.onnx; when it is absent, the tiny test model from
tests/conftest.py is written to the temporary folder and used).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
CLIPS = (
    "face-demographics-walking.mp4",
    "face-demographics-walking-and-pause.mp4",
    "head-pose-face-detection-female.mp4",
    "head-pose-face-detection-male.mp4",
    "head-pose-face-detection-female-and-male.mp4",
    "classroom.mp4",
)
SHIPPED_MODEL = REPO / "engines" / "models" / "facelog_age_gender.onnx"


def build_archive(root: Path, copies: int) -> int:
    """``copies`` copies of each clip, spread over two camera folders; returns the file count."""
    n = 0
    for c in range(copies):
        for i, clip in enumerate(CLIPS):
            dst = root / f"cam{i % 2 + 1}" / f"2026-11-{20 + c % 3:02d}" / f"{c:02d}-{clip}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHARED / "data" / "videos" / clip, dst)
            n += 1
    return n


def tiny_model(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("facelog_test_conftest", REPO / "tests" / "conftest.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.make_tiny_model(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--copies", type=int, default=4, help="copies of each of the 6 clips (default 4: 24 files)"
    )
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--config", type=Path, default=REPO / "configs" / "batch.yaml")
    yunet = SHARED / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"
    ap.add_argument("--yunet", type=Path, default=yunet, help="YuNet file; missing: the config's detector")
    args = ap.parse_args()
    if not (SHARED / "data" / "videos").is_dir():
        print(f"shared videos not found under {SHARED}", file=sys.stderr)
        return 2

    from facelog.pipeline.archive.batch import run_batch
    from facelog.pipeline.config import load_config

    with tempfile.TemporaryDirectory(prefix="facelog-batch-bench-") as tmp:
        tmp_path = Path(tmp)
        n_files = build_archive(tmp_path / "archive", args.copies)
        model = args.model or (
            SHIPPED_MODEL if SHIPPED_MODEL.is_file() else tiny_model(tmp_path / "tiny.onnx")
        )
        rows = []
        for workers in args.workers:
            batch_over = {"workers": workers, "executor": "local", "min_age_s": 0}
            over: dict[str, object] = {"model.path": str(model), "batch": batch_over}
            if args.yunet.is_file():
                over["detector"] = {"kind": "yunet", "yunet_path": str(args.yunet), "download": False}
            cfg = load_config(args.config, over)
            t0 = time.perf_counter()
            run = run_batch(tmp_path / "archive", tmp_path / f"out-w{workers}", cfg, progress=False)
            wall = time.perf_counter() - t0
            if run.failed or run.processed != n_files:
                print(
                    f"workers={workers}: {run.failed} failed, {run.processed}/{n_files} processed",
                    file=sys.stderr,
                )
                return 1
            rows.append((workers, wall, run))
        first = rows[0][2]
        base_rate = first.processed / rows[0][1]
        print(f"model: {model.name}; {n_files} files, {first.frames} frames, {first.video_s:.1f} s of video")
        print("| workers | wall s | files/hour | video-hours per hour | frames decoded/s | scaling vs 1st |")
        print("|---|---|---|---|---|---|")
        for workers, wall, run in rows:
            print(
                f"| {workers} | {wall:.1f} | {run.processed / wall * 3600:,.0f} | {run.video_s / wall:.2f} "
                f"| {run.frames / wall:.0f} | {run.processed / wall / base_rate:.2f}x |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
