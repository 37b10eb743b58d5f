"""Soak test: one live RTSP camera for N minutes with periodic outages; RSS growth and rows lost.

A real GStreamer RTSP server (tests/rtsp_server.py) serves a shared clip re-encoded to H.264. Every
``--outage-every`` seconds the server is either killed and restarted after ``--outage-s`` seconds
(SIGKILL) or frozen for ``--outage-s`` seconds (SIGSTOP/SIGCONT), alternately. facelog runs in this
process (one camera, the same loop as ``facelog run``); RSS is sampled every 5 s.

Reported:
* RSS growth: last sample minus the sample after the first minute (warm-up: model, decoder, buffers).
* rows lost: rows the run counted as written minus rows found in the CSV files after a clean stop
  (target 0).
* rows during outages (target 0), worst time from "server back" to the next row (target < 5 s).

Example:
    nice -n 5 .venv/bin/python benchmarks/rtsp_soak.py --minutes 10 --out /tmp/soak
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
YUNET = "face_detection_yunet_2023mar.onnx"
log = logging.getLogger("rtsp_soak")


def load_server_module(prog: str) -> ModuleType | None:
    """``tests/rtsp_server.py``, or None after one error line naming what is missing to run it."""
    spec = importlib.util.spec_from_file_location("facelog_rtsp_server", REPO / "tests" / "rtsp_server.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    missing = mod.gst_rtsp_missing()
    if missing:
        print(f"{prog}: error: {missing}", file=sys.stderr)
        return None
    return mod


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def read_rows(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(p for p in folder.glob("*.csv") if not p.stem.endswith("_tracks")):  # frame CSVs
        with path.open(newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def runner_parts(args: argparse.Namespace) -> Any:
    """The pipeline's own inference session for the soak camera (its config holds the RTSP options).

    Model: ``--model``, else the shipped one when present, else the tests' tiny real ONNX model (same
    shapes and work per face as far as the RTSP layer is concerned).
    """
    from facelog.pipeline.config import default_model_path, load_config
    from facelog.pipeline.session import InferenceSession

    model = args.model
    if model is None:
        model = Path(default_model_path())
        if not model.is_file():
            sys.path.insert(0, str(REPO / "tests"))
            from conftest import make_tiny_model  # type: ignore[import-not-found]

            model = args.out / "tiny.onnx"
            make_tiny_model(model)
    overrides = {
        "model": {"path": str(model)},
        "detector": {"kind": "yunet", "yunet_path": str(SHARED / "models/yunet" / YUNET)},
        "rtsp": {"metrics_port": 0, "rotate_s": 120.0, "backoff_max_s": 2.0},  # 5 files in 10 minutes
    }
    cfg = load_config(args.config, overrides)
    log.info("model %s", model)
    return InferenceSession(cfg)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--outage-every", type=float, default=60.0, help="seconds between outages")
    p.add_argument("--outage-s", type=float, default=5.0, help="length of each outage")
    p.add_argument("--out", type=Path, default=Path("/tmp/facelog_soak"))
    p.add_argument("--clip", type=Path, default=SHARED / "data/videos/head-pose-face-detection-male.mp4")
    p.add_argument("--config", type=Path, default=None, help="facelog YAML config")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: shipped, else tiny)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("facelog.pipeline.live.rotating_sink").setLevel(logging.WARNING)

    from facelog.pipeline.live.rtsp import SUMMARY_NAME, Camera, CameraLoop

    srv = load_server_module("rtsp_soak")
    if srv is None:
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    duration_s = args.minutes * 60
    loops = int(duration_s / 4.9) + 2  # the male clip is 62 frames at 12.5 fps
    clip = srv.make_h264_clip(args.clip, args.out / "soak_h264.mp4", loops=loops)
    session = runner_parts(args)  # before the server starts: a failure here leaves no process behind
    server = srv.RtspServer({"/cam": str(clip)}, user="soak", password="soak-Secret-1").start()
    runner = CameraLoop([Camera("soak", server.url("/cam"))], session, args.out / "csv")
    thread = threading.Thread(target=lambda: runner.run(), daemon=True)

    t_start = time.time()
    thread.start()
    samples: list[tuple[float, float]] = []
    outages: list[tuple[str, float, float]] = []  # (kind, start wall, end wall)
    next_outage = t_start + args.outage_every
    next_sample = t_start
    kind = "SIGKILL"
    try:
        while time.time() - t_start < duration_s:
            now = time.time()
            if now >= next_sample:
                samples.append((now - t_start, rss_mb()))
                next_sample += 5.0
            if now >= next_outage and now - t_start < duration_s - args.outage_s - 15:
                t0 = time.time()
                if kind == "SIGKILL":
                    server.kill()
                    time.sleep(args.outage_s)
                    t1 = time.time()
                    server.start()
                else:
                    server.signal(signal.SIGSTOP)
                    time.sleep(args.outage_s)
                    t1 = time.time()
                    server.signal(signal.SIGCONT)
                outages.append((kind, t0, t1))
                log.info("outage %s %.1f-%.1f s", kind, t0 - t_start, t1 - t_start)
                kind = "SIGSTOP" if kind == "SIGKILL" else "SIGKILL"
                next_outage = time.time() + args.outage_every
            time.sleep(0.2)
    finally:
        runner.stop_event.set()
        thread.join(timeout=30)
        session.close()
        server.kill()

    summary = json.loads((args.out / "csv" / SUMMARY_NAME).read_text())["cameras"]["soak"]
    rows = read_rows(args.out / "csv" / "soak")
    walls = sorted(int(r["wall_ns"]) / 1e9 for r in rows)
    during = sum(1 for w in walls for _, a, b in outages if a + 0.3 < w < b)
    resume = []
    for _, _, back in outages:
        nxt = next((w for w in walls if w > back), None)
        resume.append(None if nxt is None else round(nxt - back, 2))
    warm = next((rss for t, rss in samples if t >= 60), samples[0][1])
    result = {
        "minutes": args.minutes,
        "outages": len(outages),
        "rss_mb_first": round(samples[0][1], 1),
        "rss_mb_after_1min": round(warm, 1),
        "rss_mb_last": round(samples[-1][1], 1),
        "rss_growth_mb": round(samples[-1][1] - warm, 1),
        "rss_max_mb": round(max(r for _, r in samples), 1),
        "rows_counted": summary["rows"],
        "rows_on_disk": len(rows),
        "rows_lost": summary["rows"] - len(rows),
        "frames_processed": summary["frames_processed"],
        "frames_read": summary["frames_read"],
        "frames_dropped": summary["frames_dropped"],
        "reconnects": summary["reconnects"],
        "connections": summary["connections"],
        "rows_during_outages": during,
        "resume_s": resume,
        "resume_s_max": max((r for r in resume if r is not None), default=None),
        "files": len(summary["files"]),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
