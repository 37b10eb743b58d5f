"""The CPU backend loads the INT8 twin by default only when it passed its gate and matches the FP32 file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facelog.engines.fileio import file_sha256
from facelog.engines.int8_gate import GATE_KEY
from facelog.engines.onnx_meta import update_extra
from facelog.engines.registry import pick_model_variant

SHIPPED = Path(__file__).resolve().parents[2] / "engines" / "models" / "facelog_age_gender.onnx"


def _gate(ok: bool) -> dict[str, object]:
    return {"within_tolerance": ok, "delta_age_mae_years": 0.01, "delta_gender_pts": -0.1}


@pytest.fixture()
def fp32(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    shutil.copyfile(SHIPPED, path)
    return path


def _twin(fp32: Path, sha: str, ok: bool, reduce_range: bool = True) -> Path:
    twin = fp32.with_name("m.int8.onnx")
    quantization = {"fp32_sha256": sha, "reduce_range": reduce_range}
    update_extra(fp32, twin, quantization=quantization, **{GATE_KEY: _gate(ok)})
    return twin


def test_accepted_twin_is_the_cpu_default(fp32: Path) -> None:
    twin = _twin(fp32, file_sha256(fp32), ok=True)
    v = pick_model_variant(fp32, "onnxruntime")
    assert (v.path, v.precision) == (twin, "int8")
    assert "+0.010 years" in v.reason
    assert pick_model_variant(fp32, "onnxruntime", "fp32").path == fp32


@pytest.mark.parametrize(
    "sha_ok, gate_ok, match",
    [(False, True, "not quantized from this"), (True, False, "failed its accuracy gate")],
    ids=["stale-twin", "gate-failed"],
)
def test_unusable_twin_falls_back_with_reason_or_raises(
    fp32: Path, sha_ok: bool, gate_ok: bool, match: str
) -> None:
    _twin(fp32, file_sha256(fp32) if sha_ok else "0" * 64, ok=gate_ok)
    v = pick_model_variant(fp32, "onnxruntime")
    assert (v.path, v.precision) == (fp32, "fp32") and match in v.reason
    with pytest.raises(ValueError, match=match):
        pick_model_variant(fp32, "onnxruntime", "int8")


def test_twin_with_8bit_weights_is_not_used_where_int8_saturates(fp32: Path) -> None:
    twin = _twin(fp32, file_sha256(fp32), ok=True, reduce_range=False)
    v = pick_model_variant(fp32, "onnxruntime", int8_saturates=True)
    assert (v.path, v.precision) == (fp32, "fp32") and "no VNNI" in v.reason
    with pytest.raises(ValueError, match="no VNNI"):
        pick_model_variant(fp32, "onnxruntime", "int8", int8_saturates=True)
    assert pick_model_variant(fp32, "onnxruntime", int8_saturates=False).path == twin
    # 7-bit weights cannot saturate: such a twin is the default on every CPU
    _twin(fp32, file_sha256(fp32), ok=True, reduce_range=True)
    assert pick_model_variant(fp32, "onnxruntime", int8_saturates=True).path == twin


def test_shipped_twin_has_7bit_weights_and_passed_its_gate() -> None:
    from facelog.engines.int8_gate import int8_accepted
    from facelog.engines.onnxruntime_backend import read_meta

    twin = SHIPPED.with_name("facelog_age_gender.int8.onnx")
    meta = read_meta(twin)
    assert meta.extra["quantization"]["reduce_range"] is True
    assert meta.extra["quantization"]["fp32_sha256"] == file_sha256(SHIPPED)
    assert int8_accepted(meta)
    assert pick_model_variant(SHIPPED, "onnxruntime", int8_saturates=True).path == twin


def test_no_twin_and_other_backends(fp32: Path) -> None:
    assert pick_model_variant(fp32, "onnxruntime").precision == "fp32"
    assert pick_model_variant(fp32, "tensorrt").path == fp32
    with pytest.raises(ValueError, match="not tensorrt"):
        pick_model_variant(fp32, "tensorrt", "int8")
    with pytest.raises(ValueError, match="auto, fp32 or int8"):
        pick_model_variant(fp32, "onnxruntime", "fp16")
