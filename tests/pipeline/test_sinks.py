"""CSV sink: header from the row fields, values, atomic commit/abort."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from facelog.pipeline.sinks import HEADER, SCHEMA_VERSION, CsvSink, result_rows
from facelog.pipeline.types import FrameResult, Prediction

EXPECTED_HEADER = (
    "source,frame_index,pts_ms,face_index,track_id,x1,y1,x2,y2,det_score,age,gender,gender_score,"
    "age_smooth,gender_smooth,model,schema_version"
)


@pytest.fixture
def two_faces() -> FrameResult:
    preds = (
        Prediction(0, (10.123, 20.0, 60.5, 80.0), 0.98765, 31.456, "female", 0.91234, 3, 30.5, "female"),
        Prediction(1, (100.0, 20.0, 150.0, 80.0), 0.8, 52.0, "male", 0.6),  # untracked
    )
    return FrameResult("cam/a.mp4", 7, 280_000_000, preds)


def test_header_is_documented_schema() -> None:
    assert ",".join(HEADER) == EXPECTED_HEADER


def test_rows_values(tmp_path: Path, two_faces: FrameResult) -> None:
    out = tmp_path / "out.csv"
    with CsvSink(out, "m@1") as sink:
        assert sink.write(two_faces) == 2
        assert sink.write(FrameResult("cam/a.mp4", 8, 320_000_000, ())) == 0
    lines = out.read_text().splitlines()
    assert lines == [
        EXPECTED_HEADER,
        f"cam/a.mp4,7,280.0,0,3,10.12,20.0,60.5,80.0,0.9877,31.46,female,0.9123,30.5,female,m@1,{SCHEMA_VERSION}",
        f"cam/a.mp4,7,280.0,1,-1,100.0,20.0,150.0,80.0,0.8,52.0,male,0.6,,,m@1,{SCHEMA_VERSION}",
    ]


def test_nothing_at_final_name_until_commit(tmp_path: Path, two_faces: FrameResult) -> None:
    out = tmp_path / "sub" / "out.csv"
    sink = CsvSink(out, "m@1")
    sink.write(two_faces)
    assert not out.exists()
    sink.commit()
    assert out.exists() and [p.name for p in out.parent.iterdir()] == ["out.csv"]


def test_exception_leaves_nothing(tmp_path: Path, two_faces: FrameResult) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), CsvSink(out, "m@1") as sink:
        sink.write(two_faces)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_abort_can_keep_partial(tmp_path: Path, two_faces: FrameResult) -> None:
    out = tmp_path / "out.csv"
    sink = CsvSink(out, "m@1")
    sink.write(two_faces)
    partial = sink.abort(keep_partial=True)
    assert partial == tmp_path / "out.csv.partial" and not out.exists()
    assert len(list(csv.reader(partial.open()))) == 3


def test_result_rows_empty_frame() -> None:
    assert result_rows(FrameResult("s", 0, 0, ()), "m") == []


def test_unwritable_output_names_the_users_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"^cannot write .*a_file/out\.csv: ") as err:
        CsvSink(blocker / "out.csv", "m@1")
    assert ".tmp-" not in str(err.value)
