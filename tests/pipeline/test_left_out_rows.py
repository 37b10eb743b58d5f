"""The frame rows of tracks that are not persons (static: a printed face, a pattern; too little
evidence) leave the frame log of a file run for ``OUT.left_out.csv``; the rows of people stay. Real
faces from the clip shipped in the package, the shipped models, real ``process_video``; no ../shared."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from facelog.pipeline.config import load_config
from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.outputs import RunOutputs
from facelog.pipeline.file.process import process_video
from facelog.pipeline.file.summary import RunSummary
from facelog.pipeline.report.answer import people_lines
from facelog.pipeline.report.find import discover
from facelog.pipeline.sinks import HEADER, AtomicCsv, CsvSink, left_out_path, tracks_path
from facelog.pipeline.types import Frame, FrameResult, PersonResult, Prediction

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
YUNET = REPO / "pipeline" / "models" / "face_detection_yunet_2023mar.onnx"
W, H, FPS, SECONDS = 480, 270, 10, 12  # longer than tracking.static_after_s (10 s)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _frames(sink: CsvSink, ids: tuple[int, ...] = (1, 2, 3, -1), n: int = 6) -> None:
    for k in range(n):
        preds = tuple(
            Prediction(i, (10.0 * i, 0.0, 10.0 * i + 8, 8.0), 0.9, 30.0 + k, "male", 0.8, tid, 30.0, "male")
            for i, tid in enumerate(ids)
        )
        sink.write(FrameResult("a.mp4", k, k * 100_000_000, preds))


def test_split_off_moves_the_rows_of_other_tracks_and_keeps_the_order(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path / "o.csv", "m@1")
    _frames(sink)
    side = AtomicCsv(left_out_path(sink.path), HEADER)
    assert sink.split_off(lambda t: t != 1, side) == {2: 6, 3: 6}
    assert (sink.rows, side.rows) == (12, 12)
    sink.commit(), side.commit()
    kept, moved = _rows(tmp_path / "o.csv"), _rows(tmp_path / "o.left_out.csv")
    assert [r["track_id"] for r in kept] == ["1", "-1"] * 6  # untracked rows stay
    assert [r["track_id"] for r in moved] == ["2", "3"] * 6
    assert [r["frame_index"] for r in moved] == [str(k // 2) for k in range(12)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.left_out.csv"]


def _person(tid: int, status: str) -> PersonResult:
    return PersonResult(
        "a.mp4", tid, 0, 5, 0, 500_000_000, 6, 30.0, 25.0, 35.0, "male", 0.8, 40.0, status=status
    )


def test_run_outputs_leave_out_static_and_unreported_tracks(tmp_path: Path, poster_run: RunSummary) -> None:
    out = tmp_path / "r.csv"
    outputs = RunOutputs(out, "m@1", 2, tracks=True, min_evidence_frames=3)
    _frames(outputs.sink)
    outputs.write_persons((_person(1, "person"), _person(2, "static")))  # 3: too little evidence
    s = outputs.commit(poster_run)
    assert s.left_out_rows == {"static": 6, "no_face": 0, "low_evidence": 6} and s.rows == 12
    assert s.left_out_csv == str(tmp_path / "r.left_out.csv")
    assert {r["track_id"] for r in _rows(out)} == {"1", "-1"}
    # every track id left in the frame CSV is a person of the tracks CSV
    assert {r["track_id"] for r in _rows(tracks_path(out)) if r["status"] == "person"} == {"1"}

    nothing = RunOutputs(tmp_path / "n.csv", "m@1", 2, tracks=True)
    _frames(nothing.sink, ids=(1,))
    nothing.write_persons((_person(1, "person"),))
    s = nothing.commit(poster_run)
    assert s.left_out_csv is None and not (tmp_path / "n.left_out.csv").exists()

    # a still image (one frame: no track can have 3 detections): only static rows would move
    image = RunOutputs(tmp_path / "i.csv", "m@1", 2, tracks=True, min_evidence_frames=3)
    _frames(image.sink, n=1)
    image.write_persons((_person(2, "static"),))
    s = image.commit(replace(poster_run, frames_processed=1))
    assert s.left_out_rows == {"static": 1, "no_face": 0, "low_evidence": 0}
    assert [r["track_id"] for r in _rows(tmp_path / "i.csv")] == ["1", "3", "-1"]


def test_the_rows_of_a_joined_piece_carry_the_persons_id(tmp_path: Path, poster_run: RunSummary) -> None:
    """Tracks 1 (frames 0-2) and 2 (frames 3-5) are one person, reported as 2 with piece 1
    (``tracking/join.py``); track 3 is another. In the frame CSV track 1's rows read 2, whether rows
    are left out or not (nothing is left out for it), and in the rows a truncated input keeps."""

    def outputs_of(out: Path, separate: bool = True) -> RunOutputs:
        outputs = RunOutputs(out, "m@1", 2, tracks=True, separate_left_out=separate)
        for k in range(6):
            preds = tuple(
                Prediction(i, (10.0 * i, 0.0, 10.0 * i + 8, 8.0), 0.9, 30.0, "male", 0.8, tid, 30.0, "male")
                for i, tid in enumerate((1 if k < 3 else 2, 3))
            )
            outputs.sink.write(FrameResult("a.mp4", k, k * 100_000_000, preds))
        outputs.write_persons((replace(_person(2, "person"), pieces=(1,)), _person(3, "person")))
        return outputs

    for separate in (True, False):
        out = tmp_path / f"r{separate}.csv"
        s = outputs_of(out, separate).commit(poster_run)
        assert [r["track_id"] for r in _rows(out)] == ["2", "3"] * 6
        assert s.rows == 12 and not any((s.left_out_rows or {}).values()) and not left_out_path(out).exists()
        assert [r["track_id"] for r in _rows(tracks_path(out))] == ["2", "3"]
    error = outputs_of(tmp_path / "t.csv").abort_truncated(SourceError("cut short", path="a.mp4"), 5)
    assert error.partial is not None and [r["track_id"] for r in _rows(Path(error.partial))] == ["2", "3"] * 6


def test_an_input_shorter_than_min_evidence_s_keeps_its_rows(tmp_path: Path, poster_run: RunSummary) -> None:
    """Four processed frames 0.1 s apart (0.3 s from first to last) cannot give a track the 0.4 s of
    faces a person needs here, so only static rows move; a longer input (0.5 s) moves the others too,
    and so do four frames without timestamps (every pts 0: the span is unknown, not short)."""

    def commit(name: str, frames: int, step_ns: int = 100_000_000) -> RunSummary:
        outputs = RunOutputs(
            tmp_path / name, "m@1", 2, tracks=True, min_evidence_frames=3, min_evidence_s=0.4
        )
        for k in range(frames):
            preds = tuple(
                Prediction(i, (10.0 * i, 0.0, 10.0 * i + 8, 8.0), 0.9, 30.0, "male", 0.8, tid, 30.0, "male")
                for i, tid in enumerate((1, 2))
            )
            image = np.zeros((8, 8, 3), np.uint8)
            outputs.write(Frame("a.mp4", k, k * step_ns, image), FrameResult("a.mp4", k, k * step_ns, preds))
        outputs.write_persons((_person(2, "static"),))  # 1: no person (too short)
        return outputs.commit(replace(poster_run, frames_processed=frames))

    assert commit("short.csv", 4).left_out_rows == {"static": 4, "no_face": 0, "low_evidence": 0}
    assert commit("long.csv", 6).left_out_rows == {"static": 6, "no_face": 0, "low_evidence": 6}
    assert commit("untimed.csv", 4, step_ns=0).left_out_rows == {"static": 4, "no_face": 0, "low_evidence": 4}


def test_no_face_rows_are_left_out_and_counted_apart(tmp_path: Path, poster_run: RunSummary) -> None:
    """A ``no_face`` track (a head never seen from the front, detect/frontal.py) is not a person: its rows
    move with the static ones, counted apart, and the answer line names both."""
    out = tmp_path / "r.csv"
    outputs = RunOutputs(out, "m@1", 2, tracks=True, min_evidence_frames=3)
    _frames(outputs.sink, ids=(1, 2, 3, 4, -1))
    outputs.write_persons((_person(1, "person"), _person(2, "static"), _person(3, "no_face")))  # 4: no row
    s = outputs.commit(poster_run)
    assert s.persons == 1 and s.rows == 12
    assert s.left_out_rows == {"static": 6, "no_face": 6, "low_evidence": 6}
    assert {r["track_id"] for r in _rows(out)} == {"1", "-1"}
    assert [r["status"] for r in _rows(tracks_path(out))] == ["person", "static", "no_face"]
    head = people_lines(tracks_path(out), "a.mp4")[0]
    assert head == "1 person in a.mp4 (1 static, 1 no_face tracks left out):"

    heads = RunOutputs(tmp_path / "h.csv", "m@1", 2, tracks=True, min_evidence_frames=3)
    _frames(heads.sink, ids=(3,))
    heads.write_persons((_person(3, "no_face"),))
    s = heads.commit(poster_run)
    assert (
        s.persons == 0 and s.rows == 0 and s.left_out_rows == {"static": 0, "no_face": 6, "low_evidence": 0}
    )
    assert people_lines(tracks_path(tmp_path / "h.csv"), "a.mp4") == [
        "0 people in a.mp4 (1 no_face track left out)"
    ]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of a still scene: one real face pasted still (a poster) and one walking slowly across."""
    cap = cv2.VideoCapture(str(SAMPLE))
    ok, img = cap.read()
    cap.release()
    assert ok, f"cannot read {SAMPLE}"
    det = cv2.FaceDetectorYN.create(str(YUNET), "", (img.shape[1], img.shape[0]), 0.6)
    _, faces = det.detect(img)
    assert faces is not None and len(faces) >= 1, "no face in the sample's first frame"
    x, y, w, h = (int(v) for v in faces[0][:4])
    pad = w // 2
    face = img[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
    face = cv2.resize(face, (90, 90 * face.shape[0] // face.shape[1]))
    fh, fw = face.shape[:2]
    rng = np.random.default_rng(0)
    backdrop = cv2.resize(rng.integers(60, 140, (27, 48, 3), dtype=np.uint8), (W, H))
    path = tmp_path_factory.mktemp("static") / "poster.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (W, H))
    if not out.isOpened():
        pytest.skip("OpenCV cannot write mp4v here")
    for k in range(FPS * SECONDS):
        frame = backdrop.copy()
        frame[20 : 20 + fh, 20 : 20 + fw] = face  # the poster
        x0 = 130 + 2 * k  # the walker: 20 px a second
        frame[140 : 140 + fh, x0 : x0 + fw] = face
        out.write(frame)
    out.release()
    return path


def _run(video: Path, out: Path, **over: object) -> tuple:
    cfg = load_config(None, {"detector.kind": "yunet", **over})
    return process_video(video, out, cfg), _rows(tracks_path(out))


@pytest.fixture(scope="module")
def poster_run(video: Path, tmp_path_factory: pytest.TempPathFactory) -> RunSummary:
    return _run(video, tmp_path_factory.mktemp("poster") / "run.csv")[0]


def test_a_poster_s_rows_are_left_out_and_a_walker_s_stay(video: Path, poster_run: RunSummary) -> None:
    out = Path(poster_run.output)
    tmp_path = out.parent
    summary, tracks = poster_run, _rows(tracks_path(out))
    status = {r["track_id"]: r["status"] for r in tracks}
    assert sorted(status.values()) == ["person", "static"], status
    (poster,) = (t for t, s in status.items() if s == "static")
    rows, moved = _rows(out), _rows(tmp_path / "run.left_out.csv")
    assert moved and {r["track_id"] for r in moved} == {poster}
    assert rows and poster not in {r["track_id"] for r in rows}
    assert summary.left_out_rows == {"static": len(moved), "no_face": 0, "low_evidence": 0}
    assert summary.rows == len(rows)
    assert summary.left_out_csv == str(out.with_name("run.left_out.csv"))
    assert summary.faces == len(rows) + len(moved)
    # the report reads the run and says nothing about the left-out CSV
    skipped: Counter[str] = Counter()
    assert len(discover([tmp_path], ZoneInfo("UTC"), skipped)) == 1 and not skipped


def test_keep_at_the_same_path_removes_the_earlier_side_file_and_holds_every_row(
    video: Path, poster_run: RunSummary, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    first, _ = _run(video, out)
    assert (tmp_path / "run.left_out.csv").exists()
    both = sorted(_rows(out) + _rows(tmp_path / "run.left_out.csv"), key=lambda r: int(r["frame_index"]))
    summary_keep, _ = _run(video, out, **{"output.left_out_rows": "keep"})
    assert summary_keep.left_out_rows is None and summary_keep.left_out_csv is None
    assert not (tmp_path / "run.left_out.csv").exists()  # an earlier run's side file never stays
    kept = _rows(out)
    key = ("frame_index", "face_index", "track_id", "x1", "age")
    assert [tuple(r[k] for k in key) for r in kept] == [tuple(r[k] for k in key) for r in sorted(
        both, key=lambda r: (int(r["frame_index"]), int(r["face_index"])))]  # fmt: skip
    assert summary_keep.faces == first.faces == len(kept)

    off = load_config(None, {"detector.kind": "yunet", "tracking.enabled": False})
    tracking_off = process_video(video, tmp_path / "off.csv", off)
    assert tracking_off.left_out_rows is None and not (tmp_path / "off.left_out.csv").exists()
    assert tracking_off.rows == tracking_off.faces  # without tracks nothing is left out


def test_a_failing_split_leaves_no_file_behind(
    tmp_path: Path, poster_run: RunSummary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full disk while the rows are split (a fake: a real full disk cannot be had here)
    outputs = RunOutputs(tmp_path / "r.csv", "m@1", 2, tracks=True, min_evidence_frames=3)
    _frames(outputs.sink)
    outputs.write_persons((_person(1, "person"),))

    def full_disk(self: AtomicCsv, cells: list[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AtomicCsv, "write_cells", full_disk)
    with pytest.raises(OSError, match="No space left"):
        outputs.commit(poster_run)
    assert list(tmp_path.iterdir()) == []


def test_the_split_s_temporary_name_is_one_a_batch_run_removes(tmp_path: Path) -> None:
    from facelog.engines.fileio import temp_path
    from facelog.pipeline.archive.discovery import STALE_TEMP

    out = tmp_path / "a.mp4.csv"
    kept = temp_path(out.with_name(f"{out.stem}.kept{out.suffix}"))  # as CsvSink.split_off names it
    assert STALE_TEMP.search(kept.name) and STALE_TEMP.search(temp_path(left_out_path(out)).name)
