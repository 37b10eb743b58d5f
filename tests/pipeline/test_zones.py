"""Ignore zones (``pipeline/detect/zones.py``): a face centred in a zone the operator drew is not logged,
tracked or counted. Polygon tests, config errors, the CLI's one-line error, and a real file run of
the clip shipped in the package (three people side by side) with a zone over one of them; no ../shared.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from facelog.pipeline.config import load_config, zone_problem
from facelog.pipeline.detect.zones import IgnoreZones, in_zones
from facelog.pipeline.errors import ConfigError
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import tracks_path
from facelog.pipeline.types import Faces

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_faces import read_sample_faces  # the sample clip's frames and YuNet faces

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "pipeline" / "samples" / "face-demographics-walking-and-pause.mp4"
LEFT_THIRD = [[0.0, 0.0], [1 / 3, 0.0], [1 / 3, 1.0], [0.0, 1.0]]  # the sample's left person (x < 160 of 480)


def _boxes(*centres: tuple[float, float], side: float = 10.0) -> np.ndarray:
    return np.array(
        [[x - side / 2, y - side / 2, x + side / 2, y + side / 2] for x, y in centres], np.float32
    )


def test_a_face_is_in_a_zone_by_its_box_centre_at_any_frame_size() -> None:
    triangle = [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)]  # the top-left corner cut along the diagonal
    boxes = _boxes((10, 10), (60, 10), (20, 20), (49, 1), (40, 40))
    assert in_zones(boxes, [triangle], 100, 100).tolist() == [
        True,
        False,
        True,
        True,
        False,
    ]  # (49, 1): the edge
    # the same zone on a frame twice as big: the same faces at twice the pixels
    assert in_zones(boxes * 2, [triangle], 200, 200).tolist() == [True, False, True, True, False]
    # a box whose corner is in the zone but whose centre is not stays
    assert not in_zones(np.array([[45.0, 0.0, 75.0, 30.0]]), [triangle], 100, 100)[0]
    # the edge counts as inside; two zones: inside either
    assert in_zones(_boxes((50, 50)), [[(0.5, 0.5), (1, 0.5), (1, 1)]], 100, 100).tolist() == [True]
    two = [triangle, [(0.9, 0.9), (1, 0.9), (1, 1), (0.9, 1)]]
    assert in_zones(_boxes((95, 95), (60, 10)), two, 100, 100).tolist() == [True, False]
    assert in_zones(np.zeros((0, 4)), [triangle], 100, 100).shape == (0,)


def test_zone_problems_are_named() -> None:
    assert zone_problem([(0, 0), (1, 0), (1, 1)]) is None
    assert "at least 3" in str(zone_problem([(0, 0), (1, 1)]))
    assert "0 to 1" in str(zone_problem([(0, 0), (640, 0), (640, 360)]))  # pixels, not fractions
    assert "0 to 1" in str(zone_problem([(0, 0), (float("nan"), 0), (1, 1)]))
    assert "0 to 1" in str(zone_problem([(0, 0), (float("inf"), 0), (1, 1)]))
    assert "area" in str(zone_problem([(0, 0), (0.5, 0.5), (1, 1)]))  # on one line
    assert "cross" in str(zone_problem([(0, 0), (1, 1), (1, 0), (0, 1)]))  # a bowtie: its two halves cancel


def test_a_camera_s_own_zones_replace_the_run_s() -> None:
    zones = IgnoreZones([LEFT_THIRD], {"lobby": [[(0.5, 0), (1, 0), (1, 1)]], "door": []})
    faces = Faces(_boxes((100, 100), (400, 50)), np.array([0.9, 0.9], np.float32))
    kept, ignored = zones.outside("file.mp4", faces, 480, 270)  # the run's zones
    assert ignored.tolist() == faces.xyxy[:1].tolist() and kept.xyxy.tolist() == faces.xyxy[1:].tolist()
    kept, ignored = zones.outside("lobby", faces, 480, 270)  # the camera's own
    assert ignored.tolist() == faces.xyxy[1:].tolist() and kept.xyxy.tolist() == faces.xyxy[:1].tolist()
    kept, ignored = zones.outside("door", faces, 480, 270)  # a camera with none
    assert kept is faces and ignored.shape == (0, 4)
    assert not IgnoreZones() and IgnoreZones([LEFT_THIRD])


def test_config_takes_zones_and_names_a_bad_one(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        {
            "detector.ignore_zones": [LEFT_THIRD],
            "rtsp": {"cameras": [{"name": "lobby", "url": "rtsp://h/1", "ignore_zones": []}]},
        },
    )
    assert cfg.detector.ignore_zones == [[tuple(p) for p in LEFT_THIRD]]
    assert cfg.rtsp.cameras[0].ignore_zones == []
    assert load_config(None).detector.ignore_zones == []
    with pytest.raises(ConfigError, match=r"detector.ignore_zones: .*zone 1: .*0 to 1"):
        load_config(None, {"detector.ignore_zones": [LEFT_THIRD, [[0, 0], [640, 0], [640, 360]]]})
    with pytest.raises(ConfigError, match=r"rtsp.cameras.0.ignore_zones.*at least 3"):
        load_config(
            None, {"rtsp": {"cameras": [{"name": "a", "url": "rtsp://h/1", "ignore_zones": [[[0, 0]]]}]}}
        )
    with pytest.raises(ConfigError, match=r"detector.ignore_zones"):  # a point that is not [x, y]
        load_config(None, {"detector.ignore_zones": [[[0, 0, 0], [1, 0], [1, 1]]]})
    # one zone without the outer list, the likeliest slip: said so, not "not a valid tuple"
    with pytest.raises(ConfigError, match=r"detector.ignore_zones: .*wrap one zone in one more \[ \]"):
        load_config(None, {"detector.ignore_zones": LEFT_THIRD})


def test_cli_bad_zone_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "zones.yaml"
    config.write_text(yaml.safe_dump({"detector": {"ignore_zones": [[[0, 0], [1, 1]]]}}))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "facelog.cli", "run", str(SAMPLE), "-o", str(out), "--config", str(config)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("facelog: error: config ")
    assert "ignore_zones" in r.stderr and "at least 3" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def _run(
    tmp_path: Path, name: str, zones: list[list[list[float]]]
) -> tuple[list[dict[str, str]], dict, list]:
    cfg = load_config(None, {"detector.ignore_zones": zones})
    out = tmp_path / f"{name}.csv"
    with InferenceSession(cfg) as session:
        process_video(SAMPLE, out, cfg, session=session)
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    with tracks_path(out).open(newline="") as f:
        persons = [r for r in csv.DictReader(f) if r["status"] == "person"]
    return rows, json.loads((tmp_path / f"{name}.summary.json").read_text()), persons


def _centre_x(r: dict[str, str]) -> float:
    return (float(r["x1"]) + float(r["x2"])) / 2


def test_a_person_in_a_zone_is_not_logged_and_the_others_are(tmp_path: Path) -> None:
    rows, summary, persons = _run(tmp_path, "all", [])
    in_left = [r for r in rows if _centre_x(r) < 160]
    assert in_left and len(persons) == 3 and summary["faces_ignored"] == 0
    z_rows, z_summary, z_persons = _run(tmp_path, "zoned", [LEFT_THIRD])
    assert not [r for r in z_rows if _centre_x(r) <= 160]  # nobody logged in the zone...
    assert len(z_persons) == 2  # ... or counted
    # the others' rows are the same detections, frame by frame
    key = ("frame_index", "x1", "y1", "x2", "y2")
    assert {tuple(r[k] for k in key) for r in z_rows} == {
        tuple(r[k] for k in key) for r in rows if _centre_x(r) >= 160
    }
    assert z_summary["faces_ignored"] >= len(in_left) and z_summary["faces"] == len(z_rows)


def test_a_live_camera_s_zones_apply_to_its_frames_only() -> None:
    # the run's zone is the right two thirds; "lobby" has its own (the left third), "hall" none
    right = [[1 / 3, 0.0], [1.0, 0.0], [1.0, 1.0], [1 / 3, 1.0]]
    cameras = [
        {"name": "lobby", "url": "rtsp://h/1", "ignore_zones": [LEFT_THIRD]},
        {"name": "hall", "url": "rtsp://h/2", "ignore_zones": []},
    ]
    cfg = load_config(None, {"detector.ignore_zones": [right], "rtsp": {"cameras": cameras}})
    frames = read_sample_faces()[:10]
    with InferenceSession(cfg) as session:
        analyzer = session.analyzer(live=True)  # the one a live run shares between its cameras
        dropped = 0
        for frame, faces in frames:
            sources = ("lobby", "door", "hall")
            got = {
                r.source_id: r
                for r in analyzer.analyze([(dataclasses.replace(frame, source_id=s), faces) for s in sources])
            }
            left = in_zones(faces.xyxy, [LEFT_THIRD], 480, 270)
            assert [p.xyxy for p in got["lobby"].predictions] == [
                tuple(map(float, b)) for b in faces.xyxy[~left]
            ]
            assert [p.xyxy for p in got["door"].predictions] == [
                tuple(map(float, b)) for b in faces.xyxy[left]
            ]
            # what was dropped travels with the frame (blurred in an annotated video), never as a row
            assert list(got["lobby"].ignored) == [tuple(map(float, b)) for b in faces.xyxy[left]]
            assert len(got["hall"].predictions) == len(faces) and not got["hall"].ignored  # its empty list
            dropped += len(got["lobby"].ignored) + len(got["door"].ignored)
        # a file run's analyzer knows no cameras: a file named like one gets the run's zones only
        file_run = session.analyzer()
        # a live run joins pieces of a person as a file run does (its tracks CSV names them: pieces)
        assert analyzer.tracking is not None and analyzer.tracking.join_max_distance == 0.4
        assert file_run.tracking is not None and file_run.tracking.join_max_distance == 0.4
        frame, faces = frames[0]
        (res,) = file_run.analyze([(dataclasses.replace(frame, source_id="lobby"), faces)])
        assert [p.xyxy for p in res.predictions] == [tuple(map(float, b)) for b in faces.xyxy[left]]
    ignored = sum(int(in_zones(f.xyxy, [LEFT_THIRD], 480, 270).sum()) for _, f in frames)
    assert ignored >= 5 and analyzer.times.faces_ignored == dropped > ignored  # the run's: every source's


def test_a_live_camera_loop_leaves_its_zone_out_of_its_csv_and_counts_it(tmp_path: Path) -> None:
    from facelog.pipeline.live.loop import Camera, CameraLoop

    lobby = {"name": "lobby", "url": "rtsp://127.0.0.1/1", "ignore_zones": [LEFT_THIRD]}
    cfg = load_config(None, {"rtsp": {"metrics_port": None, "cameras": [lobby]}})
    frames = [
        dataclasses.replace(f, source_id="lobby", wall_ns=10**18 + f.pts_ns) for f, _ in read_sample_faces()
    ]
    with InferenceSession(cfg) as session:
        runner = CameraLoop(
            [Camera("lobby", "rtsp://127.0.0.1/1"), Camera("door", "rtsp://127.0.0.1/2")], session, tmp_path
        )
        for frame in frames[:12]:  # the loop's own detection (no detect threads outside run())
            runner._process([frame, dataclasses.replace(frame, source_id="door")])
        runner._process([])
        summary = runner.summary().cameras
        for sink in runner.sinks.values():
            sink.close()
    rows = {}
    for cam in ("lobby", "door"):
        with runner.sinks[cam].files[0].open(newline="") as f:
            rows[cam] = list(csv.DictReader(f))
    assert rows["door"] and any(_centre_x(r) < 160 for r in rows["door"])  # the other camera keeps them
    assert rows["lobby"] and not any(_centre_x(r) <= 160 for r in rows["lobby"])
    assert summary["lobby"].faces_ignored > 0 and summary["door"].faces_ignored == 0
    metrics = runner.metrics.exposition().decode()  # what Prometheus scrapes while the run goes on
    assert f'facelog_faces_ignored_total{{camera="lobby"}} {float(summary["lobby"].faces_ignored)}' in metrics
    assert 'facelog_faces_ignored_total{camera="door"} 0.0' in metrics
    assert summary["lobby"].rows == len(rows["lobby"]) < len(rows["door"])


def test_the_annotated_video_outlines_the_zones() -> None:
    from facelog.pipeline.file.annotate import ZONE_COLOUR, draw
    from facelog.pipeline.types import FrameResult

    image = np.zeros((270, 480, 3), np.uint8)
    result = FrameResult("a.mp4", 0, 0, ())
    assert not draw(image, result).any()  # no zones, no faces: nothing drawn
    out = draw(image, result, zones=(tuple((x, y) for x, y in LEFT_THIRD),))
    edge = out[100:200, 158:162].reshape(-1, 3)  # the zone's right side, x = 1/3 of 480
    assert (edge == ZONE_COLOUR).all(axis=1).any()
    assert not out[100:200, 300:].any()  # nothing outside the zone's outline


def test_zones_come_first_with_tracking_off_too() -> None:
    """Without tracking, boxes that could only continue a track are dropped too; a zone still wins."""
    cfg = load_config(None, {"detector.ignore_zones": [LEFT_THIRD], "tracking.enabled": False})
    frame, faces = next(
        (f, x) for f, x in read_sample_faces() if in_zones(x.xyxy, [LEFT_THIRD], 480, 270).any()
    )
    left = in_zones(faces.xyxy, [LEFT_THIRD], 480, 270)
    only = np.zeros(len(faces), bool)
    only[int(np.flatnonzero(~left)[0])] = True  # a face outside the zone, below the detector's threshold
    marked = dataclasses.replace(faces, track_only=only)
    with InferenceSession(cfg) as session:
        analyzer = session.analyzer()
        (res,) = analyzer.analyze([(frame, marked)])
    kept = faces.xyxy[~left & ~only]
    assert len(kept) >= 1 and [p.xyxy for p in res.predictions] == [tuple(map(float, b)) for b in kept]
    assert analyzer.times.faces_ignored == int(left.sum()) >= 1


def test_a_batch_run_counts_the_faces_its_zones_took(tmp_path: Path) -> None:
    from facelog.pipeline.archive import batch

    archive = tmp_path / "archive" / "cam1" / "2026-12-05"
    archive.mkdir(parents=True)
    (archive / "sample.mp4").write_bytes(SAMPLE.read_bytes())
    cfg = load_config(None, {"detector.ignore_zones": [LEFT_THIRD], "batch.workers": 1})
    run = batch.run_batch(tmp_path / "archive", tmp_path / "out", cfg, progress=False)
    assert (run.processed, run.failed) == (1, 0) and run.faces_ignored > 0
    saved = json.loads((tmp_path / "out" / "batch_summary.json").read_text())
    assert saved["faces_ignored"] == run.faces_ignored


def test_blur_faces_blurs_the_faces_a_zone_dropped_too() -> None:
    from facelog.pipeline.file.annotate import draw
    from facelog.pipeline.types import FrameResult

    image = np.random.default_rng(0).integers(0, 256, (270, 480, 3), dtype=np.uint8)  # all detail
    box = (300.0, 100.0, 360.0, 170.0)
    result = FrameResult("a.mp4", 0, 0, (), ignored=(box,))
    assert (draw(image, result) == image).all()  # no box or label is drawn for an ignored face...
    blurred = draw(image, result, blur_faces=True)
    face = np.s_[100:170, 300:360]
    assert blurred[face].std() < 0.3 * image[face].std()  # ... but with --blur-faces it is blurred
    assert (blurred[:, :280] == image[:, :280]).all()  # and nothing else
