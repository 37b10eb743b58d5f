"""Person tracks through the analyzer: tracker ids, fused answers, ended persons, the tracks CSV.

No ../shared: a fake backend answers from a face's colour (identity, gender, age) and a fake detector
finds coloured squares, so the expected persons are known exactly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from facelog.engines.base import HeadMeta, ModelMeta
from facelog.pipeline.analyzer import FaceAnalyzer
from facelog.pipeline.config import CropConfig, TrackingConfig, load_config
from facelog.pipeline.crop import YUNET_FRAMING
from facelog.pipeline.file.outputs import summary_path
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import HEADER, TRACKS_HEADER, tracks_path
from facelog.pipeline.types import Faces, Frame, FrameResult, PersonResult

W, H, SIDE = 320, 240, 40
RED, BLUE, YELLOW = (0, 0, 255), (255, 0, 0), (0, 255, 255)  # BGR
SHIRTS = {BLUE: (190, 120, 120), YELLOW: (120, 190, 190)}


class ColourBackend:
    """Age, gender and embedding from a chip's mean colour: red/yellow faces female, blue male;
    yellow faces 60 years old, others 20; embedding = the mean RGB direction (people told apart)."""

    name = "fake"

    def __init__(self, embedding: bool = True) -> None:
        outputs = ("age", "gender", "embedding") if embedding else ("age", "gender")
        self.meta = ModelMeta(
            name="colour", version="1", input_name="input", input_hw=(64, 64), layout="NHWC",
            max_batch=0, outputs=outputs, mean=127.5, std=127.5,
            heads=(HeadMeta("age", "age"), HeadMeta("gender", "categorical", ("male", "female"))),
        )  # fmt: skip
        self.embedding = embedding

    def infer(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        rgb = pixels.mean(axis=(1, 2))  # (B, 3) in [-1, 1]
        female = 1 / (1 + np.exp(-8 * (rgb[:, 0] - rgb[:, 2])))
        mu = np.where(rgb[:, 1] > 0.1, 60.0, 20.0)
        ages = np.exp(-0.5 * ((np.arange(101)[None, :] - mu[:, None]) / 3.0) ** 2)
        out = {
            "age": (ages / ages.sum(1, keepdims=True)).astype(np.float32),
            "gender": np.stack([1 - female, female], 1).astype(np.float32),
        }
        if self.embedding:
            out["embedding"] = (rgb / np.linalg.norm(rgb, axis=1, keepdims=True)).astype(np.float32)
        return out

    def close(self) -> None:
        pass


def _scene(k: int) -> tuple[np.ndarray, list[tuple[int, int, tuple[int, int, int]]]]:
    """Frame k of 30: A (red) walks right; B (blue) stands at x=220 in frames 1-7 (after the first
    frame, so the scene behind B's shirt is known: ``appearance.BackgroundModel``); C (yellow) stands
    at the same spot from frame 10 (a replacement)."""
    img = np.full((H, W, 3), 128, np.uint8)
    people = [(20 + 5 * k, 40, RED)]
    if 1 <= k <= 7:
        people.append((220, 40, BLUE))
    if k >= 10:
        people.append((220, 40, YELLOW))
    for x, y, c in people:
        img[y : y + SIDE, x : x + SIDE] = c
        if c != RED:  # B and C wear shirts of different hues (pale: no detector takes them for faces)
            img[y + SIDE + 12 : y + SIDE + 80, x - 20 : x + SIDE + 20] = SHIRTS[c]
    return img, people


def _faces(people: list[tuple[int, int, tuple[int, int, int]]], score: float = 0.9) -> Faces:
    xyxy = np.array([[x, y, x + SIDE, y + SIDE] for x, y, _ in people], np.float32).reshape(-1, 4)
    return Faces(xyxy, np.full(len(people), score, np.float32))


def _analyzer(**tracking: Any) -> FaceAnalyzer:
    return FaceAnalyzer(
        ColourBackend(), CropConfig(framing="box"), framing=YUNET_FRAMING, tracking=TrackingConfig(**tracking)
    )


def _run(analyzer: FaceAnalyzer, n: int = 30) -> tuple[list[FrameResult], tuple[PersonResult, ...]]:
    results = []
    for k in range(n):
        img, people = _scene(k)
        faces = _faces(people)
        if k == 5:  # a one-frame low-score false positive: never confirmed, never a person
            faces = Faces(
                np.vstack([faces.xyxy, [[100, 180, 130, 210]]]).astype(np.float32),
                np.append(faces.score, 0.5).astype(np.float32),
            )
        results += analyzer.analyze([(Frame("cam", k, k * 100_000_000, img), faces)])
    return results, analyzer.finish()


def test_people_get_one_id_each_and_one_fused_answer() -> None:
    results, rest = _run(_analyzer(reid_frames=0))  # no re-identification window: B ends at 10 lost frames
    ended = [p for r in results for p in r.ended]
    persons = {p.track_id: p for p in (*ended, *rest)}
    ids = {r.frame_index: [p.track_id for p in r.predictions] for r in results}
    a, b, c = ids[0][0], ids[1][1], ids[12][1]
    assert {ids[k][0] for k in range(30)} == {a}  # the walker keeps one id
    assert c not in (a, b)  # a different person at the vacated spot: a new id
    assert sorted(persons) == sorted([a, b, c])  # the false positive is dropped
    # B ended while the video went on (lost > 10 frames); it stood still, so its spot holds it until
    # the spot is decided (a still pattern seen again there) or forgotten: here the end of input
    assert not ended and b in {p.track_id for p in rest}
    assert (persons[a].gender, persons[b].gender, persons[c].gender) == ("female", "male", "female")
    assert persons[a].age < 30 and persons[c].age > 50
    assert persons[a].age_low <= persons[a].age <= persons[a].age_high
    assert (persons[a].first_frame, persons[a].last_frame, persons[a].frames) == (0, 29, 30)
    assert (persons[b].last_frame, persons[b].last_pts_ns, persons[c].first_frame) == (7, 700_000_000, 10)
    assert persons[a].face_px == pytest.approx(SIDE)
    last = results[-1].predictions[0]
    assert last.age_smooth == pytest.approx(persons[a].age) and last.gender_smooth == "female"


def test_without_embedding_or_body_the_replacement_continues_the_old_track() -> None:
    """The appearance gates are what keep people apart (the switches work)."""
    results, _ = _run(_analyzer(use_embedding=False, use_body=False, use_identity=False))
    ids = {r.frame_index: [p.track_id for p in r.predictions] for r in results}
    assert ids[12][1] == ids[1][1]


def test_tracking_off_gives_no_ids_and_no_persons() -> None:
    results, rest = _run(_analyzer(enabled=False), n=5)
    assert rest == () and all(r.ended == () for r in results)
    assert {p.track_id for r in results for p in r.predictions} == {-1}


@pytest.mark.parametrize("tracking", [True, False])
def test_track_only_boxes_continue_a_track_or_are_not_logged(tracking: bool) -> None:
    """Frame 3: A's box scores below the detector's threshold (track_only) and a stray track_only box
    sits on the grey background. With tracking A keeps its id and the stray box is dropped; without
    tracking neither is logged. The frame's face_index stays 0..n-1."""
    an = _analyzer(enabled=tracking)
    for k in range(4):
        img, people = _scene(k)
        faces = _faces(people)
        if k == 3:
            faces = Faces(
                np.vstack([faces.xyxy, [[100, 180, 130, 210]]]).astype(np.float32),
                np.array([0.35, 0.9, 0.35], np.float32),
                track_only=np.array([True, False, True]),
            )
        (r,) = an.analyze([(Frame("cam", k, k * 100_000_000, img), faces)])
        if k == 2:
            a_id = r.predictions[0].track_id
    kept = [(p.face_index, p.xyxy[0], p.track_id) for p in r.predictions]
    if tracking:
        assert [(i, x) for i, x, _ in kept] == [(0, 35.0), (1, 220.0)] and kept[0][2] == a_id
    else:
        assert kept == [(0, 220.0, -1)]


def test_reset_source_ends_the_tracks_and_allows_restarted_indices() -> None:
    an = _analyzer()  # every pts 0 here: no timestamps, so only the detections count (no span rule)
    for k in range(4):  # B (from frame 1) has its 3 detections: enough evidence for a person
        img, people = _scene(k)
        an.analyze([(Frame("cam", k, 0, img), _faces(people))])
    ended = an.reset_source("cam")
    assert len(ended) == 2
    img, people = _scene(0)
    (r,) = an.analyze([(Frame("cam", 0, 0, img), _faces(people))])
    assert min(p.track_id for p in r.predictions) > max(p.track_id for p in ended)  # ids not reused


# --- the file run: tracks CSV beside the frame CSV --------------------------------------------------


@dataclass
class SquareDetector:
    """Finds saturated squares (the scene's faces) in a decoded frame."""

    name: str = "squares"
    framing: Any = YUNET_FRAMING

    def detect(self, image_bgr: np.ndarray, frame_index: int | None = None) -> Faces:
        sat = (image_bgr.max(2).astype(int) - image_bgr.min(2)) > 100
        n, _, stats, _ = cv2.connectedComponentsWithStats(sat.astype(np.uint8))
        boxes = [(x, y, x + w, y + h) for x, y, w, h, a in stats[1:n] if a > 400]
        boxes.sort()
        return Faces(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32))

    def describe(self) -> dict[str, Any]:
        return {}

    def reset(self) -> None:
        pass


@pytest.fixture(scope="module")
def scene_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scene") / "scene.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (W, H))
    if not w.isOpened():
        pytest.skip("OpenCV cannot write MJPG here")
    for k in range(30):
        w.write(_scene(k)[0])
    w.release()
    return path


@pytest.fixture
def session(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    cfg = load_config(
        None,
        {
            "model.path": str(tiny_model),
            "detector.kind": "blazeface",
            "batching.batch_size": 2,
            "tracking.frontal_check": False,  # drawn squares: not faces to the check (test_frontal.py)
        },
    )
    with InferenceSession(cfg) as s:
        monkeypatch.setattr(s, "detectors", lambda n: [SquareDetector() for _ in range(n)])
        monkeypatch.setattr(s, "detector", SquareDetector())
        yield s


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_tracks_csv_matches_the_frame_csv(scene_video: Path, session: Any, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    s = process_video(scene_video, out, session.cfg, session=session)
    tracks = tracks_path(out)
    assert tracks == tmp_path / "o.tracks.csv"
    assert tracks.read_text().splitlines()[0] == ",".join(TRACKS_HEADER)
    rows, persons = _csv(out), _csv(tracks)
    assert len(persons) == 3 == s.persons and s.tracks == str(tracks)
    assert {p["track_id"] for p in persons} == {r["track_id"] for r in rows}
    for p in persons:
        mine = [r for r in rows if r["track_id"] == p["track_id"]]
        assert int(p["frames"]) == len(mine)
        assert (int(p["first_frame"]), int(p["last_frame"])) == (
            int(mine[0]["frame_index"]),
            int(mine[-1]["frame_index"]),
        )
        assert float(p["first_pts_ms"]) == float(mine[0]["pts_ms"])
        span_s = (float(p["last_pts_ms"]) - float(p["first_pts_ms"])) / 1000
        assert float(p["dwell_s"]) == pytest.approx(span_s)
        assert p["status"] == "person"
        assert p["model"] == "tiny-test-model@0.0.1" and p["schema_version"] == "2"
    assert next(p for p in persons if p["first_frame"] == "10")["last_frame"] == "29"
    assert list(rows[0]) == list(HEADER)
    assert '"persons": 3' in summary_path(out).read_text()


def test_failure_midway_leaves_neither_csv(
    scene_video: Path, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = FaceAnalyzer.analyze

    def flaky(self: FaceAnalyzer, items: Any) -> list[FrameResult]:
        calls["n"] += 1
        if calls["n"] == 12:  # after frame 8: B's track has ended and been written
            raise RuntimeError("boom")
        return real(self, items)

    monkeypatch.setattr(FaceAnalyzer, "analyze", flaky)
    out = tmp_path / "o.csv"
    out.write_text("stale\n")
    tracks_path(out).write_text("stale\n")
    with pytest.raises(RuntimeError, match="boom"):
        process_video(scene_video, out, session.cfg, session=session)
    assert list(tmp_path.iterdir()) == []  # no CSV, no tracks CSV, no summary, no temporary file


def test_a_session_loads_the_identity_model_once_and_counts_each_video_alone(
    scene_video: Path, session: Any, tmp_path: Path
) -> None:
    embedder = session.identity_embedder
    assert embedder is not None  # loaded with the session (~0.3 s), not at each video's first face
    first = process_video(scene_video, tmp_path / "a.csv", session.cfg, session=session)
    second = process_video(scene_video, tmp_path / "b.csv", session.cfg, session=session)
    assert session.identity_embedder is embedder
    assert first.timings["identity_embeddings"] > 0  # the persons' gender reading embeds their faces
    # the session's embedder has counted both videos; each summary counts its own
    assert first.timings["identity_embeddings"] == second.timings["identity_embeddings"]
    assert embedder.calls == 2 * first.timings["identity_embeddings"]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
