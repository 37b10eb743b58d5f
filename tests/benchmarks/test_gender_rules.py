"""The gender-rule comparison on hand-made persons and readings (no ../shared, no clip)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from facelog.pipeline.tracking.gender import GenderReading, IdentityGender
from facelog.pipeline.tracking.identity import FacePatch, KeptFaces

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from gender_rules import READINGS_LOGGER, _Readings, score


def _clip() -> pd.DataFrame:
    # a woman the frames read right 60% of the time, a man read right in every frame
    return pd.DataFrame(
        [
            {"person_id": 0, "track_id": 1, "female": True, "per_frame": 0.6, "frames_majority": True},
            {"person_id": 1, "track_id": 2, "female": False, "per_frame": 1.0, "frames_majority": True},
        ]
    )


def test_rules_are_scored_per_person_and_per_clip() -> None:
    # the model says female weakly (0.5), the descriptor says male (-3): the shipped mean turns her male
    readings = {1: (0.5, [-3.0]), 2: (-4.0, [-2.0, -2.5])}
    rows = {r["rule"]: r for r in score([("c:0", _clip(), readings)])}
    assert rows["model"]["right"] == 2 and rows["model"]["clips_under"] == 0
    assert rows["shipped"]["right"] == 1 and rows["shipped"]["clips_under"] == 1  # 0.5 < 0.8
    assert rows["descriptor w0.3"]["right"] == 1  # 0.7 * 0.5 - 0.3 * 3 < 0
    assert rows["frames majority"]["right"] == 2
    assert all(r["persons"] == 2 for r in rows.values())


def test_persons_without_readings_are_left_out() -> None:
    rows = {r["rule"]: r for r in score([("c:0", _clip(), {2: (-4.0, [])})])}
    assert rows["descriptor"]["persons"] == 1 and rows["descriptor"]["right"] == 1  # no face: the model's


class _Fixed:
    """An embedder that gives every face the same descriptor."""

    def embed(self, patch: FacePatch) -> np.ndarray:
        return np.full(128, 0.05, np.float32)


def test_the_readings_line_of_a_person_is_kept() -> None:
    reader = IdentityGender()
    patch = FacePatch(np.zeros((40, 40, 3), np.uint8), (0.0, 0.0, 40.0, 40.0), 0)
    kept = KeptFaces([(1.0, 0, patch), (0.5, 10**9, patch)])
    handler = _Readings()
    logger = logging.getLogger(READINGS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        GenderReading(3, reader, _Fixed()).person_gender(kept, -1.25, "male", track_id=7)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    read = round(float(reader.female_logit(np.full(128, 0.05))[0]), 4)
    assert handler.rows == {7: (-1.25, [read, read])}
