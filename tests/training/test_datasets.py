"""Dataset readers on tiny fixtures built in tmp_path; splits; preloading."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.training import datasets as dsets


def _img(path: Path, value: int = 100, size: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((size, size, 3), value, np.uint8)
    img[:, : size // 2, 2] = 255  # red left half (BGR), to check RGB order after loading
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def utk_dir(tmp_path: Path) -> Path:
    root = tmp_path / "utk" / "images"
    for name in [
        "25_0_0_20170116174525125.jpg.chip.jpg",
        "116_1_2_20170112213001988.jpg.chip.jpg",  # age clipped to 100
        "55_0_0_20170116232725357jpg.chip.jpg",  # missing dot (real UTKFace name)
        "39_1_20170116174525125 .jpg.chip.jpg",  # space before .jpg, no race
        "3_1_4_20161221193016140.jpg.chip.jpg",
        "notes_about_this.jpg",  # not a UTKFace name: skipped
    ]:
        _img(root / name)
    (root / "readme.txt").write_text("not an image")
    return tmp_path / "utk"


def test_utkface_reads_labels_from_names(utk_dir: Path) -> None:
    table = dsets.read_utkface(utk_dir)
    got = {
        p.name: (float(a), int(g))
        for p, a, g in zip(table.paths, table.labels["age"], table.labels["gender"], strict=True)
    }
    assert got == {
        "25_0_0_20170116174525125.jpg.chip.jpg": (25.0, 0),
        "116_1_2_20170112213001988.jpg.chip.jpg": (100.0, 1),
        "55_0_0_20170116232725357jpg.chip.jpg": (55.0, 0),
        "39_1_20170116174525125 .jpg.chip.jpg": (39.0, 1),
        "3_1_4_20161221193016140.jpg.chip.jpg": (3.0, 1),
    }


def test_utkface_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(dsets.DatasetError, match="no usable rows"):
        dsets.read_utkface(tmp_path / "empty")
    with pytest.raises(dsets.DatasetError, match="not found"):
        dsets.read_utkface(tmp_path / "absent")


def test_csv_list_allows_empty_labels(tmp_path: Path) -> None:
    _img(tmp_path / "a.jpg")
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("path,age,gender\na.jpg,30,male\nb.jpg,,1\nc.jpg,130,\nd.jpg,,\n/abs/e.jpg,7,F\n")
    table = dsets.read_csv_list(csv_path)
    assert [p.name for p in table.paths] == ["a.jpg", "b.jpg", "c.jpg", "e.jpg"]  # d has no label at all
    assert table.paths[0] == tmp_path / "a.jpg"
    assert table.paths[3] == Path("/abs/e.jpg")
    np.testing.assert_array_equal(table.labels["age"], [30, np.nan, 100, 7])
    np.testing.assert_array_equal(table.labels["gender"], [0, 1, -1, 1])


@pytest.mark.parametrize(
    "text, match",
    [
        ("path,age\na.jpg,3\n", r"missing \['gender'\]"),
        ("path,age,gender\na.jpg,old,0\n", "age must be a number"),
        ("path,age,gender\na.jpg,3,x\n", "gender must be"),
        ("path,age,gender\n", "no usable rows"),
    ],
    ids=["header", "bad-age", "bad-gender", "empty"],
)
def test_csv_list_bad_input(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "l.csv"
    p.write_text(text)
    with pytest.raises(dsets.DatasetError, match=match):
        dsets.read_csv_list(p)


def test_class_folders(tmp_path: Path) -> None:
    _img(tmp_path / "female" / "x.jpg")
    _img(tmp_path / "female" / "y.png")
    _img(tmp_path / "male" / "z.jpg")
    (tmp_path / "male" / "notes.txt").write_text("x")
    table = dsets.read_class_folders(tmp_path)
    assert [p.name for p in table.paths] == ["z.jpg", "x.jpg", "y.png"]
    np.testing.assert_array_equal(table.labels["gender"], [0, 1, 1])
    assert np.isnan(table.column("age", "age")).all()  # gender-only set: age masked in the loss
    with pytest.raises(dsets.DatasetError, match="no usable rows"):
        dsets.read_class_folders(tmp_path / "female")


def test_split_is_seeded_order_free_and_roundtrips(tmp_path: Path) -> None:
    names = [f"f{i}.jpg" for i in range(50)]
    tr, va = dsets.split_indices(names, 0.1, seed=7)
    assert len(va) == 5 and len(tr) == 45 and not set(tr) & set(va)
    _, va2 = dsets.split_indices(names[::-1], 0.1, seed=7)
    assert {names[::-1][i] for i in va2} == {names[i] for i in va}
    _, va3 = dsets.split_indices(names, 0.1, seed=8)
    assert set(va3) != set(va)
    dsets.write_split(tmp_path / "split.json", names, tr, va, 7)
    _, va4 = dsets.read_split(tmp_path / "split.json", names)
    np.testing.assert_array_equal(va4, va)
    with pytest.raises(dsets.DatasetError, match="not in the dataset"):
        dsets.read_split(tmp_path / "split.json", names[:10])
    with pytest.raises(ValueError, match="val_fraction"):
        dsets.split_indices(names, 1.5, 0)


def test_preload_rgb_and_unreadable(tmp_path: Path) -> None:
    good = _img(tmp_path / "g.jpg", size=40)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    imgs, ok = dsets.preload([good, bad, tmp_path / "missing.jpg"], size=16)
    assert imgs.shape == (1, 16, 16, 3) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(ok, [True, False, False])
    assert imgs[0, 8, 2, 0] > 200  # red (BGR channel 2) is channel 0 after loading as RGB
    empty, ok0 = dsets.preload([bad], size=16)
    assert empty.shape == (0, 16, 16, 3) and not ok0.any()
