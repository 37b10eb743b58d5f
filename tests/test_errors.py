"""One error root: every typed facelog error is a FacelogError, so one ``except`` reports them all."""

from __future__ import annotations

import pytest

from facelog.engines.base import BackendUnavailable, ConfigError, FacelogError
from facelog.engines.cache import EngineMismatch
from facelog.engines.trt_build import EngineBuildError
from facelog.pipeline import errors
from facelog.pipeline.archive.discovery import BatchError
from facelog.pipeline.archive.executors import ExecutorUnavailable, WorkerInitError
from facelog.pipeline.archive.state import StateError


@pytest.mark.parametrize(
    "cls",
    [
        ConfigError,
        BackendUnavailable,
        EngineMismatch,
        EngineBuildError,
        errors.SourceError,
        errors.ModelError,
        BatchError,
        ExecutorUnavailable,
        WorkerInitError,
        StateError,
    ],
)
def test_every_typed_error_has_the_one_root(cls: type[Exception]) -> None:
    assert issubclass(cls, FacelogError)
    assert errors.FacelogError is FacelogError  # re-exported, not a second class


def test_config_error_is_still_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad key"):
        raise ConfigError("bad key")
