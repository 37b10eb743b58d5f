"""Compare the face detectors: recall/precision on the 43 labelled faces of dlib's VOC examples,
false boxes on dogs.jpg, and ms per image (the 9 VOC photos, 500x375).

    nice -n 5 .venv/bin/python benchmarks/detectors.py [--shared ../shared] [--repeats 5]

A detection matches a labelled face when IoU >= 0.3 (dlib's boxes are tighter and squarer than
either detector's, so a strict IoU would punish framing rather than misses). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.detect import BlazeFaceDetector, Detector, YuNetDetector
from facelog.pipeline.weights import YUNET_PATH

IOU_MATCH = 0.3


def load_labels(folder: Path) -> dict[str, np.ndarray]:
    """file name -> (n, 4) xyxy boxes from dlib's training.xml and testing.xml."""
    out: dict[str, np.ndarray] = {}
    for xml in ("training.xml", "testing.xml"):
        for img in ET.parse(folder / xml).getroot().iter("image"):
            boxes = [
                [
                    float(b.get("left", 0)),
                    float(b.get("top", 0)),
                    float(b.get("left", 0)) + float(b.get("width", 0)),
                    float(b.get("top", 0)) + float(b.get("height", 0)),
                ]
                for b in img.iter("box")
            ]
            out[img.get("file", "")] = np.array(boxes, np.float32).reshape(-1, 4)
    return out


def match(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """Greedy one-to-one matching: (true positives, predictions)."""
    ious = iou_matrix(pred, truth)
    tp = 0
    used_p: set[int] = set()
    used_t: set[int] = set()
    for flat in np.argsort(-ious, axis=None) if ious.size else ():
        i, j = divmod(int(flat), ious.shape[1])
        if ious[i, j] < IOU_MATCH:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        tp += 1
    return tp, len(pred)


def evaluate(det: Detector, folder: Path, labels: dict[str, np.ndarray], repeats: int) -> dict[str, float]:
    images = {f: cv2.imread(str(folder / f)) for f in labels}
    tp = npred = ntrue = 0
    for f, img in images.items():
        faces = det.detect(img)
        t, p = match(faces.xyxy, labels[f])
        tp, npred, ntrue = tp + t, npred + p, ntrue + len(labels[f])
    for img in images.values():  # warm-up
        det.detect(img)
    t0 = time.perf_counter()
    for _ in range(repeats):
        for img in images.values():
            det.detect(img)
    ms = (time.perf_counter() - t0) * 1000 / (repeats * len(images))
    dogs = len(det.detect(cv2.imread(str(folder / "dogs.jpg"))))
    return {"recall": tp / ntrue, "precision": tp / max(npred, 1), "ms": ms, "dogs": dogs, "faces": ntrue}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_shared = os.environ.get("FACELOG_SHARED", str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--shared", type=Path, default=Path(default_shared))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    folder = args.shared / "data" / "stills" / "dlib_examples"
    yunet = YUNET_PATH  # the shipped file
    if not folder.is_dir():
        print(f"shared data not found under {args.shared}", file=sys.stderr)
        return 2
    cv2.setNumThreads(2)
    labels = load_labels(folder)
    rows = []
    for thr in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        rows.append(
            (f"yunet {thr}", evaluate(YuNetDetector(yunet, thr, min_face_px=0), folder, labels, args.repeats))
        )
    det = YuNetDetector(yunet)
    rows.append((f"yunet defaults (0.5, min_face_px {det.min_face_px:g})", evaluate(det, folder, labels, 1)))
    for thr in (0.4, 0.5, 0.6, 0.7):
        rows.append(
            (
                f"blazeface {thr}",
                evaluate(BlazeFaceDetector(score_threshold=thr, min_face_px=0), folder, labels, args.repeats),
            )
        )
    n = int(rows[0][1]["faces"])
    print(
        f"| detector, score threshold | recall ({n} faces, IoU>=0.3) | precision | ms/image "
        "| dogs.jpg false boxes |"
    )
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['recall']:.3f} | {r['precision']:.3f} | {r['ms']:.1f} | {int(r['dogs'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
