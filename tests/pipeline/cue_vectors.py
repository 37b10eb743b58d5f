"""Unit vectors for the tracker's scripted tests: a face embedding or body colour of ``D`` dimensions,
and one at a chosen cosine distance from it. Shared by test_tracker_gates.py and
test_tracker_occlusion.py."""

from __future__ import annotations

import numpy as np

D = 16


def unit(rng: np.random.Generator) -> np.ndarray:
    """A random unit vector of ``D`` dimensions."""
    v = rng.normal(size=D)
    return np.asarray(v / np.linalg.norm(v))


def near(v: np.ndarray, cos_dist: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at cosine distance ``cos_dist`` from unit ``v``."""
    o = rng.normal(size=D)
    o -= (o @ v) * v
    o /= np.linalg.norm(o)
    c = 1.0 - cos_dist
    return np.asarray(c * v + np.sqrt(1 - c * c) * o)
