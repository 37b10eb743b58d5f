"""Regions where the frame changed (``detect/motion.py``): faces that enter between key frames.

``FrameChange`` on drawn frames; ``RoiDetector`` with it on real faces from the clip shipped in the
package and the shipped YuNet. No ../shared, no timing assertions.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.config import DetectorConfig
from facelog.pipeline.detect import RoiDetector, make_detector
from facelog.pipeline.detect.motion import CHANGE_MAX_SHARE, FrameChange

SAMPLE = (
    Path(__file__).resolve().parents[2] / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLE))
    out = []
    while len(out) < 12:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    assert len(out) == 12, "sample clip too short"
    return out


def scene(square_at: int | None, w: int = 640, h: int = 360, noise: int = 0, seed: int = 0) -> np.ndarray:
    """A grey scene with a textured backdrop, and a 40-px bright square at x = ``square_at``."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 100, np.uint8)
    img[:, : w // 2] = 60
    if noise:
        img = np.clip(img.astype(np.int16) + rng.integers(-noise, noise + 1, img.shape), 0, 255).astype(
            np.uint8
        )
    if square_at is not None:
        img[150:190, square_at : square_at + 40] = 230
    return img


def test_first_frame_and_a_still_scene_have_no_change() -> None:
    ch = FrameChange()
    assert ch.observe(scene(100)) == 0.0
    assert len(ch.boxes([], (640, 360))) == 0
    assert ch.observe(scene(100)) == 0.0
    assert len(ch.boxes([], (640, 360))) == 0


def test_sensor_noise_is_not_motion() -> None:
    ch = FrameChange()
    ch.observe(scene(100, noise=12, seed=1))
    assert ch.observe(scene(100, noise=12, seed=2)) == 0.0  # +-12 grey levels per pixel, every pixel


def test_a_moving_square_gives_a_box_around_where_it_is_now() -> None:
    ch = FrameChange()
    ch.observe(scene(100))
    assert 0 < ch.observe(scene(300)) < CHANGE_MAX_SHARE
    boxes = ch.boxes([], (640, 360))
    now = [300, 150, 340, 190]
    assert any(b[0] <= now[0] and b[1] <= now[1] and b[2] >= now[2] and b[3] >= now[3] for b in boxes)
    assert all(0 <= b[0] < b[2] <= 640 and 0 <= b[1] < b[3] <= 360 for b in boxes)


def test_change_inside_covered_regions_is_left_out() -> None:
    ch = FrameChange()
    ch.observe(scene(100))
    ch.observe(scene(300))
    assert len(ch.boxes([(60, 100, 400, 250)], (640, 360))) == 0  # both places covered
    left = ch.boxes([(260, 100, 400, 250)], (640, 360))  # only where it was is left
    assert len(left) == 1 and left[0][0] < 100 and left[0][2] > 140


def test_a_light_change_reports_most_of_the_frame_and_a_new_size_none() -> None:
    ch = FrameChange()
    ch.observe(scene(None))
    assert ch.observe(np.clip(scene(None).astype(np.int16) + 60, 0, 255).astype(np.uint8)) > 0.9
    assert ch.observe(scene(None, w=320, h=180)) == 0.0  # another size: no frame before to compare


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="width_px"):
        FrameChange(width_px=4)


def roi(full_every: int, motion: bool | None = True, **kw: float) -> RoiDetector:
    kw.setdefault("small_frame_scale", 1.0)  # the 480x270 frames would be enlarged: all key frames
    det = make_detector(DetectorConfig(full_every=full_every, roi_min_megapixels=0, roi_motion=motion, **kw))
    assert isinstance(det, RoiDetector)
    return det


def without_faces(img: np.ndarray) -> np.ndarray:
    """The frame with each face (found by the whole-frame detector, grown by a third) painted over
    with the mean colour around it: the scene before the people stepped in."""
    out = img.copy()
    det = roi(10)
    for x1, y1, x2, y2 in det.full.detect(img).xyxy.astype(int).tolist():
        g = (x2 - x1) // 3
        x1, y1, x2, y2 = max(0, x1 - g), max(0, y1 - g), x2 + g, y2 + g
        ring = np.concatenate(
            [out[max(0, y1 - 4) : y1, x1:x2].reshape(-1, 3), out[y2 : y2 + 4, x1:x2].reshape(-1, 3)]
        )
        out[y1:y2, x1:x2] = ring.mean(axis=0).astype(np.uint8)
    return out


def on_wall(img: np.ndarray, w: int = 1280, h: int = 720) -> np.ndarray:
    """The 480x270 frame inside a still ``w`` x ``h`` one (a camera whose people are in one part)."""
    out = np.full((h, w, 3), 90, np.uint8)
    out[300:570, 400:880] = img
    return out


def test_faces_that_enter_between_key_frames_are_found_at_once(frames: list[np.ndarray]) -> None:
    empty = [on_wall(without_faces(frames[0])), on_wall(without_faces(frames[1]))]
    assert len(roi(10).full.detect(empty[0])) == 0
    seq = [*empty, *(on_wall(f) for f in frames[2:6])]  # faces appear at 2, a region frame
    det, plain = roi(10), roi(10, motion=False)
    with_change = [len(det.detect(img, i).accepted()) for i, img in enumerate(seq)]
    without = [len(plain.detect(img, i).accepted()) for i, img in enumerate(seq)]
    assert with_change == [0, 0, 3, 3, 3, 3]  # found where the frame changed, then around themselves
    assert without == [0, 0, 0, 0, 0, 0]  # they wait for the key frame (frame 10)
    assert det.frames_full == 1 and det.describe()["roi_change_regions"] >= 1
    assert det.describe()["input_pixel_fraction"] < 0.5  # regions, not whole frames in disguise


def test_nothing_is_invented_where_the_frame_changed(frames: list[np.ndarray]) -> None:
    det = roi(10)
    a, b = np.full_like(frames[0], 90), np.full_like(frames[0], 90)
    b[100:180, 200:280] = 200  # a bright patch appears: a change, no face
    assert [len(det.detect(img, i)) for i, img in enumerate([a, a, b, a])] == [0, 0, 0, 0]
    assert det.describe()["roi_change_regions"] >= 1


def test_a_face_found_only_where_the_frame_changed_needs_the_key_frame_score(
    frames: list[np.ndarray],
) -> None:
    # key frames need 0.99 (none of these faces reach it), regions 0.3: a face known from before is
    # logged in its region; a new one, found only where the frame changed, may only continue a track
    det = roi(10, score_threshold=0.99, roi_score_threshold=0.3, continue_threshold=0.3)
    det.detect(on_wall(without_faces(frames[0])), 0)
    got = det.detect(on_wall(frames[1]), 1)
    assert det.frames_full == 1 and len(got) == 3 and len(got.accepted()) == 0


def test_a_frame_that_changed_almost_everywhere_is_a_key_frame(frames: list[np.ndarray]) -> None:
    det = roi(10)
    det.detect(frames[0], 0)
    det.detect(frames[1], 1)
    assert det.frames_full == 1
    brighter = np.clip(frames[2].astype(np.int16) + 70, 0, 255).astype(np.uint8)  # lights on
    det.detect(brighter, 2)
    assert det.frames_full == 2


def test_unset_file_runs_use_frame_change_regions_below_1_5_megapixels(frames: list[np.ndarray]) -> None:
    # 1080p file frames keep regions around known faces only (a new face waits at most 3 frames there,
    # and the change regions would cost ~22% of the fps); 720p gets them
    for (w, h), found in (((1280, 720), 3), ((1920, 1080), 0)):
        det = roi(10, motion=None)
        seq = [on_wall(without_faces(frames[0]), w, h), on_wall(frames[1], w, h)]
        got = [len(det.detect(img, i).accepted()) for i, img in enumerate(seq)]
        assert got == [0, found], (w, h)
        assert det.frames_full == 1


def test_a_shaking_camera_changes_only_where_something_moved() -> None:
    """The whole textured view shifts by up to 10 px a frame: compared as they are, most of the frame
    changed (every frame would be a key frame); moved with the view (``ViewMotion``), only the square
    that walks across it, and the view's shift is reported in ``moved``."""
    rng = np.random.default_rng(5)  # a room of tiles and shelves: 25-px cells of random greys
    cells = rng.integers(20, 235, (16, 28, 1), np.uint8).repeat(3, axis=2)
    room = cv2.resize(cells, (700, 400), interpolation=cv2.INTER_NEAREST)
    room = cv2.GaussianBlur(room, (0, 0), 1.0)

    def shaken(k: int) -> np.ndarray:
        x, y = 30 + (10 if k % 2 else -10), 20 + (6 if k % 3 == 1 else 0)
        img = room[y : y + 360, x : x + 640].copy()
        img[150:190, 100 + 12 * k : 140 + 12 * k] = 250  # a face-sized square walking right
        return img

    ch = FrameChange()
    shares = [ch.observe(shaken(k)) for k in range(16)]
    assert ch.view.moving
    late = shares[12:]  # the view found moving (two checks of every 5th frame), every frame followed
    assert max(late) < 0.05, late
    assert np.abs(ch.moved).max() > 5
    boxes = ch.boxes([], (640, 360))
    assert len(boxes) >= 1 and any(b[0] <= 100 + 12 * 15 + 20 <= b[2] and b[1] <= 170 <= b[3] for b in boxes)
    first = FrameChange()  # the first shake, before the view is found moving: most of it changed
    first.observe(shaken(0))
    assert first.observe(shaken(1)) > CHANGE_MAX_SHARE
