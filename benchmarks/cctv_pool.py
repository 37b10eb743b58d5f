"""Pool the per-clip results of ``cctv_bench.py`` (and ``cctv_fusion.py``) over clips and seeds.

    python benchmarks/cctv_pool.py BENCH_S0.json BENCH_S1.json ... [--fusion FUS_A.json FUS_B.json ...]

One clip holds ~30 people, so a per-person MAE moves by about a year from one set of people to the
next (the SD of a person's error is ~5 years); issue 10's "per person 0.5 years below per frame" is
only readable over several clips. Pooling weighs each clip by what it counts: per-frame numbers by
matched rows, per-person numbers by people. Printed (Markdown):

- per clip and pooled: matched rows, per-frame age MAE / gender accuracy, people, the tracks CSV's
  per-person MAE / gender, the same people's per-frame errors averaged per person first, and
  per-person minus per-frame MAE;
- with ``--fusion``: pooled over those clips, the model on each person's original photo ("oracle",
  the bound of any fusion on these one-photo-per-person clips), the shipped fusion with perfect
  association, the plain mean of per-frame ages, and gender the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def pool_bench(results: list[dict[str, Any]]) -> dict[str, float]:
    """Pooled per-frame and per-person numbers of ``cctv_bench`` result dicts (one per clip)."""
    rows = people = by_people = 0
    row_err = row_ok = p_err = p_ok = bp_err = bp_ok = 0.0
    for r in results:
        frame, person = r["detection"]["per_frame"], r["per_person"]["tracks_csv"]
        by_person = r["per_person"]["per_frame_by_person"]
        rows += frame["n"]
        row_err += frame["age_mae"] * frame["n"]
        row_ok += frame["gender_acc"] * frame["n"]
        people += person["n"]
        p_err += person["age_mae"] * person["n"]
        p_ok += person["gender_acc"] * person["n"]
        by_people += by_person["n"]  # every matched person; ``people``: those with a tracks CSV row
        bp_err += by_person["age_mae"] * by_person["n"]
        bp_ok += by_person["gender_acc"] * by_person["n"]
    if not rows or not people:
        raise ValueError("no matched rows or no people in these results")
    return {
        "rows": rows,
        "frame_age_mae": row_err / rows,
        "frame_gender_acc": row_ok / rows,
        "people": people,
        "person_age_mae": p_err / people,
        "person_gender_acc": p_ok / people,
        "frame_by_person_age_mae": bp_err / by_people,
        "frame_by_person_gender_acc": bp_ok / by_people,
    }


def pool_fusion(results: list[dict[str, Any]]) -> dict[str, float]:
    """Pooled (weighted by people) MAE and gender accuracy of ``cctv_fusion`` result dicts."""
    people = sum(r["persons"] for r in results)
    if not people:
        raise ValueError("no people in these results")
    out: dict[str, float] = {"people": people}
    for key in ("age_mae", "gender_acc"):
        for method in results[0][key]:
            out[f"{key}.{method}"] = sum(r[key][method] * r["persons"] for r in results) / people
    return out


def _bench_row(name: str, p: dict[str, float]) -> str:
    return (
        f"| {name} | {p['rows']} | {p['frame_age_mae']:.2f} / {p['frame_gender_acc']:.1%} | {p['people']} | "
        f"{p['person_age_mae']:.2f} / {p['person_gender_acc']:.1%} | "
        f"{p['frame_by_person_age_mae']:.2f} / {p['frame_by_person_gender_acc']:.1%} | "
        f"{p['person_age_mae'] - p['frame_age_mae']:+.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", nargs="+", type=Path, help="cctv_bench.py --json files")
    ap.add_argument("--fusion", nargs="*", type=Path, default=[], help="cctv_fusion.py --json files")
    args = ap.parse_args(argv)
    try:
        clips = [(path, r) for path in args.bench for r in json.loads(path.read_text())]
        fusion = [json.loads(path.read_text()) for path in args.fusion]
        print(
            "| clip | rows | per frame MAE / gender | people | per person (tracks CSV) | "
            "per frame, by person | person - frame MAE |\n|---|---|---|---|---|---|---|"
        )
        for path, r in clips:
            print(_bench_row(f"{path.stem} {r['preset']}", pool_bench([r])))
        print(_bench_row(f"**pooled, {len(clips)} clips**", pool_bench([r for _, r in clips])))
        if fusion:
            f = pool_fusion(fusion)
            print(
                f"\nPerfect association, pooled over {len(fusion)} clips ({f['people']} people): "
                f"oracle (model on the original photo) {f['age_mae.oracle_age']:.2f} / "
                f"{f['gender_acc.oracle_female']:.1%}; shipped fusion {f['age_mae.fusion']:.2f} / "
                f"{f['gender_acc.g_fusion']:.1%}; mean of frames {f['age_mae.mean']:.2f} / "
                f"{f['gender_acc.g_mean']:.1%}"
            )
    except (OSError, ValueError) as exc:  # a missing file, not JSON, nothing to pool
        print(f"cctv_pool: error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError) as exc:  # another JSON, or a bench run without a tracks CSV (None)
        why = f"not a cctv_bench / cctv_fusion result with tracks ({exc!r})"
        print(f"cctv_pool: error: {why}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
