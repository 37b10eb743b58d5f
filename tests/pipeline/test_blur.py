"""``--annotate OUT.mp4 --blur-faces``: every detected face is blurred, the rest of the frame is not."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.cli.sample import sample_path
from facelog.pipeline.config import load_config
from facelog.pipeline.file.annotate import BLUR_MARGIN, blur_box
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession


def frames_of(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img.astype(np.int16))
    cap.release()
    return out


def test_blur_box_changes_only_the_widened_box() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    before = img.copy()
    blur_box(img, (40.0, 30.0, 80.0, 90.0))
    m = BLUR_MARGIN
    left, top = int(40 - 40 * m), int(30 - 60 * m)
    right, bottom = int(np.ceil(80 + 40 * m)), int(np.ceil(90 + 60 * m))
    inside = np.zeros(img.shape[:2], bool)
    inside[top:bottom, left:right] = True
    assert np.array_equal(img[~inside], before[~inside])
    # the noise is gone: neighbouring pixels of the blurred box are close (noise: ~85 levels apart)
    assert np.abs(np.diff(img[top:bottom, left:right].astype(int), axis=1)).mean() < 10
    blur_box(img, (150.0, 110.0, 400.0, 300.0))  # partly outside: clipped, no error
    blur_box(img, (500.0, 500.0, 600.0, 600.0))  # wholly outside: nothing


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The shipped sample annotated twice with one session: plain and with blurred faces."""
    root = tmp_path_factory.mktemp("blur")
    cfg = load_config(None, {})
    with InferenceSession(cfg) as session:
        for name, blur in (("plain", False), ("blur", True)):
            process_video(
                sample_path(), root / f"{name}.csv", cfg, annotate=root / f"{name}.mp4", blur_faces=blur,
                session=session,
            )  # fmt: skip
    return root / "plain.mp4", root / "blur.mp4", root / "blur.csv"


def test_blurred_video_differs_in_face_regions_only(annotated: tuple[Path, Path, Path]) -> None:
    """Measured on the sample: a face's mean change >= 5.2 levels; elsewhere <= 0.11 (codec noise)."""
    plain_mp4, blur_mp4, csv_path = annotated
    boxes: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    for row in csv.DictReader(csv_path.open()):
        boxes[int(row["frame_index"])].append(tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
    plain, blurred = frames_of(plain_mp4), frames_of(blur_mp4)
    assert len(plain) == len(blurred) == 41 and sum(map(len, boxes.values())) >= 41
    checked = 0
    for i, (a, b) in enumerate(zip(plain, blurred, strict=True)):
        diff = np.abs(a - b).mean(axis=2)
        near = np.zeros(diff.shape, bool)  # the widened boxes plus 16 px of codec blocks around them
        for x1, y1, x2, y2 in boxes[i]:
            core = diff[int(y1) + 4 : int(y2) - 4, int(x1) + 4 : int(x2) - 4]
            assert core.mean() > 3, f"frame {i}: face {x1:.0f},{y1:.0f} not blurred ({core.mean():.1f})"
            mx, my = (x2 - x1) * BLUR_MARGIN + 16, (y2 - y1) * BLUR_MARGIN + 16
            near[max(0, int(y1 - my)) : int(y2 + my), max(0, int(x1 - mx)) : int(x2 + mx)] = True
            checked += 1
        rest = diff[~near]
        assert rest.mean() < 0.5 and np.percentile(rest, 99) < 8, f"frame {i}: the background changed"
    assert checked >= 41
