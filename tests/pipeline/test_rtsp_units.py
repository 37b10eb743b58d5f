"""RTSP building blocks that need no camera: redaction, backoff, URL checks, rotating CSVs, metrics HTTP."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import logging
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from facelog.pipeline.config import load_config
from facelog.pipeline.frames.interlace import Deinterlacer, Mode, keep_field
from facelog.pipeline.live.monitoring import CameraRate, Metrics, MetricsServer, RateCheck
from facelog.pipeline.live.probe import diagnose, validate_url
from facelog.pipeline.live.redact import RedactingFilter, redact_text, redact_url, url_secrets
from facelog.pipeline.live.rotating_sink import (
    LIVE_HEADER,
    LIVE_TRACKS_HEADER,
    RotatingCsvSink,
    RotatingTracksSink,
    safe_file_stem,
    wall_time_utc,
)
from facelog.pipeline.live.rtsp import (
    MAX_ANALYZE_FAILURES,
    AnalyzerFailing,
    Camera,
    CameraLoop,
    cameras_from_urls,
)
from facelog.pipeline.live.source import Backoff, LatestFrame, RtspSource, Sampler
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.types import Faces, Frame, FrameResult, PersonResult, Prediction

HOUR_NS = 3600 * 10**9
SINK = {"decimals": 2, "rotate_s": 3600.0, "flush_s": 2.0}  # a rotating sink's arguments in these tests


@pytest.mark.parametrize(
    "url, expected",
    [
        ("rtsp://alice:s3cret@10.0.0.5:554/cam", "rtsp://alice:***@10.0.0.5:554/cam"),
        ("rtsp://alice:p%40ss@host/x?ch=1", "rtsp://alice:***@host/x?ch=1"),
        ("rtsp://a:p@ss:w@rd@h:1/x", "rtsp://a:***@h:1/x"),
        ("rtsp://alice@host/x", "rtsp://alice@host/x"),
        ("rtsp://host/x?user=admin&password=hunter2&ch=1", "rtsp://host/x?user=admin&password=***&ch=1"),
        ("rtsp://10.0.0.5/stream", "rtsp://10.0.0.5/stream"),
        ("", ""),
    ],
    ids=["userinfo", "encoded", "at-in-password", "user-only", "query-secret", "no-credentials", "empty"],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_urls_and_known_secrets() -> None:
    text = "open rtsp://bob:pw1234@cam/a failed; retry http://x:y2@z/?token=abc; raw pw1234 echoed"
    out = redact_text(text, url_secrets("rtsp://bob:pw1234@cam/a"))
    assert "pw1234" not in out and "y2@" not in out and "abc" not in out
    assert "rtsp://bob:***@cam/a" in out and "token=***" in out


def test_redacting_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("facelog.test.redact")
    filt = RedactingFilter({"t0ps3cret"})
    caplog.handler.addFilter(filt)
    try:
        with caplog.at_level(logging.INFO, logger="facelog.test.redact"):
            logger.info("connecting to %s", "rtsp://u:t0ps3cret@h/x")
            try:
                raise RuntimeError("boom at rtsp://u:t0ps3cret@h/x")
            except RuntimeError:
                logger.exception("failed")
    finally:
        caplog.handler.removeFilter(filt)
    assert "t0ps3cret" not in caplog.text
    assert "rtsp://u:***@h/x" in caplog.text and "RuntimeError" in caplog.text


def test_camera_repr_hides_password() -> None:
    assert "s3cret" not in repr(Camera("door", "rtsp://u:s3cret@h/x"))


def test_cameras_from_urls_names_without_credentials_and_unique() -> None:
    cams = cameras_from_urls(["rtsp://u:pw@10.0.0.5:554/stream1", "rtsp://u:other@10.0.0.5:554/stream1"])
    assert [c.name for c in cams] == ["10.0.0.5_554_stream1", "10.0.0.5_554_stream1_2"]


@pytest.mark.parametrize(
    "url, problem",
    [
        ("rtsp://127.0.0.1:8554/cam", ""),
        ("rtsps://cam.example/x", ""),
        ("http://cam/x", "expected scheme rtsp"),
        ("rtsp//cam/x", "expected scheme rtsp"),
        ("rtsp:///x", "no host"),
        ("rtsp://cam:99999/x", "malformed URL"),
    ],
    ids=["ok", "rtsps-ok", "http", "no-colon", "no-host", "bad-port"],
)
def test_validate_url(url: str, problem: str) -> None:
    got = validate_url(url)
    assert (problem in got) if problem else got == ""


def test_diagnose_refused_and_dns() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert diagnose(f"rtsp://u:pw@127.0.0.1:{port}/x", 1.0)[0] == "refused"
    kind, reason = diagnose("rtsp://u:pw@no-such-host.invalid/x", 1.0)
    assert kind == "dns" and "pw" not in reason


def test_diagnose_server_that_never_answers() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        kind, reason = diagnose(f"rtsp://127.0.0.1:{srv.getsockname()[1]}/x", 0.3)
    assert kind == "no_answer" and "did not answer" in reason


@pytest.mark.parametrize("attempt", [1, 2, 5, 50])
def test_backoff_is_bounded_and_jittered(attempt: int) -> None:
    b = Backoff(initial_s=0.5, max_s=8.0, factor=2.0, jitter=0.25)
    rng = random.Random(0)
    delays = [b.delay(attempt, rng) for _ in range(200)]
    base = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert min(delays) >= base * 0.75 and max(delays) <= base * 1.25
    assert len(set(delays)) > 100  # jittered, so cameras do not reconnect in lockstep


def _frame(i: int) -> Frame:
    return Frame("cam", i, i * 40_000_000, np.zeros((4, 4, 3), np.uint8), wall_ns=i)


def _session(model: Path, extra: dict[str, object] | None = None, **rtsp: object) -> InferenceSession:
    """A real session (the tiny model, the shipped YuNet) whose ``rtsp`` section sets ``rtsp``;
    ``extra``: more config overrides (``{"tracking.gender_faces": 0}``)."""
    over = {"model.path": str(model), "backend.kind": "onnxruntime", "rtsp": {"metrics_port": None, **rtsp}}
    return InferenceSession(load_config(None, {**over, **(extra or {})}))


@pytest.fixture(scope="module")
def session(tiny_model: Path) -> Iterator[InferenceSession]:
    with _session(tiny_model) as s:
        yield s


def test_latest_frame_keeps_newest_and_counts_drops() -> None:
    ev = threading.Event()
    slot = LatestFrame(ev)
    assert slot.take() is None
    assert slot.put(_frame(0)) is False and ev.is_set()
    assert slot.put(_frame(1)) is True  # frame 0 was never taken: dropped
    got = slot.take()
    assert got is not None and got.index == 1
    assert slot.take() is None  # never hands out the same frame twice


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def _result(wall_ns: int, n_faces: int = 1, camera: str = "door/1") -> FrameResult:
    preds = tuple(
        Prediction(i, (10.0 * i, 20.0, 10.0 * i + 8, 30.0), 0.9, 30.0 + i, "female", 0.8)
        for i in range(n_faces)
    )
    return FrameResult(camera, wall_ns % 1000, 0, preds, wall_ns)


def test_rotating_sink_rotates_on_period_and_never_appends(tmp_path: Path) -> None:
    t0 = int(dt.datetime(2026, 11, 18, 8, tzinfo=dt.UTC).timestamp()) * 10**9  # on the hour
    header = list(LIVE_HEADER)
    with RotatingCsvSink(tmp_path, "door/1", "m@1", **SINK) as sink:
        assert sink.write(_result(t0 + 1)) == 1
        sink.write(_result(t0 + HOUR_NS - 1))
        assert sink.write(_result(t0 + HOUR_NS, n_faces=2)) == 2
        sink.write(_result(t0 + 5))  # clock stepped back: stays in the open file
    assert [p.name for p in sink.files] == ["door_1_20261118T080000Z.csv", "door_1_20261118T090000Z.csv"]
    first, second = (_read_csv(p) for p in sink.files)
    assert first[0] == header and [r[-1] for r in first[1:]] == [str(t0 + 1), str(t0 + HOUR_NS - 1)]
    assert [r[-1] for r in second[1:]] == [str(t0 + HOUR_NS)] * 2 + [str(t0 + 5)] and second[0] == header
    assert first[1][header.index("wall_time_utc")] == wall_time_utc(t0 + 1) == "2026-11-18T08:00:00.000Z"
    assert first[1][header.index("model")] == "m@1" and first[1][header.index("source")] == "door/1"
    with RotatingCsvSink(tmp_path, "door/1", "m@1", **SINK) as again:  # a restart in the same hour
        again.write(_result(t0 + 7))
    assert again.files[0].name == "door_1_20261118T080000Z_1.csv"
    assert len(_read_csv(sink.files[0])) == 3  # the old file is untouched


def test_rotating_sink_writes_no_row_for_a_frame_without_faces(tmp_path: Path) -> None:
    with RotatingCsvSink(tmp_path, "cam", "m@1", **SINK) as sink:
        assert sink.write(_result(10**18, n_faces=0, camera="cam")) == 0
    assert _read_csv(sink.files[0]) == [list(LIVE_HEADER)]


@pytest.mark.parametrize(
    "kwargs, match",
    [({}, None), ({"rotate_s": 0}, "rotate_s must be > 0"), ({"flush_s": -1}, "flush_s must be > 0")],
    ids=["ok", "zero-rotate", "negative-flush"],
)
def test_rotating_sink_validates_arguments(
    tmp_path: Path, kwargs: dict[str, float], match: str | None
) -> None:
    ctx = pytest.raises(ValueError, match=match) if match else nullcontext()
    with ctx:
        RotatingCsvSink(tmp_path, "cam", "m@1", **(SINK | kwargs)).close()


def test_rotating_sink_flushes_within_flush_interval(tmp_path: Path) -> None:
    sink = RotatingCsvSink(tmp_path, "cam", "m@1", **(SINK | {"flush_s": 0.5}))
    sink.write(_result(10**18, camera="cam"))
    path = sink.files[0]
    assert len(_read_csv(path)) <= 1  # buffered
    sink.tick(now_mono=sink._last_flush + 0.6)
    assert len(_read_csv(path)) == 2  # visible to readers before close
    sink.close()
    sink.close()


def _person(track_id: int, first_wall_ns: int, last_wall_ns: int, camera: str = "cam") -> PersonResult:
    return PersonResult(
        camera, track_id, 3, 40, 0, 3_700_000_000, 30, 31.0, 25.0, 38.0, "female", 0.9, 55.0,
        first_wall_ns, last_wall_ns,
    )  # fmt: skip


def test_tracks_sink_rotates_beside_the_frame_csv_with_wall_clock_seen(tmp_path: Path) -> None:
    t0 = int(dt.datetime(2026, 11, 18, 8, tzinfo=dt.UTC).timestamp()) * 10**9  # on the hour
    header = list(LIVE_TRACKS_HEADER)
    with RotatingTracksSink(tmp_path, "cam", "m@1", **SINK) as sink:
        assert sink.files == []  # no person, no file
        joined = dataclasses.replace(_person(1, t0 + 2, t0 + HOUR_NS + 3), pieces=(9, 4))
        assert sink.write_persons([_person(0, t0 + 1, t0 + 5), joined]) == 2
    assert [p.name for p in sink.files] == [
        "cam_20261118T080000Z_tracks.csv",
        "cam_20261118T090000Z_tracks.csv",
    ]
    first, second = (_read_csv(p) for p in sink.files)
    assert first[0] == header == second[0] and len(first) == len(second) == 2
    row = dict(zip(header, second[1], strict=True))
    assert (row["track_id"], row["frames"], row["gender"], row["model"]) == ("1", "30", "female", "m@1")
    assert row["first_seen_utc"] == wall_time_utc(t0 + 2) and row["last_wall_ns"] == str(t0 + HOUR_NS + 3)
    assert row["last_pts_ms"] == "3700.0"
    # the tracks joined to it as pieces: their frame rows, written as they came, keep their ids
    assert row["pieces"] == "4 9" and dict(zip(header, first[1], strict=True))["pieces"] == ""
    assert sink.pieces == 2 and sink.statuses["person"] == 2  # the summary's joined and persons


def test_camera_loop_writes_ended_persons_and_the_rest_at_the_end(
    tmp_path: Path, session: InferenceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = 10**18
    ended = FrameResult("cam", 5, 0, (), t0, ended=(_person(0, t0 - 10, t0 - 5),))
    runner = CameraLoop([Camera("cam", "rtsp://127.0.0.1/1")], session, tmp_path)
    # the session's analyzer, told which persons ended (a real one needs minutes of video for that)
    monkeypatch.setattr(runner.analyzer, "analyze", lambda items: [ended])
    still = dataclasses.replace(_person(2, t0, t0 + 1), status="static")
    no_face = dataclasses.replace(_person(3, t0, t0 + 1), status="no_face")
    monkeypatch.setattr(runner.analyzer, "finish", lambda: (_person(1, t0, t0 + 1), still, no_face))
    runner._process([_frame(0)])
    runner._write_persons(runner.analyzer.finish())
    runner.track_sinks["cam"].close()
    rows = _read_csv(runner.track_sinks["cam"].files[0])
    assert [r[1] for r in rows[1:]] == ["0", "1", "2", "3"]  # every track is on disk as evidence
    cam = runner.summary().cameras["cam"]
    # the summary counts people as a file run does: static and no_face rows are left out, by why
    assert (cam.persons, cam.tracks_rows, cam.left_out) == (2, 4, {"no_face": 1, "static": 1})
    assert cam.interlaced_from is None  # progressive (nothing read yet)
    runner.sources[0].deinterlacer = Deinterlacer("on", "cam")  # an interlaced camera, as found
    runner.sources[0]._deliver(np.zeros((4, 6, 3), np.uint8), 0, t0, t0)
    assert runner.summary().cameras["cam"].interlaced_from == 0


def test_camera_loop_pipelines_detection_and_ends_tracks_of_a_reconnect_after_their_frames(
    tmp_path: Path, session: InferenceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CameraLoop([Camera("cam", "rtsp://127.0.0.1/1")], session, tmp_path)
    events: list[str] = []
    real_detect, real_reset = runner.detectors.detect, runner.detectors.reset

    def analyze(items: list[tuple[Frame, Faces]]) -> list[FrameResult]:
        events.extend(f"analyse {f.index}" for f, _ in items)
        return []

    def end_tracks(cam: str) -> tuple[PersonResult, ...]:
        events.append(f"end tracks {cam}")
        return ()

    def slow_detect(frame: Frame) -> Faces:  # a detection still running when the loop moves on
        time.sleep(0.05)
        faces = real_detect(frame)
        events.append(f"detected {frame.index}")
        return faces

    def forget(cam: str) -> None:
        events.append(f"forget faces {cam}")
        real_reset(cam)

    monkeypatch.setattr(runner.analyzer, "analyze", analyze)
    monkeypatch.setattr(runner.analyzer, "reset_source", end_tracks)
    monkeypatch.setattr(runner.detectors, "detect", slow_detect)
    monkeypatch.setattr(runner.detectors, "reset", forget)
    src = runner.sources[0]
    src.connections = 1
    with ThreadPoolExecutor(1) as pool:
        runner._pool = pool  # as run() does: detection in its own thread
        runner._process([_frame(0)])
        assert "analyse 0" not in events  # frame 0 is being detected; it is analysed with the next call
        runner._process([_frame(1)])
        assert events == ["detected 0", "analyse 0"]
        src.connections = 2  # the camera reconnected: frame 2 is the first of a new stream
        runner._process([_frame(2)])
        # frame 1 detected before the camera's known faces are forgotten, frame 2 after; the old
        # tracks end after frame 1 is analysed
        order = [e for e in events[2:] if e != "detected 2"]  # frame 2's detection runs meanwhile
        assert order == ["detected 1", "forget faces cam", "analyse 1", "end tracks cam"]
        runner._process([])
        assert events.index("detected 2") > events.index("forget faces cam") and events[-1] == "analyse 2"
        assert runner._in_flight == []
        runner._pool = None


def test_safe_file_stem_rejects_empty() -> None:
    assert safe_file_stem("a b/c:d") == "a_b_c_d"
    with pytest.raises(ValueError, match="must contain a letter or digit"):
        safe_file_stem("///")


def test_metrics_server_serves_metrics_and_health() -> None:
    m = Metrics()
    m.add_camera("door")
    m.frames_read.labels("door").inc(3)
    state = {"status": "ok"}
    server = MetricsServer(m, lambda: dict(state), port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        body = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert 'facelog_rtsp_frames_read_total{camera="door"} 3.0' in body
        assert json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())["status"] == "ok"
        state["status"] = "stalled"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert err.value.code == 503
    finally:
        server.close()


def test_runner_rejects_duplicate_and_missing_cameras(tmp_path: Path, session: InferenceSession) -> None:
    with pytest.raises(ValueError, match="need at least one camera"):
        CameraLoop([], session, tmp_path)
    with pytest.raises(ValueError, match=r"duplicates \['x'\]"):
        CameraLoop([Camera("x", "rtsp://a/1"), Camera("x", "rtsp://a/2")], session, tmp_path)


def test_inference_failures_skip_batches_then_stop_the_run(
    tmp_path: Path, session: InferenceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def broken(items: object) -> list[object]:  # injects a backend fault no real part produces on demand
        calls["n"] += 1
        raise RuntimeError("backend exploded")

    runner = CameraLoop([Camera("cam", "rtsp://127.0.0.1/1")], session, tmp_path)
    monkeypatch.setattr(runner.analyzer, "analyze", broken)
    for _ in range(MAX_ANALYZE_FAILURES - 1):
        runner._process([_frame(0)])  # skipped, logged, counted
    with pytest.raises(AnalyzerFailing, match=f"failed {MAX_ANALYZE_FAILURES} times in a row"):
        runner._process([_frame(1)])
    assert calls["n"] == MAX_ANALYZE_FAILURES and runner.sinks["cam"].rows_written == 0


@pytest.mark.parametrize(
    "prev, now_s, pts_s, expected_s",
    [
        (None, 10.0, 0.0, 10.0),  # first frame of a connection: read time
        ((9.92, 1.00), 10.0, 1.08, 10.0),  # on time: read time
        ((9.00, 1.00), 10.0, 1.08, 9.08),  # read after a timeout, one frame later in the stream: capture time
        ((9.00, 1.00), 10.0, 5.00, 10.0),  # the stream jumped ahead by more than the gap: read time
    ],
    ids=["first", "on-time", "late", "stream-jump"],
)
def test_capture_time_of_late_frames(
    prev: tuple[float, float] | None, now_s: float, pts_s: float, expected_s: float
) -> None:
    rtsp = load_config(None, {"rtsp.read_timeout_s": 1.0}).rtsp
    src = RtspSource("c", "rtsp://h/x", rtsp, Metrics(), threading.Event())
    ns = 10**9
    p = None if prev is None else (int(prev[0] * ns), int(prev[1] * ns))
    assert src._capture_time(int(now_s * ns), int(pts_s * ns), p) == int(expected_s * ns)


@pytest.mark.parametrize(
    "stride, target_fps, expected",
    [(1, None, list(range(10))), (3, None, [0, 3, 6, 9]), (1, 5.0, [0, 3, 5, 8])],
    ids=["every-frame", "stride-3", "5-fps-of-12.5"],
)
def test_sampling_per_camera(stride: int, target_fps: float | None, expected: list[int]) -> None:
    sampler = Sampler(stride, target_fps)
    assert [i for i in range(10) if sampler.keep(i, i * 80_000_000)] == expected


def test_sampler_restarts_its_slots_after_an_outage() -> None:
    sampler = Sampler(1, 5.0)
    step = 200_000_000
    assert [sampler.keep(i, i * step) for i in range(3)] == [True, True, True]
    assert sampler.keep(3, 60 * 10**9)  # a minute later: due at once, slots count from here
    assert not sampler.keep(4, 60 * 10**9 + step // 2) and sampler.keep(5, 60 * 10**9 + step)


@pytest.mark.parametrize("stride, target_fps", [(0, None), (1, 0.0)], ids=["stride-0", "fps-0"])
def test_sampler_rejects_bad_settings(stride: int, target_fps: float | None) -> None:
    with pytest.raises(ValueError, match="need stride >= 1 and target_fps > 0"):
        Sampler(stride, target_fps)


@dataclass
class Counts:
    """A camera's reader counters, as RateCheck reads them (RtspSource has the same attributes)."""

    name: str
    state: str = "connected"
    frames_read: int = 0
    frames_due: int = 0
    frames_dropped: int = 0


def test_rate_check_names_the_cameras_that_fall_behind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="facelog")
    metrics, rates = Metrics(), RateCheck(5.0, window_s=10.0)
    cams = [Counts("door"), Counts("yard"), Counts("slowcam")]
    for c in cams:
        metrics.add_camera(c.name)
    rates.check(0.0, cams, metrics)  # window starts
    # 10 s: door analysed all 50 frames sampling kept; yard only 20 of 50 (30 dropped); slowcam sends
    # 2 fps and all of them are analysed: it is below the target, but not this machine's fault
    for c, due, dropped in ((cams[0], 50, 0), (cams[1], 50, 30), (cams[2], 20, 0)):
        c.frames_read, c.frames_due, c.frames_dropped = 3 * due, due, dropped
        for k in range(due - dropped):
            rates.analysed(c.name, k / 5)
    rates.check(10.0, cams, metrics)
    assert rates.behind == set()  # one window could be the start-up: not yet
    for c in cams:  # the same again in the next window
        c.frames_read, c.frames_due, c.frames_dropped = (
            2 * c.frames_read,
            2 * c.frames_due,
            2 * c.frames_dropped,
        )
    for c, n in ((cams[0], 50), (cams[1], 20), (cams[2], 20)):
        for k in range(n):
            rates.analysed(c.name, 10 + k / 5)
    rates.check(20.0, cams, metrics)
    assert rates.behind == {"yard"}
    warns = [r.getMessage() for r in caplog.records if "event=cameras_behind" in r.getMessage()]
    assert len(warns) == 1 and "cameras=yard " in warns[0] and "yard 2.00/5.00 fps, 60% dropped" in warns[0]
    assert warns[0].count("door") == 0 and caplog.records[-1].levelno == logging.WARNING

    def gauge(name: str, cam: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"camera": cam})

    assert gauge("facelog_camera_behind", "yard") == 1 and gauge("facelog_camera_behind", "door") == 0
    assert gauge("facelog_target_fps", "slowcam") == 5.0
    # next window: yard keeps up again -> an INFO line, the gauge back to 0, no new warning
    cams[1].frames_due += 50
    for k in range(50):
        rates.analysed("yard", 20 + k / 5)
    rates.check(30.0, cams, metrics)
    assert rates.behind == set() and gauge("facelog_camera_behind", "yard") == 0
    assert "event=cameras_caught_up cameras=yard" in caplog.records[-1].getMessage()
    assert sum("event=cameras_behind" in r.getMessage() for r in caplog.records) == 1


def test_rate_check_over_the_run() -> None:
    rates = RateCheck(None, stride=3)
    cam = Counts("door", frames_read=300, frames_due=100, frames_dropped=50)
    assert rates.run_rate(cam) == CameraRate(0.0, None, 0.0, False)  # nothing analysed yet
    for k in range(50):
        rates.analysed("door", k * 0.4)  # 50 frames over 19.6 s
    r = rates.run_rate(cam)
    assert r.analysed_fps == pytest.approx(49 / 19.6) and r.target_fps == pytest.approx(100 / 19.6)
    assert r.dropped_share == 0.5 and r.behind


def test_example_config_loads_and_hides_passwords() -> None:
    from facelog.pipeline.live.rtsp import cameras_for_run

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "rtsp.yaml")
    assert "CHANGE-ME" not in repr(cfg) and "CHANGE-ME" not in json.dumps(cfg.model_dump(mode="json"))
    cams = cameras_for_run(cfg.rtsp, ["rtsp://u:pw@192.0.2.11:554/stream1"])
    assert [c.name for c in cams] == ["entrance", "lobby", "192.0.2.11_554_stream1"]
    assert cams[0].url.startswith("rtsp://viewer:CHANGE-ME@")  # the real URL still reaches FFmpeg
    assert cfg.sampling.target_fps == 5 and cfg.rtsp.read_timeout_s == 3 and cfg.rtsp.metrics_port == 9108


@pytest.mark.parametrize(
    "rtsp, match",
    [
        (
            {"cameras": [{"name": "a", "url": "rtsp://u:pw1234@h/x"}, {"name": "a", "url": "rtsp://h/y"}]},
            "dupl",
        ),
        ({"cameras": [{"url": "rtsp://u:pw1234@h/x"}]}, "name: Field required"),
        ({"backoff_initial_s": 60}, "backoff_initial_s must be <="),
        ({"camras": []}, "did you mean 'rtsp.cameras'"),
    ],
    ids=["duplicate-names", "no-name", "backoff-order", "typo"],
)
def test_rtsp_config_errors_are_clear_and_redacted(rtsp: dict[str, object], match: str) -> None:
    from facelog.pipeline.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=match) as err:
        load_config(None, {"rtsp": rtsp})
    assert "pw1234" not in str(err.value)


def test_no_camera_is_a_clear_error() -> None:
    from facelog.pipeline.config import load_config
    from facelog.pipeline.live.rtsp import RtspError, cameras_for_run

    with pytest.raises(RtspError, match="no camera to run"):
        cameras_for_run(load_config(None).rtsp, [])


def test_metrics_port_in_use_is_a_clear_error(tmp_path: Path, tiny_model: Path) -> None:
    from facelog.pipeline.live.rtsp import RtspError, run_with_session

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        with (
            _session(tiny_model, metrics_port=busy.getsockname()[1]) as session,
            pytest.raises(RtspError, match=r"cannot serve metrics on 127\.0\.0\.1:\d+: .*metrics_port"),
        ):
            run_with_session([Camera("cam", "rtsp://u:pw@127.0.0.1:1/x")], session, tmp_path)


def test_unwritable_output_fails_before_any_camera_opens(tmp_path: Path) -> None:
    from facelog.pipeline.config import load_config
    from facelog.pipeline.live.rtsp import RtspError, run_cameras

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cfg = load_config(None, {"rtsp.metrics_port": None})
    started = time.monotonic()
    with pytest.raises(RtspError, match=r"output folder .*a_file/logs is not writable") as err:
        run_cameras(cfg, ["rtsp://user:pw1234@127.0.0.1:9/cam"], blocker / "logs")
    assert time.monotonic() - started < 5 and "pw1234" not in str(err.value)


@pytest.mark.parametrize("key", ["max_wait_ms", "frame_queue", "face_queue", "detect_workers"])
def test_live_run_rejects_batching_keys_it_would_ignore(key: str) -> None:
    from facelog.pipeline.config import ConfigError, load_config
    from facelog.pipeline.live.rtsp import check_live_config

    defaults = load_config(None)
    check_live_config(defaults)  # defaults (as configs/default.yaml spells them) are fine
    check_live_config(load_config(None, {"batching.batch_size": 8}))  # used: the shared analyzer's batches
    value = getattr(defaults.batching, key) + 1
    with pytest.raises(ConfigError, match=rf"batching\.{key} is not used by live \(rtsp\) runs, got {value}"):
        check_live_config(load_config(None, {f"batching.{key}": value}))


def test_live_run_detects_around_known_faces_per_camera() -> None:
    from facelog.pipeline.config import load_config
    from facelog.pipeline.detect import RoiDetector
    from facelog.pipeline.detect.roi import ROI_LIVE_FULL_EVERY
    from facelog.pipeline.live.rtsp import CameraDetectors, check_live_config
    from facelog.pipeline.session import InferenceSession

    cfg = load_config(None, {"detector.full_every": 4})
    check_live_config(cfg)  # one detector per camera: allowed now
    try:
        session = InferenceSession(cfg)
    except Exception as exc:  # the shipped model may be absent in a bare checkout
        pytest.skip(f"no inference session here: {exc}")
    with session:
        dets = CameraDetectors(session)
        a, b = dets.detector("a"), dets.detector("b")
        assert isinstance(a, RoiDetector) and isinstance(b, RoiDetector) and a is not b
        assert a.full is b.full  # key frames share the session's whole-frame detector
        assert dets.cfg.roi_min_megapixels == 0.0  # unset: regions at every frame size
        assert a.change is not None and a.change_max_frame_px is None  # frame-change regions at every size
        assert a.full_every == 4  # set explicitly: kept
        img = np.zeros((720, 1280, 3), np.uint8)
        for i in (0, 3, 30):  # 27 camera frames dropped before the third: still a region frame
            dets.detect(Frame("a", i, 0, img))
        assert (a.frames_full, a.frames_roi, b.frames_full) == (1, 2, 0)
        dets.reset("a")
        dets.detect(Frame("a", 9, 0, img))
        assert a.frames_full == 2 and dets.describe("a")["frames_roi"] == 2 and dets.describe("c") == {}
    with InferenceSession(load_config(None, {"detector.roi_min_megapixels": 1.5})) as session:
        dets = CameraDetectors(session)  # set explicitly, it is kept: 720p frames all in full
        det = dets.detector("a")
        assert isinstance(det, RoiDetector) and det.full_every == ROI_LIVE_FULL_EVERY  # unset: 8 (files: 4)
        for i in range(3):
            dets.detect(Frame("a", i, 0, img))
        assert dets.describe("a")["frames_full"] == 3


def test_live_runs_read_gender_from_the_descriptor_as_file_runs_do(tmp_path: Path, tiny_model: Path) -> None:
    """The descriptor's gender reading (``tracking.gender_faces``) is the config's, live as in files:
    since it runs on ONNX Runtime it costs ~10-17 ms a person (docs/BENCHMARKS.md, eleventh session)."""
    cams = [Camera("cam", "rtsp://127.0.0.1/1")]
    with _session(tiny_model) as s:
        loop = CameraLoop(cams, s, tmp_path)
        assert loop.analyzer.tracking is not None and loop.analyzer.tracking.gender_faces == 3
    with _session(tiny_model, {"tracking.gender_faces": 0}) as s:
        loop = CameraLoop(cams, s, tmp_path)
        assert loop.analyzer.tracking is not None and loop.analyzer.tracking.gender_faces == 0


@pytest.mark.parametrize("mode", ["on", "off"])
def test_a_camera_hands_on_one_field_of_an_interlaced_frame(mode: Mode) -> None:
    rtsp = load_config(None).rtsp
    src = RtspSource("c", "rtsp://h/x", rtsp, Metrics(), threading.Event(), deinterlace=mode)
    image = np.random.default_rng(3).integers(0, 255, (6, 8, 3), np.uint8)
    src._deliver(image, 0, 10**9, 10**9)
    frame = src.slot.take()
    assert frame is not None
    assert np.array_equal(frame.image, keep_field(image) if mode == "on" else image)
