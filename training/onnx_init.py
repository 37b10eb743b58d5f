"""Start a training run from an exported model: ONNX initializers -> Keras ``.weights.h5``.

The Keras weights of older models are gone where only their ONNX files ship. The export folds every
batch norm into the convolution before it (tf2onnx: ``.../convolution/merged_input`` and
``.../batchnorm/sub``) and keeps the head towers' norms as a ``Mul`` and an ``Add``; so a Keras
model of the same recipe gets:

- conv kernel = the folded kernel (OIHW -> HWIO), dense kernels as they are;
- each batch norm set from the statistics of its input on calibration faces (mean ``mu``, variance
  ``var`` per channel): ``moving_mean = mu``, ``moving_variance = var`` and ``gamma``/``beta`` chosen
  so that inference gives exactly the ONNX function, and a training batch from the calibration
  faces gives (almost) the same, so fine-tuning starts where the exported model is.

Command (writes the weights and prints the parity with ONNX Runtime)::

    python -m facelog.training.onnx_init engines/models/facelog_age_gender.onnx \\
        --config configs/train_utkface_real.yaml --data ../shared/data/utkface \\
        --split RUN/split.json --out init.weights.h5
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import numpy_helper

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

BN_EPS = 1e-3  # keras.layers.BatchNormalization's default epsilon
PARITY_TOL = 1e-3  # max abs difference of any output probability, Keras vs ONNX Runtime
_CONV = re.compile(r"/(\w+?)_1/convolution/merged_input:0$")
_BN_SUB = re.compile(r"/(\w+?)_1/batchnorm/sub:0$")
_BN_MUL = re.compile(r"/(\w+?)_1/batchnorm/mul:0$")
_DENSE = re.compile(r"/(\w+?)_1/Cast/ReadVariableOp:0$")
_BIAS = re.compile(r"/(\w+?)_1/BiasAdd/ReadVariableOp:0$")


class OnnxInitError(ValueError):
    """The ONNX file does not have the layout this module reads, or does not fit the recipe."""


@dataclass(frozen=True)
class Folded:
    """What the ONNX graph holds for one Keras layer (and the tensor whose statistics set its norm)."""

    layer: str  # Keras layer name (conv or dense)
    kernel: np.ndarray  # Keras layout
    norm: str | None  # the batch norm that follows, if any
    shift: np.ndarray | None  # folded bias (conv) or the norm's additive part (dense)
    scale: np.ndarray | None  # the norm's multiplicative part (dense towers only)
    probe: str  # ONNX tensor: conv output (bias included) or tower MatMul output
    bias: np.ndarray | None = None  # dense bias (logits)


def read_folded(proto: onnx.ModelProto) -> list[Folded]:
    """Every Conv and MatMul of a facelog export, mapped to Keras layer names.

    Raises:
        OnnxInitError: a node's weights do not follow the tf2onnx naming above.
    """
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out: list[Folded] = []
    for node in proto.graph.node:
        if node.op_type == "Conv":
            m, b = _CONV.search(node.input[1]), _BN_SUB.search(node.input[2] if len(node.input) > 2 else "")
            if m is None or b is None:
                raise OnnxInitError(f"Conv {node.name}: unexpected weight names {list(node.input[1:])}")
            kernel = init[node.input[1]].transpose(2, 3, 1, 0)  # OIHW -> HWIO
            out.append(Folded(m.group(1), kernel, b.group(1), init[node.input[2]], None, node.output[0]))
        elif node.op_type == "MatMul" and node.input[1] in init:
            m = _DENSE.search(node.input[1])
            if m is None:
                raise OnnxInitError(f"MatMul {node.name}: unexpected weight name {node.input[1]}")
            nxt = consumers.get(node.output[0], [])
            if nxt and nxt[0].op_type == "Mul":  # tower: MatMul -> Mul (norm scale) -> Add (norm shift)
                mul = nxt[0]
                add = consumers[mul.output[0]][0]
                scale_name = next(i for i in mul.input if i in init)
                shift_name = next(i for i in add.input if i in init)
                bn = _BN_MUL.search(scale_name)
                if bn is None or _BN_SUB.search(shift_name) is None:
                    raise OnnxInitError(
                        f"tower {m.group(1)}: unexpected norm names {scale_name}, {shift_name}"
                    )
                kernel = init[node.input[1]]
                out.append(
                    Folded(
                        m.group(1), kernel, bn.group(1), init[shift_name], init[scale_name], node.output[0]
                    )
                )
            else:  # logits: MatMul -> Add (bias); a zero bias may have been optimised away
                kernel = init[node.input[1]]
                bias = np.zeros(kernel.shape[1], np.float32)
                if nxt and nxt[0].op_type == "Add":
                    bias_name = next((i for i in nxt[0].input if i in init), "")
                    if _BIAS.search(bias_name) is None:
                        raise OnnxInitError(f"logits {m.group(1)}: unexpected bias name {bias_name!r}")
                    bias = init[bias_name]
                out.append(Folded(m.group(1), kernel, None, None, None, "", bias))
    return out


def probe_stats(
    proto: onnx.ModelProto, tensors: list[str], x: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-channel (mean, variance) of ``tensors`` over normalised inputs ``x`` (ONNX Runtime).

    Conv outputs are NCHW (channel axis 1), MatMul outputs (n, units).
    """
    import onnxruntime as ort

    p = onnx.ModelProto()
    p.CopyFrom(proto)
    del p.graph.output[:]
    for t in tensors:
        p.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    sess = ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(tensors, {sess.get_inputs()[0].name: x.astype(np.float32)})
    stats = {}
    for t, v in zip(tensors, outs, strict=True):
        axes = (0, 2, 3) if v.ndim == 4 else (0,)
        stats[t] = (v.mean(axis=axes, dtype=np.float64), v.var(axis=axes, dtype=np.float64))
    return stats


def set_keras_weights(
    model: keras.Model, folded: list[Folded], stats: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Assign ``folded`` to the Keras ``model`` (see the module docstring for the norm algebra).

    Raises:
        OnnxInitError: a layer is missing in the model or a shape differs.
    """
    layers = {lyr.name: lyr for lyr in _all_layers(model)}
    for f in folded:
        for name in (f.layer, f.norm):
            if name is not None and name not in layers:
                raise OnnxInitError(
                    f"the recipe's model has no layer {name!r}: it is not the exported network"
                )
        dense = layers[f.layer]
        want = [tuple(w.shape) for w in dense.get_weights()]
        have = [f.kernel.shape] + ([f.bias.shape] if f.bias is not None else [])
        if want != have:
            raise OnnxInitError(f"layer {f.layer}: recipe shapes {want}, ONNX {have}")
        dense.set_weights([f.kernel] + ([f.bias] if f.bias is not None else []))
        if f.norm is None:
            continue
        assert f.shift is not None
        mean_out, var = stats[f.probe]
        if f.scale is None:  # conv: output = z + bias; z has mean mean_out - bias
            mu = mean_out - f.shift
            gamma, beta = np.sqrt(var + BN_EPS), mean_out
        else:  # tower: output = scale * t + shift
            mu = mean_out
            gamma, beta = f.scale * np.sqrt(var + BN_EPS), f.scale * mu + f.shift
        layers[f.norm].set_weights([a.astype(np.float32) for a in (gamma, beta, mu, var)])


def _all_layers(model: Any) -> list[Any]:
    out = []
    for lyr in model.layers:
        out.append(lyr)
        if hasattr(lyr, "layers"):
            out.extend(_all_layers(lyr))
    return out


def init_from_onnx(onnx_path: Path, model: keras.Model, x_norm: np.ndarray) -> float:
    """Load ``onnx_path`` into the Keras ``model``; return the max abs output difference on ``x_norm``.

    Raises:
        OnnxInitError: layout mismatch, or the outputs differ by more than ``PARITY_TOL``.
    """
    import onnxruntime as ort

    proto = onnx.load(str(onnx_path))
    folded = read_folded(proto)
    if not folded:
        raise OnnxInitError(f"{onnx_path}: no Conv or MatMul weights found")
    stats = probe_stats(proto, [f.probe for f in folded if f.norm is not None], x_norm)
    set_keras_weights(model, folded, stats)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x_norm}), strict=True))
    got = model.predict(x_norm, batch_size=256, verbose=0)
    diff = max(float(np.max(np.abs(np.asarray(got[k]) - ref[k]))) for k in got if k in ref)
    if diff > PARITY_TOL:
        raise OnnxInitError(f"Keras vs ONNX outputs differ by {diff:.2e} (> {PARITY_TOL})")
    return diff


def main(argv: list[str] | None = None) -> int:
    from facelog.training import datasets as dsets
    from facelog.training.config import load_recipe
    from facelog.training.model import build_model
    from facelog.training.train import read_table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(
        prog="python -m facelog.training.onnx_init", description=__doc__.split("\n")[0]
    )
    ap.add_argument("onnx", type=Path, help="exported facelog model")
    ap.add_argument("--config", type=Path, required=True, help="recipe with the same network")
    ap.add_argument("--data", type=Path, help="UTKFace folder (default: the recipe's data.root)")
    ap.add_argument(
        "--split", type=Path, required=True, help="split.json: calibration faces from its train part"
    )
    ap.add_argument("--n", type=int, default=1024, help="calibration faces")
    ap.add_argument("--out", type=Path, required=True, help=".weights.h5 to write")
    args = ap.parse_args(argv)
    overrides = {"data.root": str(args.data)} if args.data else {}
    recipe = load_recipe(args.config, {**overrides, "model.init_weights": None})
    table = read_table(recipe)
    tr, _ = dsets.read_split(args.split, dsets.split_names(table))
    pick = np.sort(np.random.default_rng(0).choice(tr, size=min(args.n, len(tr)), replace=False))
    images, _ = dsets.preload(table.subset(pick).paths, recipe.data.image_size)
    x = (images.astype(np.float32) - recipe.mean) / recipe.std
    model = build_model(recipe.model, recipe.heads, recipe.data.image_size)
    try:
        diff = init_from_onnx(args.onnx, model, x)
    except OnnxInitError as err:
        log.error("%s", err)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.out)
    log.info("wrote %s (%d calibration faces; max |Keras - ONNX| %.2e)", args.out, len(x), diff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
