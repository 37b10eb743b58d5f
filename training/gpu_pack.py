"""The data side of ``gpu_train``: UTKFace packed into one .npz, decoded again, degraded on the CPU.

``pack_utkface`` runs here, next to the dataset (``python -m facelog.training.gpu_train pack``);
``read_pack`` and ``degrade_pool`` run on the accelerator's host before training: the recipe's
degradation (``augment.degrade``) is done once with OpenCV, ``variants`` random copies per face,
which ``gpu_train.fit_budget`` draws from each epoch. Sizes: training chips at the recipe's
``data.load_size``, validation chips at its ``data.image_size`` (default 72 and 64 px; the pack's
own sizes are read back from its images).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facelog.training import datasets as dsets
from facelog.training.config import DegradeConfig
from facelog.training.degrade import degrade_chip, size_label

log = logging.getLogger(__name__)

LOAD_PX = 72  # default sizes: training chips at the recipe's load size, validation chips at its input size
INPUT_PX = 64
CODECS = {"jpg": cv2.IMWRITE_JPEG_QUALITY, "webp": cv2.IMWRITE_WEBP_QUALITY}


def pack_utkface(
    root: Path,
    split: Path,
    out: Path,
    jpeg_quality: int = 88,
    threads: int = 2,
    val: bool = True,
    load_px: int = LOAD_PX,
    input_px: int = INPUT_PX,
    codec: str = "jpg",
) -> None:
    """Encoded bytes of the training chips (``load_px``) and of the validation chips as ``facelog eval``
    feeds them (``input_px``, full and ``shrink-jpeg60`` at 32 px), plus labels and the training
    names, in one .npz. ``codec`` "jpg" or "webp" (smaller and closer to the chip at the same
    ``jpeg_quality``, e.g. for 88-px chips that must travel under a size limit); the keys stay
    ``*_jpg`` for either.
    """
    if codec not in CODECS:
        raise dsets.DatasetError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    if not 0 < input_px <= load_px:
        raise dsets.DatasetError(f"need 0 < input px <= load px, got {input_px} and {load_px}")
    table = dsets.read_utkface(root)
    names = dsets.split_names(table)
    if not split.is_file():
        raise dsets.DatasetError(f"split file not found: {split}")
    tr, va = dsets.read_split(split, names)
    if len(tr) == 0 or (val and len(va) == 0):
        raise dsets.DatasetError(
            f"split {split}: {len(tr)} training and {len(va)} validation faces; both parts need faces"
            " (--no-val leaves the validation part out)"
        )

    def enc(rgb: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(
            f".{codec}", np.ascontiguousarray(rgb[:, :, ::-1]), [CODECS[codec], jpeg_quality]
        )
        if not ok:
            raise RuntimeError(f"OpenCV could not encode {codec}")
        return bytes(buf.tobytes())

    def train_one(i: int) -> bytes:
        img = dsets.load_image_rgb(table.paths[i], load_px)
        if img is None:
            raise dsets.DatasetError(f"unreadable: {table.paths[i]}")
        return enc(img)

    def val_one(i: int) -> tuple[bytes, bytes]:
        bgr = cv2.imread(str(table.paths[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise dsets.DatasetError(f"unreadable: {table.paths[i]}")
        full = cv2.resize(bgr, (input_px, input_px), interpolation=cv2.INTER_AREA)
        d32 = cv2.resize(degrade_chip(bgr, 32), (input_px, input_px), interpolation=cv2.INTER_AREA)
        return enc(full[:, :, ::-1]), enc(d32[:, :, ::-1])  # enc takes RGB

    with ThreadPoolExecutor(threads) as pool:
        parts = {"train": list(pool.map(train_one, tr))}
        if val:
            chips = list(pool.map(val_one, va))
            parts["val_full"], parts["val_32"] = [a for a, _ in chips], [b for _, b in chips]
    arrays: dict[str, Any] = {}
    for key, blobs in parts.items():
        arrays[f"{key}_jpg"] = np.frombuffer(b"".join(blobs), np.uint8)
        arrays[f"{key}_len"] = np.array([len(b) for b in blobs], np.int64)
    for part, idx in (("train", tr), ("val", va))[: 2 if val else 1]:
        arrays[f"{part}_age"], arrays[f"{part}_gender"] = (
            table.labels["age"][idx],
            table.labels["gender"][idx],
        )
    arrays["train_names"] = np.array([names[i] for i in tr])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    log.info("packed %d training and %d validation faces into %s", len(tr), len(va) if val else 0, out)


@dataclass(frozen=True)
class Pack:
    """Decoded pack: uint8 RGB images, labels (age float32 years, gender 0 = male / 1 = female)."""

    train: np.ndarray  # (n, L, L, 3), L = the load size (72 by default)
    train_age: np.ndarray
    train_gender: np.ndarray
    train_names: np.ndarray
    val: dict[str, np.ndarray]  # "full", "32px": (m, S, S, 3), S = the input size (64 by default)
    val_age: np.ndarray
    val_gender: np.ndarray


def read_pack(path: Path, threads: int, limit: int | None = None) -> Pack:
    """Decode a pack written by ``pack_utkface`` (``limit``: the first N faces of each part, for tests)."""
    doc = np.load(path)

    def decode(key: str) -> np.ndarray:
        ends = np.cumsum(doc[f"{key}_len"])[:limit]
        blob = doc[f"{key}_jpg"]
        bufs = [blob[e - n : e] for e, n in zip(ends, doc[f"{key}_len"][:limit], strict=False)]
        with ThreadPoolExecutor(threads) as pool:
            imgs = list(pool.map(_decode_rgb, bufs))
        return np.ascontiguousarray(np.stack(imgs))

    has_val = "val_full_jpg" in doc  # a pack may leave the validation faces out (``--no-val``)
    return Pack(
        train=decode("train"),
        train_age=doc["train_age"][:limit],
        train_gender=doc["train_gender"][:limit],
        train_names=doc["train_names"][:limit],
        val={size_label(None): decode("val_full"), size_label(32): decode("val_32")} if has_val else {},
        val_age=doc["val_age"][:limit] if has_val else np.zeros(0, np.float32),
        val_gender=doc["val_gender"][:limit] if has_val else np.zeros(0, np.int64),
    )


def _decode_rgb(buf: np.ndarray) -> np.ndarray:
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError("OpenCV could not decode a packed image")
    return np.asarray(bgr[:, :, ::-1])


def degrade_copy(
    rgb: np.ndarray, cfg: DegradeConfig, rng: np.random.Generator, input_px: int = INPUT_PX
) -> np.ndarray:
    """One degraded copy of an (S, S, 3) uint8 chip, as ``augment.degrade_batch`` does to a chosen face:
    gamma, Gaussian or motion blur, shrinking, noise and JPEG at the small size, bilinear enlargement.
    The recipe's pixel sizes are pixels of the model input (``input_px``); they are scaled to S.
    """
    s = rgb.shape[0]
    k = s / input_px
    x: np.ndarray = rgb.astype(np.float32)
    if rng.random() < cfg.gamma_prob:
        x = 255.0 * (x / 255.0) ** np.exp(rng.uniform(np.log(cfg.gamma[0]), np.log(cfg.gamma[1])))
    if rng.random() < cfg.blur_prob:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*cfg.blur_sigma_px) * k)
    elif rng.random() < cfg.motion_prob:
        n = 2 * int(np.ceil(cfg.motion_px[1] * k / 2)) + 1
        kernel = np.zeros((n, n), np.float32)
        half, a = rng.uniform(*cfg.motion_px) * k / 2, rng.uniform(0, np.pi)
        for t in np.linspace(-half, half, 4 * n):
            kernel[round(n // 2 + t * np.sin(a)), round(n // 2 + t * np.cos(a))] = 1.0
        x = cv2.filter2D(x, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    side = s
    if rng.random() < cfg.resize_prob:
        side = min(round(rng.integers(cfg.resize_px[0], cfg.resize_px[1] + 1) * k), s)
        x = cv2.resize(x, (side, side), interpolation=cv2.INTER_AREA)
    if rng.random() < cfg.noise_prob:
        x = x + rng.normal(0.0, rng.uniform(*cfg.noise_std), x.shape).astype(np.float32)
    small = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < cfg.jpeg_prob:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        _, buf = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
        small = _decode_rgb(buf)
    return small if side == s else cv2.resize(small, (s, s), interpolation=cv2.INTER_LINEAR)


def degrade_pool(
    images: np.ndarray, cfg: DegradeConfig, variants: int, seed: int, threads: int, input_px: int = INPUT_PX
) -> np.ndarray:
    """(variants, n, S, S, 3) uint8: ``variants`` degraded copies of every image (OpenCV, threads);
    ``input_px``: the model's input size, which the recipe's pixel sizes refer to."""
    pool = np.empty((variants, *images.shape), np.uint8)
    chunks = [(v, lo) for v in range(variants) for lo in range(0, len(images), 512)]

    def run(job: tuple[int, int]) -> None:
        v, lo = job
        rng = np.random.default_rng([seed, v, lo])
        for i in range(lo, min(lo + 512, len(images))):
            pool[v, i] = degrade_copy(images[i], cfg, rng, input_px)

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(run, chunks))
    return pool
