"""The interlace test's reading of each clip: ``interlace.comb_ratio`` on every frame with motion.

    python benchmarks/comb_ratio.py CLIP [CLIP ...] [--frames 300]

Per clip, over its first ``--frames`` frames read as the ``Deinterlacer`` reads them
(``interlace.grey_sample``, each frame against the one before): how many frames had enough motion
to judge, the median, 90th percentile and largest ratio, how many were over ``COMB_RATIO``, and whether
``Deinterlacer("auto")`` calls the clip interlaced (and from which frame). A progressive clip should stay
well under ``COMB_RATIO`` everywhere; a woven one should pass it within a few frames of motion.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from facelog.pipeline.frames.interlace import COMB_RATIO, Deinterlacer, comb_ratio, grey_sample


def read(clip: Path, frames: int) -> dict[str, object]:
    """The clip's ratios and the auto decision (``ValueError`` when it cannot be read)."""
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise ValueError(f"{clip}: cannot be read as video")
    auto = Deinterlacer("auto")
    ratios: list[float] = []
    previous = None
    for _ in range(frames):
        ok, image = cap.read()
        if not ok:
            break
        auto(image)
        grey = grey_sample(image)
        if previous is not None:
            r = comb_ratio(previous, grey)
            if r is not None:
                ratios.append(r)
        previous = grey
    cap.release()
    v = np.array(ratios)
    return {
        "judged": len(v),
        "median": float(np.median(v)) if len(v) else None,
        "p90": float(np.percentile(v, 90)) if len(v) else None,
        "max": float(v.max()) if len(v) else None,
        "combed": int((v > COMB_RATIO).sum()),
        "interlaced_from": auto.since_frame,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("--frames", type=int, default=300, help="frames read per clip")
    args = ap.parse_args(argv)
    print("| clip | frames judged | median | p90 | max | over COMB_RATIO | auto: one field from frame |")
    print("|---|---|---|---|---|---|---|")
    for clip in args.clips:
        try:
            r = read(clip, args.frames)
        except ValueError as exc:
            print(f"comb_ratio: {exc}", file=sys.stderr)
            return 2

        def f(x: object) -> str:
            return "-" if x is None else f"{x:.2f}" if isinstance(x, float) else str(x)

        name = "/".join(clip.parts[-2:])
        cells = [r["judged"], r["median"], r["p90"], r["max"], r["combed"], r["interlaced_from"]]
        print(f"| {name} | " + " | ".join(f(c) for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
