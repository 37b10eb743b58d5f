"""The per-person answer on the six real 480x270 clips, at default settings (issue 21's targets).

Runs ``process_video`` on each labelled clip of ``../shared/data/videos`` and compares its tracks CSV
with ``benchmarks/real_faces_labels.csv`` (13 people labelled by eye): persons counted (rows with
status ``person``) against people labelled, and each labelled person's gender and age range against
the track whose median face centre lies in that person's region (the largest such track if several:
the others count as splits).

    python benchmarks/real_clips.py [--set tracking.use_identity=false ...] [--json out.json] [--interlaced]
        [--d1 wide|square]

``--interlaced``: each clip first recorded as an interlaced camera would, not deinterlaced
(``cctv_bench``'s ``--camera interlaced`` weave: even rows from one frame, odd rows from the one
before; at these clips' 12.5-16.7 fps the fields are 60-80 ms apart, three to four times a 25i
camera's 20 ms). Needs the ffmpeg binary.

``--d1 wide``: each clip first stored as a DVR's anamorphic D1 stream: 720x576 frames whose pixels
are 64:45 wide (a player shows 1024x576, the clip's 16:9); ``--d1 square``: the same picture stored
1024x576 in square pixels (the control). The labels' regions are scaled to the width of the frames
the run analysed (its summary's ``width``).

Needs ``../shared`` beside the checkout. Prints one line per clip and a total.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import pandas as pd
import yaml
from cctv_bench import CAMERAS

from facelog.pipeline.config import load_config
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import tracks_path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LABELS = REPO / "benchmarks" / "real_faces_labels.csv"


def labelled_clips() -> dict[str, list[dict[str, str]]]:
    """Clip path (relative to ../shared/data) -> its labelled people."""
    out: dict[str, list[dict[str, str]]] = {}
    with LABELS.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["source"].startswith("videos/"):
                out.setdefault(row["source"], []).append(row)
    return out


def score_clip(
    people: list[dict[str, str]], rows: pd.DataFrame, tracks: pd.DataFrame, scale: float = 1.0
) -> dict[str, Any]:
    """Counts, and per labelled person the matched track's gender and age. ``scale``: the rows' frame
    width over the clip's own (the labels' regions are in the clip's pixels)."""
    centre = rows.assign(cx=(rows.x1 + rows.x2) / 2).groupby("track_id").cx.median()
    persons = tracks[tracks.status == "person"]
    found, gender_ok, age_ok, splits = 0, 0, 0, 0
    for p in people:
        lo, hi = float(p["x0"]) * scale, float(p["x1"]) * scale
        mine = persons[persons.track_id.map(lambda t, lo=lo, hi=hi: lo <= centre.get(t, -1) < hi)]
        if mine.empty:
            continue
        found += 1
        splits += len(mine) - 1
        best = mine.sort_values("frames").iloc[-1]
        gender_ok += best.gender == p["gender"]
        age_ok += float(p["age_lo"]) <= best.age <= float(p["age_hi"])
    return {
        "labelled": len(people),
        "persons": len(persons),
        "found": found,
        "splits": splits,
        "gender_right": int(gender_ok),
        "age_in_range": int(age_ok),
    }


def _width(clip: Path) -> int:
    cap = cv2.VideoCapture(str(clip))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    finally:
        cap.release()


def recode(clip: Path, folder: Path, name: str, vf: str) -> Path:
    """``clip`` through the ffmpeg filter ``vf`` (x264 CRF 18), as ``folder/<stem>.<name>.mp4``."""
    out = folder / f"{clip.stem}.{name}.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(clip), "-vf", vf,
           "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


# ``--d1``: stored as 720x576 frames of 64:45 pixels (PAL D1 at 16:9), or as the 1024x576 a player
# shows for them in square pixels (the control)
D1 = {"wide": "scale=720:576,setsar=64/45", "square": "scale=1024:576,setsar=1"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (YAML value)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--interlaced", action="store_true", help="each clip woven as an interlaced camera's")
    ap.add_argument("--d1", choices=sorted(D1), help="store each clip as a D1 camera's")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs {SHARED}", file=sys.stderr)
        return 2
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = load_config(None, overrides)
    results = {}
    with InferenceSession(cfg) as session, tempfile.TemporaryDirectory() as tmp:
        for clip, people in sorted(labelled_clips().items()):
            out = Path(tmp) / (Path(clip).stem + ".csv")
            video = SHARED / clip
            if args.interlaced:  # cctv_bench's interlaced camera
                video = recode(video, Path(tmp), "interlaced", CAMERAS["interlaced"].vf)
            width = _width(video)
            if args.d1:
                video = recode(video, Path(tmp), f"d1{args.d1}", D1[args.d1])
            summary = process_video(video, out, cfg, session=session)
            rows, tracks = pd.read_csv(out), pd.read_csv(tracks_path(out))
            scale = summary.width / width  # the labels' regions are in the clip's own pixels
            r = results[clip] = score_clip(people, rows, tracks, scale)
            print(
                f"{Path(clip).name}: {r['persons']} persons for {r['labelled']} people, "
                f"{r['found']} found, {r['splits']} extra tracks, gender {r['gender_right']}/{r['found']}, "
                f"age in range {r['age_in_range']}/{r['found']}"
            )
    tot = {k: sum(r[k] for r in results.values()) for k in next(iter(results.values()))}
    right = sum(r["persons"] == r["labelled"] for r in results.values())
    print(
        f"total: persons count right on {right}/{len(results)} clips; {tot['found']}/{tot['labelled']} "
        f"people found, gender {tot['gender_right']}/{tot['found']}, age {tot['age_in_range']}/{tot['found']}"
    )
    if args.json:
        out = {"overrides": overrides, "interlaced": args.interlaced, "d1": args.d1,
               "clips": results, "total": tot}  # fmt: skip
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
