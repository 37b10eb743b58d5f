"""Age and gender of faces seen from above, with the pipeline's eye crop and with a crop stretched back.

    FACELOG_SHARED=../shared python benchmarks/pitch_crop.py [--faces 400] [--sides 48 96]

A camera mounted high sees faces foreshortened: eyes and mouth closer together than in the model's
training chips. Each validation face (a seeded sample of the model card's split) is shown as
``face_worlds.from_above`` tilts it (0, 25, 40, 55 degrees; a flat warp, an upper bound on what a real
head gives), shrunk to ``side`` px on a grey canvas with a soft blur, found by the pipeline's detector
and cut with ``crop.chip_transforms`` (``cur``), or with the chip stretched vertically about the eye
line so that the mouth sits as far below the eyes as on frontal faces (``stretch``: factor ``r0 / r``,
1 to 1.6, where ``r`` is the mouth's distance below the eye line in chip units and ``r0`` its median
over the frontal faces at the largest side), or stretched only when ``r < 0.9 r0`` (``stretch_0.9``).
Prints age MAE and gender accuracy per angle, side and crop. The stretch was measured, not shipped
(docs/BENCHMARKS.md, "Masks and a camera above").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED  # $FACELOG_SHARED or ../shared
from cctv_synth import validation_faces  # the model card's validation split
from face_worlds import from_above

from facelog.engines.preprocess import decode_age
from facelog.pipeline import crop
from facelog.pipeline.config import load_config
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.types import Faces

ANGLES = (0, 25, 40, 55)


def _canvas(small: np.ndarray) -> np.ndarray:
    """The face on a 400 x 400 grey canvas at (150, 150) (kept small per row: rebuilt when needed)."""
    canvas = np.full((400, 400, 3), 110, np.uint8)
    canvas[150 : 150 + small.shape[0], 150 : 150 + small.shape[1]] = small
    return canvas


def mouth_below_eyes(mat: np.ndarray, face: Faces, eye_y: float) -> float:
    """How far below the eye line the mouth's midpoint falls in the chip (fractions of its side)."""
    mouth = face.landmarks[0, 3:5].mean(0) if face.landmarks is not None else np.zeros(2)
    return float(mat[1, 0] * mouth[0] + mat[1, 1] * mouth[1] + mat[1, 2]) - eye_y


def stretched(mat: np.ndarray, r: float, r0: float, below: float, eye_y: float) -> np.ndarray:
    """``mat`` with its chip rows stretched about the eye line by ``r0 / r`` (1-1.6) when ``r < below r0``."""
    if r <= 0 or r >= below * r0:
        return mat
    s = min(1.6, max(1.0, r0 / r))
    out = mat.copy()
    out[1] = s * mat[1]
    out[1, 2] += eye_y * (1 - s)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--faces", type=int, default=400)
    ap.add_argument("--sides", type=int, nargs="+", default=[48, 96])
    args = ap.parse_args(argv)
    if not (args.shared / "data" / "utkface").is_dir():
        print(f"pitch_crop: {args.shared}/data/utkface not found (set --shared)", file=sys.stderr)
        return 2
    cfg = load_config()
    framing = crop.YUNET_FRAMING
    val = validation_faces(args.shared)
    val = val.sample(min(args.faces, len(val)), random_state=2)
    rows = []
    with InferenceSession(cfg) as session:
        analyzer = session.analyzer()
        for path, age, gender in zip(val["path"], val["age"], val["gender"], strict=True):
            face_chip = cv2.imread(path)
            for angle in ANGLES:
                chip = from_above(face_chip, angle) if angle else face_chip
                for side in args.sides:
                    small = cv2.GaussianBlur(
                        cv2.resize(chip, (side, side), interpolation=cv2.INTER_AREA), (0, 0), 0.7
                    )
                    found = session.detector.detect(_canvas(small))
                    if not len(found) or found.landmarks is None:
                        continue
                    j = int(np.argmax(found.score))
                    face = Faces(found.xyxy[j : j + 1], found.score[j : j + 1], found.landmarks[j : j + 1])
                    mats, sides = crop.chip_transforms(face, cfg.crop, framing)
                    r = mouth_below_eyes(mats[0], face, framing.eye_y)
                    rows.append((angle, side, age, gender, r, small, mats[0], float(sides[0])))
        d = pd.DataFrame(rows, columns=["angle", "side", "age", "gender", "r", "small", "mat", "chip_side"])
        r0 = float(d[(d.angle == 0) & (d.side == max(args.sides))].r.median())
        crops = {"cur": 2.0, "stretch": 1.0, "stretch_0.9": 0.9}  # stretch when r < below x r0 (2: never)
        for name, below in crops.items():
            chips = []
            for rec in d.itertuples():
                mat = stretched(rec.mat, rec.r, r0, below, framing.eye_y) if below < 2 else rec.mat
                k = int(min(crop.MAX_CHIP, max(64, round(rec.chip_side))))
                chips.append(
                    cv2.warpAffine(_canvas(rec.small), mat * k, (k, k), borderMode=cv2.BORDER_REPLICATE)
                )
            out = analyzer.infer_chips(chips)
            d[f"mae_{name}"] = np.abs(decode_age(out.age_probs) - d.age)
            d[f"gender_{name}"] = np.where(out.female > 0.5, "female", "male") == d.gender
    print(f"r0 (mouth below the eye line, frontal faces at {max(args.sides)} px): {r0:.3f}")
    agg = {c: (c, "mean") for c in d.columns if c.startswith(("mae_", "gender_"))}
    table = d.groupby(["angle", "side"]).agg(faces=("age", "size"), r=("r", "median"), **agg).round(3)
    print("| angle | side | " + " | ".join(table.columns) + " |")
    print("|" + "---|" * (len(table.columns) + 2))
    for (angle, side), rec in table.iterrows():
        print(f"| {angle} | {side} | " + " | ".join(str(v) for v in rec.tolist()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
