"""INT8 as explicit quantization: a Q/DQ ONNX model made by ONNX Runtime's static quantization.

TensorRT 10.1+ deprecates implicit INT8 calibrators (``IInt8EntropyCalibrator2``), so INT8 here is
an ONNX model with QuantizeLinear/DequantizeLinear pairs, calibrated on face crops with
``onnxruntime.quantization.quantize_static`` (QDQ format, per-channel 7-bit weights, symmetric int8 as
TensorRT requires). The same file runs in ONNX Runtime (CPU/CUDA) and TensorRT builds it with the
INT8 flag. The "calibration cache" is the Q/DQ model plus ORT's JSON of tensor ranges, kept in a
folder keyed by the FP32 model's sha256, the method and the calibration images: a second build with
the same inputs reuses it without running calibration again.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
from onnxruntime.quantization.shape_inference import quant_pre_process

from facelog.engines.base import ModelMeta
from facelog.engines.cache import default_cache_root, file_sha256, safe_name
from facelog.engines.onnx_meta import save_model, set_meta
from facelog.engines.onnxruntime_backend import read_meta
from facelog.engines.preprocess import crops_to_pixels

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


# What the Q/DQ model is for. "tensorrt": symmetric int8 activations and weights, float bias (what
# TensorRT's explicit quantization accepts; also runs in ORT). "cpu": ORT's x86 recipe, uint8
# asymmetric activations and int32 bias (faster in ORT on x86, not loadable as TensorRT INT8).
@dataclass(frozen=True)
class _Recipe:
    activation_type: QuantType
    extra_options: tuple[tuple[str, bool], ...]
    description: str


TARGETS = {
    "tensorrt": _Recipe(
        QuantType.QInt8,
        # TensorRT's parser rejects int32 bias DequantizeLinear (onnx/onnx-tensorrt#850) and, before
        # TensorRT 10, integer weight initializers feeding DequantizeLinear (microsoft/onnxruntime#14229):
        # keep the bias float and the weights float with a Q/DQ pair.
        (
            ("ActivationSymmetric", True),
            ("WeightSymmetric", True),
            ("QuantizeBias", False),
            ("AddQDQPairToWeight", True),
        ),
        "QDQ, symmetric int8 activations and 7-bit weights (float weights with Q/DQ pairs), float bias"
        " and softmax",
    ),
    "cpu": _Recipe(
        QuantType.QUInt8,
        (("WeightSymmetric", True),),
        "QDQ, uint8 asymmetric activations, 7-bit symmetric int8 weights, int32 bias, float output softmax",
    ),
}
# 7-bit weights for every target: ONNX Runtime's uint8 x int8 kernels on x86 CPUs without VNNI add
# pairs of products in int16 and saturate with full 8-bit weights (1.0 year of MAE lost on an AVX2
# machine); with 7 bits they cannot, so one file gives the same answers on every x86 CPU. Measured on
# the shipped model: 7-bit INT8 within 0.02 years and 0.2 gender points of FP32 (MODEL_CARD.md).
REDUCE_RANGE = True
ENTROPY_BINS = 2048
METHODS = {
    "entropy": CalibrationMethod.Entropy,
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
}


def list_calibration_images(source: str | Path, limit: int = 512, seed: int = 0) -> list[Path]:
    """Pick up to ``limit`` face crops from a folder (recursively) or a CSV with a ``file``/``path`` column.

    CSV paths are resolved against the CSV's folder, then its ``images/`` subfolder (the layout of
    ``shared/data/utkface/labels.csv``). The pick is a seeded random sample of the sorted list, so it
    is the same on every run.

    Raises:
        FileNotFoundError: ``source`` does not exist or a listed image is missing.
        ValueError: no images, a CSV without a ``file``/``path`` column, or ``limit`` < 1.
    """
    source = Path(source)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    elif source.is_file() and source.suffix.lower() == ".csv":
        paths = _paths_from_csv(source)
    elif source.exists():
        raise ValueError(f"calibration source must be a folder of images or a .csv, got {source}")
    else:
        raise FileNotFoundError(f"calibration source not found: {source}")
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {source}")
    if len(paths) > limit:
        paths = sorted(random.Random(seed).sample(paths, limit))
    return paths


def _paths_from_csv(csv_path: Path) -> list[Path]:
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        column = next((c for c in ("file", "path") if c in (reader.fieldnames or [])), None)
        if column is None:
            raise ValueError(f"{csv_path} needs a 'file' or 'path' column, has {reader.fieldnames}")
        names = [row[column] for row in reader if row[column]]
    paths = []
    for name in sorted(names):
        p = Path(name)
        candidates = [p] if p.is_absolute() else [csv_path.parent / p, csv_path.parent / "images" / p]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"{csv_path} lists {name}, not found at {' or '.join(map(str, candidates))}"
            )
        paths.append(found)
    return paths


class FaceCalibrationReader(CalibrationDataReader):
    """Feeds preprocessed face crops to ORT's calibrator, ``batch_size`` images per ``get_next``."""

    def __init__(self, images: Sequence[Path], meta: ModelMeta, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not images:
            raise ValueError("calibration needs at least one image, got none")
        self.images = list(images)
        self.meta = meta
        self.batch_size = batch_size
        self._start = 0
        self._end = len(self.images)
        self._pos = 0

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._start, self._end = (
            start_index * self.batch_size,
            min(end_index * self.batch_size, len(self.images)),
        )
        self._pos = self._start

    def rewind(self) -> None:
        self._pos = self._start

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= self._end:
            return None
        chunk = self.images[self._pos : min(self._pos + self.batch_size, self._end)]
        self._pos += len(chunk)
        crops = []
        for p in chunk:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"calibration image {p} cannot be decoded")
            crops.append(img)
        pixels = crops_to_pixels(crops, self.meta)
        if self.meta.layout == "NCHW":
            pixels = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
        return {self.meta.input_name: pixels}


@dataclass(frozen=True)
class QuantizedModel:
    """A Q/DQ model and the files that make up its calibration cache."""

    qdq_path: Path
    ranges_path: Path  # ORT's calibration cache (tensor ranges JSON)
    record_path: Path  # what it was made from (fp32 sha256, method, images)
    reused: bool  # True: taken from the cache, no calibration run


def _whole_batches(images: list[Path], batch_size: int) -> list[Path]:
    """Drop a short last batch: ORT's histogram collectors (percentile, entropy) stack all batches
    into one array and fail on one ("inhomogeneous shape")."""
    if len(images) > batch_size and len(images) % batch_size:
        return images[: len(images) - len(images) % batch_size]
    return images


def quantize_int8(
    fp32_path: str | Path,
    calibration: str | Path,
    *,
    n_images: int = 512,
    method: str = "percentile",
    batch_size: int = 32,
    per_channel: bool = True,
    target: str = "tensorrt",
    cache_root: str | Path | None = None,
    seed: int = 0,
) -> QuantizedModel:
    """Make (or reuse) the INT8 Q/DQ version of ``fp32_path``, calibrated on crops from ``calibration``.

    Activations and weights are symmetric int8 (zero point 0) and biases stay float, which is what
    TensorRT's explicit quantization accepts; ONNX Runtime runs the same file.

    Args:
        fp32_path: facelog ONNX model (with ``facelog_meta``).
        calibration: folder of face crops or a CSV (see ``list_calibration_images``).
        n_images: how many crops to calibrate on.
        method: "percentile" (default: 99.999th percentile of |x|), "minmax", or "entropy" (KL
            threshold, what TensorRT's legacy calibrator did; ~1 min, and worse on this model:
            see docs/TENSORRT.md).
        batch_size: crops per calibration batch.
        per_channel: per-output-channel weight scales.
        target: "tensorrt" (default; runs in ORT too) or "cpu" (ORT-only, faster on x86); see ``TARGETS``.
        cache_root: folder for the cache (default: ``<engine cache>/../int8``).
        seed: selects the crops when the source has more than ``n_images``.

    Returns:
        The Q/DQ model and its cache files.
    """
    fp32_path = Path(fp32_path)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    recipe = TARGETS[target]
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    meta = read_meta(fp32_path)
    images = _whole_batches(list_calibration_images(calibration, n_images, seed), batch_size)
    record = {
        "fp32_sha256": file_sha256(fp32_path),
        "method": method,
        "entropy_bins": ENTROPY_BINS if method == "entropy" else None,
        "per_channel": per_channel,
        "reduce_range": REDUCE_RANGE,
        "n_images": len(images),
        "images_sha256": hashlib.sha256("\n".join(p.name for p in images).encode()).hexdigest(),
        "calibration_source": str(Path(calibration).resolve()),
        "target": target,
        "format": recipe.description,
    }
    root = Path(cache_root) if cache_root is not None else default_cache_root().parent / "int8"
    digest = hashlib.sha256(
        json.dumps({k: v for k, v in record.items() if k != "calibration_source"}, sort_keys=True).encode()
    ).hexdigest()[:16]
    folder = root / f"{safe_name(meta.name)}-{digest}"
    qdq_path = folder / f"{safe_name(meta.name)}_int8_qdq{'' if target == 'tensorrt' else '_' + target}.onnx"
    ranges_path = folder / "calibration_ranges.json"
    record_path = folder / "calibration.json"
    complete = qdq_path.is_file() and ranges_path.is_file() and record_path.is_file()
    if complete and json.loads(record_path.read_text()).get("fp32_sha256") == record["fp32_sha256"]:
        log.info("int8 calibration cache hit: %s", folder)
        return QuantizedModel(qdq_path, ranges_path, record_path, reused=True)
    folder.mkdir(parents=True, exist_ok=True)
    prepped = folder / "fp32_preprocessed.onnx"
    quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
    reader = FaceCalibrationReader(images, meta, batch_size)
    log.info("calibrating %s on %d crops (%s)", fp32_path.name, len(images), method)
    chatter = io.StringIO()  # ORT's calibrators print() progress; keep it out of CLI output
    with contextlib.redirect_stdout(chatter):
        if method == "entropy" and not ranges_path.is_file():
            _entropy_ranges(prepped, reader, ranges_path, symmetric=target == "tensorrt")
            reader.rewind()
        _quantize(prepped, qdq_path, reader, per_channel, recipe, method, ranges_path)
    log.debug("onnxruntime.quantization said: %s", chatter.getvalue().strip())
    prepped.unlink()
    _stamp_meta(qdq_path, meta, record)
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True))
    return QuantizedModel(qdq_path, ranges_path, record_path, reused=False)


def _quantize(
    prepped: Path,
    qdq_path: Path,
    reader: FaceCalibrationReader,
    per_channel: bool,
    recipe: _Recipe,
    method: str,
    ranges_path: Path,
) -> None:
    quantize_static(
        str(prepped),
        str(qdq_path),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=REDUCE_RANGE,
        activation_type=recipe.activation_type,
        weight_type=QuantType.QInt8,
        calibrate_method=METHODS[method],
        extra_options=dict(recipe.extra_options),
        nodes_to_exclude=_output_nodes(prepped),
        calibration_cache_path=str(ranges_path),
    )


def _entropy_ranges(model_path: Path, reader: FaceCalibrationReader, out: Path, symmetric: bool) -> None:
    """Entropy (KL) calibration with ``ENTROPY_BINS`` histogram bins, saved as ORT's calibration cache.

    ``quantize_static`` builds its entropy calibrator with 128 bins and 128 quantized bins, which
    leaves a single candidate threshold: the full min..max range, i.e. plain MinMax (measured: the
    scales came out identical). Running the calibrator here with 2048 bins gives the KL threshold
    search TensorRT's entropy calibrator did; ``quantize_static`` then loads the ranges from ``out``.
    """
    with tempfile.TemporaryDirectory(prefix="facelog_calib_") as tmp:
        calibrator = create_calibrator(
            model_path,
            None,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy,
            extra_options={"num_bins": ENTROPY_BINS, "num_quantized_bins": 128, "symmetric": symmetric},
        )
        calibrator.collect_data(reader)
        save_tensors_data(calibrator.compute_data(), out)


def _output_nodes(path: Path) -> list[str]:
    """Nodes that write a graph output (the heads' softmax): they stay float.

    An int8 softmax has a step of max/127, coarser than most of the 101 age probabilities, and the
    age estimate is their expected value; keeping it float costs nothing measurable.
    """
    model = onnx.load(str(path))
    for i, node in enumerate(
        model.graph.node
    ):  # exclusion works by node name; exporters may leave them empty
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    onnx.save(model, str(path))
    outputs = {o.name for o in model.graph.output}
    return [n.name for n in model.graph.node if outputs.intersection(n.output)]


def _stamp_meta(qdq_path: Path, meta: ModelMeta, record: dict[str, Any]) -> None:
    """Put ``facelog_meta`` (with the quantization record in ``extra``) into the Q/DQ model."""
    model = onnx.load(str(qdq_path))
    new_meta = ModelMeta.from_json(meta.to_json())
    new_meta.extra["quantization"] = {k: v for k, v in record.items() if k != "calibration_source"}
    set_meta(model, new_meta)
    save_model(model, qdq_path)


def is_qdq_model(path: str | Path) -> bool:
    """True when the ONNX graph holds QuantizeLinear nodes (explicit quantization)."""
    model = onnx.load(str(path), load_external_data=False)
    return any(n.op_type == "QuantizeLinear" for n in model.graph.node)


def check_tensorrt_qdq(path: str | Path) -> None:
    """Raise unless every Q/DQ zero point is an int8 zero: TensorRT's explicit INT8 is symmetric only.

    Raises:
        ValueError: naming the first offending tensor (e.g. a model made with ``target="cpu"``).
    """
    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zp = inits.get(node.input[2])
            if zp is None:
                continue
            arr = onnx.numpy_helper.to_array(zp)
            if arr.dtype != np.int8 or arr.any():
                raise ValueError(
                    f"{Path(path).name}: zero point {zp.name} is {arr.dtype} {arr.ravel()[:3].tolist()}..., "
                    "TensorRT INT8 needs symmetric int8 (zero point 0); quantize with target='tensorrt' "
                    "(`facelog engine quantize MODEL --target tensorrt`)"
                )
