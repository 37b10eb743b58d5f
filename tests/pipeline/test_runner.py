"""End to end on the real clips: face counts, CSV order, tracks, summary, sampling, batching, bad input."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import pandas as pd
import pytest

from facelog.pipeline.config import AppConfig, load_config
from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.outputs import summary_path
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import HEADER, tracks_path

COUNT_OK = 0.95  # share of frames whose face count must be exact (YuNet misses 2 of 56 on the 2-face clip)


def _cfg(model: Path, yunet: Path, **over: object) -> AppConfig:
    base = {"model.path": str(model), "detector.yunet_path": str(yunet), "detector.kind": "yunet"}
    return load_config(None, {**base, **over})


@pytest.fixture(scope="module")
def cfg(age_gender_model: Path, yunet_path: Path) -> AppConfig:
    return _cfg(age_gender_model, yunet_path)


@pytest.fixture(scope="module")
def comps(cfg: AppConfig) -> Iterator[InferenceSession]:
    with InferenceSession(cfg) as session:
        yield session


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(
    videos: Path, cfg: AppConfig, comps: InferenceSession, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Each clip processed once: name -> (summary, rows)."""
    out = tmp_path_factory.mktemp("runs")
    res = {}
    for name, n in CLIPS.items():
        csv_path = out / f"{name}.csv"
        s = process_video(videos / f"{name}.mp4", csv_path, cfg, session=comps)
        res[name] = (s, _rows(csv_path), n)
    return res


CLIPS = {
    "head-pose-face-detection-female": 1,
    "head-pose-face-detection-male": 1,
    "head-pose-face-detection-female-and-male": 2,
    "people-detection": 0,
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_faces_per_frame(runs: dict, name: str) -> None:
    s, rows, n = runs[name]
    assert s.frames_read == s.frames_processed > 0 and s.frames_skipped == 0
    per_frame = Counter(int(r["frame_index"]) for r in rows)
    counts = [per_frame.get(i, 0) for i in range(s.frames_read)]
    assert sum(c == n for c in counts) >= COUNT_OK * len(counts)
    assert all(abs(c - n) <= 1 for c in counts)
    assert s.faces == s.rows == len(rows)


def test_no_faces_on_negative_clip(runs: dict) -> None:
    s, rows, _ = runs["people-detection"]
    assert rows == [] and s.faces == 0 and s.frames_processed == 23
    assert s.processed_frames == [[0, 23, 1]], "frames without faces are still recorded as processed"


def test_csv_schema_and_order(runs: dict, cfg: AppConfig) -> None:
    s, rows, _ = runs["head-pose-face-detection-female-and-male"]
    assert tuple(rows[0].keys()) == HEADER
    keys = [(int(r["frame_index"]), int(r["face_index"])) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for r in rows:
        assert float(r["pts_ms"]) == pytest.approx(int(r["frame_index"]) * 80.0)  # 12.5 fps
        assert 0 <= float(r["age"]) <= 100 and r["gender"] in ("male", "female")
        assert float(r["x1"]) < float(r["x2"]) and float(r["y1"]) < float(r["y2"])
        assert r["model"] == s.model and r["schema_version"] == "1"


@pytest.mark.parametrize(
    "name, n_tracks", [("head-pose-face-detection-male", 1), ("head-pose-face-detection-female-and-male", 2)]
)
def test_track_ids_stable(runs: dict, name: str, n_tracks: int) -> None:
    _, rows, _ = runs[name]
    ids = Counter(r["track_id"] for r in rows)
    top = ids.most_common(n_tracks)
    assert sum(c for _, c in top) >= 0.95 * len(rows), ids
    # the smoothed gender of a track never flickers once the track is a few frames old
    for tid, _ in top:
        g = [r["gender_smooth"] for r in rows if r["track_id"] == tid][5:]
        assert len(set(g)) <= 2


def test_summary_json(
    runs: dict, tmp_path: Path, videos: Path, cfg: AppConfig, comps: InferenceSession
) -> None:
    out = tmp_path / "o.csv"
    s = process_video(videos / "head-pose-face-detection-female.mp4", out, cfg, session=comps)
    doc = json.loads(summary_path(out).read_text())
    assert doc == json.loads(json.dumps(s.to_dict()))
    assert doc["status"] == "complete" and doc["detector"] == "yunet" and doc["backend"] == "onnxruntime"
    assert doc["video_fps"] == 12.5 and doc["frames_read"] == 23 and doc["rows"] == len(_rows(out))
    assert {"decode_s", "detect_s", "infer_s", "wall_s"} <= set(doc["timings"])
    assert doc["persons"] == len(_rows(tracks_path(out))) >= 1 and doc["tracks"] == str(tracks_path(out))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["o.csv", "o.summary.json", "o.tracks.csv"], "no temp files left"


def test_batching_does_not_change_rows(
    videos: Path, age_gender_model: Path, yunet_path: Path, tmp_path: Path
) -> None:
    clip = videos / "head-pose-face-detection-female-and-male.mp4"
    tables = []
    for bs, wait in ((1, 0), (7, 5), (64, 1000)):
        out = tmp_path / f"b{bs}.csv"
        s = process_video(
            clip,
            out,
            _cfg(age_gender_model, yunet_path, **{"batching.batch_size": bs, "batching.max_wait_ms": wait}),
        )
        tables.append(pd.read_csv(out))
        if bs == 64:
            assert s.timings["batches"] < 10, "faces of consecutive frames share batches"
    exact = ["frame_index", "face_index", "track_id", "x1", "y1", "x2", "y2", "det_score"]
    for t in tables[1:]:
        # ONNX Runtime's kernels differ slightly with batch size: numbers agree to 1e-3
        pd.testing.assert_frame_equal(t[exact], tables[0][exact])
        for col in ("age", "gender_score", "age_smooth"):
            assert (t[col] - tables[0][col]).abs().max() <= 0.02
        sure = tables[0].gender_score > 0.51
        assert (t.gender[sure] == tables[0].gender[sure]).all()


@pytest.mark.parametrize(
    "over, processed, runs_",
    [({"sampling.stride": 3}, 21, [[0, 61, 3]]), ({"sampling.target_fps": 2.5}, 13, [[0, 61, 5]])],
    ids=["stride", "target-fps"],
)
def test_sampling(
    videos: Path,
    age_gender_model: Path,
    yunet_path: Path,
    tmp_path: Path,
    over: dict,
    processed: int,
    runs_: list,
) -> None:
    out = tmp_path / "s.csv"
    s = process_video(
        videos / "head-pose-face-detection-male.mp4", out, _cfg(age_gender_model, yunet_path, **over)
    )
    assert (s.frames_read, s.frames_processed, s.frames_skipped) == (62, processed, 62 - processed)
    assert s.processed_frames == runs_
    assert {int(r["frame_index"]) for r in _rows(out)} <= {i for a, b, st in runs_ for i in range(a, b, st)}


def test_annotate_writes_video(videos: Path, cfg: AppConfig, comps: InferenceSession, tmp_path: Path) -> None:
    mp4 = tmp_path / "a.mp4"
    s = process_video(
        videos / "head-pose-face-detection-female.mp4",
        tmp_path / "a.csv",
        cfg,
        annotate=mp4,
        session=comps,
    )
    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == s.frames_processed
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (480, 270)


def test_avi_input_same_faces(
    bad_videos: dict[str, Path], cfg: AppConfig, comps: InferenceSession, tmp_path: Path
) -> None:
    s = process_video(bad_videos["good_avi"], tmp_path / "g.csv", cfg, session=comps)
    assert s.frames_read == 62 and s.faces == 62


def test_truncated_keeps_partial_rows_and_their_persons_only(
    bad_videos: dict[str, Path], cfg: AppConfig, comps: InferenceSession, tmp_path: Path
) -> None:
    out = tmp_path / "t.csv"
    out.write_text("stale output of an earlier run\n")
    mp4 = tmp_path / "t.mp4"
    mp4.write_bytes(b"an earlier run's annotated video")
    with pytest.raises(SourceError, match=r"truncated video: stream ended after \d+ of 62 frames") as ei:
        process_video(bad_videos["truncated"], out, cfg, session=comps, annotate=mp4)
    assert not out.exists() and not summary_path(out).exists()
    partial = Path(ei.value.partial or "")
    assert partial == tmp_path / "t.csv.partial"
    frames = sorted({int(r["frame_index"]) for r in _rows(partial)})
    read = int(re.search(r"after (\d+) of", str(ei.value)).group(1))  # type: ignore[union-attr]
    # every frame read before the cut has its row (one face a frame, as in the whole file), also
    # those still waiting in a batch when the error arrived
    assert 20 <= read < 62 and frames == list(range(read))
    # the persons of those rows (tracks ended at the break): every track id of the rows has its row
    tracks = Path(ei.value.partial_tracks or "")
    assert tracks == tmp_path / "t.tracks.csv.partial" and str(tracks) in str(ei.value)
    persons = pd.read_csv(tracks)
    assert set(persons["track_id"]) == {int(r["track_id"]) for r in _rows(partial)}
    assert persons["last_frame"].max() == read - 1
    # nothing else: not the stale CSV, not the earlier run's mp4 (it would pass for this run's)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv.partial", "t.tracks.csv.partial"]


def test_a_failing_commit_leaves_nothing_under_a_final_name(
    videos: Path, cfg: AppConfig, comps: InferenceSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full disk when the frame CSV is closed: the mp4 and the tracks CSV were already renamed into
    # place; a run is committed whole or not at all (a fake, as a real full disk cannot be had here)
    from facelog.pipeline import sinks

    def full_disk(self: sinks.CsvSink) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sinks.CsvSink, "commit", full_disk)
    with pytest.raises(OSError, match="No space left"):
        process_video(videos / "head-pose-face-detection-female.mp4", tmp_path / "f.csv", cfg,
                      session=comps, annotate=tmp_path / "f.mp4")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_a_run_removes_every_output_of_an_earlier_run_first(
    videos: Path, cfg: AppConfig, comps: InferenceSession, tmp_path: Path
) -> None:
    out = tmp_path / "g.csv"
    for stale in ("g.csv.partial", "g.tracks.csv.partial"):  # an earlier truncated run's
        (tmp_path / stale).write_text("stale rows\n")
    process_video(videos / "head-pose-face-detection-female.mp4", out, cfg, session=comps)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv", "g.summary.json", "g.tracks.csv"]


@pytest.mark.parametrize("kind", ["missing", "empty", "not_video", "bad_codec"])
def test_bad_input_raises_and_leaves_nothing(
    bad_videos: dict[str, Path], cfg: AppConfig, comps: InferenceSession, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "x.csv"
    with pytest.raises(SourceError) as ei:
        process_video(bad_videos[kind], out, cfg, session=comps)
    assert "\n" not in str(ei.value) and str(bad_videos[kind]) in str(ei.value)
    assert list(tmp_path.iterdir()) == []


def test_two_detect_workers_same_rows(
    videos: Path, age_gender_model: Path, yunet_path: Path, tmp_path: Path
) -> None:
    clip = videos / "head-pose-face-detection-female-and-male.mp4"
    texts = []
    for n in (1, 2):
        out = tmp_path / f"w{n}.csv"
        # batch size 1: ONNX Runtime's numbers then do not depend on how frames were grouped
        over = {"batching.detect_workers": n, "batching.batch_size": 1}
        process_video(clip, out, _cfg(age_gender_model, yunet_path, **over))
        texts.append(out.read_text())
    assert texts[0] == texts[1]


def test_truncated_with_two_workers_keeps_every_row_before_the_break(
    bad_videos: dict[str, Path], age_gender_model: Path, yunet_path: Path, tmp_path: Path
) -> None:
    parts = []
    for n in (1, 2):
        out = tmp_path / f"t{n}.csv"
        cfg = _cfg(age_gender_model, yunet_path, **{"batching.detect_workers": n, "batching.batch_size": 1})
        with pytest.raises(SourceError) as ei:
            process_video(bad_videos["truncated"], out, cfg)
        parts.append(Path(ei.value.partial or "").read_text())
    assert parts[0] == parts[1] and parts[0].count("\n") > 20


SHIPPED = Path(__file__).resolve().parents[2] / "engines" / "models" / "facelog_age_gender.onnx"


@pytest.mark.parametrize(
    "clip, detector, expected",
    [
        ("head-pose-face-detection-female", "yunet", ["female"]),
        ("head-pose-face-detection-male", "yunet", ["male"]),
        # heads tilted ~35 degrees: BlazeFace's keypoints follow the tilt, YuNet's stay level (PIPELINE.md)
        ("head-pose-face-detection-female-and-male", "blazeface", ["female", "male"]),
    ],
)
def test_shipped_model_gets_genders_right(
    videos: Path, yunet_path: Path, tmp_path: Path, clip: str, detector: str, expected: list[str]
) -> None:
    """Crop framing + shipped model end to end: each person's fused gender (left to right), as the
    tracks CSV reports it and as the frame CSV's gender_smooth shows it."""
    if not SHIPPED.is_file():
        pytest.skip("the shipped model is not in this checkout")
    out = tmp_path / "g.csv"
    process_video(videos / f"{clip}.mp4", out, _cfg(SHIPPED, yunet_path, **{"detector.kind": detector}))
    df = pd.read_csv(out)
    persons = pd.read_csv(tracks_path(out)).set_index("track_id")
    assert set(persons.index) <= set(df.track_id)  # the tracks CSV's ids are the frame CSV's
    tracks = df.groupby("track_id").agg(n=("age", "size"), x=("x1", "mean"), g=("gender_smooth", "last"))
    main = tracks[tracks.n >= 0.8 * df.frame_index.nunique()].sort_values("x")
    assert list(persons.loc[main.index, "gender"]) == expected  # one fused answer per person
    assert (persons.loc[main.index, "frames"] == main.n).all()
    assert list(main.g) == expected
    for tid in main.index:
        rows = df[df.track_id == tid]
        # what users read: the track's running majority, right from (almost) the first frame
        assert (rows.gender_smooth == tracks.g[tid]).mean() >= 0.95
        # single frames may flicker: on the tilted-heads clip model 1.2.0 calls the woman male on
        # ~27% of frames (1.1.0 on none; MODEL_CARD.md), so only a clear majority is required here
        assert (rows.gender == tracks.g[tid]).mean() >= 0.6, "per-frame genders mostly agree with the track"
