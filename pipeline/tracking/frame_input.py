"""One frame's detections as ``Tracker.update`` reads them: checked, their cues normalised, the looks of
faces cut by the frame edge or by a nearer face marked unknown."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelog.pipeline.tracking.identity import FrameFaces
from facelog.pipeline.tracking.track import behind_nearer


@dataclass(frozen=True, slots=True)
class FrameInput:
    """One frame's detections as the tracker reads them (``read_frame``: checked, cues normalised)."""

    boxes: np.ndarray  # (n, 4) float64 xyxy
    score: np.ndarray  # (n,) float64
    only: np.ndarray  # (n,) bool: track_only
    edge: np.ndarray  # (n,) bool: cut by the frame edge
    hidden: np.ndarray  # (n,) bool: partly behind a nearer face
    unknown: np.ndarray  # (n,) bool: edge | hidden, looks unknown (their cue rows are zeros)
    cues: dict[str, np.ndarray]  # "embedding", "body": (n, D) L2-normalised rows
    identity: FrameFaces | None


def read_frame(
    xyxy: np.ndarray,
    score: np.ndarray,
    embedding: np.ndarray | None,
    body: np.ndarray | None,
    track_only: np.ndarray | None,
    identity: FrameFaces | None,
    at_edge: np.ndarray | None,
) -> FrameInput:
    """``Tracker.update``'s detections checked (``ValueError`` as it documents): the looks of a face cut
    by the frame edge or by a nearer face are unknown (its cue rows zeros)."""
    boxes, score = check_boxes(xyxy, score)
    only = np.zeros(len(boxes), bool) if track_only is None else np.asarray(track_only, bool)
    if only.shape != (len(boxes),):
        raise ValueError(f"track_only must be ({len(boxes)},), got {only.shape}")
    edge = np.zeros(len(boxes), bool) if at_edge is None else np.asarray(at_edge, bool)
    if edge.shape != (len(boxes),):
        raise ValueError(f"at_edge must be ({len(boxes)},), got {edge.shape}")
    cues = {
        name: check_cue(name, v, len(boxes))
        for name, v in (("embedding", embedding), ("body", body))
        if v is not None
    }
    hidden = behind_nearer(boxes)  # a face partly behind a nearer one: its looks are unknown too
    unknown = edge | hidden
    if unknown.any():  # a face cut by the frame edge or by a nearer face: looks unknown (zeros)
        cues = {name: np.where(unknown[:, None], 0.0, feats) for name, feats in cues.items()}
    if identity is not None and len(identity) != len(boxes):
        raise ValueError(f"identity must hold {len(boxes)} faces, got {len(identity)}")
    return FrameInput(boxes, score, only, edge, hidden, unknown, cues, identity)


def check_boxes(xyxy: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) finite boxes with x2 >= x1 and y2 >= y1 and (n,) finite scores, as float64."""
    xyxy, score = np.asarray(xyxy), np.asarray(score)
    if xyxy.ndim != 2 or xyxy.shape[1] != 4:
        raise ValueError(f"xyxy must be (n, 4), got {xyxy.shape}")
    if score.shape != (len(xyxy),):
        raise ValueError(f"score must be ({len(xyxy)},), got {score.shape}")
    boxes = xyxy.astype(np.float64)
    if not (np.isfinite(boxes).all() and np.isfinite(score).all()):
        raise ValueError("xyxy and score must be finite")
    if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ValueError("xyxy must have x2 >= x1 and y2 >= y1")
    return boxes, score.astype(np.float64)


def check_cue(name: str, feats: np.ndarray, n: int) -> np.ndarray:
    """(n, D) finite -> L2-normalised rows (rows of zeros stay zero: unknown)."""
    v = np.asarray(feats, np.float64)
    if v.ndim != 2 or v.shape[0] != n or v.shape[1] == 0:
        raise ValueError(f"{name} must be ({n}, D), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.asarray(np.where(norm > 0, v / np.maximum(norm, 1e-300), 0.0))
