"""How many live cameras does one machine carry? N loopback RTSP cameras into one ``facelog run``.

    nice -n 2 .venv/bin/python benchmarks/live_capacity.py --work DIR [--cameras 2,4,8]
        [--seconds 45] [--target-fps 5] [--label new] [--json out.json] [--repo PATH]
        [--config-extra detector.full_every=1] [--height 270] [--clip WORK/clips_pillar/cross720.mp4]

Per N: a GStreamer RTSP server (``tests/rtsp_server.py``) on 127.0.0.1 with N mounts of the same
1280x720 H.264 clip at 15 fps (``cctv_synth``'s ``walk720``, seed 0, retimed from 25 to 15 fps by
ffmpeg, one frame per GT frame: people walk through at 15 fps in real time; keyframe every second),
each client getting the clip from its start (``--height``: the clip shrunk to that many lines, e.g. 270
for 480x270 cameras like the real clips', with its GT boxes); one ``facelog -v run --config cams.yaml -o OUT``
process (``sampling.target_fps``, the rest as ``configs/rtsp.yaml``: batch 32, tracking on,
``max_lost_frames`` 50) for ``--seconds`` after its cameras connect, then SIGTERM (the clip lasts
50 s, so no camera loops; ``--clip``: another 25-fps benchmark clip, e.g. one of ``cctv_bench
--camera``'s, retimed the same way; a camera that reaches its end gets it again, and only the first
pass is scored).
``--repo`` runs the facelog of another checkout (a ``git worktree`` of
older code; its package is put first on ``PYTHONPATH`` through links in ``--work``).

Per camera (from the run's log, CSVs and ``rtsp_summary.json``): analysed frames/s (frames analysed
from the camera's ``rtsp_connect`` to the stop), frames dropped at the reader (share of frames read),
and quality against the clip's ground truth with ``cctv_score``'s matching (one-to-one IoU >= 0.5,
faces cut by the frame edge don't care): precision, recall over the frames analysed (a debug log line
per analysed frame names them; the wrapper that starts facelog turns on only that logger), track
purity (1 - share of tracks whose rows cover more than one person, over every row), persons found
(tracks CSV rows of the clip's first pass), and over the rows a reader keeps (docs/RTSP.md: those of
the tracks CSV's persons, a joined piece's frame rows, which a live run wrote under the piece's own
id, taken as its person's: the tracks CSV's ``pieces``) people split, IDF1 and per-person age MAE /
gender accuracy. A camera "keeps up" at >= 0.9 x the target fps (4.5 at 5). Also: the facelog
process's CPU seconds, the load average, the CPU model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import read_gt  # noqa: E402
from cctv_identity import identity_metrics  # noqa: E402
from cctv_score import detection_metrics, match_frames, per_person_metrics  # noqa: E402
from rtsp_soak import load_server_module  # noqa: E402  (one loader of tests/rtsp_server.py)

CLIP_FPS = 15
KEEP_UP = 0.9  # a camera keeps up at >= this share of the target fps
WRAPPER = (
    "import logging, sys; logging.getLogger('facelog.pipeline.live.loop').setLevel(logging.DEBUG); "
    "from facelog.cli import main; sys.exit(main(sys.argv[1:]))"
)
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def make_camera_clip(work: Path, height: int = 720, source: Path | None = None) -> tuple[Path, Path]:
    """walk720 (seed 0), or ``source`` (a 25-fps 1280x720 benchmark clip with its ``.gt.csv`` beside
    it), retimed to 15 fps H.264 at ``height`` lines, and its GT (frame k of the clip = GT frame k;
    boxes scaled with the frame)."""
    from cctv_synth import make_clip

    if source is None:
        src, gt = work / "walk720.mp4", work / "walk720.gt.csv"
        if not (src.exists() and gt.exists()):
            src, gt = make_clip(work, "walk720", 0)
        name = "cam15"
    else:
        src, gt = source, source.with_suffix(".gt.csv")
        if not gt.is_file():
            raise SystemExit(f"live_capacity: error: no ground truth {gt} beside {source}")
        name = f"cam15_{source.parent.name}_{source.stem}"
    vf = f"setpts=PTS*25/{CLIP_FPS}"
    dst = work / f"{name}.mp4"
    if height != 720:
        vf += f",scale=-2:{height}:flags=area"
        dst = work / f"{name}_{height}.mp4"
        scaled = work / f"{src.stem}_{height}.gt.csv"
        if not scaled.exists():
            rows = pd.read_csv(gt)
            for col in ("x1", "y1", "x2", "y2"):
                rows[col] = (rows[col] * height / 720).round(1)
            rows["face_px"] = (rows["face_px"] * height / 720).round().astype(int)
            rows.to_csv(scaled, index=False)
        gt = scaled
    if not dst.exists():
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", vf, "-r", str(CLIP_FPS),
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", str(CLIP_FPS),
               "-crf", "23", "-pix_fmt", "yuv420p", "-an", str(dst) + ".tmp.mp4"]  # fmt: skip
        subprocess.run(cmd, check=True, timeout=600)
        os.replace(str(dst) + ".tmp.mp4", dst)
    return dst, gt


def package_links(repo: Path, work: Path) -> Path:
    """A folder whose ``facelog`` package is ``repo``'s (for PYTHONPATH)."""
    root = work / f"pkg_{repo.name}"
    pkg = root / "facelog"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").touch()
    for name, target in (
        ("pipeline", "pipeline"),
        ("engines", "engines"),
        ("training", "training"),
        ("cli", "pipeline/cli"),
    ):
        link = pkg / name
        if not link.exists():
            link.symlink_to(repo / target)
    return root


def write_config(path: Path, urls: list[str], target_fps: float, extra: dict[str, Any]) -> None:
    cfg: dict[str, Any] = {
        "detector": {"kind": "auto"},
        "backend": {"kind": "auto"},
        "batching": {"batch_size": 32},
        "sampling": {"target_fps": target_fps},
        "tracking": {"enabled": True, "max_lost_frames": 50},
        "rtsp": {"cameras": [{"name": f"cam{i}", "url": u} for i, u in enumerate(urls)], "metrics_port": 0},
    }
    for key, value in extra.items():
        section, _, name = key.partition(".")
        cfg.setdefault(section, {})[name] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _log_time(line: str) -> float | None:
    m = LOG_TIME.match(line)
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None


def run_n(args: argparse.Namespace, n: int, clip: Path, srv: ModuleType) -> dict[str, Any]:
    out = args.work / f"{args.label}_n{n}"
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    mounts = {f"/cam{i}": str(clip) for i in range(n)}
    env = {**os.environ, "OPENCV_FFMPEG_LOGLEVEL": "-8"}
    if args.repo is not None:
        env["PYTHONPATH"] = str(package_links(args.repo.resolve(), args.work))
    extra = dict(kv.split("=", 1) for kv in args.config_extra)
    parsed = {k: yaml.safe_load(v) for k, v in extra.items()}  # 1 -> int, false -> bool
    with srv.RtspServer(mounts) as server:
        write_config(out / "cams.yaml", [server.url(m) for m in mounts], args.target_fps, parsed)
        log_path = out / "facelog.log"
        cmd = [sys.executable, "-c", WRAPPER, "-v", "run", "--config", str(out / "cams.yaml"), "-o", str(out)]
        load0 = os.getloadavg()
        cpu0 = os.times()
        with log_path.open("w") as log_fh:
            proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, env=env)
            # wait for every camera's connect line, then run --seconds
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if log_path.read_text().count("event=rtsp_connect") >= n:
                    break
                time.sleep(0.2)
            time.sleep(args.seconds)
            load1 = os.getloadavg()
            stop_wall = time.time()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
        cpu1 = os.times()
    text = log_path.read_text()
    summary = json.loads((out / "rtsp_summary.json").read_text())
    cams = {}
    gt_all = read_gt(args.gt)
    for i in range(n):
        name = f"cam{i}"
        cams[name] = camera_result(name, text, summary["cameras"][name], out, gt_all, stop_wall, args)
    ok = [c for c in cams.values() if c["analysed_fps"] >= KEEP_UP * args.target_fps]
    return {
        "n": n,
        "label": args.label,
        "exit_code": code,
        "cpu_s": round(
            (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system), 1
        ),
        "load_before": [round(x, 2) for x in load0],
        "load_end": [round(x, 2) for x in load1],
        "cameras_keeping_up": len(ok),
        "cameras": cams,
        "warnings": [ln.split(": ", 1)[-1][:300] for ln in text.splitlines() if "event=cameras_behind" in ln][
            :3
        ],
    }


def camera_result(
    name: str,
    text: str,
    summ: dict[str, Any],
    out: Path,
    gt_all: pd.DataFrame,
    stop_wall: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    connect = [
        t
        for ln in text.splitlines()
        if f"event=rtsp_connect camera={name} " in ln
        if (t := _log_time(ln)) is not None
    ]
    analysed = sorted(
        {int(m.group(1)) for m in re.finditer(rf"event=frame_analysed camera={name} frame=(\d+)", text)}
    )
    span = stop_wall - connect[0] if connect else 0.0
    read = summ["frames_read"]
    res: dict[str, Any] = {
        "analysed_fps": round(summ["frames_processed"] / span, 2) if span > 0 else 0.0,
        "frames_read": read,
        "frames_processed": summ["frames_processed"],
        "dropped_share_of_read": round(summ["frames_dropped"] / read, 3) if read else None,
        "reconnects": summ["reconnects"],
        "summary_analysed_fps": summ.get("analysed_fps"),
        "summary_keeping_up": summ.get("keeping_up"),
        "detector": {
            k: summ.get("detector", {}).get(k)
            for k in ("full_every", "frames_full", "frames_roi", "input_pixel_fraction")
        },
    }
    rows = [
        r
        for p in sorted((out / name).glob("*.csv"))
        if not p.stem.endswith("_tracks")
        for r in csv.DictReader(p.open(newline=""))
    ]
    # a camera that reached the clip's end reconnects and gets it again: score its first pass only
    # (frame_index counts the frames read across reconnects; so do the tracks CSV's first_frame)
    clip_frames = int(gt_all["frame_index"].max()) + 1
    tracks = [
        r
        for p in sorted((out / name).glob("*_tracks.csv"))
        for r in csv.DictReader(p.open(newline=""))
        if int(r["first_frame"]) < clip_frames
    ]
    analysed = [f for f in analysed if f < clip_frames]
    if not rows or not analysed:
        res["quality"] = None
        return res
    det = pd.DataFrame(rows)
    for col in ("frame_index", "track_id"):
        det[col] = det[col].astype(int)
    det = det[det["frame_index"] < clip_frames]
    for col in ("x1", "y1", "x2", "y2", "age", "age_smooth", "pts_ms"):
        det[col] = det[col].astype(float)
    # stream time says which clip frame a row is: it must agree with the frame counter
    res["pts_mismatch_rows"] = int(
        ((det["pts_ms"] * CLIP_FPS / 1000).round().astype(int) != det["frame_index"]).sum()
    )
    gt = gt_all[gt_all["frame_index"].isin(analysed)].reset_index(drop=True)
    d = detection_metrics(gt, match_frames(gt, det))
    tr = pd.DataFrame(tracks)
    piece_of: dict[int, int] = {}  # a joined piece's track id -> its person's (the tracks CSV's pieces)
    if len(tr):
        tr["track_id"] = tr["track_id"].astype(int)
        tr["age"] = tr["age"].astype(float)
        for tid, pieces in zip(tr["track_id"], tr.get("pieces", pd.Series([""] * len(tr))), strict=True):
            piece_of.update(dict.fromkeys(map(int, str(pieces or "").split()), int(tid)))
    # track purity over every row, as before; the rest over the rows a reader of the live CSVs keeps
    # (docs/RTSP.md): those of persons' tracks, a joined piece's taken as its person's
    multi = identity_metrics(gt, match_frames(gt, det), 10).get("tracks_multi_person")
    persons = set(tr.loc[tr["status"] == "person", "track_id"]) if len(tr) else set()
    det["track_id"] = det["track_id"].map(lambda t: piece_of.get(t, t))
    m = match_frames(gt, det[det["track_id"].isin(persons)].reset_index(drop=True))
    ident = identity_metrics(gt, m, 10)
    pp = per_person_metrics(gt, m, tr if len(tr) else None)
    res["quality"] = {
        "precision": d["precision"],
        "recall": d["recall"],
        "recall_ge32": d["recall_ge32"],
        "track_purity": None if multi is None else round(1 - multi, 4),
        "persons_gt": int(gt["person_id"].nunique()),
        "persons_matched": ident.get("persons_matched"),
        "people_split": ident.get("people_split"),
        "idf1": ident.get("idf1"),
        "pieces_joined": len(piece_of),
        "tracks_csv": pp.get("tracks_csv"),
    }
    return res


def print_table(results: list[dict[str, Any]], target: float) -> None:
    print(
        "| code | cameras | analysed fps per camera (min-max) | cameras >= %.1f fps | dropped at the reader"
        " | precision | recall (analysed frames) | track purity | persons tracks-CSV age MAE / gender |"
        " facelog CPU s | load avg |" % (KEEP_UP * target)
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cams = list(r["cameras"].values())
        fps = [c["analysed_fps"] for c in cams]
        drop = [c["dropped_share_of_read"] or 0 for c in cams]
        q = [c["quality"] for c in cams if c["quality"]]

        def rng(vals: list[float], fmt: str = "{:.2f}") -> str:
            if not vals:
                return "-"
            lo, hi = min(vals), max(vals)
            return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"

        tc = [x["tracks_csv"] for x in q if x.get("tracks_csv")]
        print(
            f"| {r['label']} | {r['n']} | {rng(fps)} | {r['cameras_keeping_up']}/{r['n']} "
            f"| {rng(drop, '{:.0%}')} "
            f"| {rng([x['precision'] for x in q if x['precision'] is not None], '{:.3f}')} "
            f"| {rng([x['recall'] for x in q if x['recall'] is not None], '{:.3f}')} "
            f"| {rng([x['track_purity'] for x in q if x['track_purity'] is not None], '{:.3f}')} "
            f"| {rng([t['age_mae'] for t in tc if t.get('age_mae') is not None])} / "
            f"{rng([t['gender_acc'] for t in tc if t.get('gender_acc') is not None], '{:.3f}')} "
            f"| {r['cpu_s']} | {r['load_before'][0]} -> {r['load_end'][0]} |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--cameras", default="2,4,8")
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--target-fps", type=float, default=5.0)
    ap.add_argument("--label", default="run")
    ap.add_argument("--repo", type=Path, default=None, help="run the facelog of this checkout")
    ap.add_argument("--config-extra", nargs="*", default=[], help="section.key=value added to cams.yaml")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--height", type=int, default=720, help="the cameras' lines (the clip shrunk)")
    ap.add_argument(
        "--clip", type=Path, default=None, help="a 25-fps benchmark clip (GT beside it) instead of walk720 s0"
    )
    args = ap.parse_args(argv)
    srv = load_server_module("live_capacity")
    if srv is None:
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    clip, args.gt = make_camera_clip(args.work, args.height, args.clip)
    results = []
    for n in (int(x) for x in args.cameras.split(",")):
        r = run_n(args, n, clip, srv)
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "cameras"}), flush=True)
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    print(f"CPU: {cpu}, {os.cpu_count()} cores")
    print_table(results, args.target_fps)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
