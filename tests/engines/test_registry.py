"""Backend selection: explicit kinds, ``auto``'s order and reasons, and one-line errors.

On this machine the probes are real (no TensorRT, no CUDA driver). To check what ``auto`` does on a
GPU machine, the probes are replaced with monkeypatch: that is a machine this test cannot run on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelog.engines import registry
from facelog.engines.base import BackendUnavailable
from facelog.engines.gpu import GpuInfo, Probe, cuda_devices, ort_providers, tensorrt_status
from facelog.engines.registry import KINDS, choose_backend, load_backend

H100 = GpuInfo(0, "NVIDIA H100 80GB HBM3", (9, 0), 81_000)


def test_probes_agree_with_this_machine() -> None:
    devices, why = cuda_devices()
    assert bool(devices) != bool(why)  # either devices or a reason, never both or neither
    trt = tensorrt_status()
    if not trt.ok:
        assert "pip install" in trt.detail or "does not import" in trt.detail
    assert "CPUExecutionProvider" in ort_providers()


def test_auto_resolves_to_a_loadable_backend_with_a_reason(tiny_model: Path) -> None:
    choice = choose_backend("auto")
    assert choice.requested == "auto" and choice.name in KINDS[1:] and choice.reason
    if not tensorrt_status().ok:
        assert choice.name != "tensorrt" and "TensorRT" in choice.reason
    if choice.name == "onnxruntime":  # CPU install: the backend really loads and runs
        be = load_backend("auto", tiny_model)
        out = be.infer(np.zeros((3, 64, 64, 3), np.float32))
        assert out["age"].shape == (3, 101) and be.name == "onnxruntime:CPUExecutionProvider"


@pytest.mark.parametrize(
    "trt_ok, gpus, providers, expected, reason_part",
    [
        (True, [H100], ["CUDAExecutionProvider", "CPUExecutionProvider"], "tensorrt", "NVIDIA H100"),
        (True, [], ["CUDAExecutionProvider", "CPUExecutionProvider"], "onnxruntime-cuda", "no CUDA device"),
        (
            False,
            [H100],
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            "onnxruntime-cuda",
            "not installed",
        ),
        (False, [H100], ["CPUExecutionProvider"], "onnxruntime", "CPU fallback"),
        (True, [], ["CPUExecutionProvider"], "onnxruntime", "CPU fallback: no TensorRT (no CUDA device"),
    ],
    ids=["trt", "trt-no-gpu", "ort-cuda", "cpu", "cpu-no-gpu"],
)
def test_auto_prefers_tensorrt_then_ort_cuda_then_cpu(
    monkeypatch: pytest.MonkeyPatch, trt_ok, gpus, providers, expected: str, reason_part: str
) -> None:
    detail = "10.13.0.35" if trt_ok else "the tensorrt package is not installed: pip install 'facelog[gpu]'"
    monkeypatch.setattr(registry, "tensorrt_status", lambda: Probe(trt_ok, detail))
    monkeypatch.setattr(registry, "cuda_devices", lambda: (gpus, "" if gpus else "no CUDA device"))
    monkeypatch.setattr(registry, "ort_providers", lambda: providers)
    choice = choose_backend("auto")
    assert choice.name == expected and reason_part in choice.reason


def test_explicit_tensorrt_without_gpu_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "tensorrt_status", lambda: Probe(True, "10.13.0.35"))
    monkeypatch.setattr(
        registry, "cuda_devices", lambda: ([], "no usable CUDA driver/device: cudaErrorNoDevice")
    )
    with pytest.raises(BackendUnavailable, match=r"TensorRT 10.13.0.35 imports but no usable CUDA driver"):
        choose_backend("tensorrt")


def test_unavailable_explicit_kinds_fail_in_one_line_with_the_fix(tiny_model: Path) -> None:
    if tensorrt_status().ok:
        pytest.skip("TensorRT is installed here")
    with pytest.raises(BackendUnavailable) as err:
        load_backend("tensorrt", tiny_model)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("backend tensorrt: ") and "pip install 'facelog[gpu]'" in msg
    if "CUDAExecutionProvider" not in ort_providers():
        with pytest.raises(
            BackendUnavailable, match=r"no CUDAExecutionProvider.*pip install onnxruntime-gpu"
        ):
            load_backend("onnxruntime-cuda", tiny_model)


@pytest.mark.parametrize(
    "kind, opts, match",
    [
        (
            "TensorRT",
            {},
            "backend must be one of auto, onnxruntime, onnxruntime-cuda, tensorrt, got 'TensorRT'",
        ),
        ("onnxruntime", {"precison": "fp16"}, r"unknown backend options \['precison'\]"),
    ],
    ids=["kind-is-case-sensitive", "misspelled-option"],
)
def test_bad_kind_or_option(tiny_model: Path, kind: str, opts: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_backend(kind, tiny_model, **opts)


def test_an_option_the_backend_does_not_take_is_an_error_naming_it(tiny_model: Path) -> None:
    match = r"backend onnxruntime does not take options \['max_batch', 'precision'\]"
    with pytest.raises(ValueError, match=match):
        load_backend("onnxruntime", tiny_model, threads=1, precision="int8", max_batch=64)
    be = load_backend("onnxruntime", tiny_model, threads=1)
    assert be.infer(np.zeros((0, 64, 64, 3), np.float32))["gender"].shape == (0, 2)
    with pytest.raises(FileNotFoundError):
        load_backend("onnxruntime", tiny_model.with_name("absent.onnx"))


def test_open_backend_loads_the_choice_without_choosing_again(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facelog.engines import registry

    choice = registry.choose_backend("onnxruntime")
    monkeypatch.setattr(registry, "choose_backend", lambda kind: pytest.fail("chose again"))
    be = registry.open_backend(choice, tiny_model, threads=1)
    assert be.meta.name == "tiny-test-model"


def test_pick_device_names_the_purpose_or_the_valid_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from facelog.engines import gpu

    monkeypatch.setattr(gpu, "cuda_devices", lambda: ([], "the CUDA driver reports 0 devices"))
    with pytest.raises(BackendUnavailable, match=r"^TensorRT needs a CUDA device: the CUDA driver reports 0"):
        gpu.pick_device(0, "TensorRT")
    one = GpuInfo(index=0, name="NVIDIA H200", compute_capability=(9, 0), total_memory_mb=143_000)
    monkeypatch.setattr(gpu, "cuda_devices", lambda: ([one], ""))
    assert gpu.pick_device(0, "TensorRT") == one
    with pytest.raises(ValueError, match=r"device must be in 0\.\.0, got 1"):
        gpu.pick_device(1, "TensorRT")


@pytest.mark.parametrize(
    "version, ok, detail",
    [("10.13.0.35", True, "10.13.0.35"), ("11.4.0", False, "TensorRT 11.4.0 is installed, but")],
)
def test_tensorrt_status_accepts_10_and_refuses_11(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, ok: bool, detail: str
) -> None:
    """TensorRT cannot be installed here; a stand-in package injects each version (fault injection)."""
    import sys

    pkg = tmp_path / "tensorrt"
    pkg.mkdir()
    init = f"__version__ = {version!r}\nclass Builder: ...\nclass OnnxParser: ...\n"
    (pkg / "__init__.py").write_text(init)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    try:
        status = tensorrt_status()
    finally:
        sys.modules.pop("tensorrt", None)  # later tests must not see the stand-in
    assert status.ok is ok and status.detail.startswith(detail)
    if not ok:
        assert "tensorrt-cu12>=10.1,<11" in status.detail
