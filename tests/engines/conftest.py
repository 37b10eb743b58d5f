"""Fixtures for the engine tests: real UTKFace crops (from ../shared) for calibration."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def utkface(shared: Path) -> Path:
    root = shared / "data" / "utkface"
    if not (root / "labels.csv").is_file():
        pytest.skip(f"UTKFace not found at {root}")
    return root


@pytest.fixture(scope="session")
def utk_rows(utkface: Path) -> list[dict[str, str]]:
    with (utkface / "labels.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def calib_csv(
    tmp_path_factory: pytest.TempPathFactory, utkface: Path, utk_rows: list[dict[str, str]]
) -> Path:
    """A CSV of 48 real UTKFace crops (every 400th row), with absolute paths."""
    path = tmp_path_factory.mktemp("calib") / "calib.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "age", "gender"])
        for row in utk_rows[::400][:48]:
            w.writerow([utkface / "images" / row["file"], row["age"], row["gender"]])
    return path


@pytest.fixture(scope="session")
def calib_dir(
    tmp_path_factory: pytest.TempPathFactory, utkface: Path, utk_rows: list[dict[str, str]]
) -> Path:
    """A folder (with a subfolder) of symlinks to 20 real UTKFace crops, plus a non-image file."""
    root = tmp_path_factory.mktemp("crops")
    (root / "sub").mkdir()
    for i, row in enumerate(utk_rows[7::997][:20]):
        (root / ("sub" if i % 2 else ".") / row["file"]).symlink_to(utkface / "images" / row["file"])
    (root / "notes.txt").write_text("not an image")
    return root
