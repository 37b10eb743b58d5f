"""Shared definitions of the synthetic CCTV benchmark (``cctv_synth``, ``cctv_score``, ``cctv_bench``).

The ground-truth (GT) file ``NAME.gt.csv`` has one row per visible face per frame with the columns
``GT_COLUMNS``. The box is the face box a detector such as YuNet draws, in frame pixels, clipped to
the frame; ``face_px`` is the width of the unclipped box. See ``cctv_synth`` for how the box relates
to the pasted UTKFace chip.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
YUNET_PATH = SHARED / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"

GT_COLUMNS = ("frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px")

# The GT face box inside a pasted chip, as fractions of the chip side (x1, y1, x2, y2). Means of the
# medians of YuNet's boxes on 300 validation chips pasted with the benchmark's feathered mask at 60
# and 120 px over grey (0 misses; YuNet's box starts above the chip: it extends the forehead). IoU of
# YuNet's own box with this box on those chips: minimum 0.61, 1st percentile 0.68, median 0.87.
GT_BOX_IN_CHIP = (0.053, -0.10, 0.928, 0.988)
GT_BOX_W = GT_BOX_IN_CHIP[2] - GT_BOX_IN_CHIP[0]
GT_BOX_ASPECT = (GT_BOX_IN_CHIP[3] - GT_BOX_IN_CHIP[1]) / GT_BOX_W  # height / width

# Face size buckets of the report (GT box width in px): [lo, hi).
SIZE_BUCKETS: tuple[tuple[int, int], ...] = ((16, 32), (32, 48), (48, 64), (64, 96), (96, 100_000))
# A GT face cut by the frame edge (or hidden) to less than this share of its area is "don't care": a detection
# on it is neither a hit nor a false positive, and it is not counted in recall.
MIN_VISIBLE_SHARE = 0.75


class GroundTruthError(ValueError):
    """A ground-truth or result file is missing or has the wrong columns."""


def temp_beside(path: Path) -> Path:
    """A new, empty hidden file beside ``path``, with its suffix, of this call alone: a clip is written
    there and moved onto ``path`` (``os.replace``) when whole. Two runs that make one clip at once then
    each write their own file, and whichever moves last leaves a whole one (the same bytes: clips are
    made from their seed); with one shared name they wrote into each other's file, and a camera clip
    was once made from such a mix (docs/BENCHMARKS.md, thirty-fourth session)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    return Path(name)


def bucket_name(lo: int, hi: int) -> str:
    """``"16-31"`` style label of a bucket; the last one is ``"96+"``."""
    return f"{lo}+" if hi >= 100_000 else f"{lo}-{hi - 1}"


def read_csv_checked(path: str | Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """Read a CSV and check it has ``columns``.

    Raises:
        GroundTruthError: the file is missing or lacks a column.
    """
    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(f"{what} not found: {path}")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise GroundTruthError(f"{what} {path} lacks columns {missing}, has {list(df.columns)}")
    return df


def read_gt(path: str | Path) -> pd.DataFrame:
    """The GT table plus ``visible`` (share of the unclipped box inside the frame and, where the GT
    has an ``occluded`` column, not hidden by faces in front) and ``care``."""
    gt = read_csv_checked(path, GT_COLUMNS, "ground truth")
    full_area = gt["face_px"].astype(float) ** 2 * GT_BOX_ASPECT
    area = (gt["x2"] - gt["x1"]).clip(lower=0) * (gt["y2"] - gt["y1"]).clip(lower=0)
    gt["visible"] = np.minimum(area / full_area.clip(lower=1.0), 1.0)
    if "occluded" in gt.columns:  # ``cross`` presets: the share that faces in front cover
        gt["visible"] *= 1.0 - gt["occluded"].clip(0.0, 1.0)
    gt["care"] = gt["visible"] >= MIN_VISIBLE_SHARE
    return gt


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), xyxy; returns (n, m)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float64)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
