"""The report over real ``facelog run`` and ``facelog batch`` outputs of the shared clips: its people,
genders and dwell times equal what pandas computes from the same tracks CSVs (skips without ../shared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from facelog.cli import main
from facelog.pipeline.report import make_report

CLIPS = (
    "face-demographics-walking-and-pause.mp4",
    "head-pose-face-detection-female-and-male.mp4",
    "head-pose-face-detection-male.mp4",
)


def _args(model: Path, yunet: Path) -> list[str]:
    return ["--model", str(model), "--yunet", str(yunet), "--detector", "yunet", "--no-progress"]


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, videos: Path, age_gender_model: Path, yunet_path: Path
) -> Path:
    out = tmp_path_factory.mktemp("runs")
    clips = [str(videos / c) for c in CLIPS]
    assert main(["-q", "run", *clips, "-o", str(out), *_args(age_gender_model, yunet_path)]) == 0
    return out


def _per_camera(tracks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = {}
    for camera, df in tracks.items():
        people = df[df["status"] == "person"]
        rows[camera] = {
            "persons": len(people),
            "female": int((people["gender"] == "female").sum()),
            "male": int((people["gender"] == "male").sum()),
            "dwell_median_s": round(float(people["dwell_s"].median()), 2) if len(people) else None,
            "dwell_p90_s": round(float(people["dwell_s"].quantile(0.9)), 2) if len(people) else None,
        }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index().rename_axis("camera")


def _report_per_camera(table: pd.DataFrame) -> pd.DataFrame:
    with_people = table[table["persons"] > 0]
    assert not with_people.duplicated("camera").any()  # each short clip lies in one day
    got = with_people.set_index("camera")[["persons", "female", "male", "dwell_median_s", "dwell_p90_s"]]
    return got.sort_index()


def test_report_of_run_outputs_equals_pandas(runs: Path, tmp_path: Path) -> None:
    res = make_report([runs], tmp_path / "out", by="day")
    assert not res.skipped
    tracks = {Path(c).stem: pd.read_csv(runs / f"{Path(c).stem}.tracks.csv") for c in CLIPS}
    want = _per_camera(tracks)
    assert want["persons"].sum() >= 3
    got = _report_per_camera(res.table)
    pd.testing.assert_frame_equal(got, want[want["persons"] > 0], check_dtype=False, atol=0.011)
    faces = sum(len(pd.read_csv(runs / f"{Path(c).stem}.csv")) for c in CLIPS)
    assert res.table["faces"].sum() == faces
    video_s = sum(pd.read_json(runs / f"{Path(c).stem}.summary.json", typ="series")["video_s"] for c in CLIPS)
    assert res.table["video_h"].sum() * 3600 == pytest.approx(video_s, abs=0.01)


@pytest.mark.slow
def test_batch_report_equals_pandas(
    tmp_path: Path, videos: Path, age_gender_model: Path, yunet_path: Path
) -> None:
    """A real ``facelog batch`` over a two-camera archive: its report.csv and ``facelog report`` on its
    output folder give the same people, and both equal pandas on the tracks CSVs."""
    archive = tmp_path / "archive"
    for cam, clip in (("door", CLIPS[0]), ("door", CLIPS[1]), ("yard", CLIPS[2])):
        dest = archive / cam / "2026-11-20" / clip
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(videos / clip, dest)
    out = tmp_path / "out"
    args = ["--model", str(age_gender_model), "--no-progress", "--workers", "1"]
    cfg = tmp_path / "batch.yaml"
    cfg.write_text(f"detector:\n  kind: yunet\n  yunet_path: {yunet_path}\n")
    assert main(["-q", "batch", str(archive), "-o", str(out), "-c", str(cfg), *args]) == 0
    tracks: dict[str, list[pd.DataFrame]] = {}
    for p in sorted(out.rglob("*.tracks.csv")):
        tracks.setdefault(p.relative_to(out).parts[0], []).append(pd.read_csv(p))
    want = _per_camera({k: pd.concat(v, ignore_index=True) for k, v in tracks.items()})
    batch_csv = pd.read_csv(out / "report.csv").set_index("camera").sort_index()
    assert batch_csv["persons"].to_dict() == want["persons"].to_dict()
    assert (out / "report.html").is_file()
    res = make_report([out], tmp_path / "rep", by="day")
    assert not res.skipped
    got = _report_per_camera(res.table)
    pd.testing.assert_frame_equal(got, want[want["persons"] > 0], check_dtype=False, atol=0.011)


def test_run_ends_with_the_people_it_found(
    tmp_path: Path, videos: Path, age_gender_model: Path, yunet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = videos / CLIPS[0]
    out = tmp_path / "walk.csv"
    assert main(["run", str(clip), "-o", str(out), *_args(age_gender_model, yunet_path)]) == 0
    captured = capsys.readouterr()
    tracks = pd.read_csv(tmp_path / "walk.tracks.csv")
    people = tracks[tracks["status"] == "person"].sort_values("first_pts_ms", kind="stable")
    lines = captured.err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(f"in {clip.name}:"))
    assert lines[start].startswith(f"{len(people)} people in ") and len(people) >= 2
    for line, (_, p) in zip(lines[start + 1 :], people.iterrows(), strict=True):
        assert line.startswith("  ") and f"{p['gender']}, age {p['age']:.0f} " in line
        assert f"({p['age_low']:.0f}-{p['age_high']:.0f})" in line and f"{p['dwell_s']:.1f} s in view" in line
    assert "people" not in captured.out  # stdout unchanged: the answer goes to stderr
