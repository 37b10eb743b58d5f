"""How often the frontal check (``facelog.pipeline.detect.frontal.FrontalCheck``) finds a real face, by
the UTKFace race label and the face's size: the share of validation faces it would call "not a face".

    FACELOG_SHARED=../shared python benchmarks/frontal_faces.py [--sides 34 40 56] [--json OUT.json]

Each validation face (the model card's split, ``cctv_synth.validation_faces``) is shrunk to a chip of
``side`` px (area interpolation, then a Gaussian blur of sigma 0.7: a CCTV camera's softness), put in
the middle of a grey canvas three times as wide, found by YuNet (score >= 0.5, the box as the pipeline
gets it) and cut with ``identity.cut_patch`` as a track's kept face is; the check looks at that one
face. A track is called ``no_face`` only when none of its 2-8 kept faces passes, so a track's miss
rate is lower than a face's when its faces differ. UTKFace's race labels (0 White, 1 Black, 2 Asian,
3 Indian, 4 others) are the dataset's own, coarse, and used here only to ask whether the check fails
some people more often than others.

``--worlds`` also shows each face as the presets never do (``WORLDS``): ``mask`` (a surgical mask,
``../shared``'s ``data/stills/insightface/mask_white.jpg``, over the nose and mouth, placed by YuNet's
landmarks on the 200-px chip), ``sunglasses`` (dark lenses over the eyes, placed the same way),
``aboveNN`` (the chip as a flat card tilted NN degrees top towards the
camera, as a camera mounted high sees a face: foreshortened, wider at the top; a flat warp has no
nose or brow occlusion, so it flatters both detectors), ``glassNN`` (the face mirrored and at NN% of
its light over the grey behind: a reflection in a glass door). The table then has a ``world`` column; YuNet's
share found is the detector's limit there, ``frontal`` the check's among those found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED  # $FACELOG_SHARED or ../shared
from cctv_synth import validation_faces  # the model card's validation split
from face_worlds import MASK_FILE, from_above, masked, reflected, sunglasses

from facelog.pipeline.detect.frontal import FrontalCheck
from facelog.pipeline.tracking.identity import cut_patch
from facelog.pipeline.weights import YUNET_PATH

RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "others"}
# examples; any aboveNN and glassNN work
WORLDS = ("plain", "mask", "sunglasses", "above35", "above50", "glass35")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--sides", type=int, nargs="+", default=[34, 40, 56], help="chip sizes (px)")
    ap.add_argument("--json", type=Path, help="also write the table here")
    ap.add_argument("--worlds", nargs="+", default=["plain"], help=f"e.g. {' '.join(WORLDS)}")
    ap.add_argument("--faces", type=int, default=0, help="a random sample of this many faces (0: all)")
    args = ap.parse_args(argv)
    for world in args.worlds:
        if world not in ("plain", "mask", "sunglasses") and not (
            world[:5] in ("above", "glass") and world[5:].isdigit()
        ):
            print(
                f"frontal_faces: unknown world {world!r} (plain, mask, sunglasses, aboveNN, glassNN)",
                file=sys.stderr,
            )
            return 2
    labels = args.shared / "data" / "utkface" / "labels.csv"
    if not labels.is_file():
        print(f"frontal_faces: {labels} not found (set --shared)", file=sys.stderr)
        return 2
    val = validation_faces(args.shared)
    if args.faces:
        val = val.sample(min(args.faces, len(val)), random_state=0)
    race = pd.read_csv(labels).set_index("file")["race"]
    cloth = cv2.imread(str(args.shared / MASK_FILE))
    if "mask" in args.worlds and cloth is None:
        print(
            "frontal_faces: data/stills/insightface/mask_white.jpg not found (set --shared)", file=sys.stderr
        )
        return 2
    on_chip = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (200, 200), 0.5)
    check, rows = FrontalCheck(), []
    for path, world in ((p, w) for p in val["path"] for w in args.worlds):
        chip = cv2.imread(path)
        if world == "mask":
            chip = masked(chip, cloth, on_chip)
            if chip is None:  # no landmarks to place the mask on (0.1% of the faces)
                continue
        elif world == "sunglasses":
            chip = sunglasses(chip, on_chip)
            if chip is None:
                continue
        elif world.startswith("above"):
            chip = from_above(chip, float(world[5:]))
        elif world.startswith("glass"):
            chip = reflected(chip, float(world[5:]) / 100)
        for side in args.sides:
            small = cv2.GaussianBlur(
                cv2.resize(chip, (side, side), interpolation=cv2.INTER_AREA), (0, 0), 0.7
            )
            canvas = np.full((3 * side, 3 * side, 3), 110, np.uint8)
            canvas[side : 2 * side, side : 2 * side] = small
            det = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (3 * side, 3 * side), 0.5)
            _, found = det.detect(canvas)
            row = {
                "world": world,
                "race": RACES.get(int(race[Path(path).name]), "?"),
                "side": side,
                "found": found is not None,
            }
            if found is not None:
                x, y, w, h = (float(v) for v in found[0][:4])
                row["face_px"] = float(np.sqrt(w * h))
                row["frontal"] = check.frontal(cut_patch(canvas, np.array([x, y, x + w, y + h]), 0))
            rows.append(row)
    d = pd.DataFrame(rows)
    d["frontal"] = d["frontal"].astype(float)  # NaN where YuNet found no face
    keys = ["side", "race"] if args.worlds == ["plain"] else ["world", "side"]
    table = (
        d.groupby(keys)
        .agg(
            faces=("found", "size"),
            yunet=("found", "mean"),
            face_px=("face_px", "median"),
            frontal=("frontal", "mean"),
        )
        .round(4)
        .reset_index()
    )
    table["not_a_face"] = (1 - table["frontal"]).round(4)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for rec in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in rec) + " |")
    print(f"{check.calls} faces looked at, {1000 * check.seconds / max(check.calls, 1):.1f} ms a face")
    if args.json:
        args.json.write_text(json.dumps(table.to_dict(orient="records"), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
