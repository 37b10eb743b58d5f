"""Dataset readers -> one ``FaceTable``; seeded splits written to disk; preloading into RAM.

Label columns: ``age`` is float32 years (NaN = missing); categorical columns (``gender``, ...) are
int64 class indices (-1 = missing). Missing labels are masked in the loss, so a gender-only set
trains only the gender head.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_AGE = 100
GENDER_LABELS = ("male", "female")  # index order, as UTKFace: 0 = male, 1 = female
# AGE_GENDER_RACE_TIMESTAMP.jpg.chip.jpg; a few real names lack the race, a dot, or have a space.
_UTK_NAME = re.compile(r"^(\d{1,3})_([01])_")


class DatasetError(ValueError):
    """A dataset cannot be read or has no usable rows."""


@dataclass(frozen=True)
class FaceTable:
    """Image paths plus label columns, all of length n."""

    paths: tuple[Path, ...]
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, col in self.labels.items():
            if col.shape != (len(self.paths),):
                raise ValueError(f"label column {name!r} must be ({len(self.paths)},), got {col.shape}")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx: np.ndarray) -> FaceTable:
        """Rows ``idx`` (int indices or a boolean mask)."""
        idx = np.flatnonzero(idx) if idx.dtype == bool else idx
        return FaceTable(tuple(self.paths[i] for i in idx), {k: v[idx] for k, v in self.labels.items()})

    def column(self, name: str, kind: str) -> np.ndarray:
        """A label column; all-missing if the table has no such column."""
        if name in self.labels:
            return self.labels[name]
        return np.full(len(self), np.nan, np.float32) if kind == "age" else np.full(len(self), -1, np.int64)


def _clip_age(age: np.ndarray) -> np.ndarray:
    return np.clip(age, 0, MAX_AGE).astype(np.float32)


def _require_rows(table: FaceTable, what: str) -> FaceTable:
    if len(table) == 0:
        raise DatasetError(f"{what}: no usable rows")
    return table


def read_utkface(root: str | Path) -> FaceTable:
    """UTKFace "aligned & cropped" folder; labels from ``AGE_GENDER_RACE_TIMESTAMP.jpg.chip.jpg`` names.

    ``root`` may hold the images directly or in ``images/``. Ages are clipped to 0..100. Names that
    do not start with ``AGE_GENDER_`` are skipped and counted.
    """
    root = Path(root)
    folder = root / "images" if (root / "images").is_dir() else root
    if not folder.is_dir():
        raise DatasetError(f"UTKFace folder not found: {root}")
    paths, ages, genders, skipped = [], [], [], 0
    for p in sorted(folder.iterdir()):
        if not p.is_file() or not p.name.lower().rstrip().endswith("jpg"):
            continue
        m = _UTK_NAME.match(p.name)
        if m is None:
            skipped += 1
            continue
        paths.append(p)
        ages.append(float(m.group(1)))
        genders.append(int(m.group(2)))
    if skipped:
        log.warning("UTKFace %s: skipped %d files whose names do not start with AGE_GENDER_", folder, skipped)
    table = FaceTable(
        tuple(paths),
        {"age": _clip_age(np.array(ages, np.float32)), "gender": np.array(genders, np.int64)},
    )
    return _require_rows(table, f"UTKFace {folder}")


def _parse_gender(text: str, where: str) -> int:
    t = text.strip().lower()
    if t == "":
        return -1
    if t in ("0", "m", "male"):
        return 0
    if t in ("1", "f", "female"):
        return 1
    raise DatasetError(f"{where}: gender must be 0/1/male/female/empty, got {text!r}")


def read_csv_list(csv_path: str | Path, root: str | Path | None = None) -> FaceTable:
    """CSV with header ``path,age,gender``; either label may be empty. Relative paths are under ``root``

    (default: the CSV's folder). Ages are clipped to 0..100.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"CSV list not found: {csv_path}")
    base = Path(root) if root is not None else csv_path.parent
    paths, ages, genders = [], [], []
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "age", "gender"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{csv_path}: header must have path,age,gender; missing {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line}"
            age_text = (row["age"] or "").strip()
            try:
                age = float(age_text) if age_text else np.nan
            except ValueError:
                raise DatasetError(f"{where}: age must be a number or empty, got {age_text!r}") from None
            gender = _parse_gender(row["gender"] or "", where)
            if np.isnan(age) and gender < 0:
                continue  # no label at all: nothing to learn from
            p = Path(row["path"])
            paths.append(p if p.is_absolute() else base / p)
            ages.append(age)
            genders.append(gender)
    table = FaceTable(
        tuple(paths), {"age": _clip_age(np.array(ages, np.float32)), "gender": np.array(genders, np.int64)}
    )
    return _require_rows(table, f"CSV list {csv_path}")


def read_class_folders(
    root: str | Path, column: str = "gender", labels: Sequence[str] = GENDER_LABELS
) -> FaceTable:
    """Class folders ``root/<label>/*.jpg`` (e.g. ``female/``, ``male/``); other labels are missing."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"class-folder root not found: {root}")
    paths, classes = [], []
    for idx, label in enumerate(labels):
        sub = root / label
        if not sub.is_dir():
            continue
        for p in sorted(sub.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(p)
                classes.append(idx)
    table = FaceTable(tuple(paths), {column: np.array(classes, np.int64)})
    return _require_rows(table, f"class folders {root} (expected sub-folders {list(labels)})")


def split_names(table: FaceTable) -> list[str]:
    """Stable names for the split file: the file name where all images share one folder, else the path."""
    if not table.paths:
        return []
    parent = table.paths[0].parent
    if all(p.parent == parent for p in table.paths):
        return [p.name for p in table.paths]
    return [str(p) for p in table.paths]


def split_indices(names: Sequence[str], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/val split that depends only on the set of names, not their order."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    perm = order[np.random.default_rng(seed).permutation(len(names))]
    n_val = max(1, round(len(names) * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def write_split(path: Path, names: Sequence[str], train: np.ndarray, val: np.ndarray, seed: int) -> None:
    """Write the split (file names per part) as JSON so a validation number can be reproduced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"seed": seed, "train": [names[i] for i in train], "val": [names[i] for i in val]}
    path.write_text(json.dumps(doc, indent=0))


def read_split(path: Path, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a split written by ``write_split``; names absent from ``names`` are an error."""
    doc = json.loads(Path(path).read_text())
    where = {n: i for i, n in enumerate(names)}
    missing = [n for n in doc["train"] + doc["val"] if n not in where]
    if missing:
        raise DatasetError(f"split {path}: {len(missing)} files not in the dataset, e.g. {missing[0]!r}")
    return np.array([where[n] for n in doc["train"]]), np.array([where[n] for n in doc["val"]])


def load_image_rgb(path: Path, size: int) -> np.ndarray | None:
    """Decode one image as RGB uint8 resized to (size, size) with area interpolation; None if unreadable."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img[:, :, ::-1])


def preload(paths: Sequence[Path], size: int, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Decode all images into one (n, size, size, 3) uint8 RGB array.

    Returns:
        (images of the readable rows, boolean mask of readable rows over ``paths``).
    """
    with ThreadPoolExecutor(threads) as pool:
        imgs = list(pool.map(lambda p: load_image_rgb(p, size), paths))
    ok = np.array([im is not None for im in imgs], bool)
    if (~ok).any():
        bad = [str(p) for p, good in zip(paths, ok, strict=True) if not good]
        log.warning("skipped %d unreadable images, e.g. %s", len(bad), bad[0])
    out = (
        np.stack([im for im in imgs if im is not None])
        if ok.any()
        else np.zeros((0, size, size, 3), np.uint8)
    )
    return out, ok
