"""Where the app's model files come from: the one lookup every command uses (run, doctor, batch, RTSP).

Both face detectors ship inside the package (``pipeline/models/``, licences and origin in
``models/NOTICE``), so a fresh install works offline. YuNet is found, in this order, at the configured
path (``detector.yunet_path`` / ``--yunet PATH``), at ``$FACELOG_YUNET``, else the shipped file, which
must match its pinned sha256. The age/gender model ships in ``facelog.engines`` (``models/``).
``cache_root()`` is the user cache folder for anything the app writes for later runs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# The one cache folder ($FACELOG_CACHE, else $XDG_CACHE_HOME/facelog, else ~/.cache/facelog) lives in
# engines (engines never import pipeline); re-exported so the app has one lookup module.
from facelog.engines.cache import cache_root as cache_root
from facelog.engines.fileio import file_sha256
from facelog.pipeline.errors import ModelError

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
BLAZEFACE_PATH = MODELS_DIR / "face_detection_full_range.tflite"
YUNET_NAME = "face_detection_yunet_2023mar.onnx"
YUNET_PATH = MODELS_DIR / YUNET_NAME
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_ENV = "FACELOG_YUNET"
# Where the shipped file was published (for messages and NOTICE; facelog never downloads it)
YUNET_URL = f"https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/{YUNET_NAME}"
AGE_GENDER_NAME = "facelog_age_gender.onnx"
IDENTITY_GENDER_NAME = "identity_gender.json"  # gender read from the identity descriptor


@dataclass(frozen=True)
class ModelFile:
    """A resolved model file.

    Attributes:
        path: the file.
        source: where it came from, for logs and the run summary ("shipped", "detector.yunet_path",
            "$FACELOG_YUNET").
        sha256: the file's sha256 (hex).
    """

    path: Path
    source: str
    sha256: str

    @property
    def pinned(self) -> bool:
        """True when the file is the YuNet release facelog ships (same sha256)."""
        return self.sha256 == YUNET_SHA256


def shipped_yunet() -> ModelFile:
    """The YuNet file inside the package, checked against its pinned sha256.

    Raises:
        ModelError: the file is missing or damaged (a broken install).
    """
    if not YUNET_PATH.is_file():
        raise ModelError(f"shipped YuNet model missing: {YUNET_PATH} (reinstall facelog)")
    got = file_sha256(YUNET_PATH)
    if got != YUNET_SHA256:
        raise ModelError(
            f"shipped YuNet model {YUNET_PATH} has sha256 {got}, expected {YUNET_SHA256} (reinstall facelog)"
        )
    return ModelFile(YUNET_PATH, "shipped", got)


def _user_file(raw: str, source: str) -> ModelFile:
    p = Path(raw).expanduser()
    if not p.is_file():
        raise ModelError(f"{source} {p} does not exist or is not a file")
    f = ModelFile(p, source, file_sha256(p))
    if not f.pinned:
        log.info("YuNet from %s %s is not the shipped release (sha256 %s)", source, p, f.sha256[:12])
    return f


def resolve_yunet(configured: str | None = None) -> ModelFile:
    """Find the YuNet ONNX file: ``configured`` > ``$FACELOG_YUNET`` > the shipped file. Never downloads.

    A file the user names may be another YuNet release (its sha256 is recorded, not enforced); the
    shipped file must match the pinned sha256.

    Args:
        configured: ``detector.yunet_path`` (``--yunet PATH``); None or "" to skip.

    Raises:
        ModelError: a named file does not exist, or the shipped file is missing or damaged.
    """
    if configured:
        return _user_file(configured, "detector.yunet_path")
    env = os.environ.get(YUNET_ENV)
    if env:
        return _user_file(env, f"${YUNET_ENV}")
    return shipped_yunet()


def shipped_model_path() -> Path:
    """The shipped age/gender model, ``facelog/engines/models/facelog_age_gender.onnx`` (may be absent).

    Located through the installed ``facelog.engines`` package, so it works from a checkout and a wheel.
    """
    return _engines_model(AGE_GENDER_NAME)


def shipped_identity_gender_path() -> Path:
    """The shipped read-out of gender from the identity descriptor,
    ``facelog/engines/models/identity_gender.json`` (``tracking.gender.IdentityGender``; may be absent)."""
    return _engines_model(IDENTITY_GENDER_NAME)


def _engines_model(name: str) -> Path:
    """A file of ``facelog/engines/models/``, found through the installed package (checkout or wheel)."""
    return Path(str(resources.files("facelog.engines").joinpath("models", name)))
