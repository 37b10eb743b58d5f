"""Live cameras against a real GStreamer RTSP server on 127.0.0.1 (see tests/rtsp_server.py).

Timeouts are small here (open 2 s, read 1 s, backoff <= 0.5 s) so the module stays under ~2 minutes.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from facelog.cli.sample import sample_path
from facelog.pipeline.config import AppConfig, load_config
from facelog.pipeline.live.rtsp import SUMMARY_NAME, Camera, run_cameras

# every test here needs the server (tests/conftest.py's rtsp_server skips them all without it)
pytestmark = [pytest.mark.rtsp, pytest.mark.usefixtures("rtsp_server")]

USER, PASSWORD = "alice", "Sup3r-s3cret-pw"
READ_TIMEOUT_S = 1.0
RTSP_TEST_SETTINGS: dict[str, Any] = {
    "open_timeout_s": 2.0,
    "read_timeout_s": READ_TIMEOUT_S,
    "backoff_initial_s": 0.1,
    "backoff_max_s": 0.5,
    "flush_s": 0.2,
    "metrics_port": 0,
}


@pytest.fixture
def server(rtsp_h264_clip: Path, rtsp_server: Any) -> Iterator[Any]:
    with rtsp_server.RtspServer({"/cam": str(rtsp_h264_clip)}, user=USER, password=PASSWORD) as s:
        yield s


@dataclass
class Run:
    """A camera run in a background thread of this process."""

    out: Path
    stop: threading.Event = field(default_factory=threading.Event)
    code: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None
    runner: Any = None

    def rows(self, camera: str) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for path in sorted(p for p in (self.out / camera).glob("*.csv") if not p.stem.endswith("_tracks")):
            with path.open(newline="") as fh:
                out.extend(csv.DictReader(fh))
        return out

    def walls(self, camera: str) -> list[float]:
        return [_wall_s(r) for r in self.rows(camera)]

    def wait_rows(self, camera: str, after_s: float, timeout_s: float) -> float | None:
        """Wall time (s) of the first row read after ``after_s``; None if none within ``timeout_s``."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            later = [w for w in self.walls(camera) if w > after_s]
            if later:
                return min(later)
            time.sleep(0.1)
        return None

    def finish(self) -> int:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the run did not stop"
        return self.code[0]


def make_config(model: Path, yunet: Path, cameras: list[Camera], **rtsp: Any) -> AppConfig:
    """The run config of these tests: tiny real model, YuNet, small timeouts, cameras in ``rtsp.cameras``."""
    section = {**RTSP_TEST_SETTINGS, **rtsp, "cameras": [{"name": c.name, "url": c.url} for c in cameras]}
    overrides = {
        "model": {"path": str(model)},
        "detector": {"kind": "yunet", "yunet_path": str(yunet)},
        "backend": {"kind": "onnxruntime"},
        "rtsp": section,
    }
    return load_config(None, overrides)


def _wall_s(row: dict[str, str]) -> float:
    return int(row["wall_ns"]) / 1e9


@pytest.fixture
def start_run(tmp_path: Path, tiny_model: Path, yunet_path: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(cameras: list[Camera]) -> Run:
        run = Run(out=tmp_path / f"run{len(runs)}")

        def target() -> None:
            cfg = make_config(tiny_model, yunet_path, cameras)
            run.code.append(run_cameras(cfg, [], run.out, stop=run.stop))

        run.thread = threading.Thread(target=target, daemon=True)
        run.thread.start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop.set()
        if run.thread is not None:
            run.thread.join(timeout=30)


def _rows_for_2_s(start_run: Callable[..., Run], camera: Camera) -> Run:
    """Run one camera until its rows have come for 2 s (the first within 10 s), then stop it (exit 0)."""
    run = start_run([camera])
    assert run.wait_rows(camera.name, time.time() - 5, timeout_s=10) is not None, "no rows within 10 s"
    time.sleep(2.0)
    assert run.finish() == 0
    return run


def test_rows_arrive_with_wall_and_stream_time(
    server: Any, start_run: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="facelog")
    t0 = time.time()
    run = _rows_for_2_s(start_run, Camera("door", server.url("/cam")))
    rows = run.rows("door")
    assert len(rows) >= 10  # ~12 fps clip, one face a frame
    walls = [_wall_s(r) for r in rows]
    assert walls == sorted(walls) and t0 - 1 < walls[0] < time.time()
    stream_s = [float(r["pts_ms"]) / 1e3 for r in rows]
    # Stream time only goes back where the camera was reconnected (a new RTSP session restarts the
    # server's stream at 0; a loaded machine can stall the first session): never within one session.
    connects = sum("event=rtsp_connect " in r.getMessage() for r in caplog.records)
    backwards = sum(b < a for a, b in itertools.pairwise(stream_s))
    assert connects >= 1 and backwards <= connects - 1, (backwards, connects, stream_s[:5])
    assert max(stream_s) - min(stream_s) > 1.0
    assert {r["source"] for r in rows} == {"door"}
    assert rows[0]["wall_time_utc"].endswith("Z") and rows[0]["gender"] in ("male", "female")
    summary = json.loads((run.out / SUMMARY_NAME).read_text())["cameras"]["door"]
    assert summary["rows"] == len(rows) and summary["frames_read"] >= summary["frames_processed"] > 0


def test_sigkill_detected_no_rows_during_outage_resume_within_5s(
    server: Any, start_run: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="facelog")
    run = start_run([Camera("door", server.url("/cam"))])
    assert run.wait_rows("door", time.time() - 5, timeout_s=10) is not None
    time.sleep(1.0)
    t_kill = time.time()
    server.kill()
    time.sleep(2.5)
    t_back = time.time()
    server.start()
    first_back = run.wait_rows("door", t_back, timeout_s=8)
    code = run.finish()
    lost = [r for r in caplog.records if "event=rtsp_disconnect" in r.getMessage()]
    assert lost and lost[0].created - t_kill < READ_TIMEOUT_S
    assert not [w for w in run.walls("door") if t_kill + 0.2 < w < t_back]
    assert first_back is not None and first_back - t_back < 5.0, f"resumed after {first_back} (back {t_back})"
    assert code == 0


def test_sigstop_detected_within_read_timeout_and_resumes(
    server: Any, start_run: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="facelog")
    run = start_run([Camera("door", server.url("/cam"))])
    assert run.wait_rows("door", time.time() - 5, timeout_s=10) is not None
    time.sleep(1.0)
    t_stop = time.time()
    server.signal(signal.SIGSTOP)
    time.sleep(3.5)
    t_cont = time.time()
    server.signal(signal.SIGCONT)
    first_back = run.wait_rows("door", t_cont, timeout_s=8)
    assert run.finish() == 0
    stalled = [r for r in caplog.records if "event=rtsp_stalled" in r.getMessage()]
    # The read timeout plus one loop tick (0.2 s) and scheduling slack on a busy 2-core box.
    assert stalled and stalled[0].created - t_stop < READ_TIMEOUT_S + 0.8
    assert not [w for w in run.walls("door") if t_stop + 0.3 < w < t_cont]
    assert first_back is not None and first_back - t_cont < 5.0


def test_two_cameras_bad_ones_do_not_stop_the_good_one(
    rtsp_h264_clip: Path, start_run: Callable[..., Run], caplog: pytest.LogCaptureFixture, rtsp_server: Any
) -> None:
    caplog.set_level(logging.INFO, logger="facelog")
    srv = rtsp_server
    with (
        srv.RtspServer({"/cam": str(rtsp_h264_clip)}) as good,
        srv.RtspServer({"/cam": str(rtsp_h264_clip)}) as doomed,
        srv.RtspServer({"/silent": "silent"}) as silent,
    ):
        cams = [
            Camera("good", good.url("/cam")),
            Camera("doomed", doomed.url("/cam")),
            Camera("notfound", good.url("/no-such-path")),
            Camera("refused", f"rtsp://127.0.0.1:{srv.free_port()}/cam"),
            Camera("malformed", "rtsp//127.0.0.1/cam"),
            Camera("silent", silent.url("/silent")),
        ]
        run = start_run(cams)
        t0 = time.time()
        assert run.wait_rows("doomed", t0 - 5, timeout_s=10) is not None
        assert run.wait_rows("good", t0 - 5, timeout_s=5) is not None
        t_kill = time.time()
        doomed.kill()
        time.sleep(3.0)
        assert run.finish() == 0
    good_after = [w for w in run.walls("good") if w > t_kill + 1.0]
    assert len(good_after) >= 10, "the good camera stopped when another one died"
    assert not [w for w in run.walls("doomed") if w > t_kill + 0.2]
    summary = json.loads((run.out / SUMMARY_NAME).read_text())["cameras"]
    expect = {
        "notfound": "404",
        "refused": "connection refused",
        "malformed": "expected scheme rtsp",
        "silent": "did not answer",
        "doomed": "connection refused",
    }
    for cam, text in expect.items():
        assert text in summary[cam]["last_error"], (cam, summary[cam]["last_error"])
        assert summary[cam]["rows"] == 0 or cam == "doomed"
    assert summary["malformed"]["state"] == "failed" and summary["good"]["last_error"] == ""


def test_a_camera_with_wide_pixels_is_widened(
    tmp_path: Path, start_run: Callable[..., Run], rtsp_server: Any
) -> None:
    """A camera whose H.264 stream says its pixels are 4:3 wide (the shipped sample stored 360x270, as
    a DVR's anamorphic stream): its frames are widened to the 480x270 a player shows (frames/aspect.py), so
    the boxes lie in that picture, and the summary says the stream's pixel shape."""
    clip = tmp_path / "wide.mp4"
    cmd = ["ffmpeg", "-v", "error", "-y", "-stream_loop", "19", "-i", str(sample_path()), "-vf",
           "scale=360:270,setsar=4/3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "12",
           "-pix_fmt", "yuv420p", "-an", str(clip)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    with rtsp_server.RtspServer({"/wide": str(clip)}) as srv:
        run = _rows_for_2_s(start_run, Camera("wide", srv.url("/wide")))
    rows = run.rows("wide")
    assert max(float(r["x2"]) for r in rows) > 370  # the stored frame is 360 wide
    summary = json.loads((run.out / SUMMARY_NAME).read_text())["cameras"]["wide"]
    assert summary["sample_aspect"] == pytest.approx(4 / 3, rel=1e-3)


def test_credentials_never_leak(
    server: Any,
    start_run: Callable[..., Run],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-pa55word"
    run = start_run(
        [
            Camera("door", server.url("/cam")),
            Camera("wrongpw", server.url("/cam", password=wrong)),
            Camera("badpath", server.url("/nothing-here")),
        ]
    )
    assert run.wait_rows("door", time.time() - 5, timeout_s=10) is not None
    runner_port = _metrics_port(caplog)
    scraped = [
        urllib.request.urlopen(f"http://127.0.0.1:{runner_port}{p}", timeout=5).read().decode()
        for p in ("/metrics", "/healthz")
    ]
    server.kill()  # disconnect messages too
    time.sleep(1.5)
    assert run.finish() == 0
    out, err = capfd.readouterr()
    files = [p.read_text() for p in run.out.rglob("*") if p.is_file()]
    haystacks = {"log": caplog.text, "stdout": out, "stderr": err}
    haystacks.update({"metrics": scraped[0], "health": scraped[1]})
    haystacks.update({f"file{i}": text for i, text in enumerate(files)})
    for where, text in haystacks.items():
        assert PASSWORD not in text and wrong not in text, f"password leaked into {where}"
    assert f"rtsp://{USER}:***@127.0.0.1:{server.port}/cam" in caplog.text
    health = json.loads(scraped[1])["cameras"]  # taken before the server was killed
    assert "401" in health["wrongpw"]["error"] and "404" in health["badpath"]["error"]
    assert 'camera="door"' in scraped[0] and health["door"]["state"] == "connected"


def _metrics_port(caplog: pytest.LogCaptureFixture) -> int:
    for rec in caplog.records:
        msg = rec.getMessage()
        if msg.startswith("metrics on http://"):
            return int(msg.split("/metrics")[0].rsplit(":", 1)[1])
    raise AssertionError("the run did not log its metrics address")


def test_sigterm_to_cli_leaves_complete_csvs_and_exit_0(
    server: Any, tmp_path: Path, tiny_model: Path, yunet_path: Path
) -> None:
    out = tmp_path / "cli"
    config = tmp_path / "rtsp.yaml"
    cfg = make_config(tiny_model, yunet_path, [])
    doc = {k: cfg.model_dump(mode="json")[k] for k in ("model", "detector", "backend")}
    config.write_text(yaml.safe_dump({**doc, "rtsp": {**RTSP_TEST_SETTINGS, "flush_s": 0.5}}))
    cmd = [
        sys.executable,
        "-m",
        "facelog.cli",
        "-v",
        "run",
        server.url("/cam"),
        "-o",
        str(out),
        "--config",
        str(config),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
    deadline = time.time() + 20
    while time.time() < deadline and sum(len(p.read_text().splitlines()) for p in out.rglob("*.csv")) < 6:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr[-2000:]
    assert PASSWORD not in stdout + stderr
    assert "event=rtsp_connect" in stderr and "event=signal signal=SIGTERM" in stderr
    summary = json.loads((out / SUMMARY_NAME).read_text())["cameras"]
    (camera,) = summary
    csvs = sorted(p for p in (out / camera).glob("*.csv") if not p.stem.endswith("_tracks"))
    assert csvs and [str(p) for p in csvs] == summary[camera]["files"]
    total = 0
    for path in csvs:
        text = path.read_text()
        assert text.endswith("\n")  # no half-written last row
        rows = list(csv.DictReader(text.splitlines()))
        assert all(
            None not in r and all(v not in (None, "") for k, v in r.items() if k != "gender_smooth")
            for r in rows
        )
        total += len(rows)
    assert total == summary[camera]["rows"] > 5  # every row the run counted is on disk


def test_a_camera_s_ignore_zone_takes_its_faces_the_other_camera_keeps_them(
    server: Any, tmp_path: Path, tiny_model: Path, yunet_path: Path
) -> None:
    """Two cameras on one stream; one has a zone over its whole view (docs/PIPELINE.md "Ignore zones")."""
    whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    cameras = [
        {"name": "door", "url": server.url("/cam")},
        {"name": "screen", "url": server.url("/cam"), "ignore_zones": [whole]},
    ]
    overrides = {
        "model": {"path": str(tiny_model)},
        "detector": {"kind": "yunet", "yunet_path": str(yunet_path)},
        "backend": {"kind": "onnxruntime"},
        "rtsp": {**RTSP_TEST_SETTINGS, "cameras": cameras},
    }
    cfg = load_config(None, overrides)
    run = Run(out=tmp_path / "zones")

    def target() -> None:
        run.code.append(run_cameras(cfg, [], run.out, stop=run.stop))

    run.thread = threading.Thread(target=target, daemon=True)
    run.thread.start()
    assert run.wait_rows("door", time.time() - 5, timeout_s=15) is not None, "no rows within 15 s"
    time.sleep(2.0)
    assert run.finish() == 0
    summary = json.loads((run.out / SUMMARY_NAME).read_text())["cameras"]
    assert len(run.rows("door")) >= 10 and summary["door"]["faces_ignored"] == 0
    assert run.rows("screen") == [] and summary["screen"]["faces_ignored"] >= 10
    assert summary["screen"]["frames_processed"] > 0 and summary["screen"]["persons"] == 0
