"""Engine cache: one TensorRT engine per (model, TensorRT version, GPU, precision, batch profile).

A serialized TensorRT engine only deserializes on the TensorRT version and GPU model it was built
for; loading it anywhere else fails deep inside TensorRT (the most common complaint of TensorRT
users). So every engine lives in a folder named after a digest of its ``EngineKey`` and carries a
``*.engine.json`` sidecar with that key and the ``ModelMeta``. A different GPU, TensorRT version or
model gives a different key, hence a cache miss and a rebuild; an engine file handed over directly is
checked against its sidecar (``check_engine``) before TensorRT ever sees it.

Layout (names follow Savant's ``{model}_b{batch}_gpu{id}_{precision}.engine``)::

    <root>/<model>-<key digest>/<model>_b<max batch>_gpu<id>_<precision>.engine
    <root>/<model>-<key digest>/<model>_b<max batch>_gpu<id>_<precision>.engine.json
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

from facelog.engines.base import META_KEY, FacelogError, ModelMeta
from facelog.engines.fileio import file_sha256, write_text_atomic

log = logging.getLogger(__name__)

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8")
SIDECAR_VERSION = 1


class EngineMismatch(FacelogError, RuntimeError):
    """A cached or given engine does not match this machine or model; the message says how to rebuild."""


def cache_root() -> Path:
    """facelog's one cache folder: ``$FACELOG_CACHE``, else ``$XDG_CACHE_HOME/facelog``, else
    ``~/.cache/facelog`` (engines, INT8 models and downloaded detector weights live under it)."""
    if os.environ.get("FACELOG_CACHE"):
        return Path(os.environ["FACELOG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facelog"


def default_cache_root() -> Path:
    """Where built TensorRT engines are cached: ``cache_root() / "engines"``."""
    return cache_root() / "engines"


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on. Two engines with equal keys are interchangeable."""

    model_sha256: str  # of the ONNX file TensorRT parsed (the Q/DQ model for int8)
    trt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: Precision
    min_batch: int
    opt_batch: int
    max_batch: int

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(
                "batch profile must satisfy 1 <= min <= opt <= max, "
                f"got min={self.min_batch} opt={self.opt_batch} max={self.max_batch}"
            )

    def digest(self) -> str:
        """First 16 hex digits of the sha256 of the key's canonical JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["compute_capability"] = list(self.compute_capability)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EngineKey:
        names = {f.name for f in fields(cls)}
        if set(d) != names:
            raise ValueError(f"engine key fields must be {sorted(names)}, got {sorted(d)}")
        cc = d["compute_capability"]
        return cls(**{**d, "compute_capability": (int(cc[0]), int(cc[1]))})

    def differences(self, other: EngineKey) -> list[str]:
        """Human-readable ``field: ours != theirs`` for each field that differs."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: engine has {a[k]!r}, here {b[k]!r}" for k in a if a[k] != b[k]]


def safe_name(name: str) -> str:
    """A model name usable in a file name (letters, digits, ``-``, ``_``, ``.``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


def engine_filename(model_name: str, max_batch: int, gpu_id: int, precision: Precision) -> str:
    """Savant-style ``{model}_b{batch}_gpu{id}_{precision}.engine``."""
    return f"{safe_name(model_name)}_b{max_batch}_gpu{gpu_id}_{precision}.engine"


def sidecar_path(engine_path: Path) -> Path:
    return engine_path.with_name(engine_path.name + ".json")


def write_sidecar(engine_path: Path, meta: ModelMeta, key: EngineKey, **extra: Any) -> Path:
    """Write ``<engine>.json`` with the key, the model metadata and the engine's size and sha256."""
    doc = {
        "sidecar_version": SIDECAR_VERSION,
        "key": key.to_dict(),
        META_KEY: json.loads(meta.to_json()),
        "engine_bytes": engine_path.stat().st_size,
        "engine_sha256": file_sha256(engine_path),
        "extra": extra,
    }
    return write_text_atomic(sidecar_path(engine_path), json.dumps(doc, indent=2, sort_keys=True))


@dataclass(frozen=True)
class Sidecar:
    """The parsed ``*.engine.json``."""

    key: EngineKey
    meta: ModelMeta
    engine_bytes: int
    engine_sha256: str
    extra: dict[str, Any]


def read_sidecar(engine_path: Path) -> Sidecar:
    """Parse ``<engine>.json``.

    Raises:
        EngineMismatch: the sidecar is missing or unreadable (the engine cannot be verified).
    """
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise EngineMismatch(
            f"{engine_path} has no sidecar {path.name}, so its TensorRT version and GPU are unknown; "
            "rebuild it with `facelog engine build MODEL.onnx`"
        )
    try:
        doc = json.loads(path.read_text())
        if doc.get("sidecar_version") != SIDECAR_VERSION:
            raise ValueError(f"sidecar_version {doc.get('sidecar_version')!r}, expected {SIDECAR_VERSION}")
        return Sidecar(
            key=EngineKey.from_dict(doc["key"]),
            meta=ModelMeta.from_json(json.dumps(doc[META_KEY])),
            engine_bytes=int(doc["engine_bytes"]),
            engine_sha256=str(doc["engine_sha256"]),
            extra=dict(doc.get("extra", {})),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineMismatch(
            f"sidecar {path} is unreadable ({exc}); rebuild with `facelog engine build MODEL.onnx`"
        ) from exc


def check_engine(
    engine_path: Path, trt_version: str, gpu_name: str, compute_capability: tuple[int, int]
) -> Sidecar:
    """Verify an engine file against this machine before deserializing it.

    Checks the file size against the sidecar (a truncated copy), the TensorRT version and the GPU.

    Raises:
        EngineMismatch: naming every field that differs and the command that rebuilds the engine.
        FileNotFoundError: no engine file.
    """
    if not engine_path.is_file():
        raise FileNotFoundError(f"engine file not found: {engine_path}")
    side = read_sidecar(engine_path)
    size = engine_path.stat().st_size
    if size != side.engine_bytes:
        raise EngineMismatch(
            f"{engine_path} is {size} bytes but its sidecar says {side.engine_bytes} (truncated copy?); "
            "delete it and rebuild with `facelog engine build MODEL.onnx`"
        )
    here = EngineKey(
        **{
            **side.key.to_dict(),
            "trt_version": trt_version,
            "gpu_name": gpu_name,
            "compute_capability": compute_capability,
        }
    )
    diffs = side.key.differences(here)
    if diffs:
        raise EngineMismatch(
            f"{engine_path.name} was built for another machine ({'; '.join(diffs)}); TensorRT engines "
            "only load on the TensorRT version and GPU they were built for. Rebuild it here: "
            f"`facelog engine build MODEL.onnx --precision {side.key.precision} "
            f"--max-batch {side.key.max_batch}`"
        )
    return side


class EngineCache:
    """Folder of engines keyed by ``EngineKey``; see the module docstring for the layout."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    def path_for(self, key: EngineKey, model_name: str, gpu_id: int) -> Path:
        folder = self.root / f"{safe_name(model_name)}-{key.digest()}"
        return folder / engine_filename(model_name, key.max_batch, gpu_id, key.precision)

    def timing_cache_path(self, trt_version: str, compute_capability: tuple[int, int]) -> Path:
        """One timing cache per TensorRT version and GPU architecture, shared by all models."""
        return self.root / f"timing_trt{trt_version}_sm{compute_capability[0]}{compute_capability[1]}.cache"

    def lookup(self, key: EngineKey, model_name: str, gpu_id: int) -> Path | None:
        """The cached engine for ``key``; None when absent or its sidecar disagrees (then it is rebuilt)."""
        path = self.path_for(key, model_name, gpu_id)
        if not path.is_file():
            return None
        try:
            side = read_sidecar(path)
        except EngineMismatch as exc:
            log.warning("ignoring cached engine: %s", exc)
            return None
        if side.key != key or side.engine_bytes != path.stat().st_size:
            log.warning(
                "ignoring cached engine %s: sidecar does not match (%s)", path, side.key.differences(key)
            )
            return None
        return path

    def get_or_build(
        self,
        key: EngineKey,
        meta: ModelMeta,
        gpu_id: int,
        build: Callable[[Path], Path],
        **extra: Any,
    ) -> tuple[Path, bool]:
        """Return (engine path, built_now). On a miss ``build(path)`` writes the engine at ``path``.

        The sidecar is written only after ``build`` returned, so an interrupted build leaves no
        engine that looks valid.
        """
        hit = self.lookup(key, meta.name, gpu_id)
        if hit is not None:
            log.info("engine cache hit: %s", hit)
            return hit, False
        path = self.path_for(key, meta.name, gpu_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        sidecar_path(path).unlink(missing_ok=True)
        log.info("engine cache miss, building %s", path)
        built = build(path)
        if built != path or not path.is_file():
            raise RuntimeError(f"engine build returned {built}, expected a file at {path}")
        write_sidecar(path, meta, key, **extra)
        return path, True


def as_precision(value: str) -> Precision:
    """Validate a precision string (from CLI or config)."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return cast(Precision, value)
