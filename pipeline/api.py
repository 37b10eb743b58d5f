"""Notebook API: analyze a video and get its rows as a pandas DataFrame.

Example:
    >>> from facelog.pipeline.api import analyze_video  # doctest: +SKIP
    >>> df = analyze_video("clip.mp4", stride=2, detector="blazeface")  # doctest: +SKIP
    >>> df.groupby("track_id").age_smooth.last()  # doctest: +SKIP
    >>> persons = df.attrs["persons"]  # the tracks CSV: people where status == "person"  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facelog.pipeline.config import AppConfig, with_overrides
from facelog.pipeline.errors import SourceError
from facelog.pipeline.sinks import HEADER, TRACKS_HEADER, left_out_path, tracks_path

if TYPE_CHECKING:
    import pandas as pd

_DTYPES = {"source": "string", "gender": "string", "gender_smooth": "string", "model": "string"}
_TRACK_DTYPES = {"source": "string", "gender": "string", "model": "string"}


class TruncatedVideoError(SourceError):
    """A truncated video through ``analyze_video``: the rows read before the break and their persons.

    Attributes:
        rows: the frame rows before the break (DataFrame, the CSV's columns).
        persons: their persons, one row per track ended at the break (DataFrame, the tracks CSV's
            columns; empty with tracking off).
    """

    def __init__(self, message: str, *, path: str, rows: pd.DataFrame, persons: pd.DataFrame) -> None:
        super().__init__(message, path=path)
        self.rows = rows
        self.persons = persons


def make_config(config: AppConfig | str | Path | None = None, **overrides: Any) -> AppConfig:
    """A config from a YAML path (or defaults, or a ready ``AppConfig``) plus keyword overrides
    (``config.with_overrides``: the short names of ``config.SHORTCUTS``, or whole sections).

    Raises:
        ConfigError: unknown override or invalid value.
    """
    return with_overrides(config, **overrides)


def analyze_video(
    path: str | Path, config: AppConfig | str | Path | None = None, **overrides: Any
) -> pd.DataFrame:
    """Analyze one video file and return its CSV rows as a DataFrame (columns = the CSV header).

    The run summary is in ``df.attrs["summary"]``; the persons (one row per confirmed person track,
    columns = the tracks CSV header, ``sinks.TRACKS_HEADER``; people are the rows with ``status``
    ``person``, see ``PersonResult.status``) in ``df.attrs["persons"]``, a DataFrame
    (empty, with those columns, when tracking is off); the rows of tracks that are not persons (the
    file's ``OUT.left_out.csv``, ``output.left_out_rows``) in ``df.attrs["left_out"]`` (same columns).

    Args:
        path: the video.
        config: an ``AppConfig``, a YAML path, or None for defaults.
        **overrides: shortcuts (``stride``, ``target_fps``, ``detector``, ``det_threshold``,
            ``min_face_px``, ``batch_size``, ``backend``, ``model``, ``yunet_path``) or whole sections
            (``tracking={"enabled": False}``); dotted keys for the rest, e.g. ignore zones:
            ``**{"detector.ignore_zones": [[[0.6, 0], [1, 0], [1, 0.35]]]}``.

    Raises:
        TruncatedVideoError: the video breaks off; the rows before the break and their persons are
            in the error's ``rows`` and ``persons`` (a ``SourceError``).
        SourceError: the file cannot be read as video.
        ConfigError: a bad override.
    """
    from facelog.pipeline.file.process import process_video

    cfg = make_config(config, **overrides)
    with tempfile.TemporaryDirectory(prefix="facelog-") as tmp:
        out = Path(tmp) / "rows.csv"
        try:
            summary = process_video(path, out, cfg)
        except SourceError as exc:
            if exc.partial is None:
                raise
            # the .partial files live in this temporary folder: hand their rows over before it goes
            rows, persons = _read_rows(Path(exc.partial)), _read_persons(exc.partial_tracks)
            cause = exc.__cause__ if isinstance(exc.__cause__, SourceError) else exc
            msg = f"{cause}; the {len(rows)} rows before the break are in this error's .rows"
            raise TruncatedVideoError(msg, path=exc.path, rows=rows, persons=persons) from exc
        df = _read_rows(out)
        persons = _read_persons(tracks_path(out))
        left_out = _read_rows(left_out_path(out)) if summary.left_out_csv else df.iloc[:0].copy()
    df.attrs["summary"] = summary.to_dict()
    df.attrs["persons"] = persons
    df.attrs["left_out"] = left_out
    return df


def _read_rows(path: Path) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_csv(path, dtype=_DTYPES, keep_default_na=False, na_values={"age_smooth": [""]})
    assert tuple(df.columns) == HEADER
    return df


def _read_persons(path: str | Path | None) -> pd.DataFrame:
    """The tracks CSV at ``path`` (an empty frame with its columns when there is none)."""
    import pandas as pd

    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=list(TRACKS_HEADER))
    persons = pd.read_csv(path, dtype=_TRACK_DTYPES, keep_default_na=False)
    assert tuple(persons.columns) == TRACKS_HEADER
    return persons
