"""Export: the ``embedding`` output (L2-normalised pooled features) and the checked, atomic write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

import onnx

from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend, read_meta
from facelog.training import export as export_mod
from facelog.training.config import TrainRecipe, recipe_from_dict
from facelog.training.model import build_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainRecipe, Path]:
    recipe = recipe_from_dict(
        {
            "data": {"image_size": 32, "load_size": 32},
            "model": {"stem_channels": 8, "widths": [8, 16], "blocks": [1, 1], "tower_units": 8},
        }
    )
    model = build_model(recipe.model, recipe.heads, 32)
    weights = tmp_path_factory.mktemp("w") / "tiny.weights.h5"
    model.save_weights(weights)
    return recipe, weights


def test_export_adds_unit_norm_embedding(tiny: tuple[TrainRecipe, Path], tmp_path: Path) -> None:
    recipe, weights = tiny
    out = tmp_path / "m.onnx"
    meta = export_mod.export_onnx(recipe, weights, out)
    assert meta.outputs == ("age", "gender", "embedding")
    assert read_meta(out).outputs == ("age", "gender", "embedding")
    assert "16-d" in meta.extra["embedding"]
    assert not (tmp_path / "m.onnx.partial").exists()
    be = OnnxRuntimeBackend(out)
    try:
        x = np.random.default_rng(0).normal(0, 1, (5, 32, 32, 3)).astype(np.float32)
        got = be.infer(x)
    finally:
        be.close()
    assert got["embedding"].shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(got["embedding"], axis=1), 1.0, atol=1e-5)
    assert got["age"].shape == (5, 101) and got["gender"].shape == (5, 2)


def test_failed_parity_leaves_no_model(
    tiny: tuple[TrainRecipe, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe, weights = tiny
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old model")

    def bad_parity(*args: object, **kwargs: object) -> float:
        raise export_mod.ExportError("ONNX output differs from TensorFlow: max abs diff 1")

    monkeypatch.setattr(export_mod, "parity", bad_parity)
    with pytest.raises(export_mod.ExportError, match="differs"):
        export_mod.export_onnx(recipe, weights, out)
    assert out.read_bytes() == b"old model"  # untouched
    assert list(tmp_path.iterdir()) == [out]  # no partial file left behind


def test_save_checked_rejects_invalid_onnx(tmp_path: Path) -> None:
    out = tmp_path / "bad.onnx"
    proto = onnx.ModelProto()  # no graph, no opset: the checker refuses it
    with pytest.raises(export_mod.ExportError, match="not valid ONNX"):
        export_mod.save_checked(proto, out, lambda p: 0.0)
    assert not out.exists() and list(tmp_path.iterdir()) == []
