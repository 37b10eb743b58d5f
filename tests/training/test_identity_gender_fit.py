"""training/identity_gender.py: the logistic fit recovers a known direction, and bad input is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelog.training.identity_gender import fit_logistic, main


def test_fit_recovers_the_direction_that_separates_the_classes() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8))
    truth = np.array([2.0, -1.0, 0, 0, 0, 0, 0, 0.5])
    y = (x @ truth + 0.3 + rng.logistic(size=2000) * 0.2 > 0).astype(np.float64)
    w, b = fit_logistic(x, y)
    assert np.mean((x @ w + b > 0) == (y > 0.5)) > 0.95
    cos = float(w @ truth / np.linalg.norm(w) / np.linalg.norm(truth))
    assert cos > 0.98 and b > 0


def test_a_missing_data_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "nowhere" in err
    assert not (tmp_path / "out.json").exists()
