"""``facelog predict --cropped`` and ``facelog eval`` through ONNX Runtime (no TensorFlow)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from facelog.training.cli import main


@pytest.fixture(scope="module")
def crops(shared: Path) -> list[Path]:
    d = shared / "data" / "utkface" / "images"
    names = ["100_0_0_20170112213500903.jpg.chip.jpg", "55_0_0_20170116232725357jpg.chip.jpg"]
    paths = [d / n for n in names]
    if not all(p.is_file() for p in paths):
        pytest.skip("UTKFace crops not found in ../shared")
    return paths


def test_predict_prints_csv_and_skips_unreadable(
    crops: list[Path], tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    rc = main(["predict", "--cropped", "--model", str(tiny_model), str(crops[0]), str(bad), str(crops[1])])
    out, err = capsys.readouterr()
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["path"] for r in rows] == [str(crops[0]), str(crops[1])]
    for r in rows:
        assert 0.0 <= float(r["age"]) <= 100.0
        assert r["gender"] in ("male", "female")
        assert 0.5 <= float(r["gender_score"]) <= 1.0
    assert "cannot read image" in err and str(bad) in err
    assert "1 of 3 images unreadable" in err


def test_predict_folder_and_none_readable(
    crops: list[Path], tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for p in crops:
        (folder / p.name.replace(" ", "_")).write_bytes(p.read_bytes())
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    assert main(["predict", "--cropped", "--model", str(tiny_model), str(folder)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + len(crops)
    bad = tmp_path / "x.jpg"
    bad.write_text("text")
    assert main(["predict", "--cropped", "--model", str(tiny_model), str(bad)]) == 2
    assert "facelog: error: no readable images" in capsys.readouterr().err


def test_predict_needs_cropped_and_model(
    crops: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", str(crops[0])]) == 2
    assert "needs --cropped" in capsys.readouterr().err
    assert main(["predict", "--cropped", "--model", str(tmp_path / "none.onnx"), str(crops[0])]) == 2
    assert "model not found" in capsys.readouterr().err
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("a text file with the wrong suffix\n")
    predict = ["predict", "--cropped", "--model", str(not_onnx), str(crops[0])]
    data, out = str(crops[0].parent), str(tmp_path / "ev")
    evaluate = ["eval", "--model", str(not_onnx), "--data", data, "--out", out]
    for cmd in (predict, evaluate):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.startswith("facelog: error: ") and "is not an ONNX model" in err and "Traceback" not in err


def test_eval_csv_list_writes_report(crops: list[Path], tiny_model: Path, tmp_path: Path) -> None:
    lst = tmp_path / "list.csv"
    lst.write_text(f"path,age,gender\n{crops[0]},100,0\n{crops[1]},55,\n{tmp_path / 'gone.jpg'},20,1\n")
    rc = main(
        [
            "eval",
            "--model",
            str(tiny_model),
            "--data",
            str(lst),
            "--kind",
            "csv",
            "--out",
            str(tmp_path / "ev"),
        ]
    )
    assert rc == 0
    report = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert report["n"] == 2 and report["n_unreadable"] == 1
    assert report["age"]["n_labelled"] == 2 and report["gender"]["n_labelled"] == 1
    assert (tmp_path / "ev" / "confusion_gender.png").is_file()


def test_register_does_not_import_tensorflow() -> None:
    import argparse

    from facelog.training import cli

    had_tf = "tensorflow" in sys.modules
    sub = argparse.ArgumentParser().add_subparsers()
    cli.register(sub)
    assert set(sub.choices) >= {"train", "eval", "export", "predict"}
    if not had_tf:
        assert "tensorflow" not in sys.modules


def test_eval_by_size_writes_table(crops: list[Path], tiny_model: Path, tmp_path: Path) -> None:
    lst = tmp_path / "list.csv"
    lst.write_text(f"path,age,gender\n{crops[0]},100,0\n{crops[1]},55,1\n")
    out = tmp_path / "ev"
    argv = ["eval", "--model", str(tiny_model), "--data", str(lst), "--kind", "csv", "--by-size"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["by_size"]) == ["full", "64px", "48px", "32px", "24px"]
    assert report["by_size"]["full"]["mae"] == pytest.approx(report["age"]["mae"])
    assert report["by_size_recipe"] == "shrink-jpeg60"
    # degraded chips give other predictions than clean ones
    assert report["by_size"]["24px"]["mae"] != pytest.approx(report["by_size"]["full"]["mae"], abs=1e-6)
    buckets = report["by_size"]["32px"]["buckets"]
    assert {b["range"] for b in buckets if b["n"]} == {"50-59", "70-100"}
    md = (out / "by_size.md").read_text()
    assert "| 32px | 2 |" in md and "| 70-100 | 1 |" in md
