"""A photo given to ``facelog run``: its faces are logged, no person is counted (a person needs
confident detections over ``tracking.min_evidence_s``), and the run says why in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2

from facelog.cli.sample import sample_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_runs import facelog_run  # facelog run in a subprocess


def test_a_photo_logs_its_faces_and_says_why_no_person_is_counted(tmp_path: Path) -> None:
    cap = cv2.VideoCapture(str(sample_path()))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 20)  # a frame of the sample with faces in it
    ok, frame = cap.read()
    cap.release()
    assert ok
    photo = tmp_path / "photo.jpg"
    assert cv2.imwrite(str(photo), frame)
    stderr, rows, tracks = facelog_run(photo, tmp_path / "photo.csv")
    assert rows and not tracks
    assert "photo.jpg: too short to count people (1 frame, " in stderr
    assert f"the {len(rows)} faces are rows in {tmp_path / 'photo.csv'}" in stderr
