"""IMDB-WIKI .mat reader against a tiny .mat file written with scipy.io.savemat."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from facelog.training.datasets import DatasetError
from facelog.training.wiki import age_from_datenum, read_wiki_mat


def datenum(d: dt.date) -> float:
    return d.toordinal() + 366.0  # MATLAB datenum of a date


def test_age_uses_mid_year_convention() -> None:
    assert age_from_datenum(datenum(dt.date(1980, 3, 1)), 2010) == 30  # born before July
    assert age_from_datenum(datenum(dt.date(1980, 7, 1)), 2010) == 29  # born July or later
    assert age_from_datenum(datenum(dt.date(1980, 12, 31)), 2010) == 29


def _write_mat(path: Path, key: str = "wiki") -> None:
    nan = np.nan
    rows = [  # dob, taken, path, gender(1=male), face_score, second_face_score
        (dt.date(1980, 3, 1), 2010, "17/a.jpg", 1.0, 3.2, nan),  # kept: 30, male
        (dt.date(1990, 9, 1), 2012, "17/b.jpg", 0.0, 1.0, nan),  # kept: 21, female (score == min)
        (dt.date(1970, 1, 1), 2000, "17/c.jpg", 1.0, 0.5, nan),  # face_score too low
        (dt.date(1970, 1, 1), 2000, "17/d.jpg", 1.0, -np.inf, nan),  # no face
        (dt.date(1970, 1, 1), 2000, "17/e.jpg", 0.0, 4.0, 1.5),  # second face
        (dt.date(1970, 1, 1), 2000, "17/f.jpg", nan, 4.0, nan),  # unknown gender
        (dt.date(1850, 1, 1), 2000, "17/g.jpg", 1.0, 4.0, nan),  # age 150
        (dt.date(2005, 1, 1), 2000, "17/h.jpg", 1.0, 4.0, nan),  # negative age
    ]
    paths = np.empty((1, len(rows)), dtype=object)
    for i, r in enumerate(rows):
        paths[0, i] = np.array([r[2]])
    struct = {
        "dob": np.array([[datenum(r[0]) for r in rows]]),
        "photo_taken": np.array([[r[1] for r in rows]], np.float64),
        "full_path": paths,
        "gender": np.array([[r[3] for r in rows]]),
        "face_score": np.array([[r[4] for r in rows]]),
        "second_face_score": np.array([[r[5] for r in rows]]),
        "name": np.array([["x"] * len(rows)], dtype=object),
    }
    savemat(str(path), {key: struct})


def test_reads_and_filters_like_dex(tmp_path: Path) -> None:
    mat = tmp_path / "wiki.mat"
    _write_mat(mat)
    table = read_wiki_mat(mat)
    assert table.paths == (tmp_path / "17/a.jpg", tmp_path / "17/b.jpg")
    np.testing.assert_array_equal(table.labels["age"], [30, 21])
    np.testing.assert_array_equal(table.labels["gender"], [0, 1])  # IMDB-WIKI 1=male -> facelog 0=male
    loose = read_wiki_mat(mat, root=tmp_path / "imgs", min_score=0.4)
    assert [p.name for p in loose.paths] == ["a.jpg", "b.jpg", "c.jpg"]
    assert loose.paths[0].parent.parent == tmp_path / "imgs"


def test_imdb_key_and_errors(tmp_path: Path) -> None:
    mat = tmp_path / "imdb.mat"
    _write_mat(mat, key="imdb")
    assert len(read_wiki_mat(mat, key="imdb")) == 2
    with pytest.raises(DatasetError, match=r"no struct 'wiki' \(found \['imdb'\]\)"):
        read_wiki_mat(mat)
    with pytest.raises(DatasetError, match="no usable rows"):
        read_wiki_mat(mat, key="imdb", min_score=10.0)
    with pytest.raises(DatasetError, match="not found"):
        read_wiki_mat(tmp_path / "none.mat")
    savemat(str(tmp_path / "partial.mat"), {"wiki": {"dob": np.array([[1.0]])}})
    with pytest.raises(DatasetError, match="lacks fields"):
        read_wiki_mat(tmp_path / "partial.mat")
