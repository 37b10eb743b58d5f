"""``facelog run --sample``: the clip that ships in the package, and what a first run shows.

The clip (``pipeline/samples/``, CC-BY-4.0, "Intel IoT DevKit sample-videos", see the NOTICE beside
it) is found through the installed package, so it works from a fresh install with nothing else.
"""

from __future__ import annotations

import csv
import itertools
from importlib import resources
from pathlib import Path
from typing import TextIO

from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.outputs import output_paths

SAMPLE_NAME = "face-demographics-walking-and-pause.mp4"
ATTRIBUTION = '"Intel IoT DevKit sample-videos", CC-BY-4.0'
SHOWN_COLUMNS = ("frame_index", "pts_ms", "track_id", "x1", "y1", "x2", "y2", "age", "gender", "gender_score")


def sample_path() -> Path:
    """The shipped sample clip.

    Raises:
        SourceError: the install lacks it (a package built without its data files).
    """
    path = Path(str(resources.files("facelog.pipeline") / "samples" / SAMPLE_NAME))
    if not path.is_file():
        raise SourceError(
            f"sample clip missing from this install: {path} (reinstall facelog)", path=str(path)
        )
    return path


def show_outputs(out_csv: Path, annotate: Path | None, stream: TextIO, rows: int = 5) -> None:
    """Print where a run's files are and the first ``rows`` rows of its CSV (selected columns)."""
    made = [p for p in output_paths(out_csv, annotate) if p.is_file()]
    siblings = sorted(out_csv.parent.glob(f"{out_csv.stem}.*")) if out_csv.parent.is_dir() else []
    made += [p for p in siblings if p.is_file() and p not in made and not p.name.startswith(".")]
    print(f"sample: {SAMPLE_NAME} ({ATTRIBUTION})", file=stream)
    for p in made:
        print(f"wrote {p}", file=stream)
    if not out_csv.is_file():
        return
    with out_csv.open(newline="") as f:
        reader = csv.DictReader(f)
        cols = [c for c in SHOWN_COLUMNS if c in (reader.fieldnames or [])]
        head = list(itertools.islice(reader, rows))
    print(f"first rows of {out_csv.name}:", file=stream)
    table = [cols, *([r[c] for c in cols] for r in head)]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    for row in table:
        print("  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)), file=stream)
