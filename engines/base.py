"""The backend protocol, the model metadata that travels with every artifact, and errors."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

META_KEY = "facelog_meta"  # key in ONNX metadata_props and in *.engine.json sidecars


class FacelogError(Exception):
    """The one root of facelog's errors: everything the CLI reports as one line without a traceback.

    It lives here, in the lowest layer, so that engines, training and pipeline errors share it;
    ``pipeline.errors`` re-exports it. Subclasses keep a builtin base where callers expect one
    (``ConfigError`` is a ``ValueError``).
    """


def first_line(message: object) -> str:
    """The first non-empty line of ``message`` (an exception or a string), or the exception's type name.

    Every one-line error report (``print_error``, a batch file's recorded error) is made with this.
    """
    text = str(message).strip()
    if text:
        return text.splitlines()[0]
    return type(message).__name__ if isinstance(message, BaseException) else "unknown error"


def print_error(message: object) -> None:
    """facelog's one error printer: ``facelog: error: <first line of message>`` on stderr."""
    print(f"facelog: error: {first_line(message)}", file=sys.stderr)


class UsageError(FacelogError):
    """A command cannot run as asked (a missing file, a run folder without its recipe, ...).

    Subcommands raise it; ``facelog.cli.main`` prints it as its one line and exits 2.
    """


class ConfigError(FacelogError, ValueError):
    """A config file or override is invalid (unknown key, wrong type, inconsistent values).

    facelog's one ConfigError: ``pipeline.config`` raises it (re-exported by ``pipeline.errors``),
    and training recipes can too (engines is the layer both import). Its message is one line.
    """


def did_you_mean(key: str, known: Iterable[str], prefix: str = "") -> str:
    """``"; did you mean 'prefix.close'?"`` for the closest known key, else the list of known keys."""
    names = list(known)
    hint = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{hint[0]}'?" if hint else f"; known keys: {', '.join(names)}"


class BackendUnavailable(FacelogError, RuntimeError):
    """The requested backend cannot run here; the message says why and what to install."""


@dataclass(frozen=True)
class HeadMeta:
    name: str  # output tensor name, e.g. "age", "gender"
    kind: Literal["age", "categorical"]  # age: softmax over 0..N-1 years, estimate = expected value
    labels: tuple[str, ...] = ()  # class names for categorical heads (index order)


@dataclass(frozen=True)
class ModelMeta:
    """Everything a consumer needs to feed and read the model; stored inside the ONNX file."""

    name: str
    version: str
    input_name: str
    input_hw: tuple[int, int]
    layout: Literal["NHWC", "NCHW"]
    max_batch: int  # 0 = dynamic
    outputs: tuple[str, ...]
    mean: float  # pixels are fed as (rgb - mean) / std
    std: float
    color: Literal["RGB", "BGR"] = "RGB"
    # Face framing the model was trained on; the pipeline's crop module knows how to reproduce it
    # from each detector's boxes and landmarks. "utkface": UTKFace's dlib-aligned 200x200 chips.
    framing: str = "utkface"
    heads: tuple[HeadMeta, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # training data, metrics, licence

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        d = json.loads(text)
        d["input_hw"] = tuple(d["input_hw"])
        d["outputs"] = tuple(d["outputs"])
        d["heads"] = tuple(
            HeadMeta(name=h["name"], kind=h["kind"], labels=tuple(h.get("labels", ())))
            for h in d.get("heads", [])
        )
        return cls(**d)

    def head(self, kind: str) -> HeadMeta | None:
        return next((h for h in self.heads if h.kind == kind or h.name == kind), None)

    def to_input_layout(self, pixels: np.ndarray) -> np.ndarray:
        """Check (B, H, W, 3) preprocessed pixels and return them in the model's layout, float32.

        Raises:
            ValueError: the shape is not (B, H, W, 3) for this model's input size.
        """
        h, w = self.input_hw
        if pixels.ndim != 4 or pixels.shape[1:] != (h, w, 3):
            raise ValueError(f"pixels must be (B, {h}, {w}, 3), got {pixels.shape}")
        if self.layout == "NCHW":
            pixels = pixels.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(pixels, np.float32)


class Backend(Protocol):
    """What the pipeline needs from an inference engine."""

    meta: ModelMeta
    name: str  # e.g. "onnxruntime:CPUExecutionProvider", "tensorrt:fp16"

    def infer(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        """Run one batch. ``pixels``: (B, H, W, 3) float32, already preprocessed per ``meta``.

        Returns one (B, ...) array per output name.
        """
        ...

    def close(self) -> None: ...
