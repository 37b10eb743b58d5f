"""Real H.264 artefacts: encode and decode through ffmpeg/libx264, and the cached pool of copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelog.training import h264
from facelog.training.config import CodecConfig


def _ffmpeg() -> None:
    try:
        h264.ffmpeg_path()
    except h264.CodecUnavailable as err:
        pytest.skip(str(err))


def _faces(n: int, size: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.linspace(0, 255, size, dtype=np.float32)
    base = (g[None, :, None] * 0.6 + g[:, None, None] * 0.3).repeat(3, axis=2)
    return np.clip(base[None] + rng.normal(0, 25, (n, size, size, 3)), 0, 255).astype(np.uint8)


def test_encode_decode_round_trips_shape_and_loses_more_at_a_higher_qp() -> None:
    _ffmpeg()
    frames = _faces(3, 64)
    good, n_good = h264.encode_decode(frames, 20)
    bad, n_bad = h264.encode_decode(frames, 45)
    assert good.shape == frames.shape and good.dtype == np.uint8
    err = [float(np.abs(d.astype(int) - frames.astype(int)).mean()) for d in (good, bad)]
    assert err[0] < err[1] and n_good > n_bad


@pytest.mark.parametrize(
    "frames, qp, match",
    [
        (np.zeros((2, 31, 32, 3), np.uint8), 30, "even sides"),
        (np.zeros((2, 32, 32, 3), np.float32), 30, r"\(T, H, W, 3\) uint8"),
        (np.zeros((2, 32, 32, 3), np.uint8), 60, "qp"),
    ],
    ids=["odd", "float", "qp"],
)
def test_encode_decode_rejects_bad_input(frames: np.ndarray, qp: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        h264.encode_decode(frames, qp, exe="ffmpeg")


def test_build_pool_is_seeded_keeps_order_and_degrades(tmp_path: Path) -> None:
    _ffmpeg()
    imgs = _faces(70)  # two groups, one not full
    cfg = CodecConfig(prob=0.5, size_px=(12, 20), qp=(30, 40), frames=2, seed=3)
    a, b = h264.build_pool(imgs, cfg), h264.build_pool(imgs, cfg)
    assert a.images.shape == imgs.shape and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images)
    assert np.all((a.side_px >= 12) & (a.side_px <= 20) & (a.side_px % 2 == 0))
    assert np.all((a.qp >= 30) & (a.qp <= 40)) and np.all(a.bits_per_px > 0)
    # shrunk to <= 20 px and coded: the fine noise is gone, the gradient stays
    detail = lambda x: float(np.mean(np.abs(np.diff(x.astype(np.float32), axis=2))))  # noqa: E731
    assert detail(a.images) < 0.5 * detail(imgs)
    assert (
        np.abs(a.images.astype(float).mean(axis=(1, 2, 3)) - imgs.astype(float).mean(axis=(1, 2, 3))).max()
        < 20
    )


def test_pool_cache_round_trip(tmp_path: Path) -> None:
    _ffmpeg()
    imgs = _faces(8)
    cfg = CodecConfig(prob=0.5, size_px=(16, 16), qp=(30, 30), frames=1, cache=tmp_path)
    first = h264.load_or_build_pool(imgs, cfg)
    files = list(tmp_path.glob("h264_pool_*.npz"))
    assert len(files) == 1
    again = h264.load_or_build_pool(imgs, cfg)
    np.testing.assert_array_equal(first.images, again.images)
    assert h264.pool_key(imgs, cfg) != h264.pool_key(imgs, cfg.model_copy(update={"qp": (31, 31)}))


def test_build_pool_rejects_bad_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        h264.build_pool(np.zeros((2, 8, 8, 3), np.float32), CodecConfig())
