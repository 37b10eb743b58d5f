"""``facelog doctor`` and ``facelog engine build|quantize`` through their argparse registration."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from facelog.engines.cli import YUNET_FILE, find_yunet, register
from facelog.engines.gpu import tensorrt_status


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="facelog")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("FACELOG_YUNET", raising=False)
    monkeypatch.setenv("FACELOG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_doctor_reports_each_component_and_why_not(no_env: Path, tiny_model: Path, capsys) -> None:
    assert run(["doctor", "--model", str(tiny_model)]) == 0
    out = capsys.readouterr().out
    for label in (
        "CUDA device",
        "TensorRT",
        "ONNX Runtime",
        "backend auto",
        "YuNet detector",
        "age/gender model",
    ):
        assert label in out
    assert "CPUExecutionProvider" in out
    assert f"looked at cache: {no_env / YUNET_FILE} (missing)" in out
    assert "age/gender model  yes:" in out and "tiny-test-model 0.0.1, input 64x64" in out
    if not tensorrt_status().ok:
        assert "TensorRT          no: " in out and "pip install 'facelog[gpu]'" in out


def test_doctor_finds_yunet_from_env_then_cache(no_env: Path, yunet_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("FACELOG_YUNET", str(yunet_path))
    assert find_yunet() == (yunet_path, [f"$FACELOG_YUNET: {yunet_path} (ok)"])
    monkeypatch.delenv("FACELOG_YUNET")
    no_env.mkdir(parents=True)
    shutil.copyfile(yunet_path, no_env / YUNET_FILE)
    found, _ = find_yunet()
    assert found == no_env / YUNET_FILE
    run(["doctor"])
    assert f"YuNet detector    yes: {no_env / YUNET_FILE}" in capsys.readouterr().out


def test_doctor_rejects_yunet_with_wrong_checksum(no_env: Path, tmp_path: Path) -> None:
    fake = tmp_path / YUNET_FILE
    fake.write_bytes(b"not the model")
    found, notes = find_yunet(fake)
    assert found is None and "is not the pinned 8f2383e4dd3c" in notes[0]


def test_doctor_explains_missing_or_foreign_model(tmp_path: Path, tiny_model: Path, capsys) -> None:
    run(["doctor", "--model", str(tmp_path / "none.onnx")])
    assert f"no: {tmp_path / 'none.onnx'} not found" in capsys.readouterr().out
    import onnx

    m = onnx.load(str(tiny_model))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "foreign.onnx"))
    run(["doctor", "--model", str(tmp_path / "foreign.onnx")])
    assert "no 'facelog_meta' metadata" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["engine", "build", "{missing}"], "model not found"),
        (["engine", "build", "{tiny}", "--max-batch", "8", "--opt-batch", "16"], None),
        (["engine", "quantize", "{tiny}", "--calib", "{missing}"], "calibration source not found"),
    ],
    ids=["missing-model", "bad-profile-or-no-trt", "missing-calib"],
)
def test_engine_commands_fail_with_one_error_line(
    tmp_path: Path, tiny_model: Path, capsys, argv, match
) -> None:
    argv = [a.format(missing=tmp_path / "missing", tiny=tiny_model) for a in argv]
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facelog: error: ") and "\n" not in err and "Traceback" not in err
    if match:
        assert match in err
    else:  # TensorRT absent: says what to install; present: the bad batch profile
        assert "pip install" in err or "1 <= min <= opt <= max" in err


def test_engine_quantize_writes_qdq_model(
    tmp_path: Path, tiny_model: Path, calib_csv: Path, monkeypatch, capsys
):
    monkeypatch.setenv("FACELOG_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "tiny_int8.onnx"
    argv = ["engine", "quantize", str(tiny_model), "--calib", str(calib_csv), "--calib-images", "16"]
    assert run([*argv, "--method", "minmax", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("quantized: ") and str(tmp_path / "cache" / "int8") in text and out.is_file()
    assert run([*argv, "--method", "minmax"]) == 0
    assert capsys.readouterr().out.startswith("cached: ")
