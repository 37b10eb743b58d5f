"""IoU tracker: stable ids for moving faces, new ids for new faces, expiry, smoothing, majority gender."""

from __future__ import annotations

import math

import pytest

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.track import IouTracker
from facelog.pipeline.types import Gender, Prediction


def _p(i: int, x: float, age: float = 30.0, gender: Gender = "male", score: float = 0.9) -> Prediction:
    return Prediction(i, (x, 10.0, x + 50.0, 70.0), 0.9, age, gender, score)


def test_moving_face_keeps_its_id_and_new_face_gets_new_id() -> None:
    t = IouTracker(TrackingConfig())
    ids = [t.update((_p(0, 100 + 5 * k),))[0].track_id for k in range(10)]
    assert ids == [0] * 10
    out = t.update((_p(0, 150), _p(1, 400)))
    assert [p.track_id for p in out] == [0, 1]


def test_two_faces_swap_order_but_keep_ids() -> None:
    t = IouTracker(TrackingConfig())
    a, b = t.update((_p(0, 0), _p(1, 200)))
    assert (a.track_id, b.track_id) == (0, 1)
    # same boxes, given in the other order
    out = t.update((_p(0, 200), _p(1, 0)))
    assert [p.track_id for p in out] == [1, 0]


def test_track_survives_max_missed_then_ends() -> None:
    t = IouTracker(TrackingConfig(max_missed=2))
    t.update((_p(0, 100),))
    t.update(())
    t.update(())
    assert t.update((_p(0, 100),))[0].track_id == 0, "back after 2 empty frames"
    for _ in range(3):
        t.update(())
    assert t.update((_p(0, 100),))[0].track_id == 1, "a new track after 3 empty frames"


def test_running_mean_age_and_majority_gender() -> None:
    t = IouTracker(TrackingConfig(smoothing="mean"))
    seq: list[tuple[float, Gender]] = [(20, "female"), (40, "female"), (30, "male"), (50, "female")]
    outs = [t.update((_p(0, 100, age, g),))[0] for age, g in seq]
    assert [o.age_smooth for o in outs] == pytest.approx([20, 30, 30, 35])
    assert [o.gender_smooth for o in outs] == ["female"] * 4
    assert [o.age for o in outs] == [20, 40, 30, 50], "per-frame values are kept"


def test_gender_tie_goes_to_higher_probability_mass() -> None:
    t = IouTracker(TrackingConfig())
    t.update((_p(0, 100, gender="male", score=0.55),))
    out = t.update((_p(0, 100, gender="female", score=0.95),))[0]
    assert out.gender_smooth == "female"


def test_ema_smoothing() -> None:
    t = IouTracker(TrackingConfig(smoothing="ema", ema_alpha=0.5))
    ages = [t.update((_p(0, 100, a),))[0].age_smooth for a in (10, 30, 30)]
    assert ages == pytest.approx([10, 20, 25])


def test_reset_forgets_tracks_but_never_reuses_ids() -> None:
    t = IouTracker(TrackingConfig())
    t.update((_p(0, 100),))
    t.reset()
    assert t.update((_p(0, 100),))[0].track_id == 1


def test_empty_frame_gives_empty_tuple() -> None:
    assert IouTracker(TrackingConfig()).update(()) == ()


def test_untracked_prediction_defaults() -> None:
    p = _p(0, 0)
    assert p.track_id == -1 and math.isnan(p.age_smooth) and p.gender_smooth is None


def test_frames_out_of_order_are_a_clear_error() -> None:
    t = IouTracker(TrackingConfig())
    face = (_p(0, 10.0),)
    t.update(face, frame_index=3)
    with pytest.raises(ValueError, match=r"increasing index order: got frame 3 after frame 3"):
        t.update(face, frame_index=3)
    with pytest.raises(ValueError, match=r"got frame 1 after frame 3"):
        t.update(face, frame_index=1)
    assert t.update(face, frame_index=4)[0].track_id == 0  # in order again: the same track goes on
    t.reset()  # a seek or a reconnect: the order starts over
    assert t.update(face, frame_index=0)[0].track_id == 1


def test_iou_matrix_values_shapes_and_bad_input() -> None:
    import numpy as np

    from facelog.pipeline.boxes import iou_matrix

    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    got = iou_matrix(a, b)
    assert got.shape == (2, 3) and got.dtype == np.float32
    assert got[0].tolist() == pytest.approx([1.0, 50 / 150, 0.0])
    assert got[1].tolist() == [0.0, 0.0, 0.0]  # a degenerate box overlaps nothing
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    with pytest.raises(ValueError, match=r"a must be \(n, 4\) xyxy boxes, got \(3,\)"):
        iou_matrix(np.zeros(3), b)
