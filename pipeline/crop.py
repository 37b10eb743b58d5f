"""Cut each detected face the way the model saw faces in training (UTKFace aligned chips).

UTKFace's "aligned & cropped" chips are dlib-aligned: eyes level, and a fixed framing around them.
Two ways to reproduce that framing (calibration in docs/PIPELINE.md, script
``benchmarks/crop_calibration.py``):

- ``eyes``: rotate so the eyes are level, chip side = ``eye_side`` x eye distance, eye midpoint at
  (``eye_x``, ``eye_y``) of the chip. One ``warpAffine`` per face. Used when the detector gives landmarks.
- ``box``: axis-aligned square of side ``box_side`` x box width, centred ``box_shift_y`` x box height
  below the box centre.

Each detector has its own calibrated ``Framing`` (``Detector.framing``); a config may override it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from facelog.pipeline.config import CropConfig
from facelog.pipeline.types import Faces

MAX_CHIP = 200  # UTKFace chips are 200x200: never warp to more pixels than training had


@dataclass(frozen=True, slots=True)
class Framing:
    """Where a UTKFace chip sits relative to one detector's boxes and eyes (medians over 600 chips).

    Attributes:
        box_side: chip side / box width.
        box_shift_y: chip centre below the box centre, as a fraction of box height.
        eye_side: chip side / eye distance.
        eye_x, eye_y: eye midpoint within the chip (fractions of the side).
    """

    box_side: float
    box_shift_y: float
    eye_side: float
    eye_x: float
    eye_y: float

    def with_overrides(self, cfg: CropConfig) -> Framing:
        """This framing with the values ``cfg`` sets explicitly (None keeps the detector's)."""
        vals = {k: getattr(cfg, k) for k in ("box_side", "box_shift_y", "eye_side", "eye_x", "eye_y")}
        return replace(self, **{k: v for k, v in vals.items() if v is not None})


# benchmarks/crop_calibration.py, 600 UTKFace chips in a 400 px canvas (docs/PIPELINE.md)
YUNET_FRAMING = Framing(box_side=1.176, box_shift_y=0.078, eye_side=2.46, eye_x=0.485, eye_y=0.292)
BLAZEFACE_FRAMING = Framing(box_side=1.011, box_shift_y=0.043, eye_side=2.53, eye_x=0.489, eye_y=0.297)


def chip_transforms(faces: Faces, cfg: CropConfig, framing: Framing) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps from image pixels to unit chip coordinates, one per face.

    Returns:
        (n, 2, 3) float64 matrices mapping image (x, y, 1) to chip (u, v) in 0..1, and (n,) chip
        sides in image pixels.
    """
    n = len(faces)
    mats = np.zeros((n, 2, 3), np.float64)
    sides = np.zeros(n, np.float64)
    use_eyes = cfg.framing == "eyes" or (cfg.framing == "auto" and faces.landmarks is not None)
    if cfg.framing == "eyes" and faces.landmarks is None:
        raise ValueError("crop.framing 'eyes' needs landmarks, but the detector gave none")
    fr = framing.with_overrides(cfg)
    for i in range(n):
        x1, y1, x2, y2 = (float(v) for v in faces.xyxy[i])
        bw, bh = x2 - x1, y2 - y1
        eyes_ok = False
        if use_eyes and faces.landmarks is not None:
            e = faces.landmarks[i, :2].astype(np.float64)
            e = e[np.argsort(e[:, 0])]  # image-left eye first
            d = float(np.hypot(*(e[1] - e[0])))
            eyes_ok = d >= 0.15 * bw  # a profile face collapses the eyes: fall back to the box
        if eyes_ok:
            theta = math.atan2(e[1, 1] - e[0, 1], e[1, 0] - e[0, 0])
            side = fr.eye_side * d
            c, s = math.cos(theta) / side, math.sin(theta) / side
            rot = np.array([[c, s], [-s, c]])
            mid = e.mean(0)
            mats[i, :, :2] = rot
            mats[i, :, 2] = np.array([fr.eye_x, fr.eye_y]) - rot @ mid
        else:
            side = fr.box_side * bw
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + fr.box_shift_y * bh
            mats[i] = [[1 / side, 0, 0.5 - cx / side], [0, 1 / side, 0.5 - cy / side]]
        sides[i] = side
    return mats, sides


def crop_faces(
    image_bgr: np.ndarray, faces: Faces, cfg: CropConfig, framing: Framing, out_px: int
) -> list[np.ndarray]:
    """Warp each face to a square BGR chip (uint8).

    The chip is ``clip(side, out_px, 200)`` pixels: no bigger than UTKFace's chips, no smaller than
    the model input; ``engines.preprocess.crops_to_pixels`` then resizes with area interpolation, as
    training did. Pixels outside the image repeat the border.

    Args:
        image_bgr: (H, W, 3) uint8.
        faces: detections in this image.
        cfg: framing settings.
        framing: the detector's calibration (``Detector.framing``); values set in ``cfg`` win.
        out_px: the model's input side.
    """
    mats, sides = chip_transforms(faces, cfg, framing)
    chips = []
    for m, side in zip(mats, sides, strict=True):
        k = int(min(MAX_CHIP, max(out_px, round(side))))
        chips.append(
            cv2.warpAffine(image_bgr, m * k, (k, k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        )
    return chips
