"""INT8 twin with its accuracy gate, on a tiny model and a tiny UTKFace-like folder (no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.engines.int8_gate import GATE_KEY, int8_accepted
from facelog.engines.onnxruntime_backend import read_meta
from facelog.engines.quantize import is_qdq_model
from facelog.training import datasets as dsets
from facelog.training.int8_export import export_int8, main


@pytest.fixture
def utk(tmp_path: Path) -> tuple[Path, Path]:
    """40 random 80x80 'faces' named like UTKFace chips, and a seeded split of them."""
    root = tmp_path / "utk"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        img = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
        cv2.imwrite(str(root / f"{20 + i}_{i % 2}_0_2017{i:010d}.jpg.chip.jpg"), img)
    table = dsets.read_utkface(root)
    names = dsets.split_names(table)
    tr, va = dsets.split_indices(names, 0.25, 1234)
    split = tmp_path / "split.json"
    dsets.write_split(split, names, tr, va, 1234)
    return root, split


def test_export_int8_writes_gated_qdq_model(tiny_model: Path, utk: tuple[Path, Path], tmp_path: Path) -> None:
    root, split = utk
    out = tmp_path / "m.int8.onnx"
    record = export_int8(tiny_model, root, split, out, n_calib=16, cache_root=tmp_path / "cache")
    assert is_qdq_model(out) and not is_qdq_model(tiny_model)
    meta = read_meta(out)
    assert meta.extra[GATE_KEY] == json.loads(json.dumps(record))
    assert record["n_faces"] == 10  # the validation part only
    assert record["within_tolerance"] is int8_accepted(meta)
    assert set(record["fp32"]) == {"age_mae", "gender_acc"}
    assert not (tmp_path / "m.int8.onnx.partial").exists()


def test_cli_refuses_a_split_of_other_faces(tiny_model: Path, utk: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = utk
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"seed": 1, "train": ["nobody.jpg"], "val": []}))
    with pytest.raises(dsets.DatasetError, match="not in the dataset"):
        main([str(tiny_model), "--data", str(root), "--split", str(other), "--out", str(tmp_path / "x.onnx")])
    assert not (tmp_path / "x.onnx").exists()
