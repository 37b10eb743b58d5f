"""The tracker's compact Kalman filter (one shared 2x2 covariance block) equals the full 8x8 filter,
and the per-frame fused answer (``PersonFusion.age_gender``) equals ``estimate()``'s."""

from __future__ import annotations

import numpy as np

from facelog.pipeline.tracking.fusion import N_AGES, PersonFusion
from facelog.pipeline.tracking.kalman import BoxKalman
from facelog.pipeline.tracking.track import TrackerParams


class _FullKalman:
    """Textbook 8x8 constant-velocity filter with the tracker's noise model (the reference)."""

    def __init__(self, box: np.ndarray, p: TrackerParams) -> None:
        self.p = p
        z = _cxcywh(box)
        self.x = np.concatenate([z, np.zeros(4)])
        s = np.sqrt(z[2] * z[3])
        self.P = np.diag(np.array([2 * p.std_position] * 4 + [p.init_std_velocity] * 4) ** 2 * s**2)

    def predict(self, dt: int) -> None:
        f = np.eye(8)
        f[:4, 4:] = dt * np.eye(4)
        s = np.sqrt(self.x[2] * self.x[3])
        q = np.array([self.p.std_position] * 4 + [self.p.std_velocity] * 4) * s
        self.x = f @ self.x
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        self.P = f @ self.P @ f.T + np.diag(q**2) * dt

    def update(self, box: np.ndarray) -> None:
        r = (self.p.std_position * np.sqrt(self.x[2] * self.x[3])) ** 2
        k = np.linalg.solve(self.P[:4, :4] + r * np.eye(4), self.P[:4, :]).T
        self.x = self.x + k @ (_cxcywh(box) - self.x[:4])
        self.P = self.P - k @ self.P[:4, :]


def _cxcywh(b: np.ndarray) -> np.ndarray:
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]])


def test_compact_kalman_matches_the_full_filter_on_an_accelerating_growing_walker() -> None:
    p = TrackerParams()
    rng = np.random.default_rng(3)
    box = np.array([100.0, 200.0, 130.0, 236.0])
    fast, full = BoxKalman(box, p), _FullKalman(box, p)
    for k in range(1, 40):
        dt = 1 + int(k % 7 == 0) * 3  # missed frames now and then
        fast.predict(dt)
        full.predict(dt)
        np.testing.assert_allclose(fast.x, full.x, rtol=1e-9, atol=1e-9)
        assert abs(fast.position_std() - np.sqrt((full.P[0, 0] + full.P[1, 1]) / 2)) < 1e-9
        grow = 1 + 0.02 * k
        box = box + np.array([6 + 0.3 * k, 1, 6 + 0.3 * k + grow, 1 + grow]) * dt + rng.normal(0, 1.5, 4)
        fast.update(box)
        full.update(box)
        np.testing.assert_allclose(fast.x, full.x, rtol=1e-9, atol=1e-9)
        half = full.x[2:4] / 2
        np.testing.assert_allclose(fast.box(), [*(full.x[:2] - half), *(full.x[:2] + half)])


def test_age_gender_is_estimates_answer() -> None:
    rng = np.random.default_rng(0)
    fusion = PersonFusion()
    for _ in range(25):
        probs = rng.dirichlet(np.full(N_AGES, 0.3))
        fusion.add(probs, float(rng.uniform()), float(rng.uniform(0.01, 1.0)), 40.0)
        age, gender = fusion.age_gender()
        est = fusion.estimate()
        assert age == est.age and gender == est.gender
