"""``benchmarks/population.py``'s pairing of look-alikes (no ../shared needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from population import look_alikes


def test_a_look_alike_is_another_face_of_the_same_gender_and_nearest_age_in_its_group_or_not() -> None:
    faces = pd.DataFrame(
        {
            "age": [30, 31, 45, 30, 32, 29, 60],
            "gender": ["male", "male", "male", "female", "male", "male", "male"],
            "race": [2, 2, 2, 2, 0, 1, 0],
        }
    )
    own = look_alikes(faces, True, np.random.default_rng(0))
    assert own[0] == 1 and own[1] == 0  # same group and gender, nearest age; never the face itself
    assert own[2] == 1  # the nearest age of what is left (45 -> 31, not the woman of 30)
    other = look_alikes(faces, False, np.random.default_rng(0))
    assert other[0] in (4, 5) and other[4] == 1  # another group, same gender, nearest age
    assert own[3] == -1  # no other woman in her group: none
    assert all(faces["gender"][other[i]] == faces["gender"][i] for i in range(len(faces)) if i != 3)
