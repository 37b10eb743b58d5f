"""The last line of ``facelog batch`` counts files still failed from earlier runs (after a crash)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from facelog.pipeline.archive import state as st
from facelog.pipeline.archive.discovery import discover

BAD = ("cam1/zero.mp4", "cam1/notes.mp4", "cam2/cut.mp4")


def facelog_batch(archive: Path, out: Path, cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cli = [sys.executable, "-m", "facelog.cli", "batch"]
    cmd = [*cli, str(archive), "-o", str(out), "-c", str(cfg), "--no-progress", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.fixture
def crashed(tmp_path: Path, tiny_model: Path) -> tuple[Path, Path, Path]:
    """An archive (one good clip, three bad files) and the state a run killed mid-way leaves: the
    three bad files recorded as failed, the good one still ``running``, the run never finished."""
    archive, out = tmp_path / "archive", tmp_path / "out"
    (archive / "cam1").mkdir(parents=True)
    (archive / "cam2").mkdir()
    w = cv2.VideoWriter(str(archive / "cam2" / "good.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (64, 48))
    for k in range(6):
        w.write(np.full((48, 64, 3), 30 * k, np.uint8))
    w.release()
    (archive / BAD[0]).touch()
    (archive / BAD[1]).write_text("not a video\n" * 20)
    (archive / BAD[2]).write_bytes((archive / "cam2" / "good.mp4").read_bytes()[:300])  # no moov atom
    cfg = tmp_path / "batch.yaml"
    cfg.write_text(yaml.safe_dump({
        "detector": {"kind": "blazeface"}, "model": {"path": str(tiny_model)},
        "batch": {"workers": 1, "min_age_s": 0},
    }))  # fmt: skip
    out.mkdir()
    with st.StateDB(out / st.STATE_DB_NAME) as db:
        db.start_run("crashed-run")
        for f in discover(archive, ["**/*.mp4"]):
            ident = st.FileIdentity(f.size, f.mtime_ns, st.fingerprint(f.path), "old-model", "old-config")
            status = "running" if f.rel_path == "cam2/good.mp4" else "failed"
            db.mark(
                f.rel_path, status, ident, "crashed-run", error="cannot open" if status == "failed" else None
            )
    return archive, out, cfg


def test_rerun_after_a_crash_counts_the_old_failures(crashed: tuple[Path, Path, Path]) -> None:
    archive, out, cfg = crashed
    r = facelog_batch(archive, out, cfg)
    assert r.returncode == 0, r.stderr  # nothing failed in this run
    last = r.stdout.strip().splitlines()[-1]
    hint = "3 failed in earlier runs (not retried; --retry-failed retries them)"
    assert last.startswith(f"1 processed, 3 skipped, 0 failed + {hint} of 4 found in "), last

    r = facelog_batch(archive, out, cfg, "--retry-failed")
    assert r.returncode == 1
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("0 processed, 1 skipped, 3 failed of 4 found in ") and "earlier" not in last, last
    with st.StateDB(out / st.STATE_DB_NAME) as db:
        assert db.counts() == {"done": 1, "failed": 3}
