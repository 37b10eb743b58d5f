"""Gender from the identity descriptor: the shipped read-out on the real faces of the shipped sample clip,
the person's answer as the mean of two readers' log-odds, which faces a track keeps for it, and a
damaged read-out file."""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facelog.pipeline.config import TrackingConfig
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.gender import IdentityGender
from facelog.pipeline.tracking.identity import (
    IDENTITY_DIM,
    IdentityEmbedder,
    IdentityError,
    cut_patch,
)
from facelog.pipeline.tracking.persons import FaceOutputs, PersonTracks
from facelog.pipeline.types import Faces, Frame, PersonResult, Prediction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_faces import SAMPLE, read_sample_faces  # the shipped clip's real faces


@pytest.fixture(scope="module")
def sample_faces() -> list[tuple[Frame, Faces]]:
    """Every frame of the shipped sample clip with its YuNet faces (``sample_faces.read_sample_faces``)."""
    return read_sample_faces()


def _write_reader(path: Path, bias: float, weight: float = 0.0) -> Path:
    doc = {
        "mean": [0.0] * IDENTITY_DIM,
        "std": [1.0] * IDENTITY_DIM,
        "weight": [weight] * IDENTITY_DIM,
        "bias": bias,
    }
    path.write_text(json.dumps(doc))
    return path


def test_shipped_reader_reads_the_sample_clips_woman_with_glasses_as_female(
    sample_faces: list[tuple[Frame, Faces]],
) -> None:
    """The woman on the right of the sample clip (blond, glasses, 43-57 px), whom the age/gender model
    reads as male in every frame (issue 21), is female to the descriptor on most of her faces; the
    bald man in the middle is male on most of his."""
    emb, reader = IdentityEmbedder(), IdentityGender()
    by_side: dict[str, list[float]] = {"right": [], "middle": []}
    for frame, faces in sample_faces[::3]:
        for box in faces.xyxy:
            cx = (box[0] + box[2]) / 2
            side = "right" if cx >= 270 else "middle" if cx >= 160 else None
            if side is None:
                continue
            d = emb.embed(cut_patch(frame.image, box, frame.index))
            if d is not None:
                by_side[side].append(float(reader.female_logit(d)[0]))
    assert len(by_side["right"]) >= 5 and len(by_side["middle"]) >= 5
    assert np.mean(np.array(by_side["right"]) > 0) >= 0.8
    assert np.mean(np.array(by_side["middle"]) < 0) >= 0.8


def _step(tracks: PersonTracks, frame: Frame, faces: Faces, female: float) -> tuple[PersonResult, ...]:
    """One frame through ``tracks``, every face read by the model as 40 years and ``female``."""
    n = len(faces)
    age = np.zeros((n, 101), np.float32)
    age[:, 40] = 1.0
    out = FaceOutputs(age, np.full(n, female, np.float32))
    preds = tuple(
        Prediction(i, tuple(float(v) for v in faces.xyxy[i]), float(faces.score[i]), 40.0, "male", 0.9)
        for i in range(n)
    )
    return tracks.update(frame, faces, out, preds)[1]


def _run(tracks: PersonTracks, items: list[tuple[Frame, Faces]], female: float) -> list[PersonResult]:
    persons: list[PersonResult] = []
    for frame, faces in items:
        persons += _step(tracks, frame, faces, female)
    return persons + list(tracks.finish())


def _tracks(reader: IdentityGender | None = None, **cfg: Any) -> PersonTracks:
    return PersonTracks("sample", TrackingConfig(**({"use_body": False} | cfg)), FusionParams(), None, reader)


def test_person_gender_is_the_mean_of_both_readers_log_odds(
    sample_faces: list[tuple[Frame, Faces]], tmp_path: Path
) -> None:
    """With a read-out that says female at log-odds +6 whatever the face, each person's answer is the
    model's fused log-odds (here male, 0.2 a frame) and +6, averaged; without it, the model's alone.
    The frame rows keep the model's running answer either way."""
    alone = _run(_tracks(gender_faces=0), sample_faces, female=0.2)
    assert len(alone) == 3 and all(p.gender == "male" for p in alone)

    tracks = _tracks(IdentityGender(_write_reader(tmp_path / "reader.json", bias=6.0)), gender_faces=2)
    both = _run(tracks, sample_faces, female=0.2)
    assert [p.track_id for p in both] == [p.track_id for p in alone]
    for a, b in zip(alone, both, strict=True):
        model_logit = math.log((1 - a.gender_score) / a.gender_score)  # a is male: P(female) = 1 - score
        want = 1 / (1 + math.exp(-(model_logit + 6.0) / 2))
        got = b.gender_score if b.gender == "female" else 1 - b.gender_score
        assert got == pytest.approx(want, abs=1e-4)
        assert (b.age, b.frames) == (a.age, a.frames)
    assert tracks.gender is not None
    assert tracks.gender.read == 3 and tracks.gender.changed == sum(p.gender == "female" for p in both)


def _frame(k: int, w: float, h: float | None = None, score: float = 0.9) -> tuple[Frame, Faces]:
    """A grey 25-fps frame with one face box of ``w`` x ``h`` px at a fixed place."""
    h = w if h is None else h
    img = np.full((240, 320, 3), 90, np.uint8)
    cv2.ellipse(img, (160, 120), (int(w // 2), int(h // 2)), 0, 0, 360, (160, 170, 200), -1)
    box = np.array([[160 - w / 2, 120 - h / 2, 160 + w / 2, 120 + h / 2]], np.float32)
    return Frame("c", k, k * 40_000_000, img), Faces(box, np.array([score], np.float32))


def _kept(tracks: PersonTracks) -> list[tuple[float, int, Any]]:
    return next(iter(tracks._live.values())).kept.faces


def test_faces_narrower_than_the_descriptor_takes_are_never_kept(tmp_path: Path) -> None:
    """The descriptor needs a box 32 px wide: a 24-px face and a 30 x 40 one (sqrt area 34.6) are not
    kept, so they can take no place from a face that gives a reading."""
    reader = IdentityGender(_write_reader(tmp_path / "reader.json", bias=0.0))
    for w, h in ((24.0, 24.0), (30.0, 40.0)):
        tracks = _tracks(reader, gender_faces=3, use_identity=False)
        for k in range(50):
            _step(tracks, *_frame(k, w, h), female=0.5)
            assert _kept(tracks) == []
    tracks = _tracks(reader, gender_faces=3, use_identity=False)
    _step(tracks, *_frame(0, 32.0, 40.0), female=0.5)
    assert len(_kept(tracks)) == 1


def test_kept_faces_are_the_best_and_a_second_apart(tmp_path: Path) -> None:
    """One place: the best face of the whole track is kept (the weight follows the detector score,
    which peaks at frame 77); three places: at most three, at least a second apart."""
    reader = IdentityGender(_write_reader(tmp_path / "reader.json", bias=0.0))
    scores = [0.75 + 0.2 * float(np.exp(-(((k - 77) / 15) ** 2))) for k in range(150)]
    tracks = _tracks(reader, gender_faces=1, use_identity=False)
    for k in range(150):
        _step(tracks, *_frame(k, 40.0, score=scores[k]), female=0.5)
    (kept,) = _kept(tracks)
    assert kept[2].frame_index == 77
    tracks = _tracks(reader, gender_faces=3, use_identity=False)
    for k in range(150):
        _step(tracks, *_frame(k, 40.0, score=scores[k]), female=0.5)
        times = sorted(t for _, t, _ in _kept(tracks))
        assert len(times) <= 3 and all(b - a >= 1_000_000_000 for a, b in itertools.pairwise(times))
    assert len(_kept(tracks)) == 3 and 77 in {face.frame_index for _, _, face in _kept(tracks)}


def test_a_damaged_reader_file_stops_a_run_with_one_line_before_any_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from facelog.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"mean": [0.0], "std": [1.0], "weight": [1.0], "bias": 0}')
    monkeypatch.setattr("facelog.pipeline.tracking.gender.shipped_identity_gender_path", lambda: bad)
    out = tmp_path / "out.csv"
    assert main(["run", str(SAMPLE), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("facelog: error: identity gender file") and "128 finite numbers" in err[-1]
    assert not out.exists() and not list(tmp_path.glob("out*"))


def test_a_damaged_reader_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mean": [0.0], "std": [1.0], "weight": [1.0], "bias": 0}')
    with pytest.raises(IdentityError, match="128 finite numbers"):
        IdentityGender(bad)
    _write_reader(bad, bias=float("nan"))
    with pytest.raises(IdentityError, match="bias one finite number"):
        IdentityGender(bad)
    with pytest.raises(ValueError, match=r"\(k, 128\)"):
        IdentityGender(_write_reader(tmp_path / "ok.json", bias=0.0)).female_logit(np.zeros((2, 64)))
    bad.write_text("not json")
    with pytest.raises(IdentityError, match="unreadable"):
        IdentityGender(bad)
    with pytest.raises(IdentityError, match="unreadable"):
        IdentityGender(tmp_path / "missing.json")
