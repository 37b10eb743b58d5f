"""IMDB-WIKI / WIKI metadata (``wiki.mat``, ``imdb.mat``) as in the DEX tutorial.

Rules: keep ``face_score >= min_score``; drop images with a second face (``second_face_score`` not
NaN); age = year the photo was taken minus birth year from the MATLAB datenum ``dob``, with the
photo assumed taken mid-year (born in July or later -> one year less); keep ages 0..100; drop
unknown gender. IMDB-WIKI codes gender 1 = male, 0 = female; facelog uses 0 = male, 1 = female.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np

from facelog.training.datasets import MAX_AGE, DatasetError, FaceTable

log = logging.getLogger(__name__)

_FIELDS = ("dob", "photo_taken", "full_path", "gender", "face_score", "second_face_score")


def age_from_datenum(dob: float, photo_taken: int) -> int:
    """Age at mid-year ``photo_taken`` of someone born on MATLAB datenum ``dob``."""
    born = dt.date.fromordinal(max(int(dob) - 366, 1))  # MATLAB day 1 = 0000-01-01; Python day 1 = 0001-01-01
    return int(photo_taken) - born.year - (1 if born.month >= 7 else 0)


def _path_text(cell: object) -> str:
    arr = np.asarray(cell)
    return str(arr.reshape(-1)[0]) if arr.size else ""


def read_wiki_mat(
    mat_path: str | Path, root: str | Path | None = None, key: str = "wiki", min_score: float = 1.0
) -> FaceTable:
    """Read ``wiki.mat``/``imdb.mat`` (struct ``key``); image paths are relative to ``root``

    (default: the .mat file's folder).

    Raises:
        DatasetError: missing file/struct/fields, or no row passes the filters.
    """
    from scipy.io import loadmat

    mat_path = Path(mat_path)
    if not mat_path.is_file():
        raise DatasetError(f"metadata file not found: {mat_path}")
    mat = loadmat(str(mat_path))
    if key not in mat:
        found = [k for k in mat if not k.startswith("__")]
        raise DatasetError(f"{mat_path}: no struct {key!r} (found {found}); set data.mat_key")
    meta = mat[key][0, 0]
    missing = [f for f in _FIELDS if f not in (meta.dtype.names or ())]
    if missing:
        raise DatasetError(f"{mat_path}: struct {key!r} lacks fields {missing}")
    dob = np.asarray(meta["dob"], np.float64).reshape(-1)
    taken = np.asarray(meta["photo_taken"], np.float64).reshape(-1)
    gender = np.asarray(meta["gender"], np.float64).reshape(-1)
    score = np.asarray(meta["face_score"], np.float64).reshape(-1)
    second = np.asarray(meta["second_face_score"], np.float64).reshape(-1)
    full_path = np.asarray(meta["full_path"]).reshape(-1)
    base = Path(root) if root is not None else mat_path.parent
    paths, ages, genders = [], [], []
    dropped = {"face_score": 0, "second_face": 0, "age": 0, "gender": 0}
    for i in range(len(dob)):
        if not score[i] >= min_score:  # also drops NaN and -inf (no face found)
            dropped["face_score"] += 1
            continue
        if not np.isnan(second[i]):
            dropped["second_face"] += 1
            continue
        if np.isnan(gender[i]):
            dropped["gender"] += 1
            continue
        age = age_from_datenum(dob[i], int(taken[i]))
        if not 0 <= age <= MAX_AGE:
            dropped["age"] += 1
            continue
        paths.append(base / _path_text(full_path[i]))
        ages.append(age)
        genders.append(0 if gender[i] == 1 else 1)
    log.info("%s: kept %d of %d rows; dropped %s", mat_path.name, len(paths), len(dob), dropped)
    if not paths:
        raise DatasetError(f"{mat_path}: no usable rows (dropped {dropped})")
    return FaceTable(tuple(paths), {"age": np.array(ages, np.float32), "gender": np.array(genders, np.int64)})
