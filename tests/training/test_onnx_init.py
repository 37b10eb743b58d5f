"""Starting a run from an exported model: ONNX initializers (batch norms folded) -> Keras weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

import keras
import onnx

from facelog.training import export as export_mod
from facelog.training.config import TrainRecipe, recipe_from_dict
from facelog.training.model import build_model
from facelog.training.onnx_init import OnnxInitError, init_from_onnx, read_folded

SPEC: dict[str, Any] = {
    "data": {"image_size": 32, "load_size": 32},
    "model": {"stem_channels": 8, "stage0_stride": 2, "widths": [8, 16], "blocks": [1, 1], "tower_units": 8},
}


def _randomise_norms(model: keras.Model, rng: np.random.Generator) -> None:
    """Trained-looking batch norms (an untrained one folds to the identity and would test nothing)."""
    for lyr in model.layers + model.get_layer("trunk").layers:
        if isinstance(lyr, keras.layers.BatchNormalization):
            n = lyr.get_weights()[0].shape[0]
            lyr.set_weights(
                [rng.uniform(0.5, 2, n), rng.normal(0, 0.3, n), rng.normal(0, 0.5, n), rng.uniform(0.3, 3, n)]
            )
    for name in ("age_logits", "gender_logits"):
        kernel, bias = model.get_layer(name).get_weights()
        model.get_layer(name).set_weights([kernel, rng.normal(0, 0.5, bias.shape)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainRecipe, Path, np.ndarray]:
    recipe = recipe_from_dict(SPEC)
    model = build_model(recipe.model, recipe.heads, 32)
    _randomise_norms(model, np.random.default_rng(0))
    d = tmp_path_factory.mktemp("m")
    model.save_weights(d / "w.weights.h5")
    export_mod.export_onnx(recipe, d / "w.weights.h5", d / "m.onnx")
    x = np.random.default_rng(1).normal(0, 1, (64, 32, 32, 3)).astype(np.float32)
    return recipe, d / "m.onnx", x


def test_init_from_onnx_reproduces_the_exported_model(exported: tuple[TrainRecipe, Path, np.ndarray]) -> None:
    recipe, path, x = exported
    fresh = build_model(recipe.model, recipe.heads, 32)
    diff = init_from_onnx(path, fresh, x)
    assert diff < 1e-4


def test_training_mode_starts_near_the_exported_model(exported: tuple[TrainRecipe, Path, np.ndarray]) -> None:
    """Batch norms fitted to the calibration faces: a training-mode pass over them changes little."""
    recipe, path, x = exported
    fresh = build_model(recipe.model.model_copy(update={"dropout": 0.0}), recipe.heads, 32)
    init_from_onnx(path, fresh, x)
    infer = fresh(x, training=False)
    train = fresh(x, training=True)
    assert float(np.max(np.abs(np.asarray(infer["gender"]) - np.asarray(train["gender"])))) < 1e-2


def test_read_folded_maps_every_layer(exported: tuple[TrainRecipe, Path, np.ndarray]) -> None:
    _, path, _ = exported
    folded = read_folded(onnx.load(str(path)))
    names = {f.layer for f in folded}
    assert {"stem_conv", "stage0_block0_a_conv", "stage1_block0_proj", "age_tower", "gender_logits"} <= names
    assert all(f.norm is not None for f in folded if f.layer.endswith(("_conv", "_proj", "_tower")))


def test_init_from_onnx_refuses_another_network(exported: tuple[TrainRecipe, Path, np.ndarray]) -> None:
    _, path, x = exported
    other = recipe_from_dict({**SPEC, "model": {**SPEC["model"], "widths": [8, 24]}})
    model = build_model(other.model, other.heads, 32)
    with pytest.raises(OnnxInitError, match="shapes"):
        init_from_onnx(path, model, x)


def test_read_folded_rejects_unknown_names() -> None:
    w = onnx.numpy_helper.from_array(np.zeros((2, 2), np.float32), "weights")
    node = onnx.helper.make_node("MatMul", ["x", "weights"], ["y"])
    graph = onnx.helper.make_graph([node], "g", [], [], initializer=[w])
    with pytest.raises(OnnxInitError, match="unexpected weight name"):
        read_folded(onnx.helper.make_model(graph))
