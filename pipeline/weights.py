"""Where detector weights come from.

BlazeFace ships inside the package (``pipeline/models/``, Apache-2.0, see ``models/NOTICE``). YuNet
may not be shipped: it is found, in this order, at the configured path, at ``$FACELOG_YUNET``, in the
user cache (``$XDG_CACHE_HOME/facelog`` or ``~/.cache/facelog``), or downloaded there once from
OpenCV's model zoo and checked against the pinned sha256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

from facelog.pipeline.errors import ModelError

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"
BLAZEFACE_PATH = MODELS_DIR / "face_detection_full_range.tflite"
YUNET_NAME = "face_detection_yunet_2023mar.onnx"
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URL = f"https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/{YUNET_NAME}"
YUNET_ENV = "FACELOG_YUNET"


def cache_dir() -> Path:
    """The user cache folder for downloaded weights."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facelog"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_yunet(dest: Path, url: str = YUNET_URL, timeout_s: float = 20.0) -> Path:
    """Download YuNet to ``dest`` (atomically) and verify its sha256.

    Raises:
        ModelError: no network, HTTP error, or a checksum mismatch (the bad file is removed).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp, open(tmp, "wb") as out:
            while chunk := resp.read(1 << 16):
                out.write(chunk)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot download YuNet from {url}: {exc}") from exc
    got = sha256_of(tmp)
    if got != YUNET_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"YuNet download from {url} has sha256 {got}, expected {YUNET_SHA256}")
    tmp.replace(dest)
    log.info("downloaded YuNet to %s", dest)
    return dest


def resolve_yunet(configured: str | None, *, download: bool) -> tuple[Path | None, str]:
    """Find the YuNet ONNX file: (path or None, where it was found / why not).

    Raises:
        ModelError: an explicitly configured or ``$FACELOG_YUNET`` path does not exist.
    """
    if configured:
        p = Path(configured).expanduser()
        if not p.is_file():
            raise ModelError(f"detector.yunet_path {p} does not exist")
        return p, f"detector.yunet_path {p}"
    env = os.environ.get(YUNET_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ModelError(f"${YUNET_ENV}={p} does not exist")
        return p, f"${YUNET_ENV} {p}"
    cached = cache_dir() / YUNET_NAME
    if cached.is_file():
        return cached, f"user cache {cached}"
    if not download:
        return None, f"no YuNet at detector.yunet_path, ${YUNET_ENV} or {cached}"
    try:
        return download_yunet(cached), f"downloaded to {cached}"
    except ModelError as exc:
        return None, str(exc)
