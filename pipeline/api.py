"""Notebook API: analyze a video and get its rows as a pandas DataFrame.

Example:
    >>> from facelog.pipeline.api import analyze_video  # doctest: +SKIP
    >>> df = analyze_video("clip.mp4", stride=2, detector="blazeface")  # doctest: +SKIP
    >>> df.groupby("track_id").age_smooth.last()  # doctest: +SKIP
    >>> persons = df.attrs["persons"]  # one row per person (the tracks CSV)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facelog.pipeline.config import AppConfig, load_config
from facelog.pipeline.sinks import HEADER, TRACKS_HEADER, tracks_path

if TYPE_CHECKING:
    import pandas as pd

# keyword shortcuts -> config keys (anything else: a section name with a dict, e.g. tracking={...})
SHORTCUTS = {
    "stride": "sampling.stride",
    "target_fps": "sampling.target_fps",
    "detector": "detector.kind",
    "yunet_path": "detector.yunet_path",
    "det_threshold": "detector.score_threshold",
    "min_face_px": "detector.min_face_px",
    "batch_size": "batching.batch_size",
    "backend": "backend.kind",
    "model": "model.path",
}

_DTYPES = {"source": "string", "gender": "string", "gender_smooth": "string", "model": "string"}
_TRACK_DTYPES = {"source": "string", "gender": "string", "model": "string"}


def make_config(config: AppConfig | str | Path | None = None, **overrides: Any) -> AppConfig:
    """A config from a YAML path (or defaults, or a ready ``AppConfig``) plus keyword overrides.

    Raises:
        ConfigError: unknown override or invalid value.
    """
    mapped = {SHORTCUTS.get(k, k): str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
    if isinstance(config, AppConfig):
        if not mapped:
            return config
        from facelog.pipeline.config import _merge

        data = _merge(config.model_dump(), mapped)
        return load_config(None, data)
    return load_config(config, mapped)


def analyze_video(
    path: str | Path, config: AppConfig | str | Path | None = None, **overrides: Any
) -> pd.DataFrame:
    """Analyze one video file and return its CSV rows as a DataFrame (columns = the CSV header).

    The run summary is in ``df.attrs["summary"]``; the persons (one row per confirmed person track,
    columns = the tracks CSV header, ``sinks.TRACKS_HEADER``) in ``df.attrs["persons"]``, a DataFrame
    (empty, with those columns, when tracking is off).

    Args:
        path: the video.
        config: an ``AppConfig``, a YAML path, or None for defaults.
        **overrides: shortcuts (``stride``, ``target_fps``, ``detector``, ``det_threshold``,
            ``min_face_px``, ``batch_size``, ``backend``, ``model``, ``yunet_path``) or whole sections
            (``tracking={"enabled": False}``).

    Raises:
        SourceError: the file cannot be read as video.
        ConfigError: a bad override.
    """
    import pandas as pd

    from facelog.pipeline.file.process import process_video

    cfg = make_config(config, **overrides)
    with tempfile.TemporaryDirectory(prefix="facelog-") as tmp:
        out = Path(tmp) / "rows.csv"
        summary = process_video(path, out, cfg)
        df = pd.read_csv(out, dtype=_DTYPES, keep_default_na=False, na_values={"age_smooth": [""]})
        tracks = tracks_path(out)
        if tracks.is_file():
            persons = pd.read_csv(tracks, dtype=_TRACK_DTYPES, keep_default_na=False)
        else:
            persons = pd.DataFrame(columns=list(TRACKS_HEADER))
    assert tuple(df.columns) == HEADER and tuple(persons.columns) == TRACKS_HEADER
    df.attrs["summary"] = summary.to_dict()
    df.attrs["persons"] = persons
    return df
