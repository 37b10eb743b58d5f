"""The one model-file lookup: shipped files with their licences, YuNet's order and sha256 check, cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelog.engines.fileio import file_sha256
from facelog.pipeline import weights
from facelog.pipeline.errors import ModelError


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(weights.YUNET_ENV, raising=False)


def _copy_yunet(dest: Path) -> Path:
    dest.write_bytes(weights.YUNET_PATH.read_bytes())
    return dest


def test_shipped_yunet_matches_pinned_sha256() -> None:
    f = weights.shipped_yunet()
    assert f.path == weights.YUNET_PATH and f.source == "shipped"
    assert f.sha256 == weights.YUNET_SHA256 and f.pinned
    assert file_sha256(weights.YUNET_PATH) == weights.YUNET_SHA256


def test_damaged_shipped_yunet_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / weights.YUNET_NAME
    bad.write_bytes(b"truncated")
    monkeypatch.setattr(weights, "YUNET_PATH", bad)
    with pytest.raises(ModelError, match="expected " + weights.YUNET_SHA256):
        weights.shipped_yunet()
    monkeypatch.setattr(weights, "YUNET_PATH", tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="shipped YuNet model missing"):
        weights.shipped_yunet()


def test_resolve_order_configured_env_shipped(
    no_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert weights.resolve_yunet().source == "shipped"
    env_file = _copy_yunet(tmp_path / "env.onnx")
    monkeypatch.setenv(weights.YUNET_ENV, str(env_file))
    assert weights.resolve_yunet(None).path == env_file
    conf = _copy_yunet(tmp_path / "conf.onnx")
    got = weights.resolve_yunet(str(conf))
    assert (got.path, got.source, got.pinned) == (conf, "detector.yunet_path", True)


def test_user_file_may_be_another_release(no_env: None, tmp_path: Path) -> None:
    other = tmp_path / "yunet_other.onnx"
    other.write_bytes(b"another export")
    got = weights.resolve_yunet(str(other))
    assert got.path == other and not got.pinned  # recorded, not enforced


@pytest.mark.parametrize("where", ["configured", "env"])
def test_missing_named_file_raises(
    no_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    missing = str(tmp_path / "nope.onnx")
    if where == "env":
        monkeypatch.setenv(weights.YUNET_ENV, missing)
    with pytest.raises(ModelError, match=r"nope\.onnx does not exist"):
        weights.resolve_yunet(missing if where == "configured" else None)


def test_cache_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FACELOG_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert weights.cache_root() == tmp_path / "facelog"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert weights.cache_root() == Path.home() / ".cache" / "facelog"
    monkeypatch.setenv("FACELOG_CACHE", str(tmp_path / "c"))
    assert weights.cache_root() == tmp_path / "c"


def test_shipped_model_path_is_in_the_engines_package() -> None:
    p = weights.shipped_model_path()
    assert p.name == "facelog_age_gender.onnx" and p.parent.name == "models"
    assert p.parent.parent.name == "engines"


def test_detectors_ship_with_notice_and_licences() -> None:
    assert weights.BLAZEFACE_PATH.is_file() and weights.BLAZEFACE_PATH.stat().st_size > 1_000_000
    notice = (weights.MODELS_DIR / "NOTICE").read_text()
    assert "MediaPipe" in notice and weights.YUNET_NAME in notice and weights.YUNET_SHA256 in notice
    assert "libfacedetection.train" in notice
    assert (weights.MODELS_DIR / "LICENSE.Apache-2.0").is_file()
    assert "Apache License" in (weights.MODELS_DIR / "LICENSE.libfacedetection.train").read_text()
