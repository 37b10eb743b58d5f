"""The sprites of the synthetic CCTV clips (``cctv_synth.py``): a person's face chip through a feathered
ellipse, with its defocus, motion blur, gain and tint; the neck and torso below it; the back of the
head; a wall screen's advert of faces that drift and zoom; and the blend that pastes any of them
into a frame. Also ``read_face``, which every sprite's face comes through, and ``SynthError``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from cctv_people import Person
from cctv_presets import Preset
from face_worlds import turned, turned_visible

# ``screen``: the screen's box (x0, y0, x1, y1) as fractions of the frame (high on the wall, right of
# centre), and how long each advert face is shown (s)
SCREEN_BOX = (0.60, 0.06, 0.80, 0.34)
SCREEN_SLIDE_S = (3.0, 6.0)


# Ellipse semi-axes (x, y) and feather kernel as shares of the chip side. On 300 validation chips at
# 80 px over grey, the model's age MAE / gender accuracy: unmasked 5.37 / 94.0%, this mask 5.5 / 93.5%
# (a tighter 0.44 x 0.50 ellipse cost 2.7 points of gender: it cuts off the hair).
MASK_AXES = (0.52, 0.57)
MASK_FEATHER = 0.18
BODY_SIZE = (2.2, 3.0)  # torso sprite (w, h) in chip sides
HAIR_BGR = ((20, 20, 25), (25, 35, 50), (40, 60, 90), (120, 120, 125))  # the back of a head (``away``)


def chip_mask(side: int) -> np.ndarray:
    """Feathered ellipse over the chip, (side, side) float32 in 0..1.

    It keeps the hair at the sides (the model reads gender from it too) and fades the chip's corners.
    """
    m = np.zeros((side, side), np.float32)
    axes = (round(side * MASK_AXES[0]), round(side * MASK_AXES[1]))
    cv2.ellipse(m, (side // 2, side // 2), axes, 0, 0, 360, 1.0, -1)
    k = max(3, round(side * MASK_FEATHER) | 1)
    return cv2.GaussianBlur(m, (k, k), 0)


def motion_kernel(length_px: float, angle_rad: float) -> np.ndarray | None:
    n = round(length_px)
    if n < 2:
        return None
    k = np.zeros((n | 1, n | 1), np.float32)
    c = (n | 1) // 2
    dx, dy = np.cos(angle_rad) * (n / 2), np.sin(angle_rad) * (n / 2)
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / k.sum()


class ChipCache:
    """One person's chip and mask, processed (size, blur, gain) once per side length."""

    def __init__(self, person: Person, image: np.ndarray) -> None:
        self.p = person
        self.image = image
        self.cache: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, side: int, blur_px: float, pose: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """The chip at this side and blur, its head turned and tilted by ``pose`` (yaw, roll degrees;
        ``face_worlds.turned``)."""
        key = (side, round(blur_px), *pose)
        if key not in self.cache:
            p = self.p
            image = turned(self.image, *pose)
            chip: np.ndarray = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
            chip = chip.astype(np.float32)
            mask: np.ndarray = chip_mask(side)
            if pose[0]:  # a turned head: the columns past its side show nothing of the photo
                mask = mask * turned_visible(side, pose[0])[None, :]
            if p.defocus_px > 0.3:
                chip = cv2.GaussianBlur(chip, (0, 0), p.defocus_px)
            kern = motion_kernel(key[1], float(np.arctan2(p.velocity[1], p.velocity[0])))
            if kern is not None:
                chip = cv2.filter2D(chip, -1, kern)
                mask = cv2.filter2D(mask, -1, kern)
            chip = chip * p.gain * np.array(p.tint, np.float32)
            self.cache[key] = (chip, mask[..., None])
        return self.cache[key]

    def body(self, side: int, blur_px: float) -> tuple[np.ndarray, np.ndarray]:
        """Neck and torso sprite (BODY_SIZE x chip side) whose top overlaps the chip's chin."""
        key = (-side, round(blur_px))
        if key not in self.cache:
            p = self.p
            w, h = round(BODY_SIZE[0] * side), round(BODY_SIZE[1] * side)
            mask: np.ndarray = np.zeros((h, w), np.float32)
            half, top, r, cx = round(0.95 * side), round(0.45 * side), round(0.4 * side), w // 2
            cv2.rectangle(mask, (cx - half + r, top), (cx + half - r, h), 1.0, -1)  # torso with
            cv2.rectangle(mask, (cx - half, top + r), (cx + half, h), 1.0, -1)  # rounded shoulders
            for sx in (cx - half + r, cx + half - r):
                cv2.circle(mask, (sx, top + r), r, 1.0, -1)
            neck = round(0.2 * side)
            cv2.rectangle(mask, (cx - neck, 0), (cx + neck, top + 2), 1.0, -1)
            skin = np.median(self.image[170:, 70:130].reshape(-1, 3), axis=0) * p.gain * np.array(p.tint)
            shade = np.linspace(1.1, 0.8, h, dtype=np.float32)[:, None, None]
            rng = np.random.default_rng(p.person_id)
            texture = cv2.GaussianBlur(rng.normal(0, 10, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
            img: np.ndarray = np.empty((h, w, 3), np.float32)
            img[:] = np.array(p.clothes, np.float32) * p.gain
            img = img * shade + texture
            img[: top + 2, cx - neck : cx + neck] = skin
            mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.06 * side))
            kern = motion_kernel(key[1], float(np.arctan2(p.velocity[1], p.velocity[0])))
            if kern is not None:
                img, mask = cv2.filter2D(img, -1, kern), cv2.filter2D(mask, -1, kern)
            self.cache[key] = (img, mask[..., None])
        return self.cache[key]

    def back(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """The back of the head (``Preset.away``): a hair-coloured, lightly textured ellipse where the
        face chip goes."""
        key = (-side, -1)
        if key not in self.cache:
            rng = np.random.default_rng([self.p.person_id, 7])
            hair = np.array(HAIR_BGR[int(rng.integers(len(HAIR_BGR)))], np.float32) * self.p.gain
            texture = cv2.GaussianBlur(rng.normal(0, 8, (side, side, 3)).astype(np.float32), (0, 0), 1.0)
            self.cache[key] = (hair + texture, chip_mask(side)[..., None])
        return self.cache[key]


def paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
    """Blend ``sprite`` (h, w, 3) float32 through ``mask`` (h, w, 1) into ``frame`` at (x0, y0), clipped."""
    h, w = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    c = sprite[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]
    m = mask[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]
    region = frame[ay0:ay1, ax0:ax1].astype(np.float32)
    frame[ay0:ay1, ax0:ax1] = np.clip(region * (1 - m) + c * m, 0, 255).astype(np.uint8)


def paste_body(frame: np.ndarray, chips: ChipCache, blur: float, side: int, x0: int, y0: int) -> None:
    """A person's torso below the face chip pasted at (x0, y0) with this side."""
    body, mask = chips.body(side, blur)
    paste(frame, body, mask, x0 + side // 2 - body.shape[1] // 2, y0 + round(0.8 * side))


def paste_face(
    frame: np.ndarray,
    chips: ChipCache,
    blur: float,
    side: int,
    x0: int,
    y0: int,
    pose: tuple[int, int] = (0, 0),
) -> None:
    """A person's face chip pasted at (x0, y0) with this side, its head in this ``pose`` (yaw, roll)."""
    chip, mask = chips.get(side, blur, pose)
    paste(frame, chip, mask, x0, y0)


class SynthError(RuntimeError):
    """A clip cannot be made (missing data or ffmpeg failed)."""


def read_face(path: str) -> np.ndarray:
    """A face image (BGR uint8) from disk; ``SynthError`` when it cannot be read."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SynthError(f"cannot read face image {path}")
    return img


@dataclass(frozen=True)
class Slide:
    """One face of the ``screen`` advert: shown from ``start`` to ``end`` (frames), its chip's side
    zooming from ``side0`` to ``side1`` px while its centre drifts from ``c0`` to ``c1`` (screen px)."""

    chip: np.ndarray
    start: int
    end: int
    side0: float
    side1: float
    c0: tuple[float, float]
    c1: tuple[float, float]
    backdrop: tuple[int, int, int]


def screen_slides(preset: Preset, faces: pd.DataFrame, people: list[Person], seed: int) -> list[Slide]:
    """The advert: validation faces no person of the clip uses, one after another, each for
    ``SCREEN_SLIDE_S`` seconds with half a second of plain backdrop between them."""
    if not preset.screen:
        return []
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 4])
    used = {p.face_row for p in people}
    free = [i for i in rng.permutation(len(faces)) if i not in used]
    sw = (SCREEN_BOX[2] - SCREEN_BOX[0]) * preset.width
    sh = (SCREEN_BOX[3] - SCREEN_BOX[1]) * preset.height
    slides, f = [], round(0.5 * preset.fps)
    while f < preset.frames:
        n = round(rng.uniform(*SCREEN_SLIDE_S) * preset.fps)
        side0 = rng.uniform(0.45, 0.6) * sh
        side1 = side0 * rng.uniform(1.1, 1.3)
        c0 = (sw / 2 + rng.uniform(-0.15, 0.15) * sw, sh / 2 + rng.uniform(-0.05, 0.05) * sh)
        c1 = (c0[0] + rng.uniform(-0.15, 0.15) * sw, c0[1] + rng.uniform(-0.05, 0.05) * sh)
        backdrop = tuple(int(v) for v in rng.integers(40, 200, 3))
        chip = read_face(faces.path.iloc[free.pop()]).astype(np.float32)
        slides.append(Slide(chip, f, f + n, side0, side1, c0, c1, (backdrop[0], backdrop[1], backdrop[2])))
        f += n + round(0.5 * preset.fps)
    return slides


def draw_screen(frame: np.ndarray, slides: list[Slide], f: int) -> None:
    """The screen at frame ``f``: a dark bezel, the backdrop, and the face shown then (if any)."""
    h, w = frame.shape[:2]
    x0, y0 = round(SCREEN_BOX[0] * w), round(SCREEN_BOX[1] * h)
    x1, y1 = round(SCREEN_BOX[2] * w), round(SCREEN_BOX[3] * h)
    frame[y0 - 6 : y1 + 6, x0 - 6 : x1 + 6] = 25  # the bezel
    now = [s for s in slides if s.start <= f < s.end]
    frame[y0:y1, x0:x1] = now[0].backdrop if now else (60, 60, 60)
    if not now:
        return
    s = now[0]
    t = (f - s.start) / max(1, s.end - s.start - 1)
    side = max(8, round(s.side0 + t * (s.side1 - s.side0)))
    cx, cy = (s.c0[0] + t * (s.c1[0] - s.c0[0]), s.c0[1] + t * (s.c1[1] - s.c0[1]))
    chip = cv2.resize(s.chip, (side, side), interpolation=cv2.INTER_AREA)
    # the screen's own picture: cut at its edges, brighter than the room
    screen = frame[y0:y1, x0:x1]
    bright = np.clip(chip * 1.1, 0, 255)
    paste(screen, bright, chip_mask(side)[..., None], round(cx - side / 2), round(cy - side / 2))
