"""A camera that shakes: its view's shift is measured (``detect.motion.ViewMotion``), predictions move
with it (``Tracker.update(camera_shift_px=...)``) and a printed face that shakes with the picture is
still ``static`` (``persons``); a fixed camera is left exactly as it was."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.detect.motion import CHECK_EVERY, MOVED_CHECKS, STILL_FRAMES, ViewMotion
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.persons import FaceOutputs, PersonTracks
from facelog.pipeline.tracking.track import TrackerParams
from facelog.pipeline.tracking.tracker import Tracker
from facelog.pipeline.types import Faces, Frame, Prediction

H, W, MARGIN = 360, 640, 16
STEP_NS = 1_000_000_000 // 25


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A textured room, larger than the view by MARGIN on every side."""
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (H + 2 * MARGIN, W + 2 * MARGIN, 3), np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def _sway(k: int) -> tuple[int, int]:
    """Where the view starts in the scene at frame k (a pole in the wind: up to 10 px)."""
    return (
        MARGIN + round(10 * math.sin(2 * math.pi * 1.3 * k / 25)),
        MARGIN + round(7 * math.sin(2 * math.pi * 0.9 * k / 25 + 1.0)),
    )


def _view(scene: np.ndarray, at: tuple[int, int], face: np.ndarray | None = None) -> np.ndarray:
    x, y = at
    img = scene[y : y + H, x : x + W].copy()
    if face is not None:  # a flat face-sized patch drawn in the view (a walker or a poster)
        x1, y1, x2, y2 = face.astype(int)
        img[y1:y2, x1:x2] = (90, 140, 200)
    return img


def test_a_fixed_camera_is_measured_now_and_then_and_left_at_zero(scene: np.ndarray) -> None:
    vm = ViewMotion()
    for k in range(60):  # a walker crosses the fixed view
        face = np.array([40 + 6 * k, 100, 80 + 6 * k, 148], np.float64)
        shift = vm.observe(_view(scene, (MARGIN, MARGIN), face), face[None])
        assert shift.tolist() == [0.0, 0.0]
    assert not vm.moving and vm.measured == 60 // CHECK_EVERY


def test_a_shaking_view_is_followed_to_a_fraction_of_a_pixel(scene: np.ndarray) -> None:
    vm = ViewMotion()
    got, true = [], []
    for k in range(100):
        got.append(vm.observe(_view(scene, _sway(k)), np.zeros((0, 4))))
        true.append(np.array(_sway(k), np.float64))
    assert vm.moving and vm.measured > 80
    start = next(k for k, g in enumerate(got) if g.any())
    assert start <= MOVED_CHECKS * CHECK_EVERY + 1  # found at the second check, followed from the next
    error = np.array(got[start:]) - np.array(true[start:])
    error -= np.median(error, axis=0)  # the shift counts from where the fixed camera was taken to be
    assert np.abs(error).max() < 0.5
    assert np.abs(got[start]).max() <= 8  # one frame's step (up to ~6 px), not the sway since the reference


def test_a_view_that_stops_shaking_is_fixed_again_where_it_stopped(scene: np.ndarray) -> None:
    """A bus filling the view, or a gust: the view shakes for 40 frames, then stays put; after
    STILL_FRAMES frames the camera is fixed again, its shift kept (no jump), measured every 5th frame."""
    vm = ViewMotion()
    for k in range(40):
        vm.observe(_view(scene, _sway(k)), np.zeros((0, 4)))
    assert vm.moving
    last = _sway(39)
    shifts = [vm.observe(_view(scene, last), np.zeros((0, 4))) for _ in range(STILL_FRAMES + 10)]
    assert not vm.moving
    assert np.abs(np.array(shifts) - shifts[0]).max() < 0.5  # it stayed where it stopped
    measured = vm.measured
    for _ in range(10):
        vm.observe(_view(scene, last), np.zeros((0, 4)))
    assert vm.measured - measured == 10 // CHECK_EVERY


def test_the_tracker_moves_its_predictions_with_the_view() -> None:
    """A still face; the view jumps 80 px between two frames: one track with the camera's shift, a new
    one without (the prediction stays where the face was in the frame)."""

    def ids(with_shift: bool) -> set[int]:
        t, out = Tracker(TrackerParams()), set()
        for k in range(10):
            dx = 80.0 if k >= 5 else 0.0
            box = np.array([[200 - dx, 100, 232 - dx, 140]], np.float32)
            shift = np.array([80.0, 0.0]) if with_shift and k == 5 else None
            out |= set(
                t.update(k, box, np.array([0.9], np.float32), camera_shift_px=shift).track_ids.tolist()
            )
        return out

    assert ids(True) == {0}
    assert len(ids(False)) == 2


def _printed_face(scene: np.ndarray, camera_motion: bool, shaking: bool) -> str:
    """A face printed on the wall (fixed in the scene), seen for 12 s; its tracks CSV status."""
    tracks = PersonTracks(
        "cam",
        TrackingConfig(  # a drawn face: no face to the frontal check (test_frontal.py)
            use_identity=False,
            use_body=False,
            gender_faces=0,
            camera_motion=camera_motion,
            frontal_check=False,
        ),
        FusionParams(),
    )
    persons = []
    for k in range(300):
        at = _sway(k) if shaking else (MARGIN, MARGIN)
        face = np.array([300 - at[0], 150 - at[1], 348 - at[0], 206 - at[1]], np.float32)
        faces = Faces(face[None], np.array([0.9], np.float32))
        age = np.zeros((1, 101), np.float32)
        age[0, 30] = 1.0
        pred = Prediction(0, tuple(float(v) for v in face), 0.9, 30.0, "male", 0.8)
        frame = Frame("cam", k, k * STEP_NS, _view(scene, at))
        persons += tracks.update(frame, faces, FaceOutputs(age, np.array([0.2], np.float32)), (pred,))[1]
    persons += tracks.finish()
    assert len(persons) == 1
    return persons[0].status


def test_a_printed_face_on_a_shaking_camera_is_still_static(scene: np.ndarray) -> None:
    assert _printed_face(scene, camera_motion=True, shaking=True) == "static"
    assert _printed_face(scene, camera_motion=True, shaking=False) == "static"
    assert _printed_face(scene, camera_motion=False, shaking=True) == "person"  # what it was before
