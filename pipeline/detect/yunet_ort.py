"""YuNet on ONNX Runtime: the same network and decoding as ``cv2.FaceDetectorYN``, at ~1.6x less CPU.

The shipped YuNet (2023mar) declares a fixed 640x640 input; its layers are fully convolutional, so
the input's height and width are made symbolic in memory (the file on disk, sha256-checked, is not
changed) and each image runs at its own size padded to a multiple of 32, as OpenCV does. The outputs
are decoded as OpenCV's ``FaceDetectorYNImpl::postProcess`` decodes them (objdetect's
``face_detect.cpp``): per stride 8/16/32 and grid cell, score = sqrt(clamp(cls) x clamp(obj)), box
centre = (cell + offset) x stride, size = exp(log size) x stride, five landmarks = (cell + offset)
x stride; then ``cv2.dnn.NMSBoxes`` on the integer boxes, as there. On the synthetic 720p walkers
and three real clips both give the same boxes to 0.0003 px (docs/BENCHMARKS.md, ninth session).

Why not OpenCV: on this project's CPUs the same model costs 1.5-1.7x the CPU in OpenCV 5.1's DNN
engine (docs/BENCHMARKS.md, "YuNet on ONNX Runtime"), and detection is most of what a run costs.
A YuNet file without these outputs (an older release) runs on ``cv2.FaceDetectorYN`` instead
(``yunet.YuNetDetector``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np

STRIDES = (8, 16, 32)
PAD = 32  # input sides are padded up to a multiple of this (the largest stride)
OUTPUTS = tuple(f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in STRIDES)


def dynamic_model(path: str | Path) -> bytes | None:
    """The YuNet ONNX at ``path`` with a symbolic input height and width, serialized; None when the
    file is not a YuNet with the decoded outputs ``OUTPUTS`` (such a file is left to OpenCV). Made
    once per file version and process: a live run builds two detectors per camera.

    Raises:
        OSError: the file cannot be read; protobuf's DecodeError: it is not an ONNX model.
    """
    st = Path(path).stat()
    return _dynamic_model(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _dynamic_model(path: str, _mtime_ns: int, _size: int) -> bytes | None:
    # onnx is a base dependency, imported here so that importing the detectors stays light; its
    # import costs ~0.75 s once per process (ml_dtypes), see docs/BENCHMARKS.md "YuNet on ONNX Runtime"
    import onnx

    model = onnx.load(path)
    if {o.name for o in model.graph.output} != set(OUTPUTS) or len(model.graph.input) != 1:
        return None
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        return None
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in model.graph.output:  # the number of grid cells follows the input size
        out.type.tensor_type.shape.dim[1].dim_param = f"cells_{out.name.split('_')[1]}"
    del model.graph.value_info[:]  # shapes inferred for 640x640; ONNX Runtime infers its own
    return bytes(model.SerializeToString())


class YuNetOrt:
    """One ONNX Runtime session per thread count over a ``dynamic_model``; ``detect`` returns
    ``cv2.FaceDetectorYN.detect``'s rows.

    Args:
        model: ``dynamic_model``'s bytes.
        score_threshold: lowest score kept (before and in NMS, as OpenCV).
        nms: IoU above which the lower-scoring box is suppressed.
        top_k: at most this many boxes kept by NMS (0: all).
    """

    def __init__(self, model: bytes, score_threshold: float, nms: float, top_k: int) -> None:
        self._model = model
        self.score_threshold, self.nms, self.top_k = float(score_threshold), float(nms), int(top_k)
        self._sessions: dict[int, Any] = {}
        self._cells: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def session(self, threads: int) -> Any:
        """The ``onnxruntime.InferenceSession`` with ``threads`` intra-op threads (built on first
        use). Idle pool threads sleep instead of spinning: the CPU they would burn is what tracking
        and the model need."""
        sess = self._sessions.get(threads)
        if sess is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, threads)
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = self._sessions[threads] = ort.InferenceSession(
                self._model, opts, providers=["CPUExecutionProvider"]
            )
        return sess

    def detect(self, image_bgr: np.ndarray, threads: int = 1) -> np.ndarray:
        """(n, 15) float32 rows of ``image_bgr`` (H, W, 3) uint8 BGR at its own size: x, y, w, h of
        the box, five landmarks (x, y), score; sorted as OpenCV's NMS returns them."""
        h, w = image_bgr.shape[:2]
        ph, pw = -(-h // PAD) * PAD, -(-w // PAD) * PAD
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :h, :w] = image_bgr.transpose(2, 0, 1)
        outs = dict(zip(OUTPUTS, self.session(threads).run(list(OUTPUTS), {"input": blob}), strict=True))
        parts = []
        for stride in STRIDES:
            cls = np.clip(outs[f"cls_{stride}"][0, :, 0], 0.0, 1.0)
            obj = np.clip(outs[f"obj_{stride}"][0, :, 0], 0.0, 1.0)
            score = np.sqrt(cls * obj)
            idx = np.flatnonzero(score >= self.score_threshold)
            if not len(idx):
                continue
            col, row = self._grid(stride, pw, ph)
            c, r = col[idx, None], row[idx, None]
            box = outs[f"bbox_{stride}"][0, idx]
            kps = outs[f"kps_{stride}"][0, idx]
            cx, cy = (c[:, 0] + box[:, 0]) * stride, (r[:, 0] + box[:, 1]) * stride
            bw, bh = np.exp(box[:, 2]) * stride, np.exp(box[:, 3]) * stride
            marks = np.empty_like(kps)
            marks[:, 0::2] = (kps[:, 0::2] + c) * stride
            marks[:, 1::2] = (kps[:, 1::2] + r) * stride
            parts.append(np.column_stack([cx - bw / 2, cy - bh / 2, bw, bh, marks, score[idx]]))
        if not parts:
            return np.zeros((0, 15), np.float32)
        rows = np.concatenate(parts).astype(np.float32)
        if len(rows) > 1:
            keep = cv2.dnn.NMSBoxes(
                rows[:, :4].astype(np.int32).tolist(),
                rows[:, 14].tolist(),
                self.score_threshold,
                self.nms,
                top_k=self.top_k,
            )
            rows = rows[np.asarray(keep, np.intp).reshape(-1)]
        return rows

    def _grid(self, stride: int, pw: int, ph: int) -> tuple[np.ndarray, np.ndarray]:
        """Column and row of every grid cell of one stride, in the outputs' order (row-major)."""
        key = (stride, pw, ph)
        grid = self._cells.get(key)
        if grid is None:
            cols, rows = pw // stride, ph // stride
            cells = np.arange(cols * rows)
            grid = self._cells[key] = ((cells % cols).astype(np.float32), (cells // cols).astype(np.float32))
            if len(self._cells) > 64:  # region crops come in many sizes: keep the cache small
                self._cells.pop(next(iter(self._cells)))
        return grid
