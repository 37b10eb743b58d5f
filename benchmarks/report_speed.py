"""How long ``facelog report`` takes over a month of hourly live files for 8 cameras (generated).

Generates, per camera and hour, the files a live run writes (``pipeline/live/rotating_sink.py``): a
frame CSV (one row per face per analysed frame at ``--fps``) and a tracks CSV (one row per person,
schema of ``sinks.TRACKS_HEADER`` plus the wall-clock columns), with traffic by hour of day (busy
days, quiet nights), a few static tracks (posters) and a few hours without video (camera down). Then
times ``facelog report DIR -o OUT --by hour`` and ``--by day`` in a subprocess (the command an
operator types) and prints one JSON line with the numbers.

    python benchmarks/report_speed.py --cameras 8 --days 31 --work /tmp/report_bench [--keep] [--reuse]

Wall time depends on what else runs; ``report_*_cpu_s`` (user + sys of the command) is what the wall
time is on an idle core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from facelog.pipeline.live.rotating_sink import LIVE_HEADER, LIVE_TRACKS_HEADER, wall_time_utc
from facelog.pipeline.sinks import SCHEMA_VERSION, TRACKS_SCHEMA_VERSION

HOUR_NS = 3600 * 1_000_000_000
MODEL = "facelog-age-gender@1.3.0"


def people_per_hour(hour: int, busy: float) -> float:
    """Expected people arriving in an hour of the day: a daytime hump, a few at night."""
    return 1.0 + busy * max(0.0, math.sin(math.pi * (hour - 6) / 15)) if 6 <= hour <= 21 else 1.0


def write_live_camera(
    root: Path,
    camera: str,
    start: dt.datetime,
    hours: int,
    rng: random.Random,
    busy: float = 40.0,
    fps: float = 5.0,
    down_hours: frozenset[int] = frozenset(),
) -> list[dict[str, object]]:
    """Write a camera's hourly frame and tracks CSVs under ``root/camera``; returns the person rows.

    Hours in ``down_hours`` (0-based from ``start``) have no files (camera down).
    """
    folder = root / camera
    folder.mkdir(parents=True, exist_ok=True)
    persons: list[dict[str, object]] = []
    frame_index = 0
    t0 = int(start.timestamp()) * 1_000_000_000
    header = ",".join(LIVE_HEADER) + "\n"
    track_header = ",".join(LIVE_TRACKS_HEADER) + "\n"
    for h in range(hours):
        if h in down_hours:
            continue
        hour_ns = t0 + h * HOUR_NS
        stamp = dt.datetime.fromtimestamp(hour_ns / 1e9, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        n = _poisson(rng, people_per_hour((start.hour + h) % 24, busy))
        rows, tracks = [header], []
        for k in range(n):
            static = rng.random() < 0.05
            dwell_s = rng.uniform(600, 3000) if static else min(120.0, rng.lognormvariate(2.0, 0.8))
            first = hour_ns + int(rng.uniform(0, 3600 - dwell_s) * 1e9)
            last = first + int(dwell_s * 1e9)
            age = min(90.0, max(1.0, rng.gauss(38, 16)))
            gender = "female" if rng.random() < 0.48 else "male"
            score = round(rng.uniform(0.6, 0.99), 4)
            seen = max(1, min(int(dwell_s * fps), 40))  # the analysed frames with this face (logged ones)
            step = (last - first) // seen
            track_id = h * 1000 + k
            for j in range(seen):
                wall = first + j * step
                frame_index += 5
                rows.append(
                    f"{camera},{frame_index},{(wall - t0) / 1e6:.3f},0,{track_id},100.0,80.0,160.0,150.0,"
                    f"0.91,{age + rng.gauss(0, 4):.2f},{gender},{score},{age:.2f},{gender},{MODEL},"
                    f"{SCHEMA_VERSION},"
                    f"{wall_time_utc(wall)},{wall}\n"
                )
            row: dict[str, object] = {
                "source": camera, "track_id": track_id, "first_frame": frame_index - 5 * seen,
                "last_frame": frame_index, "first_pts_ms": round((first - t0) / 1e6, 3),
                "last_pts_ms": round((last - t0) / 1e6, 3), "frames": seen, "age": round(age, 2),
                "age_low": round(age - 6, 2), "age_high": round(age + 6, 2), "gender": gender,
                "gender_score": score, "face_px": 52.0, "dwell_s": round(dwell_s, 3),
                "status": "static" if static else "person", "model": MODEL,
                "schema_version": TRACKS_SCHEMA_VERSION, "first_seen_utc": wall_time_utc(first),
                "last_seen_utc": wall_time_utc(last), "first_wall_ns": first, "last_wall_ns": last,
                "pieces": "",
            }  # fmt: skip
            persons.append(row)
            tracks.append(",".join(str(row[c]) for c in LIVE_TRACKS_HEADER) + "\n")
        (folder / f"{camera}_{stamp}.csv").write_text("".join(rows))
        if tracks:
            (folder / f"{camera}_{stamp}_tracks.csv").write_text(track_header + "".join(tracks))
    return persons


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth for small means, normal approximation above
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, default=8)
    p.add_argument("--days", type=int, default=31)
    p.add_argument("--busy", type=float, default=40.0, help="people per hour at the daytime peak")
    p.add_argument("--work", type=Path, default=Path("/tmp/facelog_report_bench"))
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--reuse", action="store_true", help="reuse the files a --keep run left in --work")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data, out = args.work / "live", args.work / "report"
    t = time.perf_counter()
    persons = -1  # unknown when reused
    if not (args.reuse and data.is_dir()):
        shutil.rmtree(args.work, ignore_errors=True)
        rng = random.Random(args.seed)
        start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        persons = 0
        for c in range(args.cameras):
            down = frozenset(rng.sample(range(args.days * 24), 6))  # a few outages per camera
            persons += len(
                write_live_camera(data, f"cam{c}", start, args.days * 24, rng, args.busy, down_hours=down)
            )
    gen_s = time.perf_counter() - t
    files = sum(1 for _ in data.rglob("*.csv"))
    size = sum(f.stat().st_size for f in data.rglob("*.csv"))
    result: dict[str, object] = {
        "cameras": args.cameras, "days": args.days, "files": files, "bytes": size, "persons": persons,
        "generate_s": round(gen_s, 1), "cpu": _cpu(), "cores": os.cpu_count(),
    }  # fmt: skip
    for by in ("hour", "day"):
        cmd = [sys.executable, "-m", "facelog.cli", "report", str(data), "-o", str(out / by), "--by", by]
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        result[f"report_{by}_s"] = round(wall, 2)
        result[f"report_{by}_cpu_s"] = round(cpu, 2)  # user + sys: what the wall time is on an idle machine
        result[f"load_before_{by}"] = round(load, 2)
        result[f"stderr_{by}"] = proc.stderr.strip().splitlines()[-1]
    result["command"] = "facelog report DIR -o OUT --by hour|day"
    print(json.dumps(result))
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
