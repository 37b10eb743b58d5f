"""``facelog train|export`` bad input: one ``facelog: error:`` line and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelog.training.cli import main


def test_unknown_key_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim:\n  epoch: 3\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"facelog: error: {cfg}: unknown key 'optim.epoch' (did you mean 'epochs'?)"]
    assert not (tmp_path / "run").exists()


def test_bad_override_and_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    assert "config file not found" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("{}\n")
    assert main(["train", str(cfg), "--out", str(tmp_path), "--set", "optim.epochs"]) == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err


def test_dataset_without_usable_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tensorflow")
    empty = tmp_path / "faces"
    empty.mkdir()
    (empty / "holiday.jpg").write_bytes(b"x")  # not a UTKFace name
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  kind: utkface\n  root: {empty}\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert f"facelog: error: UTKFace {empty}: no usable rows" in capsys.readouterr().err


def test_export_needs_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path)]) == 2
    assert "not a training run folder" in capsys.readouterr().err
