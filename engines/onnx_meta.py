"""The one home of ``ModelMeta`` inside ONNX files: read it, set it, save a model atomically.

Every writer of model metadata (training's export and embedding surgery, the INT8 quantizer)
goes through ``set_meta`` and ``save_model``; the run path reads metadata through ONNX Runtime
(``onnxruntime_backend.read_meta``) without importing ``onnx``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import onnx

from facelog.engines.base import META_KEY, ModelMeta
from facelog.engines.fileio import commit_file, temp_path


def get_meta(model: onnx.ModelProto, source: str | Path = "model") -> ModelMeta:
    """The ``facelog_meta`` of a loaded model.

    Raises:
        ValueError: the model carries no ``facelog_meta`` (not exported by facelog).
    """
    for prop in model.metadata_props:
        if prop.key == META_KEY:
            return ModelMeta.from_json(prop.value)
    raise ValueError(f"{source}: no {META_KEY!r} metadata (not a facelog export)")


def set_meta(model: onnx.ModelProto, meta: ModelMeta) -> None:
    """Put ``meta`` into ``model`` as its one ``facelog_meta`` entry (other entries kept)."""
    kept = [p for p in model.metadata_props if p.key != META_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, meta.to_json()


def save_model(model: onnx.ModelProto, path: str | Path) -> Path:
    """Save ``model`` to ``path`` atomically (temporary name, fsync, rename; removed on failure)."""
    tmp = temp_path(path)
    try:
        onnx.save(model, str(tmp))
        return commit_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def update_extra(path: str | Path, out_path: str | Path, **values: Any) -> ModelMeta:
    """Copy ``path`` to ``out_path`` (may be the same file) with ``values`` added to its metadata
    ``extra``; written atomically, so a failure leaves no partial model."""
    model = onnx.load(str(path))
    old = get_meta(model, path)
    meta = dataclasses.replace(old, extra={**old.extra, **values})
    set_meta(model, meta)
    save_model(model, out_path)
    return meta
