"""``cctv_bench --camera``: a clip and its GT as another camera records them; ``cctv_stitch``: two clips
joined at a hard cut (no ../shared)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_bench import (
    CAMERAS,
    FREEZE,
    PILLAR_X,
    SHAKE_MARGIN,
    SHAKE_PX,
    SHAKE_VIEW,
    BenchError,
    Camera,
    camera_clip,
    shake_offset,
)
from cctv_common import temp_beside
from cctv_stitch import PERSON_OFFSET
from cctv_stitch import main as stitch_main

from facelog.pipeline.file.reader import VideoSource


def _square_clip(folder: Path, name: str, xs: list[int]) -> tuple[Path, Path]:
    """A red square at ``xs[k]`` in frame k (25 fps, 320x96) and its GT (person 0), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = b""
    for x in xs:
        img = np.full((96, 320, 3), 60, np.uint8)
        img[30:62, x : x + 32] = (40, 40, 220)
        raw += img.tobytes()
    mp4, gt = folder / f"{name}.mp4", folder / f"{name}.gt.csv"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x96",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    rows = [(k, 0, float(x), 30.0, x + 32.0, 62.0, 30.0, "male", 32) for k, x in enumerate(xs)]
    pd.DataFrame(rows, columns=cols).to_csv(gt, index=False)
    return mp4, gt


@pytest.fixture()
def moving_square(tmp_path: Path) -> tuple[Path, Path]:
    """20 frames at 25 fps, a red square 10 px further right each frame; GT: its box per frame."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    return _square_clip(tmp_path / "clips", "sq", [10 * k for k in range(20)])


@pytest.fixture()
def white_square(tmp_path: Path) -> tuple[Path, Path]:
    """20 frames at 25 fps, a white square 10 px further right each frame, bright in luma (chroma is
    shared by two rows), nearly lossless; GT: its box per frame."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    folder = tmp_path / "clips"
    folder.mkdir()
    raw = b""
    for k in range(20):
        img = np.full((96, 320, 3), 30, np.uint8)
        img[30:62, 10 * k : 10 * k + 32] = 230
        raw += img.tobytes()
    mp4, gt = folder / "sq.mp4", folder / "sq.gt.csv"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x96",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    rows = [(k, 0, 10.0 * k, 30.0, 10.0 * k + 32, 62.0, 30.0, "male", 32) for k in range(20)]
    pd.DataFrame(rows, columns=cols).to_csv(gt, index=False)
    return mp4, gt


def _frames(mp4: Path) -> tuple[list[np.ndarray], float]:
    """The clip's frames and frame rate, read by the pipeline's own reader."""
    src = VideoSource(mp4)
    try:
        return [f.image for f in src], src.info.fps
    finally:
        src.close()


def _square_x(img: np.ndarray) -> int:
    red = (img[:, :, 2].astype(int) - img[:, :, 0].astype(int)) > 80
    return int(np.flatnonzero(red.any(axis=0))[0])


@pytest.mark.parametrize(("camera", "every", "fps"), [("fps5", 5, 5.0), ("fps8", 3, 25 / 3)])
def test_a_low_rate_recorder_keeps_every_nth_frame_and_its_gt_rows(
    moving_square: tuple[Path, Path], camera: str, every: int, fps: float
) -> None:
    mp4, gt = camera_clip(*moving_square, camera)
    assert mp4.parent.name == f"clips_{camera}"
    frames, got_fps = _frames(mp4)
    rows = pd.read_csv(gt)
    assert len(frames) == len(rows) == -(-20 // every)
    assert got_fps == pytest.approx(fps, rel=0.01)
    for j, img in enumerate(frames):
        assert abs(_square_x(img) - 10 * every * j) <= 2, "frame j is source frame every * j"
        assert rows.frame_index[j] == j and rows.x1[j] == 10 * every * j


def test_gray_keeps_every_frame_and_drops_the_colour(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = camera_clip(*moving_square, "gray")
    frames, _ = _frames(mp4)
    assert len(frames) == 20 and pd.read_csv(gt).equals(pd.read_csv(moving_square[1]))
    spread = max(int(np.abs(f.astype(int) - f.mean(axis=2, keepdims=True)).max()) for f in frames)
    assert spread <= 3, "B, G and R are the same grey"


def test_low270_shrinks_the_frame_and_its_gt_boxes(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = camera_clip(*moving_square, "low270")
    frames, _ = _frames(mp4)
    rows = pd.read_csv(gt)
    assert len(frames) == len(rows) == 20 and frames[0].shape == (36, 120, 3)  # 320x96 * 3/8
    assert rows.x1.tolist() == [round(3.75 * k, 1) for k in range(20)] and (rows.face_px == 12).all()
    for k in (4, 10, 16):
        assert abs(_square_x(frames[k]) - 3.75 * k) <= 2


def test_lowbit_keeps_every_frame_and_its_gt_in_fewer_bits(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = moving_square
    rng = np.random.default_rng(0)  # a detailed scene (on a flat one every x264 rate is a few bytes)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (96, 320, 3), np.uint8), (0, 0), 1.0)
    raw = b"".join(np.roll(texture, 4 * k, axis=1).tobytes() for k in range(20))
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x96",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    low, low_gt = camera_clip(mp4, gt, "lowbit")
    usual, _ = camera_clip(mp4, gt, "fps30")  # the same frames at the usual CRF 23
    assert len(_frames(low)[0]) == 20 and pd.read_csv(low_gt).equals(pd.read_csv(gt))
    assert low.stat().st_size < 0.5 * usual.stat().st_size


def test_dim_is_darker_and_noisy_and_keeps_the_gt(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = camera_clip(*moving_square, "dim")
    frames, _ = _frames(mp4)
    source, _ = _frames(moving_square[0])
    assert len(frames) == 20 and pd.read_csv(gt).equals(pd.read_csv(moving_square[1]))
    assert np.mean([f.mean() for f in frames]) < 0.7 * np.mean([f.mean() for f in source])

    def flicker(fs: list[np.ndarray]) -> float:  # the still background's change from frame to frame
        bg = [f[70:, :, 1].astype(float) for f in fs]
        return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(bg)]))

    assert flicker(frames) > flicker(source) + 0.5, "the gain's noise changes every frame"


def _still_720(folder: Path, frames: int) -> tuple[Path, Path, np.ndarray]:
    """A detailed still 1280x720 scene (so every offset is visible) as a clip, with one GT face."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), np.uint8), (0, 0), 3.0)
    mp4 = folder / "still.mp4"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "1280x720",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=scene.tobytes() * frames, check=True)
    gt = folder / "still.gt.csv"
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    still = [(k, 0, 600.0, 300.0, 640.0, 340.0, 30.0, "male", 40) for k in range(frames)]
    pd.DataFrame(still, columns=cols).to_csv(gt, index=False)
    return mp4, gt, scene


def test_shake_moves_the_view_and_its_gt_boxes_by_the_same_pixels(tmp_path: Path) -> None:
    mp4, gt, scene = _still_720(tmp_path / "clips", 12)
    out, out_gt = camera_clip(mp4, gt, "shake")
    frames, _ = _frames(out)
    rows = pd.read_csv(out_gt)
    assert len(frames) == len(rows) == 12 and frames[0].shape == (720, 1280, 3)
    offsets = {shake_offset(k) for k in range(12)}
    mx, my = SHAKE_MARGIN
    assert len(offsets) > 5 and all(abs(x - mx) <= SHAKE_PX and abs(y - my) <= SHAKE_PX for x, y in offsets)
    vw, vh = SHAKE_VIEW

    def error(img: np.ndarray, x: int, y: int) -> float:  # the frame against the scene seen from (x, y)
        view = cv2.resize(scene[y : y + vh, x : x + vw], (1280, 720), interpolation=cv2.INTER_CUBIC)
        return float(np.abs(img[40:-40, 40:-40].astype(int) - view[40:-40, 40:-40]).mean())

    s = 1280 / vw
    for k in (0, 5, 11):
        img, (dx, dy) = frames[k], shake_offset(k)
        near = [(dx + ex, dy + ey) for ex in (-2, 0, 2) for ey in (-2, 0, 2) if ex or ey]
        assert error(img, dx, dy) < 0.85 * min(error(img, x, y) for x, y in near), (
            f"frame {k}: view at {dx, dy}"
        )
        assert rows.x1[k] == round((600 - dx) * s, 1) and rows.y1[k] == round((300 - dy) * s, 1)
        assert rows.face_px[k] == round(40 * s)


def test_shake_takes_only_1280x720_clips(moving_square: tuple[Path, Path]) -> None:
    with pytest.raises(BenchError, match="takes 1280x720 clips"):
        camera_clip(*moving_square, "shake")


def test_pillar_hides_its_columns_and_marks_the_faces_behind_it_occluded(tmp_path: Path) -> None:
    mp4, gt, scene = _still_720(tmp_path / "clips", 3)
    x0, x1 = PILLAR_X
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    boxes = [(x0 - 200, 0.0), (x0 - 16, 0.6), (x0 + 24, 1.0), (x1 - 10, 0.25)]  # (x1, share behind)
    rows = [
        (k, j, float(x), 300.0, x + 40.0, 340.0, 30.0, "male", 40)
        for k in range(3)
        for j, (x, _) in enumerate(boxes)
    ]
    pd.DataFrame(rows, columns=cols).to_csv(gt, index=False)
    out, out_gt = camera_clip(mp4, gt, "pillar")
    frames, _ = _frames(out)
    assert len(frames) == 3 and frames[0].shape == (720, 1280, 3)
    for img in frames:
        band = img[:, x0 + 2 : x1 - 2].astype(float)
        assert band.std(axis=(0, 1)).max() < 2.0, "one flat colour from top to bottom"
        assert np.abs(band.mean(axis=(0, 1)) - (0x96, 0x8F, 0x8A)).max() < 4  # BGR of 0x8a8f96
        outside = np.abs(img[:, : x0 - 8].astype(int) - scene[:, : x0 - 8]).mean()
        assert outside < 6, "the rest of the view as it was"
    got = pd.read_csv(out_gt)
    assert got[cols].equals(pd.read_csv(gt)[cols])
    assert got.occluded.tolist() == [share for _ in range(3) for _, share in boxes]


def _bright_squares_720(
    folder: Path, squares: list[tuple[int, int, int, int]], frames: int
) -> tuple[Path, Path]:
    """A still 1280x720 clip of bright squares (x1, y1, x2, y2) on a dark ground, nearly lossless, and
    its GT: one person per square, ``face_px`` its width."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    img = np.full((720, 1280, 3), 30, np.uint8)
    for x1, y1, x2, y2 in squares:
        img[y1:y2, x1:x2] = 230
    mp4, gt = folder / "sq.mp4", folder / "sq.gt.csv"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "1280x720",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=img.tobytes() * frames, check=True)
    cols = ["frame_index", "person_id", "x1", "y1", "x2", "y2", "age", "gender", "face_px"]
    rows = [
        (k, j, *map(float, b), 30.0, "male", b[2] - b[0])
        for k in range(frames)
        for j, b in enumerate(squares)
    ]
    pd.DataFrame(rows, columns=cols).to_csv(gt, index=False)
    return mp4, gt


def test_d1wide_stores_wide_pixels_and_its_gt_is_in_the_picture_shown_or_stored(tmp_path: Path) -> None:
    """``d1wide``: 720x576 frames of 64:45 pixels; the reader widens them to 1024x576
    (pipeline/frames/aspect.py), where the GT lies (0.8x); ``d1wide_stored``'s GT lies in the stored
    frame (0.5625x across)."""
    mp4, gt = _bright_squares_720(tmp_path / "clips", [(600, 300, 680, 380)], 3)

    def bright_box(frame: np.ndarray) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(frame[:, :, 1] > 130)
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    shown, shown_gt = camera_clip(mp4, gt, "d1wide")
    frames, _ = _frames(shown)
    rows = pd.read_csv(shown_gt)
    assert len(frames) == 3 and frames[0].shape == (576, 1024, 3)
    assert rows[["x1", "y1", "x2", "y2"]].iloc[0].tolist() == [480.0, 240.0, 544.0, 304.0]
    assert (rows.face_px == 64).all()
    assert np.abs(np.array(bright_box(frames[0])) - [480, 240, 544, 304]).max() <= 2
    stored, stored_gt = camera_clip(mp4, gt, "d1wide_stored")
    cap = cv2.VideoCapture(str(stored))  # OpenCV's frames as stored
    ok, raw = cap.read()
    cap.release()
    rows = pd.read_csv(stored_gt)
    assert ok and raw.shape == (576, 720, 3) and (rows.face_px == 45).all()
    assert rows[["x1", "y1", "x2", "y2"]].iloc[0].tolist() == [337.5, 240.0, 382.5, 304.0]
    assert np.abs(np.array(bright_box(raw)) - [337.5, 240, 382.5, 304]).max() <= 2


def test_lens_bows_the_view_and_its_gt_boxes_follow_the_faces(tmp_path: Path) -> None:
    """``lens``: a square in the middle is shown larger, one near the side narrower than tall, one
    outside the view is gone; each GT box lies on the square the frame shows."""
    squares = [(600, 320, 680, 400), (1080, 320, 1160, 400), (1230, 330, 1270, 370)]  # middle, side, out
    mp4, gt = _bright_squares_720(tmp_path / "clips", squares, 2)
    out, out_gt = camera_clip(mp4, gt, "lens")
    frames, _ = _frames(out)
    got = pd.read_csv(out_gt)
    assert len(frames) == 2 and frames[0].shape == (720, 1280, 3)
    assert sorted(got.person_id.unique()) == [0, 1]  # the third square is out of the view
    bright = frames[0][:, :, 1] > 130
    for pid in (0, 1):
        box = got[(got.person_id == pid) & (got.frame_index == 0)].iloc[0]
        x1, y1, x2, y2 = (round(float(box[c])) for c in ("x1", "y1", "x2", "y2"))
        inside = bright[y1 + 3 : y2 - 3, x1 + 3 : x2 - 3]
        assert inside.mean() > 0.97, pid  # the box lies on the square...
        ring = bright[y1 - 6 : y2 + 6, x1 - 6 : x2 + 6].sum() - bright[y1:y2, x1:x2].sum()
        assert ring < 0.03 * (x2 - x1) * (y2 - y1), pid  # ... and holds all of it
    middle, side = (got[got.person_id == p].iloc[0] for p in (0, 1))
    assert middle.x2 - middle.x1 > 1.25 * 80 and middle.face_px > 100  # shown 1.3x
    assert (side.x2 - side.x1) < 0.9 * (side.y2 - side.y1)  # squeezed across


def test_pillar_takes_only_1280x720_clips(moving_square: tuple[Path, Path]) -> None:
    with pytest.raises(BenchError, match="takes 1280x720 clips"):
        camera_clip(*moving_square, "pillar")


def test_lights_switch_every_two_seconds_and_keep_the_gt(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = moving_square
    raw = np.full((96, 320, 3), 128, np.uint8).tobytes() * 125  # 5 s of an even grey at 25 fps
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x96",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p",
           str(mp4)]  # fmt: skip
    subprocess.run(cmd, input=raw, check=True)
    out, out_gt = camera_clip(mp4, gt, "lights")
    frames, _ = _frames(out)
    assert len(frames) == 125 and pd.read_csv(out_gt).equals(pd.read_csv(gt))
    level = np.array([f.mean() for f in frames])
    dark, bright = level[5:45], level[55:95]  # 0-2 s dark, 2-4 s bright (away from the switches)
    assert (
        dark.max() < 0.8 * bright.min() and np.ptp(bright) < 3 and level[105:120].max() < 0.8 * bright.min()
    )


def test_view_motion_benchmark_finds_the_shake_and_leaves_a_fixed_camera(tmp_path: Path) -> None:
    """``benchmarks/view_motion.py`` on the same still scene as a fixed and as a shaking camera."""
    import view_motion

    mp4, gt, _ = _still_720(tmp_path / "clips", 20)
    shaken, _ = camera_clip(mp4, gt, "shake")
    fixed = view_motion.measure(mp4)
    assert not fixed["moving"] and fixed["max_shift_px"] == 0.0 and fixed["measured"] == 4  # every 5th
    row = view_motion.measure(shaken)
    assert row["moving"] and row["moving_from_frame"] <= 11
    assert row["error_px_p50_p99_max"][1] < 1.0, row


def test_interlaced_combs_what_moves_and_follows_its_even_rows(white_square: tuple[Path, Path]) -> None:
    """A white square 10 px further right each frame: frame k's even rows show source frame k + 1,
    its odd rows frame k; the GT is source frame k + 1's, renumbered."""
    out, out_gt = camera_clip(*white_square, "interlaced")
    frames, fps = _frames(out)
    got = pd.read_csv(out_gt)
    assert len(frames) == len(got) == 19 and fps == pytest.approx(25.0, rel=0.01)
    assert got.frame_index.tolist() == list(range(19))
    assert got.x1.tolist() == [10.0 * (k + 1) for k in range(19)]
    for k in (0, 7, 15):
        bright = frames[k][:, :, 1] > 130
        even, odd = np.flatnonzero(bright[40])[0], np.flatnonzero(bright[41])[0]
        assert abs(even - 10 * (k + 1)) <= 1 and abs(odd - 10 * k) <= 1, (k, even, odd)


def test_osd_burns_in_a_clock_that_ticks_every_second(tmp_path: Path) -> None:
    mp4, gt, scene = _still_720(tmp_path / "clips", 30)
    out, out_gt = camera_clip(mp4, gt, "osd")
    frames, _ = _frames(out)
    assert len(frames) == 30 and pd.read_csv(out_gt).equals(pd.read_csv(gt))
    clock = (slice(15, 60), slice(20, 380))  # the top-left text
    white = [int((f[clock].min(axis=2) > 235).sum()) for f in frames]
    assert min(white) > 500, "white text where the scene has none"
    assert int((scene[clock].min(axis=2) > 235).sum()) < 50
    ticks = [int(np.abs(a[clock].astype(int) - b[clock]).max()) for a, b in itertools.pairwise(frames)]
    assert max(ticks[:24]) < 60 and ticks[24] > 120, "the same second for 25 frames, then the next"
    middle = np.abs(frames[10][200:520, 300:980].astype(int) - scene[200:520, 300:980]).mean()
    assert middle < 6, "the rest of the view as it was"


def test_recoded_keeps_every_frame_and_the_gt(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = camera_clip(*moving_square, "recoded")
    frames, fps = _frames(mp4)
    source, _ = _frames(moving_square[0])
    assert len(frames) == 20 and fps == pytest.approx(25.0, rel=0.01)
    assert pd.read_csv(gt).equals(pd.read_csv(moving_square[1]))
    assert all(np.abs(a.astype(int) - b).mean() < 3 for a, b in zip(frames, source, strict=True))


def test_dup_sends_each_picture_twice_and_its_gt_follows(moving_square: tuple[Path, Path]) -> None:
    mp4, gt = camera_clip(*moving_square, "dup")
    frames, fps = _frames(mp4)
    rows = pd.read_csv(gt).sort_values("frame_index", ignore_index=True)
    assert len(frames) == 20 and fps == pytest.approx(25.0, rel=0.01)
    for k, img in enumerate(frames):
        assert abs(_square_x(img) - 10 * (k - k % 2)) <= 2, "frame k is source frame k - k % 2"
    assert rows.frame_index.tolist() == list(range(20))
    assert (rows.x1 == 10 * (rows.frame_index - rows.frame_index % 2)).all()


def test_freeze_holds_one_picture_then_shows_the_scene_as_it_is_by_then(tmp_path: Path) -> None:
    """A square 1 px further right each frame for 340 frames: frames FREEZE show the first of them, the
    frame after shows where the square is by then; the GT says the same."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    n, x = 340, [k % 280 for k in range(340)]
    mp4, gt = _square_clip(tmp_path / "clips", "sq", x)
    out_mp4, out_gt = camera_clip(mp4, gt, "freeze")
    frames, _ = _frames(out_mp4)
    got = pd.read_csv(out_gt).sort_values("frame_index", ignore_index=True)
    assert len(frames) == n and got.frame_index.tolist() == list(range(n))
    f0, f1 = FREEZE
    for k in (f0 - 1, f0, f0 + 1, (f0 + f1) // 2, f1, f1 + 1, n - 1):
        shown = x[f0] if f0 <= k <= f1 else x[k]
        assert abs(_square_x(frames[k]) - shown) <= 2 and got.x1[k] == shown, k


@pytest.mark.parametrize(("camera", "last", "frames"), [("slowshutter", 1, 19), ("slowshutter2", 0, 20)])
def test_a_slow_shutter_smears_what_moves_over_the_frames_it_mixes(
    white_square: tuple[Path, Path], camera: str, last: int, frames: int
) -> None:
    """A white square 10 px further right each frame. slowshutter: frame k is the mean of source frames
    k-1, k and k+1 (full brightness only where all three cover it), its GT source frame k's, and the
    last source frame has no frame and no GT row; slowshutter2: frames k-1 and k, GT frame k's."""
    out, out_gt = camera_clip(*white_square, camera)
    got_frames, fps = _frames(out)
    got = pd.read_csv(out_gt)
    assert len(got_frames) == len(got) == frames and fps == pytest.approx(25.0, rel=0.01)
    assert got.frame_index.tolist() == list(range(frames))
    assert got.x1.tolist() == [10.0 * k for k in range(frames)]
    first = -1  # frame k mixes source frames k + first ... k + last
    for k in (3, 8, 15):
        row = got_frames[k][45, :, 1].astype(int)
        full, lit = np.flatnonzero(row > 200), np.flatnonzero(row > 60)
        # every copy covers [10(k + last), 10(k + first) + 32); some copy [10(k + first), 10(k + last) + 32)
        assert abs(full[0] - 10 * (k + last)) <= 1 and abs(full[-1] - (10 * (k + first) + 31)) <= 1, (k, full)
        assert abs(lit[0] - 10 * (k + first)) <= 1 and abs(lit[-1] - (10 * (k + last) + 31)) <= 1, (k, lit)


def test_two_runs_that_make_one_camera_clip_at_once_leave_it_whole(moving_square: tuple[Path, Path]) -> None:
    """Two chains of runs may need the same camera clip at the same moment: each writes its own
    temporary file and moves it in whole, so both get the whole clip and no temporary file is left."""
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: camera_clip(*moving_square, "recoded"), range(2)))
    assert outs[0] == outs[1]
    frames, _ = _frames(outs[0][0])
    assert len(frames) == 20 and pd.read_csv(outs[0][1]).equals(pd.read_csv(moving_square[1]))
    assert sorted(p.name for p in outs[0][0].parent.iterdir()) == ["sq.gt.csv", "sq.mp4"]


def test_a_camera_clip_that_fails_leaves_nothing_behind(
    moving_square: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CAMERAS, "broken", Camera("no_such_filter", "25"))
    with pytest.raises(BenchError, match="ffmpeg failed"):
        camera_clip(*moving_square, "broken")
    assert list((moving_square[0].parent.parent / "clips_broken").iterdir()) == []


def test_temp_beside_names_a_new_hidden_file_of_the_same_kind(tmp_path: Path) -> None:
    a, b = temp_beside(tmp_path / "walk720.gt.csv"), temp_beside(tmp_path / "walk720.gt.csv")
    assert a != b and a.parent == b.parent == tmp_path
    assert all(p.name.startswith(".walk720.gt.") and p.suffix == ".csv" and p.is_file() for p in (a, b))


def test_the_dim_camera_makes_the_same_clip_each_time(tmp_path: Path) -> None:
    """Under a bit-rate cap x264's threads made another clip each time; runs compared on two makings
    of one clip compared two clips (a noisy 720p scene, as the dim camera's noise fills the cap)."""
    mp4, gt, _ = _still_720(tmp_path / "clips", 40)
    made = []
    for _ in range(2):
        out, _ = camera_clip(mp4, gt, "dim")
        made.append(out.read_bytes())
        shutil.rmtree(out.parent)
    assert made[0] == made[1]


def test_the_cut_shows_the_first_clip_then_the_second_and_renames_the_second_clips_people(
    tmp_path: Path,
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    right, _ = _square_clip(tmp_path / "clips", "right", [10 * k for k in range(20)])
    left, _ = _square_clip(tmp_path / "clips", "left", [280 - 10 * k for k in range(20)])
    out = tmp_path / "cut" / "right.mp4"
    assert stitch_main(["--first", str(right), "--then", str(left), "--at", "8", "--out", str(out)]) == 0
    frames, _ = _frames(out)
    want = [10 * k if k < 8 else 280 - 10 * k for k in range(20)]
    assert len(frames) == 20 and all(abs(_square_x(f) - x) <= 2 for f, x in zip(frames, want, strict=True))
    gt = pd.read_csv(out.with_suffix(".gt.csv")).sort_values("frame_index", ignore_index=True)
    assert gt.frame_index.tolist() == list(range(20)) and gt.x1.tolist() == want
    before, after = gt.frame_index < 8, gt.frame_index >= 8
    assert set(gt.person_id[before]) == {0} and set(gt.person_id[after]) == {PERSON_OFFSET}
    assert not list(out.parent.glob(".*")), "no temporary file left behind"


def test_a_missing_ground_truth_is_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    clip, gt = _square_clip(tmp_path / "clips", "a", [10 * k for k in range(5)])
    gt.unlink()
    out = tmp_path / "cut" / "a.mp4"
    assert stitch_main(["--first", str(clip), "--then", str(clip), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cctv_stitch: GT not found") and "\n" not in err
    assert not out.exists()
