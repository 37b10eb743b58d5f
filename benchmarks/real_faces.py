"""Age and gender of real camera faces, per person, for several models side by side (issue 21).

    python benchmarks/real_faces.py --model engines/models/facelog_age_gender.onnx \\
        --model RUN/model.onnx [--data ../shared/data] [--json out.json]

The people are labelled by eye in ``benchmarks/real_faces_labels.csv`` (one row a person: the clip or
still, a region where that person's face centre stays, gender, an age range, and how the row was
labelled); the pictures stay in ``../shared/data``. This set is never used for training.

Each frame (or still) is searched at its own size with YuNet (``cv2.FaceDetectorYN``, score >= 0.4,
faces >= 10 px); a face belongs to the person whose region holds its centre (the one nearest the
region's centre when several do). Faces are cut as the pipeline cuts them (``pipeline.crop``, the
YuNet framing, eyes level) and fed to each model. Per person: gender = the mean probability over the
person's faces (> 0.5 female), age = the mean expected age, judged against the labelled range.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
from facelog.engines.preprocess import crops_to_pixels, decode_age
from facelog.pipeline.config import CropConfig
from facelog.pipeline.crop import YUNET_FRAMING, crop_faces
from facelog.pipeline.types import Faces

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LABELS = HERE / "real_faces_labels.csv"
YUNET = HERE.parent / "pipeline" / "models" / "face_detection_yunet_2023mar.onnx"
SCORE_THRESHOLD = 0.4
MIN_FACE_PX = 10


@dataclass(frozen=True)
class Person:
    """One labelled person (a row of the labels file)."""

    source: str  # relative to the data folder: videos/x.mp4 or stills/.../y.jpg
    person: str
    region: tuple[float, float, float, float]  # x0, y0, x1, y1: where the face centre lies (pixels)
    gender: str  # "female" | "male"
    age_lo: int
    age_hi: int

    @property
    def key(self) -> str:
        return f"{Path(self.source).stem}/{self.person}"


@dataclass
class Reading:
    """One model's answers over one person's faces."""

    p_female: list[float] = field(default_factory=list)
    age: list[float] = field(default_factory=list)


def read_labels(path: Path) -> list[Person]:
    """The labelled people. Raises ValueError on a bad row (naming it)."""
    people = []
    with path.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                p = Person(
                    row["source"],
                    row["person"],
                    (float(row["x0"]), float(row["y0"]), float(row["x1"]), float(row["y1"])),
                    row["gender"],
                    int(row["age_lo"]),
                    int(row["age_hi"]),
                )
            except (KeyError, ValueError) as err:
                raise ValueError(f"{path}:{i}: bad row {row}: {err}") from None
            if p.gender not in ("female", "male") or p.age_lo > p.age_hi:
                raise ValueError(f"{path}:{i}: gender must be female|male and age_lo <= age_hi, got {row}")
            people.append(p)
    return people


def frames_of(path: Path) -> Iterator[np.ndarray]:
    """BGR frames of a clip, or the one image of a still."""
    if path.suffix.lower() in (".mp4", ".mkv", ".avi"):
        cap = cv2.VideoCapture(str(path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
        finally:
            cap.release()
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    yield image


def detect(detector: cv2.FaceDetectorYN, image: np.ndarray) -> Faces:
    """YuNet at the image's own size; faces of at least MIN_FACE_PX on both sides."""
    h, w = image.shape[:2]
    detector.setInputSize((w, h))
    _, rows = detector.detect(image)
    if rows is None or len(rows) == 0:
        return Faces.empty()
    rows = rows[(rows[:, 2] >= MIN_FACE_PX) & (rows[:, 3] >= MIN_FACE_PX)]
    xyxy = np.concatenate([rows[:, :2], rows[:, :2] + rows[:, 2:4]], axis=1).astype(np.float32)
    return Faces(xyxy, rows[:, 14].astype(np.float32), rows[:, 4:14].reshape(-1, 5, 2).astype(np.float32))


def assign(faces: Faces, people: list[Person]) -> dict[int, int]:
    """person index -> face index: the face whose centre is in the region, nearest its centre."""
    out: dict[int, int] = {}
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    for j, p in enumerate(people):
        x0, y0, x1, y1 = p.region
        inside = (centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0) & (centres[:, 1] < y1)
        if inside.any():
            d = np.hypot(centres[:, 0] - (x0 + x1) / 2, centres[:, 1] - (y0 + y1) / 2)
            out[j] = int(np.argmin(np.where(inside, d, np.inf)))
    return out


def gender_column(backend: OnnxRuntimeBackend) -> int:
    """Index of "female" in the model's gender head."""
    head = next((h for h in backend.meta.heads if h.name == "gender"), None)
    if head is None or "female" not in head.labels:
        raise ValueError(f"{backend.meta.name}: no gender head with a 'female' label")
    return head.labels.index("female")


def read_people(
    data: Path, people: list[Person], models: list[OnnxRuntimeBackend], cfg: CropConfig, flip: bool = False
) -> dict[str, list[Reading]]:
    """Per person key: one Reading per model (``flip``: each face averaged with its mirror image)."""
    detector = cv2.FaceDetectorYN.create(str(YUNET), "", (320, 320), SCORE_THRESHOLD)
    readings = {p.key: [Reading() for _ in models] for p in people}
    by_source: dict[str, list[Person]] = {}
    for p in people:
        by_source.setdefault(p.source, []).append(p)
    for source, group in by_source.items():
        for image in frames_of(data / source):
            faces = detect(detector, image)
            match = assign(faces, group)
            if not match:
                continue
            for m, backend in enumerate(models):
                side = backend.meta.input_hw[0]
                chips = crop_faces(image, faces, cfg, YUNET_FRAMING, side)
                picked = list(match.items())
                x = crops_to_pixels([chips[f] for _, f in picked], backend.meta)
                out = {k: np.asarray(v) for k, v in backend.infer(x).items()}
                if flip:
                    out_f = backend.infer(np.ascontiguousarray(x[:, :, ::-1]))
                    out = {k: (out[k] + np.asarray(out_f[k])) / 2 for k in ("age", "gender")}
                ages = decode_age(out["age"])
                p_f = out["gender"][:, gender_column(backend)]
                for k, (j, _) in enumerate(picked):
                    r = readings[group[j].key][m]
                    r.age.append(float(ages[k]))
                    r.p_female.append(float(p_f[k]))
    return readings


def score(people: list[Person], readings: dict[str, list[Reading]], n_models: int) -> list[dict[str, Any]]:
    """Per model: people seen, gender right, age in range, mean years outside the range, per person rows."""
    out = []
    for m in range(n_models):
        rows = []
        for p in people:
            r = readings[p.key][m]
            if not r.age:
                rows.append({"person": p.key, "faces": 0})
                continue
            pf, age = float(np.mean(r.p_female)), float(np.mean(r.age))
            said = "female" if pf > 0.5 else "male"
            off = max(p.age_lo - age, age - p.age_hi, 0.0)
            rows.append(
                {
                    "person": p.key,
                    "faces": len(r.age),
                    "p_female": round(pf, 3),
                    "gender_right": said == p.gender,
                    "age": round(age, 1),
                    "age_in_range": off == 0.0,
                    "years_outside": round(off, 1),
                }
            )
        seen = [r for r in rows if r["faces"]]
        clips = [
            r for r, p in zip(rows, people, strict=True) if r["faces"] and p.source.startswith("videos/")
        ]
        out.append(
            {
                "people": len(people),
                "seen": len(seen),
                "gender_right": sum(bool(r["gender_right"]) for r in seen),
                "age_in_range": sum(bool(r["age_in_range"]) for r in seen),
                "mean_years_outside": round(float(np.mean([r["years_outside"] for r in seen])), 2)
                if seen
                else None,
                "clips_seen": len(clips),
                "clips_gender_right": sum(bool(r["gender_right"]) for r in clips),
                "clips_age_in_range": sum(bool(r["age_in_range"]) for r in clips),
                "rows": rows,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", required=True, help="ONNX model (repeat)")
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flip", action="store_true", help="average each face with its mirror image")
    ap.add_argument("--json", type=Path, help="write the full result here")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        ap.error(f"data folder not found: {args.data} (the shared data is outside the repository)")
    people = read_labels(args.labels)
    models = [OnnxRuntimeBackend(p, threads=args.threads) for p in args.model]
    try:
        readings = read_people(args.data, people, models, CropConfig(), args.flip)
    finally:
        for b in models:
            b.close()
    result = score(people, readings, len(models))
    names = [f"{b.meta.version} {p.name}" for b, p in zip(models, args.model, strict=True)]
    width = max(len(p.key) for p in people)
    head = "".join(f" | {n[:28]:>28}" for n in names)
    lines = [f"{'person':<{width}} {'label':>13}{head}"]
    for i, p in enumerate(people):
        cells = []
        for res in result:
            r = res["rows"][i]
            if not r["faces"]:
                cells.append(f" | {'not seen':>28}")
                continue
            g = "F" if r["p_female"] > 0.5 else "M"
            mark = ("" if r["gender_right"] else "x") + ("" if r["age_in_range"] else "!")
            cells.append(f" | {r['faces']:>3} {g} {r['p_female']:.2f} age {r['age']:5.1f} {mark:<2}")
        label = f"{p.gender[0].upper()} {p.age_lo}-{p.age_hi}"
        lines.append(f"{p.key:<{width}} {label:>13}{''.join(cells)}")
    lines.append("x = gender wrong, ! = age outside the labelled range")
    for n, res in zip(names, result, strict=True):
        lines.append(
            f"{n}: gender right {res['gender_right']}/{res['seen']} people "
            f"(clips {res['clips_gender_right']}/{res['clips_seen']}), age in range {res['age_in_range']}/"
            f"{res['seen']} (clips {res['clips_age_in_range']}/{res['clips_seen']}), "
            f"mean {res['mean_years_outside']} years outside"
        )
    print("\n".join(lines))
    if args.json:
        doc = {
            "models": [str(p) for p in args.model],
            "flip": args.flip,
            "names": names,
            "cpu_count": os.cpu_count(),
            "results": result,
        }
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
