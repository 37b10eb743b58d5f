"""The one config loader: YAML (+ overrides) -> a frozen, validated ``AppConfig``.

Every section is a pydantic model with ``extra="forbid"``: an unknown key is an error that names
the closest known key ("did you mean"). Cross-field checks live next to the models and raise
``ConfigError``. Load once in ``main()`` and pass the typed object down.

Where things are: ``sections.py`` (detector, crop, model, backend, batching, sampling, output,
rtsp, batch), ``tracking.py`` (tracking, fusion), ``load.py`` (``AppConfig``, ``load_config``,
``with_overrides``). Import them from here.

Example:
    >>> cfg = load_config("configs/default.yaml", {"sampling": {"stride": 2}})  # doctest: +SKIP
    >>> cfg.sampling.stride  # doctest: +SKIP
    2
"""

from facelog.pipeline.config.load import SHORTCUTS, AppConfig, check_full_every, load_config, with_overrides
from facelog.pipeline.config.sections import (
    AutoBackendConfig,
    BackendConfig,
    BatchConfig,
    BatchingConfig,
    CameraConfig,
    CropConfig,
    DetectorConfig,
    ModelConfig,
    OnnxRuntimeConfig,
    OutputConfig,
    RtspConfig,
    SamplingConfig,
    TensorRTConfig,
    backend_options,
    default_model_path,
    default_of,
    zone_problem,
)
from facelog.pipeline.config.tracking import FusionConfig, TrackingConfig
from facelog.pipeline.errors import ConfigError

__all__ = [
    "SHORTCUTS",
    "AppConfig",
    "AutoBackendConfig",
    "BackendConfig",
    "BatchConfig",
    "BatchingConfig",
    "CameraConfig",
    "ConfigError",
    "CropConfig",
    "DetectorConfig",
    "FusionConfig",
    "ModelConfig",
    "OnnxRuntimeConfig",
    "OutputConfig",
    "RtspConfig",
    "SamplingConfig",
    "TensorRTConfig",
    "TrackingConfig",
    "backend_options",
    "check_full_every",
    "default_model_path",
    "default_of",
    "load_config",
    "with_overrides",
    "zone_problem",
]
