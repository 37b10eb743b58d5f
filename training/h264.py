"""Real H.264 artefacts for training faces: a pool of one encoded-and-decoded copy per face.

Per-sample encoding inside ``tf.data`` would be far too slow, so the pool is made once (system
``ffmpeg`` with libx264, two encoders at a time; about a minute for 18,000 faces) and cached:

1. faces are dealt into groups of ``GRID`` x ``GRID``; each group gets one side S (even, in
   ``cfg.size_px``) and one constant quantiser in ``cfg.qp``;
2. each face is shrunk to S x S (area) and tiled into a mosaic; ``cfg.frames`` frames are made with
   every face drifting by a fraction of a pixel per frame plus a little sensor noise, so that the
   encoder's P-frames carry motion residuals as in a real stream;
3. the clip is encoded (``-preset veryfast -bf 0``, 4:2:0) and decoded; the last frame's tiles are
   cut out and blown back up (bilinear) to the cached size, as the pipeline enlarges small crops.

``CodecConfig`` (training/config.py) holds the ranges; ``augment.augment_batch`` swaps a share of
the training images for their copies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelog.training.config import CodecConfig

log = logging.getLogger(__name__)

GRID = 8  # faces per mosaic side (64 faces a clip)
FPS = "12.5"  # the real clips' rate; only affects the encoder's rate model, not a constant QP
DRIFT_PX = 0.35  # per frame, at the small size
NOISE_STD = 1.5  # grey levels per frame, at the small size


class CodecUnavailable(RuntimeError):
    """No ``ffmpeg`` with libx264 on PATH."""


@dataclass(frozen=True)
class Pool:
    """One H.264 copy per face, with how it was made."""

    images: np.ndarray  # (n, L, L, 3) uint8, same order and colour order as the input
    side_px: np.ndarray  # (n,) int: the size each face was encoded at
    qp: np.ndarray  # (n,) int
    bits_per_px: np.ndarray  # (n,) float32: the clip's bits per pixel per frame (its group's)


def ffmpeg_path() -> str:
    """The ``ffmpeg`` executable, checked for libx264.

    Raises:
        CodecUnavailable: none on PATH, or built without libx264.
    """
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise CodecUnavailable(
            "ffmpeg not found on PATH: install it (apt-get install ffmpeg) or set codec.prob: 0"
        )
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False)
    if "libx264" not in out.stdout:
        raise CodecUnavailable(f"{exe} has no libx264 encoder: install a build with it or set codec.prob: 0")
    return exe


def encode_decode(frames: np.ndarray, qp: int, exe: str | None = None) -> tuple[np.ndarray, int]:
    """(T, H, W, 3) uint8 (H, W even) -> (decoded frames of the same shape, encoded size in bytes).

    Raises:
        ValueError: wrong shape or dtype, odd sides, or ``qp`` outside 0..51.
        CodecUnavailable: no usable ffmpeg.
        RuntimeError: ffmpeg failed.
    """
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    t, h, w = frames.shape[:3]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 4:2:0 needs even sides, got {h}x{w}")
    if not 0 <= qp <= 51:
        raise ValueError(f"qp must be in 0..51, got {qp}")
    exe = exe or ffmpeg_path()
    raw = np.ascontiguousarray(frames).tobytes()
    enc = subprocess.run(
        [exe, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", FPS, "-i", "-",
         "-c:v", "libx264", "-preset", "veryfast", "-qp", str(qp), "-bf", "0", "-g", "250",
         "-pix_fmt", "yuv420p", "-f", "h264", "-"],
        input=raw, capture_output=True, check=False,
    )  # fmt: skip
    if enc.returncode or not enc.stdout:
        raise RuntimeError(f"ffmpeg encode failed: {enc.stderr.decode(errors='replace')[-300:]}")
    dec = subprocess.run(
        [exe, "-v", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        input=enc.stdout, capture_output=True, check=False,
    )  # fmt: skip
    if dec.returncode or len(dec.stdout) != len(raw):
        raise RuntimeError(
            f"ffmpeg decode gave {len(dec.stdout)} bytes for {len(raw)}: {dec.stderr[-300:]!r}"
        )
    return np.frombuffer(dec.stdout, np.uint8).reshape(t, h, w, 3), len(enc.stdout)


def _clip(faces_small: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """(k, S, S, 3) small faces -> (frames, GRID*S, GRID*S, 3) mosaics drifting and noisy."""
    k, s = faces_small.shape[:2]
    drift = rng.uniform(-DRIFT_PX, DRIFT_PX, size=(k, 2))
    out = np.full((frames, GRID * s, GRID * s, 3), 127, np.uint8)
    for f in range(frames):
        back = (frames - 1 - f) * drift  # the last frame is the face as it is
        for i in range(k):
            m = np.array([[1, 0, back[i, 0]], [0, 1, back[i, 1]]], np.float32)
            tile = cv2.warpAffine(
                faces_small[i], m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            noisy = tile.astype(np.float32) + rng.normal(0.0, NOISE_STD, tile.shape)
            r, c = divmod(i, GRID)
            out[f, r * s : (r + 1) * s, c * s : (c + 1) * s] = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    return out


def degrade_group(
    faces: np.ndarray, side_px: int, qp: int, frames: int, rng: np.random.Generator, exe: str | None = None
) -> tuple[np.ndarray, float]:
    """Up to GRID*GRID (k, L, L, 3) uint8 faces -> (their H.264 copies at L x L, bits per pixel per frame)."""
    k, size = faces.shape[0], faces.shape[1]
    if k > GRID * GRID:
        raise ValueError(f"at most {GRID * GRID} faces a group, got {k}")
    small = np.stack([cv2.resize(f, (side_px, side_px), interpolation=cv2.INTER_AREA) for f in faces])
    decoded, n_bytes = encode_decode(_clip(small, frames, rng), qp, exe)
    last = decoded[-1]
    out = np.empty_like(faces)
    for i in range(k):
        r, c = divmod(i, GRID)
        tile = last[r * side_px : (r + 1) * side_px, c * side_px : (c + 1) * side_px]
        out[i] = cv2.resize(tile, (size, size), interpolation=cv2.INTER_LINEAR)
    bpp = 8.0 * n_bytes / (frames * last.shape[0] * last.shape[1])
    return out, bpp


def build_pool(images: np.ndarray, cfg: CodecConfig, threads: int = 2) -> Pool:
    """One H.264 copy of every (n, L, L, 3) uint8 image (seeded by ``cfg.seed``).

    Raises:
        ValueError: ``images`` is not (n, L, L, 3) uint8.
        CodecUnavailable: no usable ffmpeg.
    """
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (n, L, L, 3) uint8, got {images.shape} {images.dtype}")
    exe = ffmpeg_path()
    n = len(images)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(n)
    groups = [order[i : i + GRID * GRID] for i in range(0, n, GRID * GRID)]
    lo, hi = cfg.size_px
    sides = 2 * rng.integers((lo + 1) // 2, hi // 2 + 1, size=len(groups))
    qps = rng.integers(cfg.qp[0], cfg.qp[1] + 1, size=len(groups))
    seeds = rng.integers(0, 2**31, size=len(groups))
    pool = Pool(np.empty_like(images), np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, np.float32))

    def one(g: int) -> None:
        idx = groups[g]
        out, bpp = degrade_group(
            images[idx], int(sides[g]), int(qps[g]), cfg.frames, np.random.default_rng(seeds[g]), exe
        )
        pool.images[idx], pool.side_px[idx], pool.qp[idx], pool.bits_per_px[idx] = out, sides[g], qps[g], bpp

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(one, range(len(groups))))
    log.info(
        "H.264 pool: %d faces in %d clips, %.0f s; sides %d-%d px, QP %d-%d, median %.3f bits/px",
        n, len(groups), time.perf_counter() - t0, lo, hi, cfg.qp[0], cfg.qp[1],
        float(np.median(pool.bits_per_px)),
    )  # fmt: skip
    return pool


def pool_key(images: np.ndarray, cfg: CodecConfig) -> str:
    """Identifies a pool: the images' bytes (sampled) and every setting that shapes it."""
    h = hashlib.sha256()
    h.update(json.dumps([images.shape, cfg.size_px, cfg.qp, cfg.frames, cfg.seed, GRID, DRIFT_PX]).encode())
    h.update(np.ascontiguousarray(images[:: max(len(images) // 64, 1)]).tobytes())
    return h.hexdigest()[:16]


def load_or_build_pool(images: np.ndarray, cfg: CodecConfig) -> Pool:
    """``build_pool``, cached in ``cfg.cache`` (a folder) under its ``pool_key``; None: not cached."""
    if cfg.cache is None:
        return build_pool(images, cfg)
    path = Path(cfg.cache) / f"h264_pool_{pool_key(images, cfg)}.npz"
    if path.is_file():
        doc = np.load(path)
        log.info("H.264 pool from %s", path)
        return Pool(doc["images"], doc["side_px"], doc["qp"], doc["bits_per_px"])
    pool = build_pool(images, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.npz")
    np.savez(tmp, images=pool.images, side_px=pool.side_px, qp=pool.qp, bits_per_px=pool.bits_per_px)
    tmp.rename(path)
    return pool
