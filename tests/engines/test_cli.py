"""``facelog doctor`` and ``facelog engine build|quantize`` through the ``facelog`` command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facelog.cli import main
from facelog.engines.gpu import tensorrt_status
from facelog.pipeline.weights import YUNET_NAME as YUNET_FILE  # the file name doctor and run look for


def run(argv: list[str]) -> int:
    return main(argv)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty user cache: the one folder doctor and run both look in."""
    monkeypatch.delenv("FACELOG_YUNET", raising=False)
    monkeypatch.delenv("FACELOG_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "facelog"


def test_doctor_reports_each_component_and_why_not(no_env: Path, tiny_model: Path, capsys) -> None:
    assert run(["doctor", "--model", str(tiny_model)]) == 0
    out = capsys.readouterr().out
    for label in (
        "CUDA device",
        "TensorRT",
        "ONNX Runtime",
        "backend auto",
        "detector auto",
        "age/gender model",
        "cache folder",
    ):
        assert label in out
    assert "CPUExecutionProvider" in out
    assert f"cache folder      {no_env}" in out
    assert "age/gender model  yes:" in out and "tiny-test-model 0.0.1, input 64x64" in out
    if not tensorrt_status().ok:
        assert "TensorRT          no: " in out and "pip install 'facelog[gpu]'" in out


def test_doctor_says_what_the_cpu_can_do_and_which_model_file_a_run_loads(no_env: Path, capsys) -> None:
    from facelog.engines.cpu import cpu_int8_saturates
    from facelog.engines.registry import choose_backend, pick_model_variant
    from facelog.pipeline.config import load_config

    assert run(["doctor"]) == 0
    out = capsys.readouterr().out
    cpu_row = next(line for line in out.splitlines() if line.strip().startswith("CPU "))
    assert ("no VNNI" in cpu_row) is cpu_int8_saturates()
    cfg = load_config(None)
    used = pick_model_variant(cfg.model.path, choose_backend(cfg.backend.kind).name)  # what a run loads
    assert f"model precision   -> {used.precision}: {used.path.name} (" in out


def test_doctor_and_run_agree_on_the_detector_file(
    no_env: Path, yunet_path: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from facelog.pipeline.config import load_config
    from facelog.pipeline.detect import choose_detector

    copy = tmp_path / "elsewhere" / YUNET_FILE
    copy.parent.mkdir()
    shutil.copyfile(yunet_path, copy)
    monkeypatch.setenv("FACELOG_YUNET", str(copy))
    run(["doctor"])
    out = capsys.readouterr().out
    used = choose_detector(load_config(None).detector)  # what 'facelog run' uses
    assert used.path == str(copy)
    assert f"-> {used.name}: {used.path} (" in out


def test_doctor_explains_a_missing_yunet_that_was_asked_for(no_env: Path, tmp_path: Path, capsys) -> None:
    assert run(["doctor", "--yunet", str(tmp_path / "none.onnx")]) == 0
    out = capsys.readouterr().out
    assert "detector auto" in out
    assert f"no: detector.yunet_path {tmp_path / 'none.onnx'} does not exist" in out


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
