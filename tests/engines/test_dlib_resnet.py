"""dlib's face descriptor network rebuilt for ONNX Runtime gives dlib's own descriptors; a file that is
not that network is refused with one line."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from facelog.engines.dlib_resnet import DlibModelError, DlibResNetOnnx, _Reader, build_onnx, read_layers


@pytest.fixture(scope="module")
def dat_path() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    assert spec is not None and spec.submodule_search_locations, "face-recognition-models is a dependency"
    return (
        Path(next(iter(spec.submodule_search_locations)))
        / "models"
        / "dlib_face_recognition_resnet_model_v1.dat"
    )


def _chips(n: int) -> np.ndarray:
    """Chips unlike each other: noise, gradients, flat grey and a bright square (any input must match)."""
    rng = np.random.default_rng(7)
    chips = rng.integers(0, 256, (n, 150, 150, 3), dtype=np.uint8)
    chips[1] = np.linspace(0, 255, 150, dtype=np.uint8)[None, :, None]
    chips[2] = 128
    chips[3, 40:110, 50:100] = 250
    return chips


def test_the_onnx_network_gives_dlibs_descriptors(dat_path: Path) -> None:
    import dlib

    chips = _chips(6)
    net = dlib.face_recognition_model_v1(str(dat_path))
    ref = np.array([np.asarray(net.compute_face_descriptor(c)) for c in chips])
    out = DlibResNetOnnx(dat_path).descriptors(chips)
    assert out.shape == (6, 128) and out.dtype == np.float32
    assert np.abs(out - ref).max() < 1e-5  # float rounding only: identity distances are 0.07-0.7
    assert np.linalg.norm(out[0] - out[1]) > 0.05  # and the chips are told apart


def test_the_file_is_read_as_dlibs_network(dat_path: Path) -> None:
    layers = read_layers(dat_path.read_bytes())
    kinds = [layer.kind for layer in layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    assert layers[0].weight.shape == (32, 3, 7, 7) and layers[-1].weight.shape == (256, 128)


def test_a_file_that_is_not_the_network_is_refused(dat_path: Path, tmp_path: Path) -> None:
    data = dat_path.read_bytes()
    with pytest.raises(DlibModelError, match="ends inside a tensor"):
        build_onnx(data[: len(data) // 2])
    shape_file = dat_path.with_name("shape_predictor_5_face_landmarks.dat")
    with pytest.raises(DlibModelError, match="not dlib's face recognition ResNet"):
        build_onnx(shape_file.read_bytes())
    with pytest.raises(DlibModelError, match="cannot read"):
        DlibResNetOnnx(tmp_path / "missing.dat")


def _with_con_int(data: bytes, record: int, which: int, value: int) -> bytes:
    """``data`` with int ``which`` (0 filters .. 6 padding x) of the ``record``-th convolution set to
    ``value`` (a one-byte dlib integer: the file's are)."""
    starts = [m.start() for m in re.finditer(re.escape(b"\x01\x05con_4"), data)]
    r = _Reader(data, starts[record] + 7)
    r.tensor()
    for _ in range(which):
        r.integer()
    assert data[r.pos] == 0x01, "a one-byte integer"
    return data[: r.pos + 1] + bytes([value]) + data[r.pos + 2 :]


def test_a_file_dlib_itself_would_refuse_is_refused(dat_path: Path, tmp_path: Path) -> None:
    data = dat_path.read_bytes()
    for which, value in ((5, 0), (3, 0), (1, 5)):  # a block's padding 1 -> 0, stride 1 -> 0, kernel 3 -> 5
        bad = tmp_path / "bad.dat"
        bad.write_bytes(_with_con_int(data, 3, which, value))
        with pytest.raises(DlibModelError, match="not dlib's face recognition ResNet"):
            DlibResNetOnnx(bad)
