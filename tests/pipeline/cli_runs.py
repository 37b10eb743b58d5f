"""``facelog run`` as a user runs it, in a subprocess: shared by the tests of whole runs on made clips
(test_orientation.py, test_interlace.py)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path


def facelog_run(clip: Path, out: Path) -> tuple[str, list[dict[str, str]], list[dict[str, str]]]:
    """Run ``facelog run CLIP -o OUT`` (it must exit 0); returns its stderr, the frame rows and the
    tracks CSV's rows."""
    r = subprocess.run(
        [sys.executable, "-m", "facelog.cli", "run", str(clip), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    tracks = out.with_name(out.stem + ".tracks.csv")
    with out.open(newline="") as f, tracks.open(newline="") as g:
        return r.stderr, list(csv.DictReader(f)), list(csv.DictReader(g))
