"""Records of pipeline/types.py validate what they are given, and a file run works without ../shared."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.types import Faces, Frame


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((4, 6, 3), np.uint8), None),
        (np.zeros((4, 6), np.uint8), r"image must be \(H, W, 3\) uint8, got \(4, 6\)"),
        (np.zeros((4, 6, 4), np.uint8), r"got \(4, 6, 4\)"),
        (np.zeros((4, 6, 3), np.float32), r"got \(4, 6, 3\) float32"),
    ],
    ids=["ok", "grey", "rgba", "float"],
)
def test_frame_validates_its_image(image: np.ndarray, match: str | None) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        Frame("cam", 0, 0, image)


@pytest.mark.parametrize(
    "xyxy, score, landmarks, match",
    [
        (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), None, None),
        (np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros((2, 5, 2), np.float32), None),
        (np.zeros((3,), np.float32), np.zeros(3, np.float32), None, r"xyxy must be \(n, 4\), got \(3,\)"),
        (np.zeros((2, 4), np.float32), np.zeros(3, np.float32), None, r"score must be \(2,\), got \(3,\)"),
        (np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros((2, 5)), r"landmarks must be"),
    ],
    ids=["empty-ok", "two-ok", "wrong-rank", "score-length", "landmarks-shape"],
)
def test_faces_validates_shapes(
    xyxy: np.ndarray, score: np.ndarray, landmarks: np.ndarray | None, match: str | None
) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        faces = Faces(xyxy, score, landmarks)
        assert len(faces) == len(xyxy)


def test_faces_track_only_is_checked_and_accepted_drops_those_boxes() -> None:
    xyxy, score = np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0.9, 0.4, 0.8], np.float32)
    with pytest.raises(ValueError, match=r"track_only must be \(3,\) bool"):
        Faces(xyxy, score, track_only=np.array([1, 0, 0]))
    faces = Faces(xyxy, score, np.zeros((3, 5, 2), np.float32), np.array([False, True, False]))
    kept = faces.accepted()
    assert kept.score.tolist() == pytest.approx([0.9, 0.8]) and kept.xyxy[1].tolist() == [8, 9, 10, 11]
    assert kept.landmarks is not None and kept.landmarks.shape == (2, 5, 2) and kept.track_only is None
    assert Faces(xyxy, score).accepted().score is score


def test_faces_empty_is_legal() -> None:
    assert len(Faces.empty()) == 0 and Faces.empty().xyxy.shape == (0, 4)


def test_file_run_on_a_synthetic_video_without_shared(
    synthetic_video: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """The whole file path (session, threads, outputs, summary) on a clip made here: no face, 10 frames."""
    from facelog.pipeline.config import load_config
    from facelog.pipeline.file.outputs import summary_path
    from facelog.pipeline.file.process import process_video
    from facelog.pipeline.sinks import HEADER, TRACKS_HEADER

    over = {"model.path": str(tiny_model), "detector.kind": "blazeface", "sampling.stride": 3}
    cfg = load_config(None, over)
    out = tmp_path / "o.csv"
    s = process_video(synthetic_video, out, cfg)
    assert out.read_text().splitlines() == [",".join(HEADER)]  # seen, no face: header only
    doc = json.loads(summary_path(out).read_text())
    assert (doc["frames_read"], doc["frames_processed"], doc["faces"]) == (10, 4, 0)
    assert doc["processed_frames"] == [[0, 10, 3]] and doc["detector"] == "blazeface"
    assert doc["backend"] == s.backend == "onnxruntime" and doc["model"] == "tiny-test-model@0.0.1"
    assert out.with_name("o.tracks.csv").read_text().splitlines() == [",".join(TRACKS_HEADER)]
    assert (doc["persons"], doc["tracks"]) == (0, str(out.with_name("o.tracks.csv")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.summary.json", "o.tracks.csv"]


def test_faces_select_keeps_the_masked_rows_in_order_with_their_marks() -> None:
    xyxy, score = np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0.9, 0.4, 0.8], np.float32)
    lm = np.arange(30, dtype=np.float32).reshape(3, 5, 2)
    faces = Faces(xyxy, score, lm, np.array([False, True, False]))
    sub = faces.select(np.array([False, True, True]))
    assert sub.score.tolist() == pytest.approx([0.4, 0.8]) and sub.landmarks is not None
    assert sub.landmarks[0, 0].tolist() == [10, 11] and sub.track_only is not None
    assert sub.track_only.tolist() == [True, False]
    assert faces.select(np.ones(3, bool)) is faces and len(faces.select(np.zeros(3, bool))) == 0
    with pytest.raises(ValueError, match=r"keep must be \(3,\) bool"):
        faces.select(np.ones(2, bool))
