"""What bounds the per-person answer on a synthetic CCTV clip: the model on each person's original
photo (the "oracle"), the plain mean of per-frame ages, the shipped fusion and variants.

    nice -n 5 .venv/bin/python benchmarks/cctv_fusion.py --clip DIR/walk720.mp4 --gt DIR/walk720.gt.csv \\
        --preset walk720 --seed 0 [--shared ../shared] [--json R.json]

Runs ``facelog`` on the clip with the default config (the same run as ``facelog run``) while
recording what the person tracker receives per face: the 101-way age distribution, the female
probability and the quality weight (``persons.frame_weights``). Each detection is matched to a GT
face (IoU >= 0.5, one-to-one per frame); a person's answer is then computed from *all* detections of
that GT person (perfect association, so the tracker's splits and merges do not enter).

Reported per clip (MAE in years / gender accuracy, over persons):

- ``frame_rows``: per-frame answers, every matched row counts (``cctv_score``'s per-frame rows plus
  the faces it ignores, those the frame edge cuts);
  ``frame_by_person``: per-frame errors averaged per person first.
- ``oracle``: the model on the person's original UTKFace photo (``cctv_people.plan_people`` with the
  clip's preset and seed gives the photo; the whole 200x200 chip, the model's training framing).
- ``mean`` / ``median`` / ``wmean`` (quality-weighted) of per-frame expected ages; gender by the
  mean female probability; ``vote``: majority of per-frame genders.
- ``fusion``: ``fusion.PersonFusion`` with the default ``FusionParams`` (what the tracks CSV holds);
  ``fusion_k1``: the same without sharpening (``max_observations=1``); ``mixture``: the weighted
  mixture of the distributions (its mean is ``wmean``).
- ``bias``: per person, mean per-frame age minus the oracle's age (the degradation's shift), its mean
  over persons and the correlation of the per-person error with the oracle's error (the photo's own
  bias); ``frame_sd``: within-person SD of per-frame ages.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED, read_gt
from cctv_people import plan_people
from cctv_score import match_frames
from cctv_sprites import read_face
from cctv_synth import PRESETS, validation_faces

AGES = np.arange(101, dtype=np.float64)


@contextmanager
def recording(rows: list[dict[str, Any]]) -> Iterator[None]:
    """While active, every ``PersonTracks.update`` appends one dict per logged face to ``rows`` (a
    ``track_only`` box that continues no track is not logged, so not recorded)."""
    from facelog.pipeline.tracking import persons

    original = persons.PersonTracks.update

    def update(self: Any, frame: Any, faces: Any, out: Any, preds: Any) -> Any:
        result = original(self, frame, faces, out, preds)
        logged = {p.xyxy for p in result[0]}
        weights = persons.frame_weights(frame, faces, self.fusion)
        for i in range(len(faces)):
            if tuple(float(v) for v in faces.xyxy[i]) not in logged:
                continue
            rows.append(
                {
                    "frame_index": frame.index,
                    "box": faces.xyxy[i].astype(np.float64),
                    "weight": weights[i],
                    "face_px": float(np.sqrt(np.prod(faces.xyxy[i, 2:] - faces.xyxy[i, :2]))),
                    "probs": np.asarray(out.age_probs[i], np.float64),
                    "female": float(out.female[i]),
                }
            )
        return result

    persons.PersonTracks.update = update
    try:
        yield
    finally:
        persons.PersonTracks.update = original


def run_and_record(clip: Path, out_dir: Path) -> tuple[pd.DataFrame, str]:
    """Run facelog (defaults) on ``clip``; the per-face table and the model path it used."""
    from facelog.pipeline.api import make_config
    from facelog.pipeline.file.process import process_video

    rows: list[dict[str, Any]] = []
    with recording(rows):
        summary = process_video(clip, out_dir / f"{clip.stem}.csv", make_config()).to_dict()
    return pd.DataFrame(rows), str(summary["model_path"])


def attach_persons(det: pd.DataFrame, gt: pd.DataFrame) -> pd.DataFrame:
    """``det`` with ``person_id`` (-1: no GT face with IoU >= 0.5), matched one-to-one per frame as
    the benchmark scores them (``cctv_score.match_frames``)."""
    boxes = np.stack(det["box"].to_list()) if len(det) else np.zeros((0, 4))
    flat = det.assign(x1=boxes[:, 0], y1=boxes[:, 1], x2=boxes[:, 2], y2=boxes[:, 3])
    gt = gt if "care" in gt else gt.assign(care=True)
    row = match_frames(gt.reset_index(drop=True), flat)["gt_row"].to_numpy()
    pid = np.where(row >= 0, gt["person_id"].to_numpy()[np.maximum(row, 0)], -1)
    return det.assign(person_id=pid)


def oracle(preset: str, seed: int, shared: Path, model_path: str) -> pd.DataFrame:
    """Per person: true age/gender and the model's answer on the original photo."""
    from facelog.engines.preprocess import crops_to_pixels
    from facelog.engines.registry import load_backend

    faces = validation_faces(shared)
    people = plan_people(PRESETS[preset], faces, seed)
    backend = load_backend("onnxruntime", model_path)
    try:
        out = backend.infer(
            crops_to_pixels([read_face(faces.path[p.face_row]) for p in people], backend.meta)
        )
    finally:
        backend.close()
    return pd.DataFrame(
        {
            "true_age": [p.age for p in people],
            "true_female": [p.gender == "female" for p in people],
            "oracle_age": out["age"] @ AGES,
            "oracle_female": out["gender"][:, 1] > 0.5,  # (male, female), as the training labels
        },
        index=[p.person_id for p in people],
    )


def person_answers(det: pd.DataFrame) -> pd.DataFrame:
    """One row per GT person: the answer of each method from that person's detections."""
    from facelog.pipeline.tracking.fusion import FusionParams, PersonFusion

    out = {}
    for pid, g in det[det["person_id"] >= 0].groupby("person_id"):
        probs, w, fem = np.stack(g["probs"].to_list()), g["weight"].to_numpy(), g["female"].to_numpy()
        ages = probs @ AGES / probs.sum(axis=1)
        r: dict[str, Any] = {"n": len(g), "frame_sd": float(ages.std())}
        r["frame_ages"], r["frame_female"] = ages, fem > 0.5
        r["mean"], r["median"], r["wmean"] = ages.mean(), float(np.median(ages)), np.average(ages, weights=w)
        r["g_mean"], r["g_vote"] = fem.mean() > 0.5, (fem > 0.5).mean() > 0.5
        for name, params in (("fusion", FusionParams()), ("fusion_k1", FusionParams(max_observations=1.0))):
            f = PersonFusion(params)
            for p, q, ww, px in zip(probs, fem, w, g["face_px"], strict=True):
                f.add(p, float(q), float(ww), float(px))
            est = f.estimate()
            r[name], r[f"g_{name}"] = est.age, est.gender == "female"
        out[pid] = r
    return pd.DataFrame.from_dict(out, orient="index")


def summarise(people: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """MAE / gender accuracy of every method, and the bias decomposition."""
    p = people.join(truth, how="inner")
    err = {c: float((p[c] - p["true_age"]).abs().mean()) for c in ("oracle_age", "mean", "median", "wmean")}
    err |= {c: float((p[c] - p["true_age"]).abs().mean()) for c in ("fusion", "fusion_k1")}
    gender = {c: float((p[c] == p["true_female"]).mean()) for c in ("oracle_female", "g_mean", "g_vote")}
    gender |= {c: float((p[c] == p["true_female"]).mean()) for c in ("g_fusion", "g_fusion_k1")}
    frame_err = [np.abs(a - t) for a, t in zip(p["frame_ages"], p["true_age"], strict=True)]
    frame_ok = [f == t for f, t in zip(p["frame_female"], p["true_female"], strict=True)]
    mean_err, oracle_err = p["mean"] - p["true_age"], p["oracle_age"] - p["true_age"]
    return {
        "persons": len(p),
        "frame_rows": (float(np.concatenate(frame_err).mean()), float(np.concatenate(frame_ok).mean())),
        "frame_by_person": (
            float(np.mean([e.mean() for e in frame_err])),
            float(np.mean([o.mean() for o in frame_ok])),
        ),
        "age_mae": err,
        "gender_acc": gender,
        "bias_mean_minus_oracle": float((p["mean"] - p["oracle_age"]).mean()),
        "corr_person_error_oracle_error": float(np.corrcoef(mean_err, oracle_err)[0, 1]),
        "frame_sd": float(np.sqrt((p["frame_sd"] ** 2).mean())),
        "wrong_gender_persons": int((p["g_fusion"] != p["true_female"]).sum()),
        "wrong_gender_also_oracle": int(
            ((p["g_fusion"] != p["true_female"]) & (p["oracle_female"] != p["true_female"])).sum()
        ),
        "wrong_gender_frames_mostly_wrong": int(
            sum(
                (g != t) and o.mean() < 0.5
                for g, t, o in zip(p["g_fusion"], p["true_female"], frame_ok, strict=True)
            )
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", required=True, type=Path)
    ap.add_argument("--gt", required=True, type=Path)
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument(
        "--out", type=Path, default=None, help="folder for facelog's CSVs (default: beside --json)"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out_dir = args.out or (args.json.parent if args.json else Path("."))
    out_dir.mkdir(parents=True, exist_ok=True)
    det, model_path = run_and_record(args.clip, out_dir)
    det = attach_persons(det, read_gt(args.gt))
    res = summarise(person_answers(det), oracle(args.preset, args.seed, args.shared, model_path))
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
