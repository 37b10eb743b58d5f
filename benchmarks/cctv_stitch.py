"""Two CCTV clips stitched at a hard cut, as a recorder exports motion events into one file.

    python benchmarks/cctv_stitch.py --first WORK/clips/walk720.mp4 --then WORK/clips_s1/walk720.mp4 \\
        --at 375 --out WORK/clips_cut/walk720.mp4

The output shows ``--first``'s frames before ``--at`` and ``--then``'s from ``--at`` on, timestamps
running on without a gap (one 25-fps x264 pass at crf 23, as ``cctv_bench``'s cameras). Its GT
(``NAME.gt.csv`` beside it) holds ``--first``'s rows before the cut and ``--then``'s after it, their
``person_id`` raised by ``PERSON_OFFSET``: nobody is on both sides. Two seeds of one preset put their
people on the same paths, so the cut leaves different people where others just were, mid-step.
Score with ``cctv_score.py`` as any clip.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_bench import X264, BenchError
from cctv_common import GroundTruthError, read_csv_checked, temp_beside

PERSON_OFFSET = 1000  # the second clip's people: their ids plus this


def stitch(first: Path, then: Path, at: int, out: Path) -> None:
    """Write the stitched clip to ``out`` and its GT to ``out`` with ``.gt.csv`` (module docstring)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise BenchError("needs the ffmpeg binary on PATH (Debian: apt-get install ffmpeg)")
    gt_a = read_csv_checked(first.with_suffix(".gt.csv"), ("frame_index", "person_id"), "GT")
    gt_b = read_csv_checked(then.with_suffix(".gt.csv"), ("frame_index", "person_id"), "GT")
    graph = (
        f"[0:v]trim=end_frame={at},setpts=PTS-STARTPTS[a];"
        f"[1:v]trim=start_frame={at},setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    gt_out = out.with_suffix(".gt.csv")
    mp4_tmp, gt_tmp = temp_beside(out), temp_beside(gt_out)
    try:
        cmd = [ffmpeg, "-loglevel", "error", "-y", "-i", str(first), "-i", str(then), "-filter_complex",
               graph, "-map", "[v]", "-r", "25", "-c:v", "libx264", *X264, "-pix_fmt", "yuv420p",
               "-f", "mp4", str(mp4_tmp)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BenchError(f"ffmpeg failed on {first} + {then}: {proc.stderr.strip().splitlines()[-1:]}")
        before = gt_a[gt_a.frame_index < at]
        after = gt_b[gt_b.frame_index >= at].assign(person_id=lambda d: d.person_id + PERSON_OFFSET)
        pd.concat([before, after], ignore_index=True).to_csv(gt_tmp, index=False)
        os.replace(mp4_tmp, out)
        os.replace(gt_tmp, gt_out)
    finally:
        mp4_tmp.unlink(missing_ok=True)
        gt_tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--first", type=Path, required=True, help="clip shown before the cut (GT beside it)")
    ap.add_argument("--then", type=Path, required=True, help="clip shown from the cut on (GT beside it)")
    ap.add_argument("--at", type=int, default=375, help="the cut's frame (default 375: 15 s at 25 fps)")
    ap.add_argument("--out", type=Path, required=True, help="the stitched clip (.mp4); its GT beside it")
    args = ap.parse_args(argv)
    try:
        stitch(args.first, args.then, args.at, args.out)
    except (BenchError, GroundTruthError) as e:
        print(f"cctv_stitch: {e}", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
