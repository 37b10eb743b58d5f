"""Gender from the face-identity descriptor: fit the logistic regression the pipeline reads it with.

    python -m facelog.training.identity_gender --data ../shared/data/utkface \\
        --out engines/models/identity_gender.json [--train 4500] [--val 1000] [--gray 0.25] [--cache DIR]

Why: the age/gender CNN reads some real camera faces wrong for a whole clip (rolled heads, glasses;
issue 21), confidently. dlib's ResNet descriptor, which the tracker already computes for its identity
veto (``pipeline.tracking.identity.IdentityEmbedder``), was trained on millions of real photos for identity
and carries gender well: a linear read-out of its 128 numbers gets the three clip people the CNN
misses right (docs/BENCHMARKS.md, issue 21, tenth session). ``pipeline.tracking.persons`` averages its reading
of a few of a person's faces with the CNN's fused answer (``pipeline.tracking.gender.IdentityGender``).

Data: UTKFace (non-commercial research only: the fitted file inherits that, see
engines/models/MODEL_CARD.md). The faces come from the training part of the split training uses
(``split_indices(names, 0.1, 1234)``), a random ``--train`` of them (seed 0), a third of those
degraded as the evaluation by size does (``degrade.degrade_chip`` at 24, 32 or 48 px); the
validation part scores the fit, clean ("full") and at 32 px, in colour and in monochrome ("gray",
"gray32px": a night camera). ``--gray``: this share of the training faces is made monochrome first
(0: the shipped 1.0.0's recipe, which reads monochrome validation faces as well as colour ones,
92.4% / 88.8%; a quarter monochrome changed nothing, 92.3% / 89.0%: fourteenth session). Each
chip's face box comes from YuNet (the shipped file) on the clean chip, as the pipeline's detector
would give it; the descriptor is ``IdentityEmbedder.embed`` on the whole chip with that box: the
pipeline's own path.

Fit: descriptors standardised (mean, std of the training faces), L2-regularised logistic regression
(``scipy.optimize.minimize``, L-BFGS-B) with ``LAMBDA``: 5-fold cross-validation on the same faces gave
90.8-91.0% for every lambda from 1e-4 to 0.1 (a one-off check), so the choice hardly matters.
Descriptors cost ~8 ms a face on one core (~100 ms before they ran on ONNX Runtime), and are
cached per chunk in ``--cache`` (default: the user cache folder, ``engines.cache.cache_root``),
under a key of the faces chosen (resumable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LAMBDA = 1e-3
DEGRADE_SIZES = (24, 32, 48)
VAL_FRACTION, SPLIT_SEED = 0.1, 1234  # training's split (training.config: val_fraction, split_seed)
FALLBACK_BOX = (35.0, 25.0, 165.0, 180.0)  # the face of a 200-px UTKFace chip, where YuNet finds none
CHUNK = 250
VERSION = "1.0.0"


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float = LAMBDA) -> tuple[np.ndarray, float]:
    """L2 logistic regression on standardised rows ``x`` (n, d) and labels ``y`` (n,) in {0, 1}:
    (weights (d,), bias)."""
    from scipy.optimize import minimize

    n, d = x.shape

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:d], wb[d]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * w @ w)
        return value, np.append(x.T @ (p - y) / n + lam * w, np.mean(p - y))

    r = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return np.asarray(r.x[:d]), float(r.x[d])


def _descriptors(
    paths: list[Path], sizes: np.ndarray, cache: Path, job: str, gray: np.ndarray | None = None
) -> np.ndarray:
    """(n, 128) descriptors (NaN rows where none), computed by chunks cached as ``cache/job_K.npy``;
    ``gray`` (n,) bool: those faces made monochrome before the degradation."""
    mono = np.zeros(len(paths), bool) if gray is None else gray
    import cv2

    from facelog.pipeline.tracking.identity import FacePatch, IdentityEmbedder
    from facelog.pipeline.weights import YUNET_PATH
    from facelog.training.degrade import degrade_chip

    embedder: IdentityEmbedder | None = None
    detector: Any = None
    out = []
    for start in range(0, len(paths), CHUNK):
        f = cache / f"{job}_{start:05d}.npy"
        if f.is_file():
            out.append(np.load(f))
            continue
        if embedder is None:
            embedder = IdentityEmbedder()
            detector = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (200, 200), 0.4)
        rows = []
        t0 = time.perf_counter()
        part = zip(
            paths[start : start + CHUNK],
            sizes[start : start + CHUNK],
            mono[start : start + CHUNK],
            strict=True,
        )
        for p, s, g in part:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                rows.append(np.full(128, np.nan, np.float32))
                continue
            if g:
                img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            detector.setInputSize((img.shape[1], img.shape[0]))
            _, found = detector.detect(img)
            box = FALLBACK_BOX
            if found is not None and len(found):
                x, y, w, h = (float(v) for v in found[int(np.argmax(found[:, 2] * found[:, 3])), :4])
                box = (x, y, x + w, y + h)
            chip = degrade_chip(img, int(s)) if s else img
            d = embedder.embed(FacePatch(chip, box, 0))
            rows.append(d if d is not None else np.full(128, np.nan, np.float32))
        arr = np.array(rows, np.float32)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(f, arr)
        ms = 1000 * (time.perf_counter() - t0) / len(rows)
        log.info("%s %d-%d: %.0f ms a face", job, start, start + len(rows), ms)
        out.append(arr)
    return np.concatenate(out) if out else np.zeros((0, 128), np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="UTKFace folder (AGE_GENDER_*.jpg, or images/)")
    ap.add_argument("--out", type=Path, required=True, help="the fitted classifier (JSON)")
    ap.add_argument("--train", type=int, default=4500, help="training faces (random, seed 0)")
    ap.add_argument("--val", type=int, default=1000, help="validation faces scored (random, seed 0)")
    ap.add_argument("--gray", type=float, default=0.0, help="share of training faces made monochrome")
    ap.add_argument("--cache", type=Path, default=None, help="descriptor cache (default: the user cache)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from facelog.training import datasets as dsets

    try:
        table = dsets.read_utkface(args.data)
    except dsets.DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    train_idx, val_idx = dsets.split_indices(dsets.split_names(table), VAL_FRACTION, SPLIT_SEED)
    rng = np.random.default_rng(0)
    tr = np.sort(rng.choice(train_idx, min(args.train, len(train_idx)), replace=False))
    va = np.sort(rng.choice(val_idx, min(args.val, len(val_idx)), replace=False))
    tr_size = np.where(rng.random(len(tr)) < 1 / 3, rng.choice(DEGRADE_SIZES, len(tr)), 0)
    tr_gray = np.random.default_rng(1).random(len(tr)) < args.gray  # its own stream: sizes as before
    from facelog.engines.cache import cache_root

    # keyed by the faces and sizes asked for: another data folder or count never reuses stale rows
    key = hashlib.sha256(
        repr(([table.paths[i].name for i in tr], tr_size.tolist(), va.tolist(), tr_gray.tolist())).encode()
    )
    cache = (args.cache or cache_root() / "identity_gender") / key.hexdigest()[:12]
    gender = table.labels["gender"]

    x = _descriptors([table.paths[i] for i in tr], tr_size, cache, f"train{len(tr)}", tr_gray)
    ok = ~np.isnan(x).any(axis=1)
    mean, std = x[ok].mean(axis=0).astype(np.float64), x[ok].std(axis=0).astype(np.float64) + 1e-8
    w, b = fit_logistic((x[ok] - mean) / std, gender[tr][ok].astype(np.float64))

    scores = {}
    for name, size, mono in (
        ("full", 0, False),
        ("32px", 32, False),
        ("gray", 0, True),
        ("gray32px", 32, True),
    ):
        xv = _descriptors(
            [table.paths[i] for i in va], np.full(len(va), size), cache, f"val{len(va)}_{name}",
            np.full(len(va), mono),
        )  # fmt: skip
        okv = ~np.isnan(xv).any(axis=1)
        pred = ((xv[okv] - mean) / std) @ w + b > 0
        acc = float(np.mean(pred == (gender[va][okv] == 1)))
        scores[name] = {"faces": int(okv.sum()), "gender_accuracy": round(acc, 4)}
        log.info("validation %s: %d faces, gender %.1f%%", name, okv.sum(), 100 * acc)
    doc = {
        "name": "identity_gender",
        "version": VERSION,
        "input": "dlib_face_recognition_resnet_model_v1 descriptor (128): pipeline.identity.IdentityEmbedder",
        "output": "logit of female: ((descriptor - mean) / std) @ weight + bias",
        "data": "UTKFace (non-commercial research only): engines/models/MODEL_CARD.md",
        "training": {
            "faces": int(ok.sum()),
            "degraded": int((tr_size[ok] > 0).sum()),
            "monochrome": int(tr_gray[ok].sum()),
            "split": f"split_indices(names, {VAL_FRACTION}, {SPLIT_SEED}): train part, {len(tr)} (seed 0)",
            "lambda": LAMBDA,
        },
        "validation": scores,
        "mean": [round(float(v), 7) for v in mean],
        "std": [round(float(v), 7) for v in std],
        "weight": [round(float(v), 7) for v in w],
        "bias": round(b, 7),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    got = ", ".join(f"{k} {v['gender_accuracy']:.3f}" for k, v in scores.items())
    print(f"wrote {args.out}: validation gender {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
