"""The CCTV clip generator: validation faces only, a decodable H.264 clip, GT that matches it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_common import GT_COLUMNS
from cctv_synth import PRESETS, SynthError, make_clip, validation_faces


@pytest.fixture(scope="module")
def utkface(shared: Path) -> Path:
    if not (shared / "data" / "utkface").is_dir():
        pytest.skip(f"UTKFace not found under {shared}")
    return shared


def test_validation_faces_are_the_model_card_split(utkface: Path) -> None:
    faces = validation_faces(utkface)
    assert len(faces) == 2071  # engines/models/MODEL_CARD.md
    assert set(faces["gender"]) == {"male", "female"}


def test_tiny_clip_matches_its_ground_truth(utkface: Path, tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    mp4, gt_path = make_clip(tmp_path / "a", "tiny", seed=3, shared=utkface)
    gt = pd.read_csv(gt_path)
    assert tuple(gt.columns) == GT_COLUMNS
    cap = cv2.VideoCapture(str(mp4))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (PRESETS["tiny"].height, PRESETS["tiny"].width, 3)
    assert n == PRESETS["tiny"].frames
    assert gt["frame_index"].between(0, n - 1).all()
    assert (gt["x2"] > gt["x1"]).all() and (gt["x2"] <= PRESETS["tiny"].width).all()
    assert gt.groupby(["frame_index", "person_id"]).size().max() == 1
    _, gt_again = make_clip(tmp_path / "b", "tiny", seed=3, shared=utkface)
    assert gt_again.read_text() == gt_path.read_text()


def test_unknown_preset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="unknown preset 'nope'"):
        make_clip(tmp_path, "nope")


def test_counter_people_step_up_into_the_same_spots_and_the_queue_stays(utkface: Path) -> None:
    from cctv_people import SAME_COAT_BGR, plan_people

    faces = validation_faces(utkface)
    counter = plan_people(PRESETS["counter720"], faces, 0)
    assert len(counter) >= 8
    follow = [p for p in counter if p.replaces is not None]
    assert len(follow) >= len(counter) - 2  # all but the first at each spot step into a vacated spot
    for p in follow:
        q = counter[p.replaces]
        assert 0 <= p.first_frame - (q.first_frame + len(q.path)) <= 3
    assert all(abs(p.clothes[0] - SAME_COAT_BGR[0]) < 15 for p in counter)  # one coat for all
    queue = plan_people(PRESETS["queue720"], faces, 0)
    frames = PRESETS["queue720"].frames
    assert len(queue) == 6 and all(p.first_frame == 0 and len(p.path) == frames for p in queue)
    sway = [float(p.path[:, 0].max() - p.path[:, 0].min()) / float(p.path[0, 2]) for p in queue]
    assert min(sway) > 0.05  # they sway: people, not posters
