"""Notebook API: a DataFrame with the CSV columns, overrides by keyword, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelog.pipeline.api import TruncatedVideoError, analyze_video
from facelog.pipeline.errors import ConfigError, SourceError
from facelog.pipeline.sinks import HEADER, TRACKS_HEADER


def test_dataframe_rows(videos: Path, age_gender_model: Path) -> None:
    df = analyze_video(
        videos / "head-pose-face-detection-male.mp4", model=age_gender_model, detector="blazeface", stride=4
    )
    assert tuple(df.columns) == HEADER
    assert len(df) == 16 and set(df.frame_index) == set(range(0, 62, 4))
    assert df.age.between(0, 100).all() and df.track_id.nunique() == 1
    assert df.attrs["summary"]["detector"] == "blazeface"
    persons = df.attrs["persons"]
    assert tuple(persons.columns) == TRACKS_HEADER and len(persons) == 1
    assert persons.track_id.tolist() == df.track_id.unique().tolist() and persons.frames[0] == 16


def test_no_faces_gives_empty_frame_with_columns(videos: Path, age_gender_model: Path) -> None:
    df = analyze_video(videos / "people-detection.mp4", model=age_gender_model, detector="blazeface")
    assert len(df) == 0 and tuple(df.columns) == HEADER
    assert df.attrs["summary"]["frames_processed"] == 23


def test_bad_override(videos: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean"):
        analyze_video(videos / "people-detection.mp4", tracking={"max_lost_frame": 5})


def test_missing_file(tmp_path: Path, age_gender_model: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        analyze_video(tmp_path / "nope.mp4", model=age_gender_model)


def test_truncated_video_hands_over_its_rows_and_persons(
    bad_videos: dict[str, Path], age_gender_model: Path
) -> None:
    # the .partial files of a truncated run live in the API's temporary folder: their rows must reach
    # the caller before it is deleted (they were lost with it)
    with pytest.raises(TruncatedVideoError, match=r"truncated video.*rows before the break") as ei:
        analyze_video(bad_videos["truncated"], model=age_gender_model)
    err = ei.value
    assert isinstance(err, SourceError) and err.partial is None and "\n" not in str(err)
    assert tuple(err.rows.columns) == HEADER and tuple(err.persons.columns) == TRACKS_HEADER
    assert 20 <= len(err.rows) < 62 and err.rows.frame_index.tolist() == list(range(len(err.rows)))
    assert set(err.persons.track_id) == set(err.rows.track_id)


def test_still_image_is_a_one_frame_video_without_false_faces(stills: Path, age_gender_model: Path) -> None:
    df = analyze_video(stills / "dlib_examples" / "dogs.jpg", model=age_gender_model, detector="blazeface")
    assert len(df) == 0 and df.attrs["summary"]["frames_processed"] == 1


def test_still_image_with_faces(stills: Path, age_gender_model: Path) -> None:
    df = analyze_video(stills / "insightface" / "t1.jpg", model=age_gender_model, detector="blazeface")
    assert len(df) == 6 and list(df.face_index) == list(range(6)) and df.track_id.nunique() == 6


def test_persons_without_shared(synthetic_video: Path, tiny_model: Path) -> None:
    """No face in the clip: no person, but a DataFrame with the tracks columns; tracking off: the same."""
    for tracking in ({"enabled": True}, {"enabled": False}):
        df = analyze_video(synthetic_video, model=tiny_model, detector="blazeface", tracking=tracking)
        persons = df.attrs["persons"]
        assert len(persons) == 0 and tuple(persons.columns) == TRACKS_HEADER
