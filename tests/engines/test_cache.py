"""Engine cache: keys, Savant-style names, sidecar round trip, and invalidation on any mismatch.

The "engines" here are plain files: the cache never deserializes them, it only decides whether a
file may be handed to TensorRT. Deserialization is covered by the GPU tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facelog.engines.base import HeadMeta, ModelMeta
from facelog.engines.cache import (
    EngineCache,
    EngineKey,
    EngineMismatch,
    check_engine,
    engine_filename,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

META = ModelMeta(
    name="facelog age/gender",
    version="1.0.0",
    input_name="input",
    input_hw=(64, 64),
    layout="NHWC",
    max_batch=0,
    outputs=("age", "gender"),
    mean=127.5,
    std=127.5,
    heads=(HeadMeta("age", "age"), HeadMeta("gender", "categorical", ("male", "female"))),
    extra={"licence": "non-commercial (UTKFace)"},
)


def make_key(**changes: object) -> EngineKey:
    base: dict[str, object] = dict(
        model_sha256="ab" * 32,
        trt_version="10.13.0.35",
        gpu_name="NVIDIA H100 80GB HBM3",
        compute_capability=(9, 0),
        precision="fp16",
        min_batch=1,
        opt_batch=32,
        max_batch=128,
    )
    base.update(changes)
    return EngineKey(**base)  # type: ignore[arg-type]


def fake_build(payload: bytes = b"serialized engine bytes"):
    calls: list[Path] = []

    def build(path: Path) -> Path:
        calls.append(path)
        path.write_bytes(payload)
        return path

    return build, calls


@pytest.mark.parametrize(
    "change",
    [
        {"model_sha256": "cd" * 32},
        {"trt_version": "10.14.1"},
        {"gpu_name": "NVIDIA L4"},
        {"compute_capability": (8, 9)},
        {"precision": "int8"},
        {"opt_batch": 16},
        {"max_batch": 64},
    ],
    ids=["model", "trt", "gpu", "sm", "precision", "opt", "max"],
)
def test_every_key_field_changes_the_digest(change: dict[str, object]) -> None:
    assert make_key().digest() == make_key().digest()
    assert make_key(**change).digest() != make_key().digest()


@pytest.mark.parametrize(
    "change, match",
    [
        ({"precision": "bf16"}, "precision must be one of"),
        ({"min_batch": 0}, r"1 <= min <= opt <= max"),
        ({"opt_batch": 256}, r"got min=1 opt=256 max=128"),
    ],
    ids=["precision", "zero-min", "opt-over-max"],
)
def test_key_rejects_bad_values(change: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_key(**change)


def test_engine_filename_is_savant_style() -> None:
    assert engine_filename("facelog age/gender", 128, 0, "fp16") == "facelog-age-gender_b128_gpu0_fp16.engine"
    assert engine_filename("m", 1, 3, "int8") == "m_b1_gpu3_int8.engine"


def test_sidecar_round_trips_meta_and_key(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\x00" * 100)
    key = make_key()
    write_sidecar(engine, META, key, source_onnx="/x/m.onnx")
    side = read_sidecar(engine)
    assert side.meta == META and side.key == key
    assert side.engine_bytes == 100 and side.extra == {"source_onnx": "/x/m.onnx"}
    assert json.loads(sidecar_path(engine).read_text())["facelog_meta"]["heads"][1]["labels"] == [
        "male",
        "female",
    ]


def test_check_engine_accepts_same_machine(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x" * 10)
    write_sidecar(engine, META, make_key())
    assert check_engine(engine, "10.13.0.35", "NVIDIA H100 80GB HBM3", (9, 0)).meta == META


@pytest.mark.parametrize(
    "here, match",
    [
        (
            ("10.14.1", "NVIDIA H100 80GB HBM3", (9, 0)),
            r"trt_version: engine has '10.13.0.35', here '10.14.1'",
        ),
        (
            ("10.13.0.35", "NVIDIA L4", (8, 9)),
            r"gpu_name: .*compute_capability: engine has \[9, 0\], here \[8, 9\]",
        ),
    ],
    ids=["other-trt", "other-gpu"],
)
def test_check_engine_explains_foreign_engine(tmp_path: Path, here: tuple, match: str) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x" * 10)
    write_sidecar(engine, META, make_key())
    with pytest.raises(EngineMismatch, match=match) as err:
        check_engine(engine, *here)
    assert "facelog engine build MODEL.onnx --precision fp16 --max-batch 128" in str(err.value)


def test_check_engine_rejects_truncated_and_unverifiable(tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x" * 10)
    with pytest.raises(EngineMismatch, match="has no sidecar"):
        check_engine(engine, "10.13.0.35", "NVIDIA H100 80GB HBM3", (9, 0))
    write_sidecar(engine, META, make_key())
    engine.write_bytes(b"x" * 4)
    with pytest.raises(EngineMismatch, match="is 4 bytes but its sidecar says 10"):
        check_engine(engine, "10.13.0.35", "NVIDIA H100 80GB HBM3", (9, 0))
    sidecar_path(engine).write_text("{not json")
    with pytest.raises(EngineMismatch, match="unreadable"):
        read_sidecar(engine)
    with pytest.raises(FileNotFoundError, match="engine file not found"):
        check_engine(tmp_path / "none.engine", "10.13.0.35", "x", (9, 0))


def test_cache_builds_once_then_hits(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    build, calls = fake_build()
    path, built = cache.get_or_build(make_key(), META, 0, build)
    assert built and path.name == "facelog-age-gender_b128_gpu0_fp16.engine"
    assert path.parent.name == f"facelog-age-gender-{make_key().digest()}"
    again, built_again = cache.get_or_build(make_key(), META, 0, build)
    assert again == path and not built_again and len(calls) == 1


@pytest.mark.parametrize(
    "change", [{"trt_version": "10.14.1"}, {"gpu_name": "NVIDIA L4"}, {"model_sha256": "0" * 64}]
)
def test_cache_rebuilds_for_other_trt_gpu_or_model(tmp_path: Path, change: dict[str, object]) -> None:
    cache = EngineCache(tmp_path)
    build, calls = fake_build()
    first, _ = cache.get_or_build(make_key(), META, 0, build)
    second, built = cache.get_or_build(make_key(**change), META, 0, build)
    assert built and second != first and len(calls) == 2
    assert first.is_file()  # the other machine's engine is kept, not overwritten


def test_cache_rebuilds_when_engine_was_damaged_or_build_interrupted(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    build, calls = fake_build()
    path, _ = cache.get_or_build(make_key(), META, 0, build)
    path.write_bytes(b"half")  # truncated by a crash or a bad copy
    assert cache.lookup(make_key(), META.name, 0) is None
    cache.get_or_build(make_key(), META, 0, build)
    assert len(calls) == 2 and path.read_bytes() == b"serialized engine bytes"

    def interrupted(p: Path) -> Path:
        p.write_bytes(b"partial")
        raise KeyboardInterrupt

    key = make_key(precision="fp32")
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_build(key, META, 0, interrupted)
    assert cache.lookup(key, META.name, 0) is None  # no sidecar: never mistaken for a finished engine


def test_timing_cache_is_per_trt_version_and_arch(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    assert cache.timing_cache_path("10.13.0.35", (9, 0)) != cache.timing_cache_path("10.13.0.35", (8, 9))
    assert cache.timing_cache_path("10.13.0.35", (9, 0)).name == "timing_trt10.13.0.35_sm90.cache"
