"""Per-frame readings and the identity descriptor by population: UTKFace validation faces grouped by
the dataset's own race label (0 White, 1 Black, 2 Asian, 3 Indian; estimated from the photo and
checked by a person, as its ages and genders are).

    FACELOG_SHARED=../shared python benchmarks/population.py --out DIR [--sizes 0 64 48]

For each group and chip size (``0``: the 200-px chip as it is; ``N``: shrunk to N px, JPEG and
enlarged, ``training.degrade.degrade_chip``, as ``facelog eval --by-size`` does; the face is about
0.6 N wide):

- ``model``: gender accuracy and age MAE of the shipped age/gender model on the CPU (the INT8 twin,
  ``engines/models/facelog_age_gender.int8.onnx``) on the aligned chips: what one frame's row says;
- ``descriptor gender``: accuracy of the face descriptor's gender reading (``identity_gender.json``,
  what a person's gender also weighs in the pipeline);
- rows for every age and for adults of 18-60 (the groups differ in their share of children);
- look-alike distances (dlib's descriptor, ``tracking.identity.IdentityEmbedder``): each face against
  the face of the same gender and nearest age **of its own group** and **of the other groups** (both
  sides at the same size): the median and the share under ``IDENTITY_MAX_DISTANCE`` (0.5), the share
  of look-alike newcomers at a vacated spot that the tracker's identity check would not refuse.

With sizes 64 and 48 among ``--sizes``, a second table (``cohort_rule``): the identity check's limit
fixed at 0.5, and following the camera's people as ``gallery.Cohort`` does (never looser than
``identity_cohort_z`` spreads, 1.4826 x the median absolute deviation, below the face's median
distance to the camera's people, or ``COHORT_FLOOR`` where that is lower; here 40 other faces of its
group), on adults of 18-60: the share passed of the same face (64 px against 48 px) and of its own
group's look-alike.

Writes ``DIR/population.md`` (the tables) and ``DIR/population.json``; descriptors are cached in
``DIR/cache``. Used in docs/BENCHMARKS.md (forty-first session).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED
from cctv_presets import POPULATIONS
from cctv_synth import validation_faces

from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
from facelog.engines.preprocess import decode_age
from facelog.pipeline.tracking.gallery import COHORT_FLOOR
from facelog.pipeline.tracking.gender import IdentityGender
from facelog.pipeline.tracking.identity import IDENTITY_MAX_DISTANCE
from facelog.pipeline.tracking.track import TrackerParams
from facelog.training.cli_eval import run_model
from facelog.training.degrade import degrade_chips
from facelog.training.identity_gender import _descriptors

MODEL = Path(__file__).resolve().parents[1] / "engines" / "models" / "facelog_age_gender.int8.onnx"
BATCH = 64
# every age, and adults of working age: UTKFace's groups differ in their share of children (27% of the
# Asian validation faces are 12 or under, 13% of the White), and children's faces look more alike
AGE_BANDS = (("all", 0, 200), ("18-60", 18, 60))
COHORT = 40  # the camera's people a question is weighed against (``cohort_rule``; ``--cohort``)
Z = TrackerParams().identity_cohort_z  # ...and how many spreads below their median distance the limit sits


def model_readings(paths: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(age, P(female)) of the shipped INT8 model for each chip, shrunk to ``size`` px (0: as is)."""
    backend = OnnxRuntimeBackend(MODEL)
    age_head, gender_head = backend.meta.head("age"), backend.meta.head("gender")
    assert age_head is not None and gender_head is not None
    female = list(gender_head.labels).index("female")
    ages, p_female = [], []
    for start in range(0, len(paths), BATCH):
        crops = [cv2.imread(p, cv2.IMREAD_COLOR) for p in paths[start : start + BATCH]]
        out = run_model(backend, degrade_chips(crops, size or None), flip=False)
        ages.append(decode_age(out[age_head.name]))
        p_female.append(out[gender_head.name][:, female])
    return np.concatenate(ages), np.concatenate(p_female)


def look_alikes(faces: pd.DataFrame, same_group: bool, rng: np.random.Generator) -> np.ndarray:
    """For each face, the row of another face of the same gender and the nearest age, in its own group
    (``same_group``) or in the others (ties broken at random); -1 where there is none."""
    ages, genders, races = faces["age"].to_numpy(float), faces["gender"].to_numpy(), faces["race"].to_numpy()
    jitter = rng.random(len(faces)) * 1e-3
    out = np.empty(len(faces), np.int64)
    for i in range(len(faces)):
        cand = (genders == genders[i]) & ((races == races[i]) if same_group else (races != races[i]))
        cand[i] = False
        idx = np.flatnonzero(cand)
        out[i] = idx[np.argmin(np.abs(ages[idx] - ages[i]) + jitter[idx])] if len(idx) else -1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 64, 48], help="chip sides (0: as is)")
    ap.add_argument(
        "--cohort", type=int, nargs="+", default=[COHORT], help="sizes of the camera's people (cohort table)"
    )
    args = ap.parse_args(argv)
    faces = validation_faces(args.shared)
    faces = faces[faces["race"].isin(list(POPULATIONS.values()))].reset_index(drop=True)
    paths = faces["path"].tolist()
    female = (faces["gender"] == "female").to_numpy()
    rng = np.random.default_rng(0)
    partners = {"own group": look_alikes(faces, True, rng), "other groups": look_alikes(faces, False, rng)}
    reader = IdentityGender()
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        age, p_female = model_readings(paths, size)
        desc = _descriptors(
            [Path(p) for p in paths], np.full(len(paths), size), args.out / "cache", f"val{size}"
        )
        d_female = reader.female_logit(np.nan_to_num(desc)) > 0
        ok = ~np.isnan(desc).any(axis=1)
        years = faces["age"].to_numpy()
        for (group, label), (ages, lo, hi) in itertools.product(POPULATIONS.items(), AGE_BANDS):
            sel = (faces["race"] == label).to_numpy() & (years >= lo) & (years <= hi)
            row: dict[str, Any] = {
                "group": group,
                "ages": ages,
                "size": size or "chip",
                "faces": int(sel.sum()),
                "female": round(float(female[sel].mean()), 3),
                "model_gender": round(float(np.mean((p_female[sel] > 0.5) == female[sel])), 4),
                "model_age_mae": round(float(np.mean(np.abs(age[sel] - faces["age"].to_numpy()[sel]))), 2),
                "descriptor_faces": int((sel & ok).sum()),
                "descriptor_gender": round(float(np.mean(d_female[sel & ok] == female[sel & ok])), 4),
            }
            for name, partner in partners.items():
                both = sel & ok & (partner >= 0) & ok[partner]
                dist = np.linalg.norm(desc[both] - desc[partner[both]], axis=1)
                row[f"alike_{name}_median"] = round(float(np.median(dist)), 3)
                row[f"alike_{name}_under"] = round(float(np.mean(dist < IDENTITY_MAX_DISTANCE)), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    md = _table(rows)
    if {64, 48} <= set(args.sizes):
        alike = partners["own group"]
        cohort = [r for n in args.cohort for r in cohort_rule(faces, alike, args.out / "cache", n)]
        md += "\n" + _cohort_table(cohort)
        rows += cohort
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "population.json").write_text(json.dumps(rows, indent=1))
    (args.out / "population.md").write_text(md)
    print(md)
    return 0


def cohort_rule(
    faces: pd.DataFrame, alike: np.ndarray, cache: Path, people: int = COHORT
) -> list[dict[str, Any]]:
    """The identity check's limit fixed and following the camera's people (``gallery.Cohort``'s
    rule), per group, adults of 18-60:
    the share passed of the same face (its 64-px chip as the track's, its 48-px chip as the question)
    and of its own group's look-alike (the look-alike's 64-px chip as the track's); the camera's people
    are ``people`` other faces of the group drawn at random (64 px)."""
    paths = [Path(p) for p in faces["path"]]
    track = _descriptors(paths, np.full(len(paths), 64), cache, "val64")
    asked = _descriptors(paths, np.full(len(paths), 48), cache, "val48")
    ok = ~np.isnan(track).any(axis=1) & ~np.isnan(asked).any(axis=1)
    years, rng, out = faces["age"].to_numpy(), np.random.default_rng(1), []
    for group, label in POPULATIONS.items():
        members = np.flatnonzero((faces["race"] == label).to_numpy() & ok)
        adults = members[(years[members] >= 18) & (years[members] <= 60) & (alike[members] >= 0)]
        adults = adults[ok[alike[adults]]]
        same = np.linalg.norm(track[adults] - asked[adults], axis=1)
        other = np.linalg.norm(track[alike[adults]] - asked[adults], axis=1)
        limits = []
        for i in adults:
            others = track[rng.choice(members[members != i], people, replace=False)]
            d = np.linalg.norm(others - asked[i], axis=1)
            limits.append(max(COHORT_FLOOR, np.median(d) - Z * 1.4826 * np.median(np.abs(d - np.median(d)))))
        cap = np.minimum(IDENTITY_MAX_DISTANCE, np.array(limits))
        out.append(
            {
                "group": group,
                "cohort_people": people,
                "adults": len(adults),
                "cohort_median_limit": round(float(np.median(limits)), 3),
                "same_passed_fixed": round(float(np.mean(same <= IDENTITY_MAX_DISTANCE)), 4),
                "same_passed_cohort": round(float(np.mean(same <= cap)), 4),
                "alike_passed_fixed": round(float(np.mean(other <= IDENTITY_MAX_DISTANCE)), 4),
                "alike_passed_cohort": round(float(np.mean(other <= cap)), 4),
            }
        )
    return out


def _cohort_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"| group | camera's people | adults 18-60 | cohort limit (median) | same face passed: fixed "
        f"{IDENTITY_MAX_DISTANCE}, "
        "with the cohort | own-group look-alike passed: fixed, with the cohort |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['cohort_people']} | {r['adults']} | {r['cohort_median_limit']:.3f} "
            f"| {r['same_passed_fixed']:.1%}, {r['same_passed_cohort']:.1%} "
            f"| {r['alike_passed_fixed']:.1%}, {r['alike_passed_cohort']:.1%} |"
        )
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, Any]]) -> str:
    under = f"< {IDENTITY_MAX_DISTANCE}"
    lines = [
        "| chip | group | ages | faces (female) | model gender | model age MAE | descriptor gender "
        f"| look-alike, own group: median, {under} | other groups: median, {under} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['group']} | {r['ages']} | {r['faces']} ({r['female']:.0%}) "
            f"| {r['model_gender']:.1%} | {r['model_age_mae']:.2f} | {r['descriptor_gender']:.1%} "
            f"| {r['alike_own group_median']:.3f}, {r['alike_own group_under']:.1%} "
            f"| {r['alike_other groups_median']:.3f}, {r['alike_other groups_under']:.1%} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
