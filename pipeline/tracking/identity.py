"""Who a face is: a face-recognition embedding (dlib's ResNet descriptor) for the tracker's identity veto.

The age/gender model's pooled features separate different people weakly (a median cosine distance
of 0.16 between different real people), and the clothes below a face say nothing on a
head-and-shoulders camera or when people dress alike. A face-recognition embedding does: dlib's
ResNet descriptor (``dlib-bin`` + ``face-recognition-models``; the descriptor and the 5-point shape
predictor are public domain / CC0; the package's 68-point predictor is non-commercial and never
used here) maps an aligned 150x150 chip to 128 numbers whose Euclidean distance is small for the
same person and large for different people.

Measured (docs/PIPELINE.md, "Re-identification"): UTKFace validation faces, each twice under
independent degradation, same face p95 0.29 at 48 px, 0.34 at 32 px, 0.42 at 24 px; different
people median 0.68 / 0.63 / 0.60, 1st percentile 0.46 / 0.43 / 0.41. Real photos of one man taken
years apart: 0.33-0.37 at full size, up to 0.51 at 24 px; different real people 0.61 or more.
``IDENTITY_MAX_DISTANCE`` (0.5) sits between.

dlib's network runs on ONNX Runtime (``engines/dlib_resnet.py``: the same weights, the same
descriptors within 1e-6): ~8 ms a face on one core of an AVX2 CPU, where dlib's own build took ~100 ms.
The tracker still computes it only where it decides something (see ``tracker``): a detection that
continues a track after a gap, a detection whose cheap thumbnail (``face_thumbs``) jumped from its
track's last one, a periodic check of long tracks and a re-identification. ``FacePatch`` keeps a
small copy of a track's last face so the track's side can be embedded later, only when it is needed.

A person's gender read a second time from the descriptor: ``gender`` (``GenderReading``,
``IdentityGender``); the faces it keeps are ``KeptFaces``.

Alignment: dlib's 5-point shape predictor (eye corners and the base of the nose) on a square around
the detector's box, then ``dlib.get_face_chip`` (150 px, padding 0.25), as dlib's own examples do.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from facelog.engines.dlib_resnet import DESCRIPTOR_DIM, DlibModelError, DlibResNetOnnx
from facelog.pipeline.errors import ModelError

log = logging.getLogger(__name__)

IDENTITY_DIM = DESCRIPTOR_DIM  # dlib's descriptor: 128 numbers
IDENTITY_MAX_DISTANCE = 0.5  # Euclidean; same face p95 <= 0.42 down to 24 px, different p1 >= 0.41
# faces narrower than this give no embedding (unknown): at 24 px the same face under two degradations
# is up to 0.42 apart (p95) and 8% of different people within 0.48 (FACTS), too close to tell; on the
# CCTV benchmark's walkers a limit of 20 px split more people than it separated
MIN_FACE_PX = 32.0
PATCH_MARGIN = 0.5  # a patch keeps this share of the face size around the box on every side
THUMB_PX = 8  # side of the grey thumbnail of ``face_thumbs``


class IdentityError(ModelError):
    """The identity model cannot be loaded (package missing or model files unreadable): one line,
    exit 2, as any model error."""


def import_dlib() -> Any:
    """The ``dlib`` module (``dlib-bin``).

    Raises:
        IdentityError: not installed.
    """
    try:
        import dlib
    except ImportError as e:
        # pybind11 turns a Ctrl-C/SIGTERM that lands inside dlib's module init into
        # ImportError("initialization failed"): let the interrupt through, not a wrong hint
        if isinstance(e.__cause__, BaseException) and not isinstance(e.__cause__, Exception):
            raise e.__cause__ from None
        raise IdentityError("dlib is not installed: pip install dlib-bin face-recognition-models") from e
    return dlib


@dataclass(frozen=True, slots=True)
class FacePatch:
    """A face and a margin copied out of one frame, to be embedded later if needed.

    Attributes:
        image: (h, w, 3) uint8 BGR pixels around the face.
        xyxy: the face box in ``image`` pixels.
        frame_index: the frame it was cut from.
    """

    image: np.ndarray
    xyxy: tuple[float, float, float, float]
    frame_index: int

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (h, w, 3) uint8, got {self.image.shape} {self.image.dtype}")

    @property
    def face_px(self) -> float:
        """Face width (px)."""
        return float(self.xyxy[2] - self.xyxy[0])


def cut_patch(image_bgr: np.ndarray, xyxy: np.ndarray, frame_index: int) -> FacePatch:
    """Copy one face (box ``xyxy`` (4,) in ``image_bgr`` pixels) with ``PATCH_MARGIN`` around it.

    Raises:
        ValueError: not an (H, W, 3) image, or a box of the wrong shape.
    """
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {img.shape}")
    box = np.asarray(xyxy, np.float64)
    if box.shape != (4,):
        raise ValueError(f"xyxy must be (4,), got {box.shape}")
    bx0, by0, bx1, by1 = box.tolist()
    size = max(bx1 - bx0, by1 - by0, 1.0)
    h, w = img.shape[:2]
    x0 = min(max(math.floor(bx0 - PATCH_MARGIN * size), 0), w - 1)
    y0 = min(max(math.floor(by0 - PATCH_MARGIN * size), 0), h - 1)
    x1 = min(max(math.ceil(bx1 + PATCH_MARGIN * size), x0 + 1), w)
    y1 = min(max(math.ceil(by1 + PATCH_MARGIN * size), y0 + 1), h)
    crop = np.array(img[y0:y1, x0:x1], dtype=np.uint8, copy=True)  # never a view that pins the frame
    rel = (bx0 - x0, by0 - y0, bx1 - x0, by1 - y0)
    return FacePatch(image=crop, xyxy=rel, frame_index=frame_index)


def face_thumbs(image_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Cheap look of each face: (n, THUMB_PX**2 + 1) float32, [mean brightness, zero-mean unit grey
    thumbnail of the box's central part]; a row of zeros where the box is empty. Microseconds a face.

    ``thumb_change`` compares two of them: the tracker's first stage, deciding when a followed track's
    face changed enough to be worth an identity embedding.
    """
    img = np.asarray(image_bgr)
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    out = np.zeros((len(boxes), THUMB_PX * THUMB_PX + 1), np.float32)
    h, w = img.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        # the central part of the box: YuNet boxes reach above the forehead and may take in background
        mx, my = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
        top, bottom = int(max(0, y1 + my)), int(min(h, y2 - my))
        left, right = int(max(0, x1 + mx)), int(min(w, x2 - mx))
        if bottom - top < 2 or right - left < 2:
            continue
        grey = cv2.cvtColor(img[top:bottom, left:right], cv2.COLOR_BGR2GRAY).astype(np.float32)
        small = np.asarray(cv2.resize(grey, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA), np.float32)
        small = small.ravel()
        mean = float(small.mean())
        small = small - mean
        norm = float(np.linalg.norm(small))
        out[i, 0] = max(mean, 1.0)
        out[i, 1:] = small / norm if norm > 1e-6 else 0.0
    return out


def thumb_change(a: np.ndarray, b: np.ndarray) -> float:
    """How much a face's look changed between two ``face_thumbs`` rows: the larger of the relative
    brightness jump and 1 - the thumbnails' correlation; NaN where either is unknown (zeros)."""
    if not (a[0] > 0 and b[0] > 0):
        return math.nan
    jump = abs(float(a[0]) - float(b[0])) / max(float(a[0]), float(b[0]))
    return max(jump, 1.0 - float(a[1:] @ b[1:]))


class Embedder(Protocol):
    """What the tracker needs from an identity model: one embedding per face patch, or None if the
    face cannot be embedded (too small, no landmarks found)."""

    def embed(self, patch: FacePatch) -> np.ndarray | None: ...


class IdentityEmbedder:
    """dlib's ResNet face descriptor on a 5-point-aligned 150x150 chip; counts its calls and time.

    Args:
        model_path: ``dlib_face_recognition_resnet_model_v1.dat``; None: the one in
            ``face_recognition_models``.
        shape_path: ``shape_predictor_5_face_landmarks.dat``; None: the one in that package.

    The network itself runs on ONNX Runtime (``engines.dlib_resnet``), built from ``model_path``;
    dlib finds the landmarks and cuts the chip.

    Raises:
        IdentityError: ``dlib`` or the model files are missing, or the model file is not dlib's
            face recognition network.
    """

    def __init__(self, model_path: Path | None = None, shape_path: Path | None = None) -> None:
        dlib = import_dlib()
        if model_path is None or shape_path is None:
            # the package's files, found without importing it (its __init__ needs pkg_resources,
            # which recent setuptools no longer ships)
            spec = importlib.util.find_spec("face_recognition_models")
            if spec is None or not spec.submodule_search_locations:
                raise IdentityError("face-recognition-models is not installed (pip install it)")
            models = Path(next(iter(spec.submodule_search_locations))) / "models"
            model_path = model_path or models / "dlib_face_recognition_resnet_model_v1.dat"
            shape_path = shape_path or models / "shape_predictor_5_face_landmarks.dat"
        for p in (model_path, shape_path):
            if not Path(p).is_file():
                raise IdentityError(f"identity model file not found: {p}")
        self._dlib: Any = dlib
        self._shape = dlib.shape_predictor(str(shape_path))
        try:  # the same network on ONNX Runtime: ~12x faster than dlib's own (engines/dlib_resnet.py)
            self._net = DlibResNetOnnx(Path(model_path))
        except DlibModelError as e:
            raise IdentityError(f"identity model {model_path}: {e}") from None
        self.calls = 0  # embeddings computed
        self.seconds = 0.0  # time spent computing them

    def embed(self, patch: FacePatch) -> np.ndarray | None:
        """(128,) float32 descriptor of the patch's face, or None for a face under ``MIN_FACE_PX``."""
        if patch.face_px < MIN_FACE_PX:
            return None
        t0 = time.perf_counter()
        x1, y1, x2, y2 = patch.xyxy
        side = x2 - x1  # a square of the box width, centred a little below the box centre: YuNet's
        cx, cy = (x1 + x2) / 2, y1 + 0.55 * (y2 - y1)  # box reaches above the forehead; dlib's does not
        rect = self._dlib.rectangle(
            round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)
        )
        rgb = np.ascontiguousarray(patch.image[:, :, ::-1])
        shape = self._shape(rgb, rect)
        chip = self._dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        vec = self._net.descriptors(np.asarray(chip)[None])[0]
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        return vec


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two identity embeddings (same person below ~0.4, different above ~0.6)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


class FrameFaces:
    """The identity side of one frame's detections, for ``Tracker.update``: cheap thumbnails at once,
    patches and embeddings only when asked (each computed once).

    Args:
        embedder: the identity model (``IdentityEmbedder``, or any ``Embedder``).
        image_bgr: (H, W, 3) uint8 frame.
        xyxy: (n, 4) face boxes in its pixels.
        frame_index: the frame's index.
        ages: optional (n,) the model's age of each face (years): the tracker judges a pair of young
            children at a stricter limit (``policy.young_pair``); None: unknown (adults' limit).
    """

    def __init__(
        self,
        embedder: Embedder,
        image_bgr: np.ndarray,
        xyxy: np.ndarray,
        frame_index: int,
        ages: np.ndarray | None = None,
    ) -> None:
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got {img.shape}")
        self.embedder = embedder
        self.image = img
        self.xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
        self.frame_index = frame_index
        self.ages = None if ages is None else np.asarray(ages, np.float64)
        if self.ages is not None and self.ages.shape != (len(self.xyxy),):
            raise ValueError(f"ages must be ({len(self.xyxy)},), got {self.ages.shape}")
        self.thumbs = face_thumbs(img, self.xyxy)
        self._patches: dict[int, FacePatch] = {}
        self._embeddings: dict[int, np.ndarray | None] = {}

    def __len__(self) -> int:
        return len(self.xyxy)

    def patch(self, i: int) -> FacePatch:
        """Detection ``i``'s face with a margin (a copy: safe to keep after the frame is gone)."""
        if i not in self._patches:
            self._patches[i] = cut_patch(self.image, self.xyxy[i], self.frame_index)
        return self._patches[i]

    def embedding(self, i: int) -> np.ndarray | None:
        """Detection ``i``'s identity embedding, or None where the face cannot be embedded."""
        if i not in self._embeddings:
            self._embeddings[i] = self.embedder.embed(self.patch(i))
        return self._embeddings[i]

    def readable(self, i: int) -> bool:
        """Whether face ``i`` gets a descriptor: at least ``MIN_FACE_PX`` wide, not cut by the edge."""
        return bool(self.patch(i).face_px >= MIN_FACE_PX and not self.cut_by_edge(i))

    def cut_by_edge(self, i: int) -> bool:
        """Whether detection ``i``'s box touches the frame edge (part of the face may be missing)."""
        x1, y1, x2, y2 = self.xyxy[i]
        h, w = self.image.shape[:2]
        return bool(x1 <= 1 or y1 <= 1 or x2 >= w - 1 or y2 >= h - 1)

    def computed(self, i: int) -> np.ndarray | None:
        """Detection ``i``'s embedding if it was already computed (never computes one)."""
        return self._embeddings.get(i)


def _same(face: FacePatch) -> FacePatch:
    return face


# -- a person's gender read a second time ---------------------------------------------------------


@dataclass(slots=True)
class KeptFaces:
    """The faces one track keeps for a later look: (weight, pts_ns, face) each; the weight ranks them
    (the gender reading's: the fusion weight; the frontal check's: the detector score)."""

    faces: list[tuple[float, int, FacePatch]] = field(default_factory=list)
    # their descriptors by pts_ns (a track has one face a frame), computed once: a person's faces may
    # be read for a join (tracking/join.py) and again for its gender (gender.GenderReading)
    read: dict[int, np.ndarray | None] = field(default_factory=dict)

    def descriptors(self, embedder: Embedder) -> list[np.ndarray]:
        """The kept faces' descriptors, without the faces that give none; each computed once."""
        if len(self.read) > len(self.faces):  # faces replaced since: forget theirs
            self.read = {t: self.read[t] for _, t, _ in self.faces if t in self.read}
        out = []
        for _, pts_ns, face in self.faces:
            if pts_ns not in self.read:
                self.read[pts_ns] = embedder.embed(face)
            if (d := self.read[pts_ns]) is not None:
                out.append(d)
        return out

    def offer(
        self, limit: int, gap_ns: int, weight: float, pts_ns: int, patch: Callable[[], FacePatch]
    ) -> None:
        """Keep this face (cut by ``patch()`` only if kept) if it is among the best: at most ``limit``; a
        face within ``gap_ns`` of stream time of a kept one replaces it if better (so kept faces are
        mostly, not always, ``gap_ns`` apart: a replacement moves its place), and when all places are
        taken a better face replaces the weakest."""
        faces = self.faces
        near = [k for k, (_, t, _) in enumerate(faces) if abs(t - pts_ns) < gap_ns]
        slot: int | None = None  # None: a new place
        if near or len(faces) >= limit:
            slot = near[0] if near else min(range(len(faces)), key=lambda k: faces[k][0])
            if faces[slot][0] >= weight:
                return
        entry = (weight, pts_ns, patch())
        if slot is None:
            faces.append(entry)
        else:
            faces[slot] = entry

    def absorb(self, other: KeptFaces, limit: int, gap_ns: int) -> None:
        """Offer ``other``'s faces (another piece of the same person) as if seen here."""
        for weight, pts_ns, face in other.faces:
            self.offer(limit, gap_ns, weight, pts_ns, partial(_same, face))
        self.read.update(other.read)
