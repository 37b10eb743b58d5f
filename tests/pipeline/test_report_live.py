"""The report over a live folder written by a real ``run_cameras`` from the loopback RTSP server
(tests/rtsp_server.py, GStreamer): people, genders and dwell times equal pandas on the tracks CSVs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from facelog.pipeline.config import load_config
from facelog.pipeline.live.rtsp import run_cameras
from facelog.pipeline.report import make_report

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]  # ~35 s on the shared 2-core machine


def test_report_of_a_live_folder_equals_pandas(
    tmp_path: Path, shared: Path, age_gender_model: Path, yunet_path: Path, rtsp_server: ModuleType
) -> None:
    srv = rtsp_server
    clip = srv.make_h264_clip(
        shared / "data" / "videos" / "face-demographics-walking-and-pause.mp4", tmp_path / "walk.mp4", loops=4
    )
    out = tmp_path / "live"
    stop = threading.Event()
    code: list[int] = []
    with srv.RtspServer({"/cam": str(clip)}) as server:
        overrides = {
            "model": {"path": str(age_gender_model)},
            "detector": {"kind": "yunet", "yunet_path": str(yunet_path)},
            "backend": {"kind": "onnxruntime"},
            "rtsp": {"cameras": [{"name": "door", "url": server.url("/cam")}], "metrics_port": 0,
                     "open_timeout_s": 3.0, "read_timeout_s": 1.0, "flush_s": 0.2},
        }  # fmt: skip
        cfg = load_config(None, overrides)
        thread = threading.Thread(
            target=lambda: code.append(run_cameras(cfg, [], out, stop=stop)), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((out / "door").glob("door_*Z.csv")):
            time.sleep(0.2)
        time.sleep(8)  # a few loops of the clip
        stop.set()
        thread.join(timeout=30)
    assert code == [0]
    tracks = pd.concat(
        [pd.read_csv(p) for p in sorted((out / "door").glob("*_tracks.csv"))], ignore_index=True
    )
    people = tracks[tracks["status"] == "person"]
    assert len(people) >= 1
    res = make_report([out], tmp_path / "report", by="day")
    assert not res.skipped
    t = res.table
    assert t["persons"].sum() == len(people)
    assert t["female"].sum() == (people["gender"] == "female").sum()
    assert t["male"].sum() == (people["gender"] == "male").sum()
    assert t["static"].sum() == (tracks["status"] == "static").sum()
    frames = pd.concat(
        [pd.read_csv(p) for p in sorted((out / "door").glob("door_*Z.csv"))], ignore_index=True
    )
    assert t["faces"].sum() == len(frames)
    if len(t) == 1:  # the run did not cross midnight UTC: one day, the dwell times of all its people
        assert t["dwell_median_s"].iloc[0] == pytest.approx(people["dwell_s"].median(), abs=0.011)
        assert t["dwell_p90_s"].iloc[0] == pytest.approx(people["dwell_s"].quantile(0.9), abs=0.011)
