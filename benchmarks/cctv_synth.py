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

Presets: ``cctv_presets.py`` (``PRESETS``), each a ``Preset``; what each is made for is said there.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GT_BOX_IN_CHIP, GT_BOX_W, GT_COLUMNS, SHARED, temp_beside
from cctv_people import Person, plan_people
from cctv_presets import PRESETS, Preset
from cctv_sprites import (
    ChipCache,
    SynthError,
    chip_mask,
    draw_screen,
    paste,
    paste_body,
    paste_face,
    read_face,
    screen_slides,
)
from face_worlds import MASK_FILE, from_above, masked, sunglasses, turned_box

from facelog.pipeline.weights import YUNET_PATH

log = logging.getLogger("cctv_synth")

SPLIT_SEED = 1234  # the shipped model's split (configs/train_utkface.yaml)
VAL_FRACTION = 0.1
BACKGROUND_CLIP = Path("data/videos/people-detection.mp4")


def validation_faces(shared: Path) -> pd.DataFrame:
    """The shipped model's validation faces: columns ``path, age, gender`` (male/female), ``race``
    (UTKFace's label, -1 where the file name has none), 2,071 rows."""
    return utkface_split(shared, "val")


def utkface_split(shared: Path, split: str) -> pd.DataFrame:
    """UTKFace faces of the model card's ``split`` (``train`` or ``val``): ``path, age, gender, race``."""
    from facelog.training import datasets as dsets

    table = dsets.read_utkface(shared / "data" / "utkface")
    train, val = dsets.split_indices(dsets.split_names(table), VAL_FRACTION, SPLIT_SEED)
    sub = table.subset(val if split == "val" else train)
    genders = np.array(dsets.GENDER_LABELS)[sub.labels["gender"]]
    return pd.DataFrame(
        {
            "path": [str(p) for p in sub.paths],
            "age": sub.labels["age"],
            "gender": genders,
            "race": _races(sub.paths),
        }
    )


def _races(paths: tuple[Path, ...]) -> np.ndarray:
    """UTKFace's race label of each file, from its name (``AGE_GENDER_RACE_...``); -1 where none."""
    fields = [p.name.split("_") for p in paths]
    return np.array([int(f[2]) if len(f) > 3 and f[2].isdigit() else -1 for f in fields], np.int64)


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
        img = cv2.resize(read_face(faces.path.iloc[free.pop()]), (side, side), interpolation=cv2.INTER_AREA)
        chip: np.ndarray = img.astype(np.float32)
        if kind == "texture":  # face-like, but no face: upside down, blurred, faded towards grey
            chip = cv2.GaussianBlur(chip[::-1], (0, 0), side / 40)
            chip = 128 + 0.6 * (chip - 128)
        out.append((chip, chip_mask(side)[..., None], x0, y0))
    return out


def _print_chips(
    preset: Preset, faces: pd.DataFrame, people: list[Person], seed: int
) -> dict[int, ChipCache]:
    """The shirt prints of the people who wear one (``Preset.prints``): a validation face no person of
    the clip has, in the wearer's light and motion blur (``ChipCache`` of the wearer)."""
    if not (preset.prints and preset.bodies):
        return {}
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 6])
    used = {p.face_row for p in people}
    free = [int(i) for i in rng.permutation(len(faces)) if i not in used]
    return {
        p.person_id: ChipCache(p, read_face(faces.path.iloc[free.pop()]))
        for p in people
        if wears(seed, p.person_id, "prints", preset.prints)
    }


def _paste_print(
    frame: np.ndarray, prints: dict[int, ChipCache], p: Person, k: int, side: int, x0: int, y0: int
) -> None:
    """Person ``p``'s shirt print, if it wears one, on its torso (``PRINT_SIDE``, ``PRINT_TOP``)."""
    cache = prints.get(p.person_id)
    if cache is not None:
        ps = max(8, round(PRINT_SIDE * side))
        chip, mask = cache.get(ps, p.blur_px(k))
        paste(frame, chip, mask, x0 + side // 2 - ps // 2, y0 + round(PRINT_TOP * side))


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
        if bodies:  # the torso below the face (``ChipCache.body``): 1.9 chip sides wide
            cx, top = x0 + side / 2, y0 + 1.25 * side
            covered |= (np.abs(xs - cx) <= 0.95 * side) & (ys >= top)
    return float(covered.mean())


def _gt_rows(
    p: Person,
    f: int,
    x0: int,
    y0: int,
    side: int,
    w: int,
    h: int,
    hidden: float | None = None,
    yaw: float = 0.0,
) -> list[tuple[object, ...]]:
    """The person's GT row in frame ``f`` (none when the box is outside the frame); ``hidden``: the
    ``occluded`` column of presets whose faces overlap (``Preset.overlapping``); ``yaw``: the head's
    turn (``Preset.head_turn``), which moves the box where the detector finds the face
    (``face_worlds.turned_box``; ``face_px`` stays the chip's)."""
    bx1, by1, bx2, by2 = _face_box(x0, y0, side)
    face_px = round(bx2 - bx1)
    bx1, bx2 = turned_box(bx1, bx2, yaw)
    cx1, cy1, cx2, cy2 = max(bx1, 0), max(by1, 0), min(bx2, w), min(by2, h)
    if cx2 - cx1 < 1 or cy2 - cy1 < 1:
        return []
    box = (round(cx1, 1), round(cy1, 1), round(cx2, 1), round(cy2, 1))
    row = (f, p.person_id, *box, p.age, p.gender, face_px)
    return [row if hidden is None else (*row, round(hidden, 3))]


# the random stream that draws who wears what, and how each person's head moves
WORLD_STREAMS = {"masks": 11, "sunglasses": 13, "prints": 17, "heads": 19}
HEAD_STEP = (3, 2)  # a head's yaw and roll are drawn to whole multiples of these degrees (a chip cache)
PRINT_SIDE = 0.8  # a shirt print's chip side, in its wearer's chip sides (the printed face ~0.8x theirs)
PRINT_TOP = 1.5  # ... its top below the wearer's chip top, in chip sides (the torso starts at 1.25)


def wears(seed: int, person_id: int, world: str, share: float) -> bool:
    """Whether person ``person_id`` of a clip of ``seed`` wears a mask, sunglasses or a shirt print
    (``world``), at ``share`` of the people (``Preset.masks``, ``Preset.sunglasses``, ``Preset.prints``);
    also read by ``masked_rows.py``."""
    return bool(np.random.default_rng([seed, person_id, WORLD_STREAMS[world]]).random() < share)


class HeadPoses:
    """How one person's head moves (``Preset.head_turn``): the yaw swings up to ``turn`` degrees (a
    share 0.6-1.0 of it, drawn per person) to each side and back every 2-5 s, the roll up to a third of
    that with a period of its own; each drawn from the clip's seed and the person's id alone."""

    def __init__(self, seed: int, person_id: int, turn: float) -> None:
        rng = np.random.default_rng([seed, person_id, WORLD_STREAMS["heads"]])
        self.yaw = turn * float(rng.uniform(0.6, 1.0))
        self.yaw_period, self.yaw_phase = float(rng.uniform(50, 125)), float(rng.uniform(0, 2 * np.pi))
        self.roll = self.yaw / 3
        self.roll_period, self.roll_phase = float(rng.uniform(60, 150)), float(rng.uniform(0, 2 * np.pi))

    def at(self, k: int) -> tuple[int, int]:
        """(yaw, roll) degrees in the person's ``k``-th frame, to ``HEAD_STEP``."""
        yaw = self.yaw * np.sin(2 * np.pi * k / self.yaw_period + self.yaw_phase)
        roll = self.roll * np.sin(2 * np.pi * k / self.roll_period + self.roll_phase)
        return HEAD_STEP[0] * round(yaw / HEAD_STEP[0]), HEAD_STEP[1] * round(roll / HEAD_STEP[1])


def head_poses(preset: Preset, people: list[Person], seed: int) -> dict[int, HeadPoses]:
    """Each person's ``HeadPoses`` where the preset turns heads (``Preset.head_turn``), else none."""
    if not preset.head_turn:
        return {}
    return {p.person_id: HeadPoses(seed, p.person_id, preset.head_turn) for p in people}


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
    chip = read_face(faces.path.iloc[p.face_row])
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
    chips = {p.person_id: ChipCache(p, _face_image(preset, p, faces, masking, seed)) for p in people}
    stills = _still_sprites(preset, faces, people, seed)
    slides = screen_slides(preset, faces, people, seed)
    prints = _print_chips(preset, faces, people, seed)
    heads = head_poses(preset, people, seed)

    def pose(p: Person, k: int) -> tuple[int, int]:
        return heads[p.person_id].at(k) if heads else (0, 0)

    rows: list[tuple[object, ...]] = []
    enc = _encoder(mp4_tmp, preset)
    assert enc.stdin is not None
    try:
        for f in range(preset.frames):
            frame = background[f % len(background)].copy()
            for sprite, smask, sx, sy in stills:
                paste(frame, sprite, smask, sx, sy)
            if slides:
                draw_screen(frame, slides, f)
            visible = [(p, f - p.first_frame) for p in people if 0 <= f - p.first_frame < len(p.path)]
            placed = []
            for p, k in visible:
                cx, cy, face_px = p.path[k]
                side = max(8, round(face_px / GT_BOX_W))
                placed.append((p, k, side, round(cx - side / 2), round(cy - side / 2)))
            if preset.overlapping:  # far to near (small to large): a nearer person hides the other
                placed.sort(key=lambda item: item[2])
                for i, (p, k, side, x0, y0) in enumerate(placed):
                    if preset.bodies:
                        paste_body(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                        _paste_print(frame, prints, p, k, side, x0, y0)
                    head = pose(p, k)
                    paste_face(frame, chips[p.person_id], p.blur_px(k), side, x0, y0, head)
                    hidden = _hidden_share(_face_box(x0, y0, side), placed[i + 1 :], preset.bodies)
                    rows.extend(_gt_rows(p, f, x0, y0, side, w, h, hidden, head[0]))
            else:
                if preset.bodies:  # all bodies first: a face is never covered by someone's body
                    for p, k, side, x0, y0 in placed:
                        paste_body(frame, chips[p.person_id], p.blur_px(k), side, x0, y0)
                        _paste_print(frame, prints, p, k, side, x0, y0)
                for p, k, side, x0, y0 in placed:
                    if p.turned_away(k):  # the back of the head: no face to find, no GT row
                        back, bmask = chips[p.person_id].back(side)
                        paste(frame, back, bmask, x0, y0)
                        continue
                    head = pose(p, k)
                    paste_face(frame, chips[p.person_id], p.blur_px(k), side, x0, y0, head)
                    rows.extend(_gt_rows(p, f, x0, y0, side, w, h, yaw=head[0]))
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
    mp4_tmp, gt_tmp = temp_beside(mp4), temp_beside(gt)
    try:
        rows = _render(p, people, faces, shared, seed, mp4_tmp)
        columns = [*GT_COLUMNS, "occluded"] if p.overlapping else list(GT_COLUMNS)
        pd.DataFrame(rows, columns=columns).to_csv(gt_tmp, index=False)
        os.replace(mp4_tmp, mp4)  # the clip first: a reader takes both only once the GT is there too
        os.replace(gt_tmp, gt)
    finally:
        mp4_tmp.unlink(missing_ok=True)
        gt_tmp.unlink(missing_ok=True)
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
