"""Expose a trained model's pooled features as an ``embedding`` output of its ONNX graph.

The tracker's appearance gate compares faces by the cosine of the features the heads already read
(the global average pool of the trunk). Models exported by ``export.py`` carry that output; this
module adds it to an existing ONNX file (model 1.2.0 was exported without it) by graph surgery:
``LpNormalization(p=2)`` on the pooled tensor, appended as a graph output. The age and gender
outputs are untouched, so their values are bit-identical before and after.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from facelog.engines.onnx_meta import get_meta, save_model, set_meta

EMBEDDING = "embedding"


class EmbeddingSurgeryError(ValueError):
    """The graph has no single global-pool tensor feeding the heads, or already has the output."""


def pooled_tensor(graph: onnx.GraphProto) -> str:
    """Name of the (B, C) pooled-feature tensor: the squeezed output of the one GlobalAveragePool."""
    pools = [n for n in graph.node if n.op_type == "GlobalAveragePool"]
    if len(pools) != 1:
        raise EmbeddingSurgeryError(f"expected one GlobalAveragePool, found {len(pools)}")
    pooled = pools[0].output[0]
    flat_ops = ("Squeeze", "Flatten", "Reshape")
    squeezes = [n for n in graph.node if n.op_type in flat_ops and n.input[0] == pooled]
    return squeezes[0].output[0] if squeezes else pooled


def add_embedding_output(model: onnx.ModelProto, version: str) -> onnx.ModelProto:
    """Return a copy of ``model`` with an L2-normalised ``embedding`` output and updated metadata.

    Args:
        model: an exported facelog model (metadata under ``facelog_meta``).
        version: the version string the changed artifact gets (a changed file gets a new version).
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    if any(o.name == EMBEDDING for o in graph.output):
        raise EmbeddingSurgeryError("the model already has an 'embedding' output")
    source = pooled_tensor(graph)
    l2 = helper.make_node("LpNormalization", [source], [EMBEDDING], axis=-1, p=2, name="embedding_l2")
    graph.node.append(l2)
    graph.output.append(helper.make_tensor_value_info(EMBEDDING, TensorProto.FLOAT, ["batch", None]))
    try:
        meta = get_meta(out)
    except ValueError as exc:
        raise EmbeddingSurgeryError(str(exc)) from exc
    extra = dict(meta.extra)
    extra["embedding"] = f"added to {meta.version} by graph surgery (L2-normalised global pool)"
    meta = replace(meta, version=version, outputs=(*meta.outputs, EMBEDDING), extra=extra)
    set_meta(out, meta)
    onnx.checker.check_model(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m facelog.training.onnx_embedding IN.onnx OUT.onnx VERSION``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("version")
    args = ap.parse_args(argv)
    model = add_embedding_output(onnx.load(args.src), args.version)
    save_model(model, args.dst)
    meta = get_meta(model)
    print(f"{args.dst}: outputs {list(meta.outputs)}, version {meta.version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
