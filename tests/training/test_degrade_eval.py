"""The fixed evaluation degradation (shrink, JPEG 60, enlarge): deterministic, lossy, validated."""

from __future__ import annotations

import numpy as np
import pytest

from facelog.training.degrade import degrade_chip, degrade_chips, size_label


def _chip(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (200, 200, 3), dtype=np.uint8)


def test_degrade_chip_keeps_shape_and_is_deterministic() -> None:
    chip = _chip()
    a, b = degrade_chip(chip, 32), degrade_chip(chip, 32)
    assert a.shape == chip.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_smaller_sizes_lose_more_detail() -> None:
    chip = _chip()
    err = [np.abs(degrade_chip(chip, s).astype(int) - chip).mean() for s in (64, 32, 16)]
    assert err[0] < err[1] < err[2]


def test_degrade_chips_full_is_unchanged_and_empty_ok() -> None:
    chips = [_chip(1), _chip(2)]
    assert all(a is b for a, b in zip(degrade_chips(chips, None), chips, strict=True))
    assert degrade_chips([], 24) == []
    assert size_label(None) == "full" and size_label(24) == "24px"


@pytest.mark.parametrize(
    "chip, size, quality, match",
    [
        (np.zeros((8, 8), np.uint8), 4, 60, r"\(H, W, 3\) uint8"),
        (np.zeros((8, 8, 3), np.float32), 4, 60, r"\(H, W, 3\) uint8"),
        (np.zeros((8, 8, 3), np.uint8), 2, 60, "size_px"),
        (np.zeros((8, 8, 3), np.uint8), 4, 0, "jpeg_quality"),
    ],
    ids=["gray", "float", "tiny", "quality-0"],
)
def test_degrade_chip_rejects_bad_input(chip: np.ndarray, size: int, quality: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        degrade_chip(chip, size, quality)
