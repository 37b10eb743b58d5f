"""Loading: YAML (+ overrides) -> a frozen, validated ``AppConfig``; unknown keys named with the
closest known key; short override names (``SHORTCUTS``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from facelog.engines.base import did_you_mean
from facelog.pipeline.config.sections import (
    _BACKEND_MODELS,
    AutoBackendConfig,
    BackendConfig,
    BatchConfig,
    BatchingConfig,
    CropConfig,
    DetectorConfig,
    ModelConfig,
    OutputConfig,
    RtspConfig,
    SamplingConfig,
    _Section,
)
from facelog.pipeline.config.tracking import FusionConfig, TrackingConfig
from facelog.pipeline.errors import ConfigError, first_line


class AppConfig(_Section):
    """Everything a run needs. Every section defaults to its defaults."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    crop: CropConfig = Field(default_factory=CropConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    backend: BackendConfig = Field(default_factory=AutoBackendConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    rtsp: RtspConfig = Field(default_factory=RtspConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    @model_validator(mode="after")
    def _check(self) -> AppConfig:
        check_full_every(self.detector.full_every, self.batching.detect_workers)
        return self


def check_full_every(full_every: int | None, workers: int) -> None:
    """Detection around known faces (``full_every`` > 1) needs one detect worker, seeing frames in order.

    Raises:
        ValueError: ``full_every`` > 1 with more than one worker.
    """
    if full_every is not None and full_every > 1 and workers > 1:
        raise ValueError(
            f"detector.full_every {full_every} needs the frames in order: set "
            f"batching.detect_workers to 1 (got {workers}) or detector.full_every to 1"
        )


def _check_keys(data: Any, model: type[BaseModel], where: str, origin: str) -> None:
    """Raise ConfigError for the first unknown key, with the closest known key as a hint."""
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            hint = did_you_mean(str(key), fields, where)
            raise ConfigError(f"unknown config key '{where}{key}' in {origin}{hint}")
        ann = fields[key].annotation
        if key == "backend" and model is AppConfig and isinstance(value, dict):
            _check_backend_keys(value, origin)
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            _check_keys(value, ann, f"{where}{key}.", origin)


def _check_backend_keys(data: dict[str, Any], origin: str) -> None:
    """Each backend kind takes its own options: one that belongs to another kind names the backend."""
    kind = data.get("kind", "auto")
    model = _BACKEND_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ConfigError(
            f"config {origin}: backend.kind must be one of {', '.join(_BACKEND_MODELS)}, got {kind!r}"
        )
    every = set().union(*(m.model_fields for m in _BACKEND_MODELS.values()))
    for key in data:
        if key in model.model_fields:
            continue
        if key in every:
            takes = ", ".join(k for k in model.model_fields if k != "kind")
            raise ConfigError(
                f"config key 'backend.{key}' in {origin} does not apply to backend {kind} (it takes: {takes})"
            )
        raise ConfigError(
            f"unknown config key 'backend.{key}' in {origin}{did_you_mean(str(key), every, 'backend.')}"
        )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if "." in key:  # dotted override: {"detector.kind": "yunet"}
            head, rest = key.split(".", 1)
            value, key = {rest: value}, head
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, dict) and any("." in k for k in value):
            out[key] = _merge({}, value)
        else:
            out[key] = value
    return out


# The one override table: short names -> config keys, for `facelog run` flags (their argparse dest
# is the short name) and the notebook API's keyword arguments (``api.analyze_video(stride=2)``).
SHORTCUTS: dict[str, str] = {
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


def with_overrides(config: AppConfig | str | Path | None = None, **overrides: Any) -> AppConfig:
    """A config (a YAML path, None for defaults, or a ready ``AppConfig``) plus overrides given by
    short name (``SHORTCUTS``), dotted key (``{"sampling.stride": 2}`` via ``**``) or whole section
    (``tracking={"enabled": False}``); None values are ignored. Paths become strings.

    Raises:
        ConfigError: unknown override or invalid value.
    """
    mapped = {SHORTCUTS.get(k, k): str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
    if isinstance(config, AppConfig):
        if not any(v is not None for v in mapped.values()):
            return config
        return load_config(None, _merge(config.model_dump(), mapped))
    return load_config(config, mapped)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> AppConfig:
    """Load and validate a config.

    Args:
        path: a YAML file; None = all defaults.
        overrides: nested (``{"sampling": {"stride": 2}}``) or dotted (``{"sampling.stride": 2}``)
            values applied on top of the file; None values are ignored.

    Returns:
        The frozen ``AppConfig``.

    Raises:
        ConfigError: missing/unreadable file, bad YAML, unknown key (with a hint) or invalid value.
    """
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        p = Path(path)
        origin = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {p} is not valid YAML: {first_line(exc)}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config {p} must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    if overrides:
        data = _merge(data, _drop_none(overrides))
        origin = f"{origin} + overrides"
    _check_keys(data, AppConfig, "", origin)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        from facelog.pipeline.live.redact import redact_text  # camera URLs carry passwords

        if loc:
            message = f"config {origin}: {loc}: {err['msg']} (got {err.get('input')!r})"
        else:  # a rule across sections
            message = f"config {origin}: {str(err['msg']).removeprefix('Value error, ')}"
        raise ConfigError(redact_text(message)) from exc


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}
