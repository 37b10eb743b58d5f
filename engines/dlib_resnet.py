"""dlib's face descriptor network (``dlib_face_recognition_resnet_model_v1.dat``) run by ONNX Runtime.

The identity veto and the gender reading (``pipeline/tracking/identity.py``) use dlib's ResNet descriptor.
The ``dlib-bin`` wheel computes it without AVX or BLAS: ~100 ms a face on this project's CPUs, the
largest single cost of tracking. The network is small (29 convolutions on a 150x150 chip), so this
module reads its weights from dlib's own file and builds the same network as an ONNX graph in
memory (no file written, 0.15 s); ONNX Runtime runs it ~12x faster (7.9 ms a chip on one AVX2 core)
(docs/BENCHMARKS.md, "The identity descriptor on ONNX Runtime", eleventh session).

The file format is dlib's serialization (``dlib/dnn/core.h``, ``layers.h``, ``cuda/tensor.h`` of the
dlib sources): after the loss layer, each layer's details in order from the input outwards, each
starting with its type's version tag (``con_4``, ``affine_``, ``relu_``, ``max_pool_2``,
``avg_pool_2``, ``add_prev_``, ``fc_2``: those of the file ``face-recognition-models`` ships); a
tensor is its four dimensions then raw little-endian float32. The reader scans for those tags and
reads what follows each; everything else (input and loss layers, tags, skips, saved gradients) is
skipped. Every kernel, stride, padding and size is then checked against the network below, as dlib
itself does when it loads the file, and anything else is refused. The
network (dlib's ``dnn_face_recognition_ex.cpp``)::

    input 150x150 RGB, (x - mean) / 256
    con 32 7x7 /2, affine, relu, max_pool 3x3 /2
    3 x ares 32, ares_down 64 + 3 x ares 64, ares_down 128 + 2 x ares 128,
    ares_down 256 + 2 x ares 256, ares_down 256
    global average, fc 128 (no bias)

``ares`` is ``relu(x + affine(con(relu(affine(con(x))))))``; ``ares_down`` has a stride-2 first
convolution and adds a 2x2 average pool of its input. dlib adds tensors of different sizes by
zero-padding both at the end (channels and, after odd sizes, rows and columns); the graph does
the same with ``Pad``. The output is checked against dlib itself in
``tests/engines/test_dlib_resnet.py``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facelog.engines.base import FacelogError

CHIP = 150  # dlib's chip side: input_rgb_image_sized<150>
DESCRIPTOR_DIM = 128
MEAN_RGB = (122.782, 117.001, 104.298)  # input_rgb_image's defaults (avg_red, avg_green, avg_blue)
_NAMES = (b"con_4", b"affine_", b"relu_", b"max_pool_2", b"avg_pool_2", b"add_prev_", b"fc_2")
_RECORD = re.compile(b"\x01(" + b"|".join(bytes([len(n)]) + re.escape(n) for n in _NAMES) + b")")


class DlibModelError(FacelogError, ValueError):
    """The file is not dlib's face recognition ResNet in the expected format."""


@dataclass
class Layer:
    """One layer record of the file: its type and what it holds."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    # con: filters, nr, nc, stride y/x, pad y/x; affine: channels; pools: nr, nc, stride y/x, pad y/x
    # (0, 0, ...: the whole input); fc: inputs, outputs
    ints: tuple[int, ...] = ()
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # con OIHW, affine gamma, fc
    bias: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # con bias, affine beta


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def integer(self) -> int:
        """dlib's integer: a control byte (bit 7 sign, low 4 bits the byte count), then the bytes."""
        ctrl = self.data[self.pos]
        n = ctrl & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if ctrl & 0x80 else value

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor`` (version 2) flattened: num_samples, k, nr, nc, then raw float32."""
        if self.integer() != 2:
            raise DlibModelError("damaged, or not a dlib network (unexpected tensor version)")
        dims = [self.integer() for _ in range(4)]
        if min(dims) < 0:
            raise DlibModelError("damaged, or not a dlib network (negative tensor size)")
        count = math.prod(dims)
        if self.pos + 4 * count > len(self.data):
            raise DlibModelError("file ends inside a tensor")
        out = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos += 4 * count
        return out

    def alias(self) -> tuple[int, ...]:
        """An ``alias_tensor`` (version 1): its four dimensions."""
        if self.integer() != 1:
            raise DlibModelError("damaged, or not a dlib network (unexpected alias tensor version)")
        return tuple(self.integer() for _ in range(4))


def read_layers(data: bytes) -> list[Layer]:
    """The layer records of a dlib network file, from the input outwards."""
    try:
        return _read_layers(data)
    except DlibModelError:
        raise
    except (IndexError, ValueError) as e:  # a damaged or different file
        raise DlibModelError(f"not a readable dlib network file ({e})") from None


def _read_layers(data: bytes) -> list[Layer]:
    layers = []
    for m in _RECORD.finditer(data):
        kind = m.group(1)[1:].decode().rstrip("_0123456789")
        r = _Reader(data, m.end())
        if kind == "con":
            params = r.tensor()
            ints = tuple(r.integer() for _ in range(7))
            shape, n_bias = r.alias(), int(np.prod(r.alias()))
            n_w = int(np.prod(shape))
            layers.append(Layer(kind, ints, params[:n_w].reshape(shape), params[n_w : n_w + n_bias]))
        elif kind == "affine":
            params = r.tensor()
            k, n_beta = int(np.prod(r.alias())), int(np.prod(r.alias()))
            layers.append(Layer(kind, (k,), params[:k], params[k : k + n_beta]))
        elif kind in ("max_pool", "avg_pool"):
            layers.append(Layer(kind, tuple(r.integer() for _ in range(6))))
        elif kind == "fc":
            n_out, n_in = r.integer(), r.integer()
            params = r.tensor()
            if params.size != n_in * n_out:  # the network's fc has no bias
                raise DlibModelError("not dlib's face recognition ResNet (an fc layer with a bias)")
            layers.append(Layer(kind, (n_in, n_out), params.reshape(n_in, n_out)))
        else:
            layers.append(Layer(kind))
    return layers


# kernel, stride and padding (nr, nc, sy, sx, py, px) of each kind of layer in the network
_STEM_CONV, _STEM_POOL = (7, 7, 2, 2, 0, 0), (3, 3, 2, 2, 0, 0)
_CONV, _CONV_DOWN, _POOL_DOWN = (3, 3, 1, 1, 1, 1), (3, 3, 2, 2, 0, 0), (2, 2, 2, 2, 0, 0)
_POOL_ALL = (0, 0, 1, 1, 0, 0)  # avg_pool_everything
_ARES = ("con", "affine", "relu", "con", "affine", "add_prev", "relu")
_ARES_DOWN = ("con", "affine", "relu", "con", "affine", "avg_pool", "add_prev", "relu")


class _Graph:
    """ONNX nodes and weights of the network, with each tensor's static (c, h, w)."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.shape: dict[str, tuple[int, int, int]] = {}
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, value: np.ndarray, prefix: str = "w") -> str:
        from onnx import numpy_helper

        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def node(self, op: str, inputs: list[str], shape: tuple[int, int, int], **attrs: Any) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        self.shape[out] = shape
        return out

    def conv_affine(self, x: str, con: Layer, aff: Layer, geometry: tuple[int, ...]) -> str:
        """dlib's con then affine, folded: w * gamma, b * gamma + beta. ``geometry``: the kernel,
        stride and padding (nr, nc, sy, sx, py, px) the network has there."""
        filters, nr, nc, sy, sx, py, px = con.ints
        gamma, beta = aff.weight, aff.bias
        if (
            (nr, nc, sy, sx, py, px) != geometry
            or con.weight.shape != (filters, self.shape[x][0], nr, nc)
            or con.bias.size not in (0, filters)
            or aff.ints[0] != filters
            or gamma.shape != (filters,)
            or beta.shape != (filters,)
        ):
            raise DlibModelError("not dlib's face recognition ResNet (a convolution differs)")
        w = con.weight * gamma[:, None, None, None]
        b = (con.bias if con.bias.size else np.zeros(filters, np.float32)) * gamma + beta
        _, h, wd = self.shape[x]
        out = (filters, 1 + (h + 2 * py - nr) // sy, 1 + (wd + 2 * px - nc) // sx)
        return self.node("Conv", [x, self.const(w), self.const(b)], out,
                         kernel_shape=[nr, nc], strides=[sy, sx], pads=[py, px, py, px])  # fmt: skip

    def pool(self, x: str, layer: Layer, op: str, geometry: tuple[int, ...]) -> str:
        """dlib's max_pool or avg_pool; ``geometry`` (nr, nc, sy, sx, py, px) as the network has it
        there (nr 0: the whole input)."""
        if layer.ints != geometry:
            raise DlibModelError("not dlib's face recognition ResNet (a pooling layer differs)")
        nr, nc, sy, sx, py, px = layer.ints
        c, h, w = self.shape[x]
        if nr == 0:  # avg_pool_everything
            return self.node("GlobalAveragePool", [x], (c, 1, 1))
        out = (c, 1 + (h + 2 * py - nr) // sy, 1 + (w + 2 * px - nc) // sx)
        return self.node(op, [x], out, kernel_shape=[nr, nc], strides=[sy, sx], pads=[py, px, py, px])

    def add(self, a: str, b: str) -> str:
        """dlib's add_prev: both zero-padded at the end to the larger size, then added."""
        (ca, ha, wa), (cb, hb, wb) = self.shape[a], self.shape[b]
        size = (max(ca, cb), max(ha, hb), max(wa, wb))
        padded = []
        for x in (a, b):
            extra = [s - t for s, t in zip(size, self.shape[x], strict=True)]
            if any(extra):
                pads = self.const(np.array([0, 0, 0, 0, 0, *extra], np.int64), "pads")
                x = self.node("Pad", [x, pads], size)
            padded.append(x)
        return self.node("Add", padded, size)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x], self.shape[x])


def build_onnx(data: bytes) -> Any:
    """The ``onnx.ModelProto`` of the network in ``data`` (the bytes of dlib's .dat file): input
    ``chips`` (N, 150, 150, 3) float32 RGB 0-255 (dlib's aligned chips), output ``descriptor`` (N, 128).

    Raises:
        DlibModelError: the records are not the face recognition ResNet's.
    """
    from onnx import TensorProto, helper

    layers = read_layers(data)
    kinds = tuple(layer.kind for layer in layers)
    if kinds[:4] != ("con", "affine", "relu", "max_pool"):
        raise DlibModelError("not dlib's face recognition ResNet (the stem differs)")
    g = _Graph()
    x = g.node("Transpose", ["chips"], (3, CHIP, CHIP), perm=[0, 3, 1, 2])
    mean = g.const(np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1), "mean")
    x = g.node("Sub", [x, mean], (3, CHIP, CHIP))
    x = g.node("Mul", [x, g.const(np.array(1 / 256, np.float32), "scale")], (3, CHIP, CHIP))
    x = g.conv_affine(x, layers[0], layers[1], _STEM_CONV)
    x = g.pool(g.relu(x), layers[3], "MaxPool", _STEM_POOL)
    i, blocks = 4, 0
    while i < len(layers) - 2:
        down = kinds[i : i + len(_ARES_DOWN)] == _ARES_DOWN
        if not down and kinds[i : i + len(_ARES)] != _ARES:
            raise DlibModelError(f"not dlib's face recognition ResNet (layer {i}: {kinds[i]})")
        y = g.conv_affine(x, layers[i], layers[i + 1], _CONV_DOWN if down else _CONV)
        y = g.conv_affine(g.relu(y), layers[i + 3], layers[i + 4], _CONV)
        shortcut = g.pool(x, layers[i + 5], "AveragePool", _POOL_DOWN) if down else x
        x = g.relu(g.add(y, shortcut))
        i += len(_ARES_DOWN) if down else len(_ARES)
        blocks += 1
    if kinds[i:] != ("avg_pool", "fc") or blocks != 14:
        raise DlibModelError("not dlib's face recognition ResNet (the head differs)")
    x = g.pool(x, layers[i], "AveragePool", _POOL_ALL)
    n_in, n_out = layers[i + 1].ints
    if n_in != g.shape[x][0] or n_out != DESCRIPTOR_DIM:
        raise DlibModelError("not dlib's face recognition ResNet (the fc layer differs)")
    g.nodes.append(helper.make_node("Flatten", [x], ["pooled"], axis=1))  # (n, 256)
    g.nodes.append(helper.make_node("MatMul", ["pooled", g.const(layers[i + 1].weight)], ["descriptor"]))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", CHIP, CHIP, 3])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["n", n_out])],
        g.inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@functools.lru_cache(maxsize=2)
def _onnx_bytes(path: str, size: int, mtime_ns: int) -> bytes:
    """The serialized graph of the file at ``path``, built once per process and version of the file
    (every video of a run has its own analyzer, hence its own embedder; a failure is not cached)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DlibModelError(f"cannot read {path}: {e}") from None
    return bytes(build_onnx(data).SerializeToString())


class DlibResNetOnnx:
    """dlib's face descriptor network on ONNX Runtime (one intra-op thread: it runs beside the
    detector's workers in a CPU-bound process).

    Args:
        dat_path: dlib's ``dlib_face_recognition_resnet_model_v1.dat``.
        threads: ONNX Runtime intra-op threads.

    Raises:
        DlibModelError: the file is not that network, or ONNX Runtime cannot run what it gives.
    """

    def __init__(self, dat_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        try:
            st = Path(dat_path).stat()
        except OSError as e:
            raise DlibModelError(f"cannot read {dat_path}: {e}") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:  # build it and run it once now, so a file that passes the checks but fails later fails here
            model = _onnx_bytes(str(dat_path), st.st_size, st.st_mtime_ns)
            self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            self.descriptors(np.zeros((1, CHIP, CHIP, 3), np.uint8))
        except DlibModelError:
            raise
        except Exception as e:  # numpy or ONNX Runtime refusing what a damaged file made
            raise DlibModelError(f"not a usable dlib network ({type(e).__name__}: {e})") from None

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        """(n, 128) float32 descriptors of ``chips`` (n, 150, 150, 3) uint8 RGB aligned by dlib."""
        out = self._session.run(["descriptor"], {"chips": np.asarray(chips, np.float32)})[0]
        return np.asarray(out, np.float32)
