"""RoiDetector (``detector.full_every``): key frames, regions around known faces, honesty, resets.

Real faces from the clip shipped in the package (3 faces of 31-58 px at 480x270) and the shipped
YuNet: no ../shared needed. No timing assertions.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.boxes import iou_matrix
from facelog.pipeline.config import AppConfig, DetectorConfig, load_config
from facelog.pipeline.detect import RoiDetector, YuNetDetector, full_every_for, make_detector
from facelog.pipeline.detect.roi import ROI_DEFAULT_FULL_EVERY
from facelog.pipeline.errors import ConfigError
from facelog.pipeline.file.stages import DetectStages
from facelog.pipeline.types import Faces, Frame

SAMPLE = (
    Path(__file__).resolve().parents[2] / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
)
SAME_FACE_IOU = 0.6  # a region box vs the full-frame box of the same face (measured >= 0.8 here)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLE))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    assert len(out) >= 30, f"sample clip too short: {len(out)} frames"
    return out


def roi_detector(full_every: int = 5, **kw: float) -> RoiDetector:
    kw.setdefault("roi_min_megapixels", 0)  # the sample is 480x270: below the default size
    kw.setdefault("small_frame_scale", 1.0)  # ... and the key frames would be enlarged (all key frames)
    kw.setdefault("roi_motion", False)  # regions around known faces only (frame changes: test_detect_motion)
    det = make_detector(DetectorConfig(full_every=full_every, **kw))
    assert isinstance(det, RoiDetector)
    return det


def test_full_every_1_is_the_plain_detector() -> None:
    assert isinstance(make_detector(DetectorConfig(full_every=1)), YuNetDetector)


@pytest.mark.parametrize(
    "full_every, workers, want",
    [
        (None, 1, ROI_DEFAULT_FULL_EVERY),
        (None, 2, 1),
        (None, 0, 1),
        (1, 2, 1),
        (4, 1, 4),
        (4, 0, 4),
        (4, 3, "detect_workers to 1"),
    ],
    ids=["unset-one", "unset-two", "unset-shared", "off-two", "explicit", "explicit-shared", "explicit-two"],
)
def test_full_every_for(full_every: int | None, workers: int, want: int | str) -> None:
    cfg = DetectorConfig(full_every=full_every)
    if isinstance(want, str):
        with pytest.raises(ConfigError, match=want):
            full_every_for(cfg, workers)
    else:
        assert full_every_for(cfg, workers) == want


def test_region_threshold_defaults_below_the_frame_threshold() -> None:
    inner = roi_detector(5, score_threshold=0.6).roi
    assert isinstance(inner, YuNetDetector) and inner.score_threshold == pytest.approx(0.5)
    inner = roi_detector(5, roi_score_threshold=0.45).roi
    assert isinstance(inner, YuNetDetector) and inner.score_threshold == 0.45


def test_region_frames_find_the_faces_full_frames_find(frames: list[np.ndarray]) -> None:
    full, roi = make_detector(DetectorConfig(full_every=1, small_frame_scale=1.0)), roi_detector(5)
    matched = total = 0
    for i, img in enumerate(frames):
        want, got = full.detect(img), roi.detect(img, i)
        total += len(want)
        if len(want) and len(got):
            matched += int((iou_matrix(want.xyxy, got.xyxy).max(1) >= SAME_FACE_IOU).sum())
        assert len(got) <= len(want), f"frame {i}: region boxes not found on the full frame"
    assert total > 0 and matched == total, f"{matched} of {total} full-frame faces found in regions"
    assert roi.frames_full == -(-len(frames) // 5) and roi.frames_roi == len(frames) - roi.frames_full


def test_small_frames_are_all_key_frames(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5, roi_min_megapixels=0.2)  # 480x270 = 0.13 MP
    for i, img in enumerate(frames[:6]):
        assert len(roi.detect(img, i)) == 3
    assert (roi.frames_full, roi.frames_roi) == (6, 0)
    assert roi.describe()["roi_min_frame_px"] == 200_000


def test_frames_the_key_detector_enlarges_are_all_key_frames(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5, small_frame_scale=2.0)  # 480x270 is detected at 960x540: regions would not be
    for i, img in enumerate(frames[:6]):
        roi.detect(img, i)
    assert (roi.frames_full, roi.frames_roi) == (6, 0)


def test_an_enlarged_720p_key_frame_keeps_its_regions(frames: list[np.ndarray]) -> None:
    # max_input_scale 1.5 enlarges 720p key frames; only frames under min_face_ref_height lines that the
    # key detector enlarges are all key frames (a 720p camera kept regions before small_frame_scale)
    roi = roi_detector(5, small_frame_scale=2.0, max_input_scale=1.5)
    for i, img in enumerate(frames[:6]):
        roi.detect(cv2.resize(img, (1280, 720), interpolation=cv2.INTER_LINEAR), i)
    assert roi.frames_full == 2 and roi.frames_roi == 4


def test_key_frame_every_n_frames(frames: list[np.ndarray]) -> None:
    roi = roi_detector(4)
    keys = []
    for i, img in enumerate(frames[:13]):
        before = roi.frames_full
        roi.detect(img, i)
        keys.append(roi.frames_full > before)
    assert [i for i, k in enumerate(keys) if k] == [0, 4, 8, 12]


def test_new_face_waits_for_the_next_key_frame_and_is_never_invented(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5)
    blank = np.full_like(frames[0], 90)
    seq = [blank, blank, frames[2], frames[3], frames[4], frames[5], frames[6]]  # faces appear at 2
    counts = [len(roi.detect(img, i)) for i, img in enumerate(seq)]
    # 0: key (no faces), 1-4: regions (none known, so nothing looked at: no boxes), 5: key finds them,
    # 6: regions around them find them again
    assert counts[:5] == [0, 0, 0, 0, 0]
    assert counts[5] == 3 and counts[6] == 3


def test_face_that_leaves_is_not_carried(frames: list[np.ndarray]) -> None:
    roi = roi_detector(10)
    assert len(roi.detect(frames[0], 0)) == 3
    blank = np.full_like(frames[0], 90)
    assert [len(roi.detect(blank, i)) for i in range(1, 4)] == [0, 0, 0]


def test_reset_forgets_and_next_frame_is_key(frames: list[np.ndarray]) -> None:
    roi = roi_detector(10)
    roi.detect(frames[0], 0)
    roi.detect(frames[1], 1)
    assert roi.frames_full == 1
    roi.reset()
    assert roi.regions_for((480, 270)) == []
    roi.detect(frames[2], 2)
    assert roi.frames_full == 2


@pytest.mark.parametrize("second", [0, 1], ids=["index-back", "other-size"])
def test_new_source_resets_by_itself(frames: list[np.ndarray], second: int) -> None:
    roi = roi_detector(10)
    roi.detect(frames[0], 5)
    img = frames[1] if second == 0 else cv2.resize(frames[1], (960, 540))
    faces = roi.detect(img, second)
    assert roi.frames_full == 2  # a key frame, not regions from the other source
    assert len(faces) == 3


def test_gap_widens_the_regions_and_a_long_gap_is_a_key_frame(frames: list[np.ndarray]) -> None:
    roi = roi_detector(10, roi_margin=1.0, roi_min_margin_px=4)
    roi.detect(frames[0], 0)
    one = roi.regions_for((480, 270), 1)
    three = roi.regions_for((480, 270), 3)
    area = lambda rs: sum((r[2] - r[0]) * (r[3] - r[1]) for r in rs)  # noqa: E731
    assert area(three) > area(one) > 0
    roi.detect(frames[10], 10)  # 10 source frames later: more than ROI_MAX_GAP_FRAMES
    assert roi.frames_full == 2


def test_regions_merge_and_stay_inside_the_frame(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5, roi_margin=3.0)
    faces = roi.detect(frames[0], 0)
    rs = roi.regions_for((480, 270))
    assert len(rs) == 1  # three faces 60-100 px apart with 3 widths of margin: one region
    x1, y1, x2, y2, face_w = rs[0]
    assert min(x1, y1) >= 0 and x2 <= 480 and y2 == 270  # clipped to the frame
    assert x1 <= faces.xyxy[:, 0].min() and x2 >= faces.xyxy[:, 2].max()  # covers every face
    assert face_w == pytest.approx(float((faces.xyxy[:, 2] - faces.xyxy[:, 0]).min()))


def test_boxes_are_in_frame_pixels(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5)
    roi.detect(frames[0], 0)
    faces = roi.detect(frames[1], 1)
    assert roi.frames_roi == 1 and len(faces) == 3
    assert faces.landmarks is not None
    inside = (faces.landmarks[:, :, 0] >= faces.xyxy[:, None, 0]) & (
        faces.landmarks[:, :, 0] <= faces.xyxy[:, None, 2]
    )
    assert inside.all()  # landmarks mapped with the boxes
    assert faces.xyxy[:, 2].max() <= 480 and faces.xyxy[:, 0].min() >= 0


def test_describe_records_mode_and_cost(frames: list[np.ndarray]) -> None:
    roi = roi_detector(5)
    for i, img in enumerate(frames[:10]):
        roi.detect(img, i)
    d = roi.describe()
    assert d["name"] == "yunet" and d["full_every"] == 5
    assert (d["frames_full"], d["frames_roi"]) == (2, 8)
    assert 0 < d["input_pixel_fraction"] < 1


def test_roi_detector_rejects_bad_image_and_params() -> None:
    roi = roi_detector(5)
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\) uint8"):
        roi.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="need full_every >= 1"):
        RoiDetector(roi.full, roi.roi, 0, 1.0, 0, 32)


@pytest.mark.parametrize(
    "section, match",
    [({"full_every": 0}, "full_every"), ({"roi_margin": -1}, "roi_margin"), ({"full_evry": 5}, "full_every")],
    ids=["zero-interval", "negative-margin", "typo"],
)
def test_config_errors_are_one_line(tmp_path: Path, section: dict[str, float], match: str) -> None:
    p = tmp_path / "c.yaml"
    key, value = next(iter(section.items()))
    p.write_text(f"detector:\n  {key}: {value}\n")
    with pytest.raises(ConfigError, match=match) as err:
        load_config(p)
    assert "\n" not in str(err.value)


def test_stages_reject_two_workers_with_regions_and_reset_detectors(frames: list[np.ndarray]) -> None:
    a, b = roi_detector(5), roi_detector(5)
    with pytest.raises(ValueError, match="one detect worker"):
        DetectStages([], [a, b], 4, 4)
    a.detect(frames[0], 0)
    DetectStages([], [a], 4, 4)  # a new source: built stages reset the detector
    assert a.regions_for((480, 270)) == []


def test_stages_feed_indices_in_order(frames: list[np.ndarray]) -> None:
    roi = roi_detector(3)
    src = [Frame("s", i * 2, i * 80_000_000, img) for i, img in enumerate(frames[:12:2])]  # stride 2
    got: list[Faces] = []
    with DetectStages(src, [roi], 4, 4) as st:
        while (d := st.get(10.0)) is not None:
            got.append(d.faces)
    assert len(got) == 6 and all(len(f) == 3 for f in got)
    # full_every counts processed frames: keys at 0 and 3 of the 6 (source frames 0 and 6)
    assert (roi.frames_full, roi.frames_roi) == (2, 4)


@pytest.mark.parametrize(("fps", "full"), [(12.5, 2), (5.0, 6)])
def test_stages_count_frames_of_25_fps_so_a_5_fps_recording_gets_whole_frames(
    frames: list[np.ndarray], fps: float, full: int
) -> None:
    # the same six frames, indices 0..5, timed as a recording at 12.5 fps (2 frames of 25 fps apart:
    # regions twice as wide) and at 5 fps (5 apart: more than ROI_MAX_GAP_FRAMES, every one whole)
    roi = roi_detector(3)
    src = [Frame("s", i, round(i * 1e9 / fps), img) for i, img in enumerate(frames[:12:2])]
    with DetectStages(src, [roi], 4, 4) as st:
        while st.get(10.0) is not None:
            pass
    assert roi.frames_full == full and roi.frames_full + roi.frames_roi == 6


def test_session_gives_several_workers_full_frames_unless_regions_are_asked_for() -> None:
    from facelog.pipeline.session import InferenceSession

    with InferenceSession(AppConfig()) as sess:
        assert isinstance(sess.detector, YuNetDetector)  # shared by live cameras: every frame in full
        assert isinstance(sess.detectors(1)[0], RoiDetector)  # unset: regions with one file worker
        assert isinstance(sess.detector, YuNetDetector)  # asking for workers does not change it (issue 19)
        two = sess.detectors(2)
        assert len(two) == 2 and all(isinstance(d, YuNetDetector) for d in two)
        assert sess.detector is two[0]  # the first worker reuses the detector loaded at start
    # found when the config is loaded, not when a run starts
    with pytest.raises(ConfigError, match=r"^config defaults \+ overrides: detector.full_every 5 needs"):
        load_config(overrides={"detector.full_every": 5, "batching.detect_workers": 2})


def test_session_loads_the_whole_frame_detector_once_for_the_first_worker() -> None:
    from facelog.pipeline.session import InferenceSession

    with InferenceSession(AppConfig()) as sess:
        start = sess.detector
        one = sess.detectors(1)[0]
        assert isinstance(one, RoiDetector) and one.full is start  # reused, not loaded again
        two = sess.detectors(2)
        assert two[0] is start and two[1] is not start  # the second thread gets its own


def test_stateless_detectors_reset_as_a_no_op(frames: list[np.ndarray]) -> None:
    det = make_detector(DetectorConfig(full_every=1))
    assert isinstance(det, YuNetDetector)
    before = det.detect(frames[0])
    det.reset()
    np.testing.assert_array_equal(det.detect(frames[0]).xyxy, before.xyxy)


def _walker(frames: list[np.ndarray], xs: list[int], y: int = 90) -> list[np.ndarray]:
    """The sample's largest face (with some head around it) pasted on grey at each x of ``xs``."""
    faces = make_detector(DetectorConfig(full_every=1)).detect(frames[0]).accepted()
    x1, y1, x2, y2 = faces.xyxy[np.argmax(faces.xyxy[:, 2] - faces.xyxy[:, 0])].astype(int).tolist()
    pad = (x2 - x1) // 3
    patch = frames[0][max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
    out = []
    for x in xs:
        img = np.full((270, 480, 3), 128, np.uint8)
        img[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        out.append(img)
    return out


def _area(rs: list[tuple[int, int, int, int, float]]) -> int:
    return sum((r[2] - r[0]) * (r[3] - r[1]) for r in rs)


def test_moving_share_follows_a_walker_with_smaller_regions(frames: list[np.ndarray]) -> None:
    xs = list(range(20, 380, 30))  # 30 px a frame: about half a face width
    imgs = _walker(frames, xs)
    wide, moving = roi_detector(50, roi_margin=1.0), roi_detector(50, roi_margin=1.0)
    moving.known.moving_share = 0.5
    for i, img in enumerate(imgs):
        regions = (wide.regions_for((480, 270)), moving.regions_for((480, 270)))
        found = [len(d.detect(img, i).accepted()) for d in (wide, moving)]
        assert found == [1, 1], f"frame {i}: {found}"
        if i >= 2:  # the velocity is known from the second frame on
            assert _area(regions[1]) < 0.7 * _area(regions[0])
            x1, _, x2, _, _ = regions[1][0]
            w1, _, w2, _, _ = regions[0][0]
            assert (x1 + x2) / 2 > (w1 + w2) / 2 + 15  # ahead of where the face was: where it will be
    assert moving.frames_full == wide.frames_full == 1


def test_moving_share_finds_a_walker_that_turns_back(frames: list[np.ndarray]) -> None:
    xs = [100, 130, 160, 190, 160, 130, 100, 70]  # turns back after four frames
    det = roi_detector(50, roi_margin=1.0)
    det.known.moving_share = 0.5
    found = [len(det.detect(img, i).accepted()) for i, img in enumerate(_walker(frames, xs))]
    assert sum(found) >= len(xs) - 1  # at most the turning frame is missed; then the wide margin finds it
    assert found[-1] == 1
    assert det.frames_full == 1


def test_without_moving_share_regions_stay_where_faces_were(frames: list[np.ndarray]) -> None:
    det = roi_detector(50, roi_margin=1.0)
    imgs = _walker(frames, [100, 130, 160])
    det.detect(imgs[0], 0)
    det.detect(imgs[1], 1)
    x1, _, x2, _, _ = det.regions_for((480, 270))[0]
    box = det.known.boxes[0]
    assert (x1 + x2) / 2 == pytest.approx((box[0] + box[2]) / 2, abs=1.0)  # centred on the last box


def test_a_face_that_appears_beside_a_followed_one_gets_no_velocity() -> None:
    known = RoiDetector(_NoFaces(), _NoFaces(), 50, 1.0, 24.0, 32.0, moving_share=0.5).known
    a = np.array([[400, 100, 450, 150]], np.float32)
    b = np.array([[520, 100, 570, 150]], np.float32)  # appears 120 px right of A (A's wide region)
    known.remember(a, 3)
    known.remember(a + _dx(9), 3)  # A moves 3 px a frame: followed
    assert known.velocities[0].tolist() == pytest.approx([3.0, 0.0])
    known.remember(np.concatenate([a + _dx(18), b]), 3)
    assert known.velocities[0].tolist() == pytest.approx([3.0, 0.0]) and np.isnan(known.velocities[1]).all()
    known.remember(b + _dx(3), 3)  # A missed: B is paired with B, not A
    assert known.velocities[0].tolist() == pytest.approx([1.0, 0.0])


def test_velocity_is_per_source_frame_across_sampling_gaps() -> None:
    det = RoiDetector(_NoFaces(), _NoFaces(), 50, 1.0, 24.0, 32.0, moving_share=0.5)
    box = np.array([[100, 100, 150, 150]], np.float32)
    for k in range(3):  # every 3rd source frame, 30 px a step: 10 px a source frame
        det.known.remember(box + _dx(30 * k), 3)
    assert det.known.velocities[0].tolist() == pytest.approx([10.0, 0.0])
    ((x1, _, x2, _, _),) = det.regions_for((1280, 720), 3)
    assert (x1 + x2) / 2 == pytest.approx(125 + 60 + 30, abs=1.0)  # centred 3 frames ahead


def _dx(px: float) -> np.ndarray:
    return np.array([px, 0, px, 0], np.float32)


class _NoFaces:
    """Stand-in detector for ``RoiDetector``'s bookkeeping tests (``_remember`` is fed boxes)."""

    name, framing = "none", "utkface"

    def detect(self, image: np.ndarray) -> Faces:
        return Faces.empty()

    def reset(self) -> None:
        pass
