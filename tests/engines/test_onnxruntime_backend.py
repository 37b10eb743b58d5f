from pathlib import Path

import numpy as np
import pytest

from facelog.engines.base import ModelMeta
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend, read_meta
from facelog.engines.preprocess import crops_to_pixels, decode_age


def test_meta_round_trips_through_onnx(tiny_model: Path) -> None:
    meta = read_meta(tiny_model)
    assert meta.input_hw == (64, 64)
    assert meta.head("gender") is not None and meta.head("gender").labels == ("male", "female")
    assert ModelMeta.from_json(meta.to_json()) == meta


@pytest.mark.parametrize("batch", [1, 7, 32])
def test_infer_returns_softmax_per_face(tiny_model: Path, batch: int) -> None:
    be = OnnxRuntimeBackend(tiny_model)
    crops = [np.full((50 + i, 40, 3), i * 7 % 255, np.uint8) for i in range(batch)]
    out = be.infer(crops_to_pixels(crops, be.meta))
    assert out["age"].shape == (batch, 101) and out["gender"].shape == (batch, 2)
    np.testing.assert_allclose(out["age"].sum(1), 1.0, atol=1e-5)
    ages = decode_age(out["age"])
    assert ages.shape == (batch,) and ((ages >= 0) & (ages <= 100)).all()


def test_infer_rejects_wrong_shape(tiny_model: Path) -> None:
    be = OnnxRuntimeBackend(tiny_model)
    with pytest.raises(ValueError, match=r"pixels must be \(B, 64, 64, 3\)"):
        be.infer(np.zeros((2, 32, 32, 3), np.float32))


def test_missing_model_and_foreign_onnx_fail_clearly(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model file not found"):
        OnnxRuntimeBackend(tmp_path / "nope.onnx")
    import onnx

    m = onnx.load(str(tiny_model))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ValueError, match="no 'facelog_meta' metadata"):
        read_meta(tmp_path / "foreign.onnx")


def test_decode_age_is_expected_value() -> None:
    p = np.zeros((2, 101), np.float32)
    p[0, 30] = 1.0
    p[1, 20] = p[1, 40] = 0.5
    np.testing.assert_allclose(decode_age(p), [30.0, 30.0])


def test_unusable_model_files_fail_with_one_clear_line(tiny_model: Path, tmp_path: Path) -> None:
    import onnx

    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n" * 50)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(tiny_model.read_bytes()[:400])
    broken = tmp_path / "broken_graph.onnx"  # valid protobuf, facelog metadata, a node removed
    model = onnx.load(str(tiny_model))
    del model.graph.node[0]
    onnx.save(model, str(broken))
    for path, match in [
        (text, r"is not an ONNX model"),
        (truncated, r"is not an ONNX model|has no 'facelog_meta' metadata"),
        (broken, r"ONNX Runtime cannot load .*broken_graph\.onnx"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            OnnxRuntimeBackend(path)
        assert "\n" not in str(info.value).strip()
