"""How well dlib's descriptor tells people apart by age group: the limit for small children.

    FACELOG_SHARED=../shared python benchmarks/identity_by_age.py [--split train|val] [--per-group 100]
        [--json out.json]

UTKFace faces of one split (``cctv_synth``'s validation split or the rest, the training faces), up to
``--per-group`` per age group (0-3, 4-9, 10-17, 18-59, 60+). Each face is found by YuNet in its
200x200 photo, shrunk so that the face is 48 or 32 px wide, blurred (sigma 0.3-0.8 px) and JPEG
compressed (quality 40-70) twice independently, and each copy embedded as the pipeline does
(``identity.cut_patch`` + ``IdentityEmbedder``: dlib's 5-point alignment and ResNet descriptor).
Per group and size: the same face's two copies (distance percentiles), different people of the
same gender (one copy each: median, low percentiles, the share within each limit), and how often the
shipped age/gender model reads a copy (the shrunk photo in UTKFace's own framing) under 5 years, the
reading the children's rule (``tracking.identity_child_age``) keys on. It prints a
Markdown table and, for the child groups, the same faces refused and the different people kept at
limits 0.36-0.5. ``policy.young_pair``'s limit for small children rests on this.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_synth import utkface_split

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
GROUPS = ((0, 3), (4, 9), (10, 17), (18, 59), (60, 116))
SIZES = (48, 32)
LIMITS = (0.36, 0.38, 0.4, 0.42, 0.45, 0.5)


def descriptors(faces: pd.DataFrame, per_group: int, seed: int = 0) -> pd.DataFrame:
    """Two degraded copies of each sampled face at each size: rows of group, gender, px, their
    descriptors d0 and d1, and under5 (the share of the two the model reads under the children's age)."""
    from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
    from facelog.engines.preprocess import crops_to_pixels, decode_age
    from facelog.engines.registry import pick_model_variant
    from facelog.pipeline.tracking.identity import IdentityEmbedder, cut_patch
    from facelog.pipeline.tracking.track import TrackerParams
    from facelog.pipeline.weights import shipped_model_path

    child_age = TrackerParams().identity_child_age
    # the model file a CPU run uses by default (the INT8 twin where it is accepted)
    backend = OnnxRuntimeBackend(pick_model_variant(shipped_model_path(), "onnxruntime", "auto").path)
    age_head = backend.meta.head("age")
    assert age_head is not None, "the shipped model has an age head"

    def model_age(image: np.ndarray) -> float:
        return float(decode_age(backend.infer(crops_to_pixels([image], backend.meta))[age_head.name])[0])

    det = cv2.FaceDetectorYN.create(str(REPO / "pipeline" / "models" / "face_detection_yunet_2023mar.onnx"),
                                    "", (200, 200), 0.6)  # fmt: skip
    emb = IdentityEmbedder()
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for lo, hi in GROUPS:
        group = faces[(faces.age >= lo) & (faces.age <= hi)]
        group = group.sample(min(per_group, len(group)), random_state=seed)
        for r in group.itertuples():
            img = cv2.imread(str(r.path))
            if img is None:
                continue
            det.setInputSize((img.shape[1], img.shape[0]))
            _, found = det.detect(img)
            if found is None:
                continue
            x, y, w, h = (float(v) for v in found[0][:4])
            for px in SIZES:
                copies, ages = [], []
                for _ in range(2):
                    s = px / w
                    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.3, 0.8))
                    _, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(40, 70))])
                    small = cv2.imdecode(buf, cv2.IMREAD_COLOR)
                    copies.append(emb.embed(cut_patch(small, np.array([x, y, x + w, y + h]) * s, 0)))
                    ages.append(model_age(small))
                if copies[0] is not None and copies[1] is not None:
                    rows.append(
                        {
                            "group": f"{lo}-{hi}",
                            "gender": r.gender,
                            "px": px,
                            "d0": copies[0],
                            "d1": copies[1],
                            "under5": float(np.mean([a < child_age for a in ages])),
                        }
                    )
    return pd.DataFrame(rows)


def summary(desc: pd.DataFrame) -> list[dict[str, Any]]:
    """Per group and size: same-face and different-people distances, and each limit's two errors."""
    out = []
    for (group, px), g in desc.groupby(["group", "px"], sort=False):
        same = np.array([float(np.linalg.norm(a - b)) for a, b in zip(g.d0, g.d1, strict=True)])
        d0, d1, gender = np.stack(g.d0.to_numpy()), np.stack(g.d1.to_numpy()), g.gender.to_numpy()
        dist = np.linalg.norm(d0[:, None] - d1[None], axis=2)
        diff = dist[(gender[:, None] == gender[None]) & ~np.eye(len(g), dtype=bool)]
        if not len(diff):
            continue  # fewer than two faces of one gender: nothing to compare
        out.append({
            "group": group, "px": int(px), "faces": len(g),
            "same_p95": round(float(np.percentile(same, 95)), 3), "same_max": round(float(same.max()), 3),
            "diff_p1": round(float(np.percentile(diff, 1)), 3),
            "diff_median": round(float(np.median(diff)), 3),
            "model_under_5": round(float(g.under5.mean()), 3),
            "limits": {str(lim): {"same_refused": round(float((same > lim).mean()), 3),
                                  "different_kept": round(float((diff <= lim).mean()), 3)} for lim in LIMITS},
        })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("train", "val"), default="train")
    ap.add_argument("--per-group", type=int, default=100)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not (args.shared / "data" / "utkface").is_dir():
        print(f"identity_by_age: UTKFace not found under {args.shared}/data/utkface", file=sys.stderr)
        return 2
    desc = descriptors(utkface_split(args.shared, args.split), args.per_group)
    if desc.empty:
        print("identity_by_age: no face was found and embedded", file=sys.stderr)
        return 2
    rows = summary(desc)
    print(f"UTKFace {args.split} faces, dlib descriptor distances (same gender for different people)\n")
    print(
        "| age | face px | faces | same face p95 / max | different people median / p1 "
        "| within 0.5 | within 0.38 | model reads < 5 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lim = r["limits"]
        print(f"| {r['group']} | {r['px']} | {r['faces']} | {r['same_p95']:.2f} / {r['same_max']:.2f} "
              f"| {r['diff_median']:.2f} / {r['diff_p1']:.2f} | {lim['0.5']['different_kept']:.1%} "
              f"| {lim['0.38']['different_kept']:.1%} | {r['model_under_5']:.1%} |")  # fmt: skip
    print("\nchildren: same face refused / different people kept, by limit")
    for r in rows:
        if r["group"] in ("0-3", "4-9"):
            cells = " ".join(
                f"{k}: {v['same_refused']:.3f}/{v['different_kept']:.3f}" for k, v in r["limits"].items()
            )
            print(f"  {r['group']} {r['px']} px  {cells}")
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
