"""Calibrate the face crop: where does each detector put its box and eyes on a UTKFace chip?

UTKFace's 200x200 aligned chips are what the model was trained on. Each chip is pasted into the
middle of a 400x400 grey canvas and run through the detector; the chip's square, expressed in the
detector's box (side / box width, side / box height, centre shift / box size) and in its eyes (side /
eye distance, eye midpoint within the chip, eye angle), is the framing the crop must reproduce.

    nice -n 5 .venv/bin/python benchmarks/crop_calibration.py [--n 600] [--shared ../shared]

Prints median, mean, p10 and p90 per quantity and detector (numbers in docs/PIPELINE.md).

With ``--eval MODEL.onnx [--split RUN/split.json]`` it also checks the framing end to end: validation
chips are pasted into a 640x480 frame (scaled 1.3x, upright and tilted 12 degrees), detected, cropped
with each framing and classified; age MAE and gender accuracy per framing, against the chip itself
fed directly (what training saw) and the raw detector box (no calibration).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import cv2
import numpy as np

from facelog.pipeline.detect import BlazeFaceDetector, Detector, YuNetDetector

CHIP, PAD = 200, 100


def measure(det: Detector, files: list[Path]) -> dict[str, list[float]]:
    q: dict[str, list[float]] = {
        k: []
        for k in (
            "side/box_w",
            "side/box_h",
            "shift_x/box_w",
            "shift_y/box_h",
            "side/eye_dist",
            "eye_mid_x",
            "eye_mid_y",
            "eye_angle_deg",
        )
    }
    for f in files:
        img = cv2.imread(str(f))
        if img is None or img.shape[:2] != (CHIP, CHIP):
            continue
        canvas = np.full((CHIP + 2 * PAD, CHIP + 2 * PAD, 3), 127, np.uint8)
        canvas[PAD : PAD + CHIP, PAD : PAD + CHIP] = img
        faces = det.detect(canvas)
        if len(faces) == 0:
            continue
        i = int(np.argmax(faces.score))
        x1, y1, x2, y2 = (float(v) - PAD for v in faces.xyxy[i])
        w, h = x2 - x1, y2 - y1
        q["side/box_w"].append(CHIP / w)
        q["side/box_h"].append(CHIP / h)
        q["shift_x/box_w"].append((CHIP / 2 - (x1 + x2) / 2) / w)
        q["shift_y/box_h"].append((CHIP / 2 - (y1 + y2) / 2) / h)
        if faces.landmarks is not None:
            e = faces.landmarks[i, :2] - PAD
            e = e[np.argsort(e[:, 0])]
            d = float(np.hypot(*(e[1] - e[0])))
            m = e.mean(0)
            q["side/eye_dist"].append(CHIP / d)
            q["eye_mid_x"].append(m[0] / CHIP)
            q["eye_mid_y"].append(m[1] / CHIP)
            q["eye_angle_deg"].append(float(np.degrees(np.arctan2(e[1, 1] - e[0, 1], e[1, 0] - e[0, 0]))))
    return q


def evaluate_framings(det: Detector, files: list[Path], model: Path) -> dict[str, tuple[float, float, int]]:
    """framing -> (age MAE, gender accuracy, faces) on chips pasted into a frame."""
    from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
    from facelog.pipeline.analyzer import FaceAnalyzer
    from facelog.pipeline.config import CropConfig
    from facelog.pipeline.types import Faces, Frame

    backend = OnnxRuntimeBackend(model, threads=1)
    raw = CropConfig(framing="box", box_side=1.0, box_shift_y=0.0)
    framings = {"eyes": CropConfig(framing="eyes"), "box": CropConfig(framing="box"), "raw box": raw}
    errs: dict[str, list[float]] = {k: [] for k in ("chip itself", *framings)}
    hits: dict[str, list[bool]] = {k: [] for k in errs}
    for f in files:
        age, gender = (int(x) for x in f.name.split("_")[:2])
        chip = cv2.imread(str(f))
        if chip is None or chip.shape[:2] != (CHIP, CHIP):
            continue
        for tilt in (0.0, 12.0):
            canvas = np.full((480, 640, 3), 127, np.uint8)
            canvas[140:340, 220:420] = chip
            rot = cv2.getRotationMatrix2D((320.0, 240.0), tilt, 1.3)
            frame = Frame("x", 0, 0, cv2.warpAffine(canvas, rot, (640, 480), borderValue=(127, 127, 127)))
            faces = det.detect(frame.image)
            if len(faces) == 0:
                continue
            b = int(np.argmax(faces.score))
            lm = faces.landmarks[b : b + 1] if faces.landmarks is not None else None
            one = Faces(faces.xyxy[b : b + 1], faces.score[b : b + 1], lm)
            whole = Faces(np.array([[0, 0, 200, 200]], np.float32), np.ones(1, np.float32))
            cases = [
                (
                    "chip itself",
                    Frame("c", 0, 0, chip),
                    whole,
                    CropConfig(framing="box", box_side=1.0, box_shift_y=0.0),
                )
            ]
            cases += [(name, frame, one, cfg) for name, cfg in framings.items()]
            for name, fr, fc, cfg in cases:
                p = FaceAnalyzer(backend, cfg, framing=det.framing).analyze([(fr, fc)])[0].predictions[0]
                errs[name].append(abs(p.age - min(age, 100)))
                hits[name].append((p.gender == "female") == (gender == 1))
    return {k: (float(np.mean(errs[k])), float(np.mean(hits[k])), len(errs[k])) for k in errs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_shared = os.environ.get("FACELOG_SHARED", str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--shared", type=Path, default=Path(default_shared))
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval", type=Path, help="age/gender ONNX model: also evaluate framings end to end")
    ap.add_argument("--split", type=Path, help="training split.json: evaluate on its 'val' faces only")
    args = ap.parse_args()
    images = sorted((args.shared / "data" / "utkface" / "images").glob("*.jpg"))
    yunet = args.shared / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"
    if not images or not yunet.is_file():
        print(f"UTKFace images or YuNet not found under {args.shared}", file=sys.stderr)
        return 2
    files = random.Random(args.seed).sample(images, min(args.n, len(images)))
    dets: list[Detector] = [
        YuNetDetector(yunet, 0.6, min_face_px=0),
        BlazeFaceDetector(score_threshold=0.5, min_face_px=0),
    ]
    print(f"{len(files)} UTKFace chips in a {CHIP + 2 * PAD}px canvas")
    print("| detector | quantity | median | mean | p10 | p90 | n |")
    print("|---|---|---|---|---|---|---|")
    for det in dets:
        for name, vals in measure(det, files).items():
            if not vals:
                continue
            a = np.array(vals)
            p10, p90 = np.percentile(a, [10, 90])
            print(
                f"| {det.name} | {name} | {np.median(a):.3f} | {a.mean():.3f} | {p10:.3f} | {p90:.3f} "
                f"| {len(a)} |"
            )
    if args.eval:
        pool = images
        if args.split:
            import json

            val = set(json.loads(args.split.read_text())["val"])
            pool = [p for p in images if p.name in val]
        sample = random.Random(args.seed + 1).sample(pool, min(args.n, len(pool)))
        print(
            f"\nframing end to end: {len(sample)} {'validation ' if args.split else ''}chips x (upright, "
            f"tilted 12 deg), scaled 1.3x in a 640x480 frame, model {args.eval.name}"
        )
        print("| detector | framing | age MAE | gender acc | faces |")
        print("|---|---|---|---|---|")
        for det in dets:
            for name, (mae, acc, n) in evaluate_framings(det, sample, args.eval).items():
                print(f"| {det.name} | {name} | {mae:.2f} | {acc:.3f} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
