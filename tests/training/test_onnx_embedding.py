"""Graph surgery that exposes the pooled features as ``embedding`` (model 1.2.0 -> 1.2.1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from facelog.engines.base import META_KEY, ModelMeta
from facelog.training.onnx_embedding import EmbeddingSurgeryError, add_embedding_output


def _tiny_model(pools: int = 1) -> onnx.ModelProto:
    """input (B,4,4,3) NHWC -> Transpose -> GAP -> Squeeze -> MatMul -> Softmax 'age'."""
    nodes = [helper.make_node("Transpose", ["input"], ["x"], perm=[0, 3, 1, 2])]
    for i in range(pools):
        nodes.append(helper.make_node("GlobalAveragePool", ["x"], [f"p{i}"]))
    nodes.append(helper.make_node("Squeeze", ["p0", "axes"], ["pooled"]))
    nodes.append(helper.make_node("MatMul", ["pooled", "w"], ["logits"]))
    nodes.append(helper.make_node("Softmax", ["logits"], ["age"], axis=-1))
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 5], np.arange(15, dtype=np.float32).tolist())
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4, 4, 3])],
        [helper.make_tensor_value_info("age", TensorProto.FLOAT, ["batch", 5])],
        initializer=[w, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = ModelMeta("tiny", "1.0.0", "input", (4, 4), "NHWC", 0, ("age",), 127.5, 127.5)
    helper.set_model_props(model, {META_KEY: meta.to_json()})
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x}), strict=True))


def test_embedding_is_unit_norm_and_heads_unchanged() -> None:
    x = np.random.default_rng(0).uniform(0.1, 1, (3, 4, 4, 3)).astype(np.float32)
    before = _tiny_model()
    after = add_embedding_output(before, "1.0.1")
    a, b = _run(before, x), _run(after, x)
    np.testing.assert_array_equal(a["age"], b["age"])
    assert b["embedding"].shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(b["embedding"], axis=1), 1.0, rtol=1e-5)
    meta = json.loads({p.key: p.value for p in after.metadata_props}[META_KEY])
    assert meta["outputs"] == ["age", "embedding"] and meta["version"] == "1.0.1"


def test_refuses_twice_and_ambiguous_pools() -> None:
    once = add_embedding_output(_tiny_model(), "1.0.1")
    with pytest.raises(EmbeddingSurgeryError, match="already has"):
        add_embedding_output(once, "1.0.2")
    with pytest.raises(EmbeddingSurgeryError, match="one GlobalAveragePool, found 2"):
        add_embedding_output(_tiny_model(pools=2), "1.0.1")


def test_shipped_model_has_embedding() -> None:
    path = Path(__file__).resolve().parents[2] / "engines" / "models" / "facelog_age_gender.onnx"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert "embedding" in [o.name for o in sess.get_outputs()]
