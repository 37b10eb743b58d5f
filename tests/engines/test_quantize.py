"""INT8 Q/DQ quantization on real UTKFace crops: the calibration reader and the quantized model in ORT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from facelog.engines.int8_gate import GATE_GENDER_PTS, GATE_KEY, GATE_MAE_YEARS, gate_record, int8_accepted
from facelog.engines.onnx_meta import update_extra
from facelog.engines.onnxruntime_backend import OnnxRuntimeBackend, read_meta
from facelog.engines.preprocess import decode_age
from facelog.engines.quantize import (
    FaceCalibrationReader,
    check_tensorrt_qdq,
    is_qdq_model,
    list_calibration_images,
    quantize_int8,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "engines" / "models" / "facelog_age_gender.onnx"
# INT8 vs FP32 on the same 48 crops. Measured: tiny model max 0.15 years, shipped model mean
# 0.21-0.27 years (32 calibration crops); gender agreement 100% for both.
TINY_MAX_AGE_DIFF_YEARS = 1.0
TINY_MIN_GENDER_AGREEMENT = 0.95
SHIPPED_MAX_MEAN_AGE_DIFF_YEARS = 0.75
SHIPPED_MIN_GENDER_AGREEMENT = 0.95


def test_list_images_from_folder_recurses_and_skips_non_images(calib_dir: Path) -> None:
    paths = list_calibration_images(calib_dir, limit=100)
    assert len(paths) == 20 and all(p.suffix == ".jpg" for p in paths)
    assert any(p.parent.name == "sub" for p in paths)
    picked = list_calibration_images(calib_dir, limit=5, seed=1)
    assert len(picked) == 5 and picked == list_calibration_images(calib_dir, limit=5, seed=1)
    assert picked != list_calibration_images(calib_dir, limit=5, seed=2)


def test_list_images_from_training_csv(utkface: Path) -> None:
    # labels.csv names files relative to images/, and two names are odd on purpose (space, no dot).
    paths = list_calibration_images(utkface / "labels.csv", limit=64)
    assert len(paths) == 64 and all(p.is_file() and p.parent.name == "images" for p in paths)


@pytest.mark.parametrize(
    "setup, exc, match",
    [
        (lambda d: d / "missing", FileNotFoundError, "calibration source not found"),
        (lambda d: d, ValueError, "no images"),
        (lambda d: _write(d / "x.csv", "name,age\na.jpg,3\n"), ValueError, "needs a 'file' or 'path' column"),
        (lambda d: _write(d / "y.csv", "file\nnope.jpg\n"), FileNotFoundError, "lists nope.jpg, not found"),
        (lambda d: _write(d / "z.txt", "hi"), ValueError, "folder of images or a .csv"),
    ],
    ids=["missing", "empty-folder", "csv-no-column", "csv-missing-file", "other-file"],
)
def test_list_images_bad_input(tmp_path: Path, setup, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        list_calibration_images(setup(tmp_path))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reader_yields_normalised_batches_then_none(tiny_model: Path, calib_csv: Path) -> None:
    meta = read_meta(tiny_model)
    images = list_calibration_images(calib_csv)
    reader = FaceCalibrationReader(images[:10], meta, batch_size=4)
    sizes = []
    while (batch := reader.get_next()) is not None:
        x = batch["input"]
        assert x.dtype == np.float32 and x.shape[1:] == (64, 64, 3)
        assert x.min() >= -1.0 and x.max() <= 1.0 and x.std() > 0.1  # (rgb - 127.5) / 127.5 of real faces
        sizes.append(len(x))
    assert sizes == [4, 4, 2] and len(reader) == 3
    reader.rewind()
    assert reader.get_next() is not None
    with pytest.raises(ValueError, match="at least one image"):
        FaceCalibrationReader([], meta)


def test_reader_reports_undecodable_image(tmp_path: Path, tiny_model: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    reader = FaceCalibrationReader([bad], read_meta(tiny_model))
    with pytest.raises(ValueError, match=r"broken\.jpg cannot be decoded"):
        reader.get_next()


def _compare(fp32: Path, int8: Path, crops_csv: Path) -> tuple[np.ndarray, float]:
    """Age difference per face and gender argmax agreement, FP32 vs INT8, on the crops of ``crops_csv``."""
    a, b = OnnxRuntimeBackend(fp32, threads=1), OnnxRuntimeBackend(int8, threads=1)
    reader = FaceCalibrationReader(list_calibration_images(crops_csv), a.meta, batch_size=64)
    batch = reader.get_next()
    assert batch is not None
    x = batch[a.meta.input_name]
    oa, ob = a.infer(x), b.infer(x)
    age_diff = np.abs(decode_age(oa["age"]) - decode_age(ob["age"]))
    agree = float((oa["gender"].argmax(1) == ob["gender"].argmax(1)).mean())
    return age_diff, agree


def test_quantized_tiny_model_runs_in_ort_close_to_fp32(
    tiny_model: Path, calib_csv: Path, tmp_path: Path
) -> None:
    q = quantize_int8(tiny_model, calib_csv, n_images=32, method="minmax", cache_root=tmp_path)
    assert not q.reused and is_qdq_model(q.qdq_path) and not is_qdq_model(tiny_model)
    model = onnx.load(str(q.qdq_path))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    zero_points = [i for i in model.graph.initializer if i.name.endswith("_zero_point")]
    assert zero_points and all(onnx.numpy_helper.to_array(z).dtype == np.int8 for z in zero_points)
    assert all(not onnx.numpy_helper.to_array(z).any() for z in zero_points)  # symmetric, as TensorRT needs
    meta = read_meta(q.qdq_path)  # facelog_meta survives quantization, with a record of how
    assert meta.input_hw == (64, 64) and meta.extra["quantization"]["n_images"] == 32
    ranges = json.loads(q.ranges_path.read_text())
    assert "pooled" in ranges["data"]  # ORT's calibration cache: one range per activation tensor
    age_diff, agree = _compare(tiny_model, q.qdq_path, calib_csv)
    assert age_diff.max() < TINY_MAX_AGE_DIFF_YEARS and agree >= TINY_MIN_GENDER_AGREEMENT


def test_quantize_reuses_cache_and_recalibrates_on_change(
    tiny_model: Path, calib_csv: Path, tmp_path: Path
) -> None:
    first = quantize_int8(tiny_model, calib_csv, n_images=16, method="minmax", cache_root=tmp_path)
    again = quantize_int8(tiny_model, calib_csv, n_images=16, method="minmax", cache_root=tmp_path)
    assert again.reused and again.qdq_path == first.qdq_path
    other = quantize_int8(tiny_model, calib_csv, n_images=8, method="minmax", cache_root=tmp_path)
    assert not other.reused and other.qdq_path.parent != first.qdq_path.parent
    with pytest.raises(ValueError, match="method must be one of"):
        quantize_int8(tiny_model, calib_csv, method="kl", cache_root=tmp_path)


def _activation_scales(path: Path) -> dict[str, float]:
    model = onnx.load(str(path))
    inits = model.graph.initializer
    return {
        i.name: float(onnx.numpy_helper.to_array(i))
        for i in inits
        if i.name in {"pooled_scale", "age_logits_scale"}
    }


def test_entropy_calibration_is_not_minmax(tiny_model: Path, calib_csv: Path, tmp_path: Path) -> None:
    # quantize_static's own entropy calibrator (128 bins) returns exactly the MinMax ranges; ours
    # searches a KL threshold over 2048 bins, so it clips the long tail: smaller scales. (~5-10 s)
    minmax = quantize_int8(tiny_model, calib_csv, n_images=16, method="minmax", cache_root=tmp_path)
    entropy = quantize_int8(tiny_model, calib_csv, n_images=16, method="entropy", cache_root=tmp_path)
    a, b = _activation_scales(minmax.qdq_path), _activation_scales(entropy.qdq_path)
    assert set(a) == set(b) == {"pooled_scale", "age_logits_scale"}
    assert b["pooled_scale"] <= a["pooled_scale"] and b["age_logits_scale"] < 0.9 * a["age_logits_scale"], (
        a,
        b,
    )
    assert (
        json.loads(entropy.ranges_path.read_text())["calibration_method"]["value"]
        == "CalibrationMethod.Entropy"
    )


def test_cpu_target_is_asymmetric_and_refused_for_tensorrt(
    tiny_model: Path, calib_csv: Path, tmp_path: Path
) -> None:
    trt_q = quantize_int8(tiny_model, calib_csv, n_images=16, method="minmax", cache_root=tmp_path)
    cpu_q = quantize_int8(
        tiny_model, calib_csv, n_images=16, method="minmax", target="cpu", cache_root=tmp_path
    )
    assert (
        cpu_q.qdq_path != trt_q.qdq_path
        and read_meta(cpu_q.qdq_path).extra["quantization"]["target"] == "cpu"
    )
    check_tensorrt_qdq(trt_q.qdq_path)
    with pytest.raises(ValueError, match=r"zero point .* is u?int(8|32) .*target=.tensorrt."):
        check_tensorrt_qdq(cpu_q.qdq_path)
    age_diff, agree = _compare(tiny_model, cpu_q.qdq_path, calib_csv)
    # Its int32 bias rounding moves the tiny model's sharp age softmax more on a few faces (max ~2 years).
    assert age_diff.mean() < TINY_MAX_AGE_DIFF_YEARS and agree >= TINY_MIN_GENDER_AGREEMENT
    with pytest.raises(ValueError, match="target must be one of"):
        quantize_int8(tiny_model, calib_csv, target="gpu", cache_root=tmp_path)


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_quantized_shipped_model_stays_close_to_fp32(calib_csv: Path, tmp_path: Path, method: str) -> None:
    if not SHIPPED.is_file():
        pytest.skip(f"shipped model not trained yet ({SHIPPED})")
    # 48 crops = one full batch of 32 + 16: the short batch is dropped (ORT's percentile collector
    # fails on unequal batches), so 32 are used.
    q = quantize_int8(SHIPPED, calib_csv, n_images=48, method=method, cache_root=tmp_path)
    assert read_meta(q.qdq_path).extra["quantization"]["n_images"] == 32
    age_diff, agree = _compare(SHIPPED, q.qdq_path, calib_csv)
    assert age_diff.mean() < SHIPPED_MAX_MEAN_AGE_DIFF_YEARS and agree >= SHIPPED_MIN_GENDER_AGREEMENT


def test_shipped_int8_twin_agrees_with_fp32_on_this_cpu(calib_csv: Path) -> None:
    """The CPU default on whatever CPU runs the tests: the 8-bit twin failed this on an AVX2 CPU
    (mean age difference ~2 years; its ORT kernels saturate), the 7-bit one passes everywhere."""
    twin = SHIPPED.with_name("facelog_age_gender.int8.onnx")
    if not twin.is_file():
        pytest.skip(f"no shipped INT8 twin ({twin})")
    age_diff, agree = _compare(SHIPPED, twin, calib_csv)
    assert age_diff.mean() < SHIPPED_MAX_MEAN_AGE_DIFF_YEARS and agree >= SHIPPED_MIN_GENDER_AGREEMENT


@pytest.mark.parametrize(
    "int8, ok",
    [
        ({"age_mae": 5.04, "gender_acc": 0.9400}, True),  # better or equal is fine
        ({"age_mae": 5.05, "gender_acc": 0.9381}, True),  # +0.05 years, -0.19 points: at the edge
        ({"age_mae": 5.0601, "gender_acc": 0.9400}, False),  # +0.0601 years
        ({"age_mae": 5.00, "gender_acc": 0.9370}, False),  # -0.3 points of gender
    ],
    ids=["equal", "edge", "mae-worse", "gender-worse"],
)
def test_gate_record_counts_only_losses(int8: dict[str, float], ok: bool) -> None:
    fp32 = {"age_mae": 5.0, "gender_acc": 0.94}
    rec = gate_record(fp32, int8, 2071, "split.json (val part)")
    assert rec["within_tolerance"] is ok
    assert rec["delta_age_mae_years"] == pytest.approx(int8["age_mae"] - 5.0, abs=1e-4)
    assert rec["tolerance"] == {"age_mae_years": GATE_MAE_YEARS, "gender_pts": GATE_GENDER_PTS}


def test_gate_record_needs_both_numbers() -> None:
    with pytest.raises(ValueError, match="int8 scores need age_mae and gender_acc"):
        gate_record({"age_mae": 5.0, "gender_acc": 0.9}, {"age_mae": 5.0}, 1, "x")


def test_update_extra_stamps_gate_and_int8_accepted_reads_it(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.int8.onnx"
    assert not int8_accepted(read_meta(tiny_model))  # no record: not accepted
    rec = gate_record({"age_mae": 5.0, "gender_acc": 0.9}, {"age_mae": 5.01, "gender_acc": 0.9}, 10, "x")
    meta = update_extra(tiny_model, out, **{GATE_KEY: rec})
    assert read_meta(out) == meta and int8_accepted(meta)
    assert read_meta(tiny_model).extra.get(GATE_KEY) is None  # the source file is untouched
    assert not (tmp_path / "m.int8.onnx.partial").exists()
    bad = gate_record({"age_mae": 5.0, "gender_acc": 0.9}, {"age_mae": 5.2, "gender_acc": 0.9}, 10, "x")
    assert not int8_accepted(update_extra(tiny_model, out, **{GATE_KEY: bad}))


def test_update_extra_refuses_a_model_without_metadata(tmp_path: Path) -> None:
    src = tmp_path / "plain.onnx"
    graph = onnx.helper.make_graph([], "g", [], [])
    onnx.save(onnx.helper.make_model(graph), str(src))
    with pytest.raises(ValueError, match="no 'facelog_meta' metadata"):
        update_extra(src, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
