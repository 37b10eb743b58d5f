"""TensorRT on a real GPU: engine build at each precision, ORT-vs-TRT parity, partial batches.

Every test here skips, saying why, where TensorRT or a CUDA device is missing (all machines this
project was developed on). Run them on a GPU box with ``pytest -m gpu tests/engines``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facelog.engines.cache import EngineMismatch, sidecar_path
from facelog.engines.gpu import cuda_devices, tensorrt_status
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend
from facelog.engines.preprocess import decode_age
from facelog.engines.quantize import FaceCalibrationReader, list_calibration_images

pytestmark = pytest.mark.gpu

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "engines" / "models" / "facelog_age_gender.onnx"
# ORT (CPU, FP32) vs TensorRT on the same batch: max |difference| of softmax probabilities, and of
# the expected age in years. INT8 compares TensorRT and ORT running the same Q/DQ model.
FP32_PROB_ATOL = 1e-4
FP32_AGE_ATOL_YEARS = 0.01
FP16_PROB_ATOL = 1e-2
FP16_AGE_ATOL_YEARS = 0.5
INT8_PROB_ATOL = 5e-2
INT8_AGE_ATOL_YEARS = 2.0
TOLERANCES = {
    "fp32": (FP32_PROB_ATOL, FP32_AGE_ATOL_YEARS),
    "fp16": (FP16_PROB_ATOL, FP16_AGE_ATOL_YEARS),
    "int8": (INT8_PROB_ATOL, INT8_AGE_ATOL_YEARS),
}


@pytest.fixture(scope="module")
def gpu() -> None:
    trt = tensorrt_status()
    if not trt.ok:
        pytest.skip(f"TensorRT unavailable: {trt.detail}")
    devices, why = cuda_devices()
    if not devices:
        pytest.skip(f"no CUDA device: {why}")


@pytest.fixture(scope="module")
def model(tiny_model: Path) -> Path:
    return SHIPPED if SHIPPED.is_file() else tiny_model


@pytest.fixture(scope="module")
def faces(model: Path, calib_csv: Path) -> np.ndarray:
    """48 real UTKFace crops, preprocessed for ``model``."""
    meta = OnnxRuntimeBackend(model).meta
    batch = FaceCalibrationReader(list_calibration_images(calib_csv), meta, batch_size=48).get_next()
    assert batch is not None
    return batch[meta.input_name]


def _engine(model: Path, precision: str, cache: Path, calib: Path, max_batch: int = 64) -> Path:
    from facelog.engines.trt_build import BatchProfile, ensure_engine

    path, _ = ensure_engine(
        model,
        precision,
        BatchProfile(1, min(16, max_batch), max_batch),
        cache_dir=cache,
        calib=calib,
        calib_images=48,
    )
    return path


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_and_parity_with_onnxruntime(
    gpu, model: Path, faces: np.ndarray, calib_csv: Path, tmp_path: Path, precision: str
) -> None:
    from facelog.engines.tensorrt_backend import TensorRTBackend

    engine = _engine(model, precision, tmp_path / "engines", calib_csv)
    side = json.loads(sidecar_path(engine).read_text())
    assert engine.name.endswith(f"_b64_gpu0_{precision}.engine") and side["key"]["precision"] == precision
    reference = model
    if precision == "int8":  # same Q/DQ graph on both sides: isolates TensorRT from quantization error
        reference = Path(side["extra"]["qdq_onnx"])
    ort_out = OnnxRuntimeBackend(reference).infer(faces)
    trt = TensorRTBackend(engine)
    try:
        trt_out = trt.infer(faces)
    finally:
        trt.close()
    prob_atol, age_atol = TOLERANCES[precision]
    for name in ("age", "gender"):
        assert trt_out[name].shape == ort_out[name].shape
        np.testing.assert_allclose(trt_out[name], ort_out[name], atol=prob_atol)
    np.testing.assert_allclose(decode_age(trt_out["age"]), decode_age(ort_out["age"]), atol=age_atol)


def test_partial_and_oversized_batches(
    gpu, model: Path, faces: np.ndarray, calib_csv: Path, tmp_path: Path
) -> None:
    from facelog.engines.tensorrt_backend import TensorRTBackend

    trt = TensorRTBackend(_engine(model, "fp32", tmp_path / "engines", calib_csv, max_batch=8))
    try:
        full = trt.infer(faces[:8])
        for n in (1, 3, 8, 19):  # partial, full, and more than max batch (split into chunks)
            out = trt.infer(faces[:n])
            assert out["age"].shape == (n, 101)
            np.testing.assert_allclose(out["age"][: min(n, 8)], full["age"][: min(n, 8)], atol=FP32_PROB_ATOL)
        assert trt.infer(faces[:0])["gender"].shape == (0, 2)
        with pytest.raises(ValueError, match=r"pixels must be \(B, "):
            trt.infer(faces[:2, :10])
    finally:
        trt.close()


def test_cache_hit_and_foreign_engine_refused(gpu, model: Path, calib_csv: Path, tmp_path: Path) -> None:
    from facelog.engines.tensorrt_backend import TensorRTBackend
    from facelog.engines.trt_build import BatchProfile, ensure_engine

    engine = _engine(model, "fp16", tmp_path / "engines", calib_csv)
    again, built = ensure_engine(model, "fp16", BatchProfile(1, 16, 64), cache_dir=tmp_path / "engines")
    assert again == engine and not built
    side = json.loads(sidecar_path(engine).read_text())
    side["key"]["gpu_name"] = "Some Other GPU"
    sidecar_path(engine).write_text(json.dumps(side))
    with pytest.raises(EngineMismatch, match="gpu_name: engine has 'Some Other GPU'"):
        TensorRTBackend(engine)
