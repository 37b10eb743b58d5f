"""Export trained weights to ONNX (float32, dynamic batch, NHWC "input") with ``ModelMeta`` inside.

Outputs are named after the heads ("age", "gender", ...), followed by ``embedding`` (the trunk's
L2-normalised pooled features, for the tracker's appearance gate). The file is written under a
temporary name, checked (ONNX checker, then ONNX Runtime against TensorFlow on random inputs; a
difference above ``PARITY_TOL`` raises ``ExportError``) and only then renamed to its real name, so a
failed export leaves nothing that looks like a finished model.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf

from facelog.engines.base import HeadMeta, ModelMeta
from facelog.engines.fileio import commit_file, temp_path
from facelog.engines.onnx_meta import set_meta, update_extra
from facelog.training.config import TrainRecipe
from facelog.training.model import EMBEDDING, build_model

log = logging.getLogger(__name__)

PARITY_TOL = 1e-4  # max abs difference of any output probability, ONNX Runtime vs TensorFlow
OPSET = 17
LICENCES = {"utkface": "UTKFace: non-commercial research only"}


class ExportError(RuntimeError):
    """Conversion failed or the ONNX model does not match the TensorFlow model."""


def model_meta(recipe: TrainRecipe, extra: dict[str, Any]) -> ModelMeta:
    """The metadata stored in the exported file."""
    heads = tuple(
        HeadMeta(name=h.name, kind=h.kind, labels=h.labels if h.kind == "categorical" else ())
        for h in recipe.heads
    )
    size = recipe.data.image_size
    return ModelMeta(
        name=recipe.name,
        version=recipe.version,
        input_name="input",
        input_hw=(size, size),
        layout="NHWC",
        max_batch=0,
        outputs=(*(h.name for h in recipe.heads), EMBEDDING),
        mean=recipe.mean,
        std=recipe.std,
        color="RGB",
        framing="utkface",
        heads=heads,
        extra=extra,
    )


def _rename_outputs(proto: onnx.ModelProto, names: list[str]) -> None:
    graph = proto.graph
    if len(graph.output) != len(names):
        raise ExportError(f"expected {len(names)} outputs {names}, converter produced {len(graph.output)}")
    for out, new in zip(graph.output, names, strict=True):
        old = out.name
        for node in graph.node:
            node.output[:] = [new if o == old else o for o in node.output]
            node.input[:] = [new if i == old else i for i in node.input]
        out.name = new


def export_onnx(
    recipe: TrainRecipe,
    weights: Path,
    out_path: Path,
    extra: dict[str, Any] | None = None,
    flip_average: bool = False,
    seed: int = 0,
) -> ModelMeta:
    """Convert ``weights`` (trained with ``recipe``) into ``out_path``; return the stored metadata.

    ``flip_average`` folds horizontal-flip test-time averaging into the graph (twice the compute).
    """
    import tf2onnx

    if not weights.is_file():
        raise FileNotFoundError(f"weights not found: {weights}")
    size = recipe.data.image_size
    # float32 twin of the (possibly bf16-trained) model; weights are stored as float32 either way
    cfg = recipe.model.model_copy(update={"backbone_weights": None, "init_weights": None})
    model = build_model(cfg, recipe.heads, size, embedding=True)
    model.load_weights(weights)
    heads = [h.name for h in recipe.heads]
    names = [*heads, EMBEDDING]

    @tf.function(input_signature=[tf.TensorSpec((None, size, size, 3), tf.float32, name="input")])
    def forward(x: tf.Tensor) -> list[tf.Tensor]:
        out = model(x, training=False)
        if flip_average:  # the embedding stays that of the image as given
            out_f = model(tf.reverse(x, axis=[2]), training=False)
            return [*((out[n] + out_f[n]) / 2.0 for n in heads), out[EMBEDDING]]
        return [out[n] for n in names]

    try:
        proto, _ = tf2onnx.convert.from_function(
            forward, input_signature=forward.input_signature, opset=OPSET
        )
    except Exception as err:  # tf2onnx raises many kinds; report them as one typed error
        raise ExportError(f"tf2onnx conversion failed: {err}") from err
    _rename_outputs(proto, names)
    info = dict(extra or {})
    info.setdefault("exported", dt.date.today().isoformat())
    info.setdefault("config_hash", recipe.config_hash())
    info.setdefault("training_data", recipe.data.kind)
    info.setdefault("licence", LICENCES.get(recipe.data.kind, "see the training data's terms"))
    info["flip_average"] = flip_average
    info.setdefault(EMBEDDING, f"L2-normalised global pool of the trunk ({recipe.model.widths[-1]}-d)")
    meta = model_meta(recipe, info)
    set_meta(proto, meta)
    diff = save_checked(proto, out_path, lambda tmp: parity(forward, tmp, names, size, seed))
    log.info("exported %s (%.1f MB); parity max abs diff %.2e", out_path, out_path.stat().st_size / 1e6, diff)
    return meta


def save_checked(proto: onnx.ModelProto, out_path: Path, check: Callable[[Path], float]) -> float:
    """Save ``proto`` as ``out_path`` only if the ONNX checker and ``check(tmp_path)`` pass.

    The model is written under ``fileio.temp_path(out_path)`` first and renamed by ``commit_file``;
    on any failure that file is removed and an existing ``out_path`` is left as it was.

    Returns:
        What ``check`` returned (the parity difference).
    """
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out_path)
    try:
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        result = check(tmp)
        commit_file(tmp, out_path)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"the converted model is not valid ONNX: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return result


def update_meta_extra(onnx_path: Path, **values: Any) -> ModelMeta:
    """Add ``values`` to the ``extra`` of the metadata stored in ``onnx_path`` (rewrites the file)."""
    return update_extra(onnx_path, onnx_path, **values)


def parity(
    forward: Any, onnx_path: Path, names: list[str], size: int, seed: int = 0, batch: int = 8
) -> float:
    """Max abs difference between TensorFlow and ONNX Runtime on random normalised inputs.

    Raises:
        ExportError: the difference exceeds ``PARITY_TOL``.
    """
    x = np.random.default_rng(seed).normal(0, 1, (batch, size, size, 3)).astype(np.float32)
    ref = [np.asarray(t) for t in forward(tf.constant(x))]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(names, {"input": x})
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, got, strict=True))
    if diff >= PARITY_TOL:
        raise ExportError(
            f"ONNX output differs from TensorFlow: max abs diff {diff:.3g}, expected < {PARITY_TOL}"
        )
    return diff
