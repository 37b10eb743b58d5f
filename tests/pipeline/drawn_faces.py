"""Drawn faces for the tracker's scripted tests: a person's coarse random texture and a small but
real identity for it (the face region's 6x6 grey pattern, mean-removed and scaled to length 1: two
different patterns are ~1.4 apart, the same one ~0, a half face far from its whole face, as dlib's
descriptor is). Shared by test_tracker_identity.py and test_tracker_splits.py."""

from __future__ import annotations

import cv2
import numpy as np

from facelog.pipeline.tracking.identity import FacePatch


class PatternEmbedder:
    """The identity of a drawn face; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, patch: FacePatch) -> np.ndarray | None:
        self.calls += 1
        x1, y1, x2, y2 = (max(0, round(v)) for v in patch.xyxy)
        grey = cv2.cvtColor(patch.image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY).astype(np.float32)
        v = cv2.resize(grey, (6, 6), interpolation=cv2.INTER_AREA).ravel()
        v -= v.mean()
        return np.asarray(v / max(float(np.linalg.norm(v)), 1e-6), np.float32)


def face_texture(person: int, side: int) -> np.ndarray:
    """Person ``person``'s face: a 6x6 random colour pattern blown up to ``side`` px."""
    rng = np.random.default_rng(person)
    coarse = rng.integers(40, 220, (6, 6, 3)).astype(np.uint8)
    return np.asarray(cv2.resize(coarse, (side, side), interpolation=cv2.INTER_NEAREST))
