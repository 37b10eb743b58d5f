"""Synthetic CCTV clips with ground truth, built only from validation-split UTKFace faces.

    python benchmarks/cctv_synth.py --out DIR --preset NAME [--seed N] [--shared ../shared]

writes ``DIR/NAME.mp4`` (H.264 by the ``ffmpeg`` binary, CRF ``Preset.crf``, yuv420p) and
``DIR/NAME.gt.csv`` (``frame_index,person_id,x1,y1,x2,y2,age,gender,face_px``: one row per visible
face per frame). ``make_clip(out_dir, preset, seed, shared)`` does the same from Python. The same
preset and seed give the same frames and the same GT (x264 is deterministic for fixed settings).

Faces: the validation split of the shipped model (``facelog.training.datasets``: ``read_utkface``,
``split_names``, ``split_indices`` with seed 1234 and val_fraction 0.1: 2,071 faces); every person of a
clip is a different validation face, labels from UTKFace (gender 0 = male, 1 = female).

Ground-truth box convention: each face is a 200x200 UTKFace chip resized to a square of side
``face_px / GT_BOX_W`` and pasted through a feathered ellipse. The GT box is the box YuNet draws
around such a chip, fixed in chip coordinates (``cctv_common.GT_BOX_IN_CHIP`` = x 0.053..0.928,
y -0.10..0.988 of the chip side: YuNet extends the box above the chip to the top of the forehead).
So ``face_px`` = GT box width = 0.875 x chip side, and the box height is 1.24 x its width. YuNet's own
boxes have IoU >= 0.61 with it (1st percentile 0.68, median 0.87) on 300 validation chips pasted
with this mask; a chip-sized square box (BlazeFace's framing) about 0.8. Boxes are clipped to the
frame; ``face_px`` stays the unclipped width, so a scorer knows how much of a face at the edge is
visible (``cctv_common.read_gt``).

Scene: the frames of ``videos/people-detection.mp4`` (people far away, no detectable face) scaled up,
plus a fixed fine texture and per-frame sensor noise; if that clip is absent, textured noise. Each
person gets its own defocus blur, brightness gain and colour cast, and a motion blur along its velocity
whose length swings from frame to frame (0.3x..1.3x of its mean), so some frames are sharper.

Presets (``PRESETS``): ``walk*`` people walk through, entering and leaving at the left/right edges
(some walk down toward the camera and grow), and some vanish mid-frame (turn away, step behind
something) with a new person appearing at that spot 1-4 frames later; ``static*`` people appear,
stand or sway slowly for 3-10 s and leave, with the same replacements. Faces never overlap. Each person
has a neck and torso in a clothing colour (drawn before all faces, so bodies never cover a face);
``*_nobody`` presets leave them out.

Cases where clothes, place and stillness mislead a tracker (issue 20): ``walk720_sameclothes``
(everyone in the same dark coat); ``counter720`` (two spots at a counter where people step up one
after another, 0-3 frames after the previous one left, head-and-shoulders with the same coats);
``queue720`` (people standing in a row for the whole clip, swaying a little: people, not
``static``); ``queue720_still`` (the same queue swaying 1% of a face size instead of 5%: the case
the static rule cannot tell from a poster); ``textures720`` (walkers plus ``Preset.textures`` still,
face-like patterns: validation faces upside down, blurred and faded, in the scene and in no GT);
``poster720`` (walkers plus one real validation face pasted still for the whole clip, a printed
face: in no GT, to be marked ``static`` in the tracks CSV). ``screen720`` (walkers plus a wall screen,
``SCREEN_BOX``, whose advert shows another validation face every 3-6 s, each drifting and zooming
the whole time: real faces that move, in no GT; neither the static rule nor the frontal check can
leave them out, only a zone the operator draws, ``detector.ignore_zones``).

``*_alike`` (``counter720_alike``, ``walk720_nobody_alike``): each newcomer at a vacated spot is
another validation face of the same gender and the nearest age as the person who left (the model's
embedding, which reads age and gender, cannot tell them apart); the clip is the plain preset's in
everything else. ``crowd720``: 120 walkers in 30 s, faces 24-72 px, 15-18 in view at once (bodies
of the nearer overlap the faces behind them, so the colour below a face may be someone else's).

``*_returns`` (``walk720_returns``, ``static720_returns``): each person is drawn (at 0.4; not a
newcomer at a vacated spot, and only where someone left the view 0.5 s or more before) to be an
earlier person of the clip coming back (12-30% of the visits on seeds 0-3): that person's face,
age, gender and clothes on this one's path (``cctv_people._returns``); the GT keeps one ``person_id``
per visit, and ``cctv_people.plan_people`` says which visits are one person (``Person.same_as``;
``returns.py`` scores them). Every other pixel is the plain preset's.

``*_masks`` (``walk720_masks``, ``counter720_masks``): half the people (drawn per person) wear a
surgical mask over nose and mouth (``face_worlds.masked``); ``*_sunglasses`` (``walk720_sunglasses``,
``walk720_nobody_sunglasses``, ``counter720_sunglasses``, ``static720_nobody_sunglasses``): half
the people wear dark sunglasses
(``face_worlds.sunglasses``); ``*_above`` (``walk720_above``,
``static720_above``): every face seen from a camera 40 degrees above (``face_worlds.from_above``, a flat
warp: an upper bound on what a real high camera gives); the GT boxes are the plain chip's. Both keep
their plain preset's people, paths and scene.

``cross720`` (and ``_nobody``) breaks the rule that faces never overlap: pairs of walkers meet, one
from each side at about one height, and the nearer (larger) one passes in front, hiding the other's
face for a few frames (the identity switch of every tracker's textbook). Its GT has one more column,
``occluded``: the share of the face box that people in front cover (``cctv_common.read_gt`` counts a
face more than a quarter hidden as "don't care", like one the frame edge cuts).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GT_BOX_IN_CHIP, GT_BOX_W, GT_COLUMNS, SHARED
from cctv_people import Person, plan_people
from face_worlds import MASK_FILE, from_above, masked, sunglasses

from facelog.pipeline.weights import YUNET_PATH

log = logging.getLogger("cctv_synth")

SPLIT_SEED = 1234  # the shipped model's split (configs/train_utkface.yaml)
VAL_FRACTION = 0.1
BACKGROUND_CLIP = Path("data/videos/people-detection.mp4")
# Ellipse semi-axes (x, y) and feather kernel as shares of the chip side. On 300 validation chips at
# 80 px over grey, the model's age MAE / gender accuracy: unmasked 5.37 / 94.0%, this mask 5.5 / 93.5%
# (a tighter 0.44 x 0.50 ellipse cost 2.7 points of gender: it cuts off the hair).
MASK_AXES = (0.52, 0.57)
MASK_FEATHER = 0.18
BODY_SIZE = (2.2, 3.0)  # torso sprite (w, h) in chip sides
HAIR_BGR = ((20, 20, 25), (25, 35, 50), (40, 60, 90), (120, 120, 125))  # the back of a head (``away``)


# ``screen``: the screen's box (x0, y0, x1, y1) as fractions of the frame (high on the wall, right of
# centre), and how long each advert face is shown (s)
SCREEN_BOX = (0.60, 0.06, 0.80, 0.34)
SCREEN_SLIDE_S = (3.0, 6.0)


class SynthError(RuntimeError):
    """A clip cannot be made (missing data or ffmpeg failed)."""


@dataclass(frozen=True)
class Preset:
    """One kind of clip. Sizes are GT box widths in px; speeds in px per frame."""

    name: str
    width: int
    height: int
    seconds: float
    people: int
    face_px: tuple[float, float]
    speed_px: tuple[float, float]
    mode: Literal["walk", "static", "counter", "queue", "cross"]
    replace_share: float = 0.2  # share of people who vanish mid-frame and are replaced at that spot
    bodies: bool = True  # a torso in the person's clothing colour below each face
    same_clothes: bool = False  # everyone wears the same dark coat
    textures: int = 0  # still face-like patterns in the scene (no GT rows)
    poster: bool = False  # one real face pasted still for the whole clip (no GT rows)
    screen: bool = False  # a wall screen showing an advert of real faces that move (no GT rows)
    masks: float = 0.0  # share of people wearing a surgical mask (face_worlds.masked)
    sunglasses: float = 0.0  # share of people wearing dark sunglasses (face_worlds.sunglasses)
    pitch: float = 0.0  # degrees a camera mounted high looks down at the faces (face_worlds.from_above)
    sway: float = 0.05  # counter/queue: how far standing people sway (share of their face size)
    alike: bool = False  # a newcomer at a vacated spot: the same gender and about the same age
    returns: float = 0.0  # share of people who are an earlier person coming back (``Person.same_as``)
    away: float = 0.0  # share of standing people who turn away for seconds (no face, body stays)
    spot_gap_s: tuple[float, float] = (0.0, 0.0)  # counter: seconds between one person and the next
    fps: int = 25
    crf: int = 29

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def stream(self) -> str:
        """Key of the preset's random streams (people, scene, noise): its name; an ``alike``, ``away``,
        ``masks``, ``sunglasses``, ``above`` or ``returns`` preset shares its plain preset's
        (``gap_alike``: the counter's), so the two clips differ only in the newcomers' faces, the
        turned-away spells, the time between visits, the masks or sunglasses, the angle faces are seen
        at or the faces of people who return."""
        name = self.name.removesuffix("_masks").removesuffix("_sunglasses").removesuffix("_above")
        name = name.removesuffix("_returns")
        return name.removesuffix("_alike").removesuffix("_away").removesuffix("_gap")


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("walk720", 1280, 720, 30, 34, (24, 160), (5, 14), "walk"),
        Preset("static720", 1280, 720, 30, 30, (40, 160), (0, 1.2), "static"),
        Preset("walk1080", 1920, 1080, 16, 26, (24, 160), (7, 20), "walk"),
        Preset("static1080", 1920, 1080, 16, 20, (40, 160), (0, 1.8), "static"),
        Preset("walk4k", 3840, 2160, 6, 22, (32, 320), (10, 28), "walk", crf=30),
        Preset("walk720_nobody", 1280, 720, 30, 34, (24, 160), (5, 14), "walk", bodies=False),
        Preset("static720_nobody", 1280, 720, 30, 30, (40, 160), (0, 1.2), "static", bodies=False),
        Preset("walk720_sameclothes", 1280, 720, 30, 34, (24, 160), (5, 14), "walk", same_clothes=True),
        Preset("counter720", 1280, 720, 30, 24, (80, 160), (0, 0.3), "counter", same_clothes=True),
        Preset("queue720", 1280, 720, 30, 6, (48, 96), (0, 0.1), "queue"),
        # the queue standing 5x stiller (1% of a face size): breaks the static rule's assumption
        Preset("queue720_still", 1280, 720, 30, 6, (48, 96), (0, 0.1), "queue", sway=0.01),
        Preset("textures720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", textures=6),
        Preset("poster720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", poster=True),
        # walkers plus a wall screen whose advert shows a real face every 3-6 s, drifting and zooming
        Preset("screen720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", screen=True),
        # walkers who pass in front of one another (faces overlap): with and without bodies
        Preset("cross720", 1280, 720, 30, 30, (32, 128), (5, 12), "cross", replace_share=0.0),
        Preset(
            "cross720_nobody", 1280, 720, 30, 30, (32, 128), (5, 12), "cross", replace_share=0.0, bodies=False
        ),
        # a crowd: 120 walkers in 30 s, faces 24-72 px, 15-18 in view at once on average (walk720: 4-5)
        Preset("crowd720", 1280, 720, 30, 120, (24, 72), (4, 10), "walk"),
        Preset("tiny", 320, 240, 2, 3, (40, 60), (3, 6), "walk"),  # for tests
    )
}


def _variant(base: str, suffix: str, **changes: Any) -> Preset:
    """``base`` with ``changes``, named ``base + suffix`` (its random streams are the base's:
    ``Preset.stream``)."""
    return replace(PRESETS[base], name=base + suffix, **changes)


PRESETS.update(
    (p.name, p)
    for p in (
        # newcomers at vacated spots of the same gender and nearest age as the person who left
        _variant("counter720", "_alike", alike=True),
        _variant("walk720_nobody", "_alike", alike=True),
        # standing people who turn away (look down, talk to someone behind) for 2.5-6 s and back
        _variant("queue720", "_away", away=1.0),
        _variant("counter720", "_away", away=1.0),
        _variant("static720", "_away", away=0.5),
        _variant("walk720", "_away", away=0.5),  # walkers who look aside (a shop window) while walking
        # half the people in surgical masks (a pharmacy, a hospital, winter): faces the presets never had
        _variant("walk720", "_masks", masks=0.5),
        _variant("counter720", "_masks", masks=0.5),
        # half the people in dark sunglasses (outdoors, a shop entrance in summer): the eyes hidden,
        # which the identity descriptor and the frontal check both look at
        _variant("walk720", "_sunglasses", sunglasses=0.5),
        _variant("walk720_nobody", "_sunglasses", sunglasses=0.5),
        _variant("counter720", "_sunglasses", sunglasses=0.5),
        _variant("static720_nobody", "_sunglasses", sunglasses=0.5),  # no clothes to disagree
        # people who come back: each person (drawn at 0.4, where someone has left the view 0.5 s or more
        # before) is an earlier person again, its face and clothes (a shop floor, an aisle, a corridor)
        _variant("walk720", "_returns", returns=0.4),
        _variant("static720", "_returns", returns=0.4),
        # a camera mounted high: every face seen 40 degrees from above (a flat warp, an upper bound)
        _variant("walk720", "_above", pitch=40.0),
        _variant("static720", "_above", pitch=40.0),
        # the next person steps up 2.5-8 s after the previous one left (a still track waits 10 s for
        # its person to turn back): the same gender and nearest age, no body below the face; 60 s
        _variant(
            "counter720",
            "_gap_alike",
            seconds=60,
            bodies=False,
            same_clothes=False,
            alike=True,
            spot_gap_s=(2.5, 8.0),
        ),
    )
)


def validation_faces(shared: Path) -> pd.DataFrame:
    """The shipped model's validation faces: columns ``path, age, gender`` (male/female), 2,071 rows."""
    return utkface_split(shared, "val")


def utkface_split(shared: Path, split: str) -> pd.DataFrame:
    """UTKFace faces of the model card's ``split`` (``train`` or ``val``): ``path, age, gender``."""
    from facelog.training import datasets as dsets

    table = dsets.read_utkface(shared / "data" / "utkface")
    train, val = dsets.split_indices(dsets.split_names(table), VAL_FRACTION, SPLIT_SEED)
    sub = table.subset(val if split == "val" else train)
    genders = np.array(dsets.GENDER_LABELS)[sub.labels["gender"]]
    return pd.DataFrame({"path": [str(p) for p in sub.paths], "age": sub.labels["age"], "gender": genders})


def _background(shared: Path, w: int, h: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Background frames (ping-pong loop of the scene clip, each frame held twice: 12.5 -> 25 fps)."""
    texture = cv2.GaussianBlur(rng.normal(0, 7, (h, w, 3)).astype(np.float32), (0, 0), 0.8)
    frames: list[np.ndarray] = []
    cap = cv2.VideoCapture(str(shared / BACKGROUND_CLIP))
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC))
    cap.release()
    if not frames:
        log.warning("%s not found: textured-noise background", shared / BACKGROUND_CLIP)
        base = rng.normal(110, 40, (h // 16 + 1, w // 16 + 1, 3)).astype(np.float32)
        frames = [cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)]
    loop = frames + frames[-2:0:-1]
    return [np.clip(f.astype(np.float32) + texture, 0, 255).astype(np.uint8) for f in loop for _ in (0, 1)]


def _still_sprites(
    preset: Preset, faces: pd.DataFrame, people: list[Person], seed: int
) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """The preset's still patterns and poster: (sprite, mask, x0, y0), from validation faces no person
    of the clip uses; placed in the middle 80% of the frame, not overlapping each other."""
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 2])
    used = {p.face_row for p in people}
    free = [i for i in rng.permutation(len(faces)) if i not in used]
    out: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    boxes: list[tuple[int, int, int]] = []
    kinds = ["texture"] * preset.textures + (["poster"] if preset.poster else [])
    for kind in kinds:
        side = round(rng.uniform(48, 96) if kind == "texture" else rng.uniform(70, 110))
        for _ in range(50):
            x0 = int(rng.uniform(0.1, 0.9) * preset.width - side / 2)
            y0 = int(rng.uniform(0.1, 0.9) * preset.height - side / 2)
            if all(
                abs(x0 - x) > (side + s) / 2 + 10 or abs(y0 - y) > (side + s) / 2 + 10 for x, y, s in boxes
            ):
                break
        boxes.append((x0, y0, side))
        img = cv2.resize(_read_face(faces.path.iloc[free.pop()]), (side, side), interpolation=cv2.INTER_AREA)
        chip: np.ndarray = img.astype(np.float32)
        if kind == "texture":  # face-like, but no face: upside down, blurred, faded towards grey
            chip = cv2.GaussianBlur(chip[::-1], (0, 0), side / 40)
            chip = 128 + 0.6 * (chip - 128)
        out.append((chip, _mask(side)[..., None], x0, y0))
    return out


@dataclass(frozen=True)
class _Slide:
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


def _screen_slides(preset: Preset, faces: pd.DataFrame, people: list[Person], seed: int) -> list[_Slide]:
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
        chip = _read_face(faces.path.iloc[free.pop()]).astype(np.float32)
        slides.append(_Slide(chip, f, f + n, side0, side1, c0, c1, (backdrop[0], backdrop[1], backdrop[2])))
        f += n + round(0.5 * preset.fps)
    return slides


def _draw_screen(frame: np.ndarray, slides: list[_Slide], f: int) -> None:
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
    _paste(screen, bright, _mask(side)[..., None], round(cx - side / 2), round(cy - side / 2))


def _mask(side: int) -> np.ndarray:
    """Feathered ellipse over the chip, (side, side) float32 in 0..1.

    It keeps the hair at the sides (the model reads gender from it too) and fades the chip's corners.
    """
    m = np.zeros((side, side), np.float32)
    axes = (round(side * MASK_AXES[0]), round(side * MASK_AXES[1]))
    cv2.ellipse(m, (side // 2, side // 2), axes, 0, 0, 360, 1.0, -1)
    k = max(3, round(side * MASK_FEATHER) | 1)
    return cv2.GaussianBlur(m, (k, k), 0)


def _motion_kernel(length_px: float, angle_rad: float) -> np.ndarray | None:
    n = round(length_px)
    if n < 2:
        return None
    k = np.zeros((n | 1, n | 1), np.float32)
    c = (n | 1) // 2
    dx, dy = np.cos(angle_rad) * (n / 2), np.sin(angle_rad) * (n / 2)
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / k.sum()


class _ChipCache:
    """One person's chip and mask, processed (size, blur, gain) once per side length."""

    def __init__(self, person: Person, image: np.ndarray) -> None:
        self.p = person
        self.image = image
        self.cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, side: int, blur_px: float) -> tuple[np.ndarray, np.ndarray]:
        key = (side, round(blur_px))
        if key not in self.cache:
            p = self.p
            chip: np.ndarray = cv2.resize(self.image, (side, side), interpolation=cv2.INTER_AREA)
            chip = chip.astype(np.float32)
            mask: np.ndarray = _mask(side)
            if p.defocus_px > 0.3:
                chip = cv2.GaussianBlur(chip, (0, 0), p.defocus_px)
            kern = _motion_kernel(key[1], float(np.arctan2(p.velocity[1], p.velocity[0])))
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
            kern = _motion_kernel(key[1], float(np.arctan2(p.velocity[1], p.velocity[0])))
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
            self.cache[key] = (hair + texture, _mask(side)[..., None])
        return self.cache[key]


def _paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
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


def _paste_body(frame: np.ndarray, chips: _ChipCache, blur: float, side: int, x0: int, y0: int) -> None:
    """A person's torso below the face chip pasted at (x0, y0) with this side."""
    body, mask = chips.body(side, blur)
    _paste(frame, body, mask, x0 + side // 2 - body.shape[1] // 2, y0 + round(0.8 * side))


def _paste_face(frame: np.ndarray, chips: _ChipCache, blur: float, side: int, x0: int, y0: int) -> None:
    """A person's face chip pasted at (x0, y0) with this side."""
    chip, mask = chips.get(side, blur)
    _paste(frame, chip, mask, x0, y0)


def _face_box(x0: int, y0: int, side: int) -> tuple[float, float, float, float]:
    """The GT face box (unclipped) of a chip pasted at (x0, y0) with this side."""
    return (x0 + GT_BOX_IN_CHIP[0] * side, y0 + GT_BOX_IN_CHIP[1] * side,
            x0 + GT_BOX_IN_CHIP[2] * side, y0 + GT_BOX_IN_CHIP[3] * side)  # fmt: skip


def _hidden_share(
    box: tuple[float, float, float, float], front: list[tuple[Person, int, int, int, int]], bodies: bool
) -> float:
    """Share of ``box`` covered by the people pasted after it (their face boxes and torsos), on a
    24 x 24 grid of points."""
    xs = np.linspace(box[0], box[2], 24)[None, :]
    ys = np.linspace(box[1], box[3], 24)[:, None]
    covered = np.zeros((24, 24), bool)
    for _, _, side, x0, y0 in front:
        fx1, fy1, fx2, fy2 = _face_box(x0, y0, side)
        covered |= (xs >= fx1) & (xs <= fx2) & (ys >= fy1) & (ys <= fy2)
        if bodies:  # the torso below the face (``_ChipCache.body``): 1.9 chip sides wide
            cx, top = x0 + side / 2, y0 + 1.25 * side
            covered |= (np.abs(xs - cx) <= 0.95 * side) & (ys >= top)
    return float(covered.mean())


def _gt_rows(
    p: Person, f: int, x0: int, y0: int, side: int, w: int, h: int, hidden: float | None = None
) -> list[tuple[object, ...]]:
    """The person's GT row in frame ``f`` (none when the box is outside the frame); ``hidden``: the
    ``occluded`` column of ``cross`` presets."""
    bx1, by1, bx2, by2 = _face_box(x0, y0, side)
    cx1, cy1, cx2, cy2 = max(bx1, 0), max(by1, 0), min(bx2, w), min(by2, h)
    if cx2 - cx1 < 1 or cy2 - cy1 < 1:
        return []
    box = (round(cx1, 1), round(cy1, 1), round(cx2, 1), round(cy2, 1))
    row = (f, p.person_id, *box, p.age, p.gender, round(bx2 - bx1))
    return [row if hidden is None else (*row, round(hidden, 3))]


WORLD_STREAMS = {"masks": 11, "sunglasses": 13}  # the random stream that draws who wears what


def wears(seed: int, person_id: int, world: str, share: float) -> bool:
    """Whether person ``person_id`` of a clip of ``seed`` wears a mask or sunglasses (``world``), at
    ``share`` of the people (``Preset.masks``, ``Preset.sunglasses``); also read by ``masked_rows.py``."""
    return bool(np.random.default_rng([seed, person_id, WORLD_STREAMS[world]]).random() < share)


_Masking = tuple[np.ndarray | None, cv2.FaceDetectorYN]  # the mask texture, YuNet for the chips


def _masking(shared: Path, masks: bool) -> _Masking:
    """What ``face_worlds.masked`` (``masks``) and ``face_worlds.sunglasses`` need, loaded once per clip."""
    cloth = cv2.imread(str(Path(shared) / MASK_FILE)) if masks else None
    if masks and cloth is None:
        raise SynthError(f"mask texture not found: {Path(shared) / MASK_FILE}")
    return cloth, cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (200, 200), 0.5)


def _face_image(
    preset: Preset, p: Person, faces: pd.DataFrame, masking: _Masking | None, seed: int
) -> np.ndarray:
    """The person's chip as the preset shows it: in a mask or sunglasses (``Preset.masks``,
    ``Preset.sunglasses`` of the people, drawn per person, with ``masking``) or seen from above
    (``Preset.pitch``)."""
    chip = _read_face(faces.path.iloc[p.face_row])
    if masking is not None:
        cloth, on_chip = masking
        on_chip.setInputSize((chip.shape[1], chip.shape[0]))
        # a face YuNet finds no landmarks on (about 1 in 1,000) goes without
        covered = None
        if cloth is not None and wears(seed, p.person_id, "masks", preset.masks):
            covered = masked(chip, cloth, on_chip)
        elif wears(seed, p.person_id, "sunglasses", preset.sunglasses):
            covered = sunglasses(chip, on_chip)
        chip = chip if covered is None else covered
    if preset.pitch:
        chip = from_above(chip, preset.pitch)
    return chip


def _read_face(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SynthError(f"cannot read face image {path}")
    return img


def _encoder(path: Path, preset: Preset) -> subprocess.Popen[bytes]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SynthError("the ffmpeg binary is not on PATH (Debian: apt-get install ffmpeg)")
    cmd = [
        ffmpeg,
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-s",
        f"{preset.width}x{preset.height}",
        "-r",
        str(preset.fps),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(preset.crf),
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "2",
        "-f",
        "mp4",
        str(path),
    ]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE)


def _render(
    preset: Preset, people: list[Person], faces: pd.DataFrame, shared: Path, seed: int, mp4_tmp: Path
) -> list[tuple[object, ...]]:
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 1])
    w, h = preset.width, preset.height
    background = _background(shared, w, h, rng)
    noise = [rng.normal(0, 2.5, (h, w, 3)).astype(np.int16) for _ in range(4)]
    masking = _masking(shared, preset.masks > 0) if preset.masks or preset.sunglasses else None
    chips = {p.person_id: _ChipCache(p, _face_image(preset, p, faces, masking, seed)) for p in people}
    stills = _still_sprites(preset, faces, people, seed)
    slides = _screen_slides(preset, faces, people, seed)
    rows: list[tuple[object, ...]] = []
    enc = _encoder(mp4_tmp, preset)
    assert enc.stdin is not None
    try:
        for f in range(preset.frames):
            frame = background[f % len(background)].copy()
            for sprite, smask, sx, sy in stills:
                _paste(frame, sprite, smask, sx, sy)
            if slides:
                _draw_screen(frame, slides, f)
            visible = [(p, f - p.first_frame) for p in people if 0 <= f - p.first_frame < len(p.path)]
            placed = []
            for p, k in visible:
                cx, cy, face_px = p.path[k]
                side = max(8, round(face_px / GT_BOX_W))
                placed.append((p, k, side, round(cx - side / 2), round(cy - side / 2)))
            if preset.mode == "cross":  # far to near (small to large): a nearer person hides the other
                placed.sort(key=lambda item: item[2])
                for i, (p, k, side, x0, y0) in enumerate(placed):
                    if preset.bodies:
                        _paste_body(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                    _paste_face(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                    hidden = _hidden_share(_face_box(x0, y0, side), placed[i + 1 :], preset.bodies)
                    rows.extend(_gt_rows(p, f, x0, y0, side, w, h, hidden))
            else:
                if preset.bodies:  # all bodies first: a face is never covered by someone's body
                    for p, k, side, x0, y0 in placed:
                        _paste_body(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                for p, k, side, x0, y0 in placed:
                    if p.turned_away(k):  # the back of the head: no face to find, no GT row
                        back, bmask = chips[p.person_id].back(side)
                        _paste(frame, back, bmask, x0, y0)
                        continue
                    _paste_face(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                    rows.extend(_gt_rows(p, f, x0, y0, side, w, h))
            out = np.clip(frame.astype(np.int16) + noise[int(rng.integers(len(noise)))], 0, 255)
            enc.stdin.write(out.astype(np.uint8).tobytes())
    finally:
        enc.stdin.close()
        rc = enc.wait()
    if rc != 0:
        raise SynthError(f"ffmpeg failed with exit status {rc} writing {mp4_tmp}")
    return rows


def make_clip(
    out_dir: str | Path, preset: str, seed: int = 0, shared: str | Path = SHARED
) -> tuple[Path, Path]:
    """Render one preset to ``out_dir/NAME.mp4`` and ``out_dir/NAME.gt.csv`` (both written atomically).

    Args:
        out_dir: output folder (created).
        preset: a key of ``PRESETS``.
        seed: the same seed gives the same people, paths and frames.
        shared: the ``../shared`` folder (UTKFace, the background clip).

    Returns:
        (mp4 path, GT CSV path).

    Raises:
        SynthError: unknown preset, missing UTKFace or ffmpeg, or ffmpeg failed.
    """
    if preset not in PRESETS:
        raise SynthError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    p, shared, out = PRESETS[preset], Path(shared), Path(out_dir)
    if not (shared / "data" / "utkface").is_dir():
        raise SynthError(f"UTKFace not found under {shared / 'data' / 'utkface'}")
    faces = validation_faces(shared)
    people = plan_people(p, faces, seed)
    out.mkdir(parents=True, exist_ok=True)
    mp4, gt = out / f"{preset}.mp4", out / f"{preset}.gt.csv"
    mp4_tmp, gt_tmp = out / f".{preset}.tmp.mp4", out / f".{preset}.gt.tmp.csv"
    rows = _render(p, people, faces, shared, seed, mp4_tmp)
    columns = [*GT_COLUMNS, "occluded"] if p.mode == "cross" else list(GT_COLUMNS)
    pd.DataFrame(rows, columns=columns).to_csv(gt_tmp, index=False)
    os.replace(mp4_tmp, mp4)
    os.replace(gt_tmp, gt)
    log.info("%s: %d frames, %d people, %d GT rows -> %s", preset, p.frames, len(people), len(rows), mp4)
    return mp4, gt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared", type=Path, default=SHARED, help="the ../shared folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        mp4, gt = make_clip(args.out, args.preset, args.seed, args.shared)
    except SynthError as e:
        log.error("%s", e)
        return 2
    print(mp4)
    print(gt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
