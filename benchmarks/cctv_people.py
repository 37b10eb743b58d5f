"""Who appears where in a synthetic CCTV clip: seeded paths for ``cctv_synth`` (no pixels here).

A path is (frames, 3) float64: centre x, centre y of the pasted chip and the GT face width (px) per
frame from ``Person.first_frame`` on. Faces of different people never overlap (chip squares), except
in ``cross`` presets, where walkers pass in front of one another, and in groups that walk close
(``Preset.overlapping``), where one member is partly behind another.
"""

from __future__ import annotations

import itertools
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import GT_BOX_W
from cctv_presets import POPULATIONS

if TYPE_CHECKING:
    from cctv_presets import Preset

MAX_TRIES = 40
TOWARD_CAMERA_SHARE = 0.2  # walkers who come down the frame toward the camera and grow
# Shutter open for this share of the frame interval (1/250 .. 1/62 s at 25 fps): mean motion blur length.
EXPOSURE_SHARE = (0.1, 0.4)
# Clothing colours (BGR), dark and grey ones over-represented as in real crowds: two people at one
# spot may well wear the same colour.
CLOTHES_BGR = (
    (25, 25, 25), (35, 35, 40), (60, 60, 60), (110, 110, 110), (200, 200, 200), (90, 50, 30),
    (140, 90, 50), (50, 50, 150), (60, 110, 60), (150, 170, 190), (40, 70, 110), (30, 30, 30),
)  # fmt: skip
ARRIVAL_SPAN = (-0.15, 0.85)  # arrivals, as shares of the clip (< 0: in view when it starts)
VANISH_SHARE = 0.3  # expected replacements per arrival at replace_share 0.2 (1.5 x share, capped by length)


@dataclass(frozen=True, eq=False)
class Person:
    """One person (one validation face) and its path and look."""

    person_id: int
    face_row: int  # row of the validation table
    age: float
    gender: str
    first_frame: int
    path: np.ndarray  # (n, 3) cx, cy, face_px
    velocity: tuple[float, float]  # px per frame, for the motion blur direction
    defocus_px: float
    motion_blur_px: float  # mean motion blur length; per frame see ``blur_px``
    blur_period: float  # frames: the blur length swings 0.3x..1.3x (exposure, gait) with this period
    blur_phase: float
    gain: float
    tint: tuple[float, float, float]
    clothes: tuple[float, float, float]  # BGR colour of the torso below the face
    replaces: int | None = None  # person_id of the person whose spot this one took
    same_as: int | None = None  # person_id of this person's first visit (``Preset.returns``)
    away: tuple[tuple[int, int], ...] = ()  # (first, end) of the person's frames turned away: no face

    def turned_away(self, k: int) -> bool:
        """Whether the person shows the back of the head in its ``k``-th frame (``Preset.away``)."""
        return any(a <= k < b for a, b in self.away)

    def blur_px(self, k: int) -> float:
        """Motion blur length (px) in the person's ``k``-th frame: some frames are sharp, some smeared."""
        return self.motion_blur_px * (
            0.8 + 0.5 * float(np.sin(2 * np.pi * k / self.blur_period + self.blur_phase))
        )


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _inside(cx: float, cy: float, face_px: float, w: int, h: int) -> bool:
    half = face_px / GT_BOX_W / 2
    return cx + half > 0 and cx - half < w and cy + half > 0 and cy - half < h


def _roll(
    start: tuple[float, float],
    vel: tuple[float, float],
    size: tuple[float, float],
    sway: tuple[float, float],
    n_max: int,
    w: int,
    h: int,
) -> np.ndarray:
    """Move from ``start`` at ``vel`` with size going size[0] -> size[1] over ``n_max`` frames, plus a
    vertical sway (amplitude as share of the size, period in frames); stop when the face leaves."""
    rows = []
    entered = False
    for k in range(n_max):
        s = size[0] + (size[1] - size[0]) * k / max(n_max - 1, 1)
        cx = start[0] + vel[0] * k
        cy = start[1] + vel[1] * k + sway[0] * s * np.sin(2 * np.pi * k / sway[1])
        if _inside(cx, cy, s, w, h):
            entered = True
            rows.append((cx, cy, s))
        elif entered:
            break
    return np.array(rows, np.float64).reshape(-1, 3)


def _walk(
    preset: Preset, rng: np.random.Generator, n_max: int, at: tuple[float, float, float] | None
) -> tuple[np.ndarray, tuple[float, float]]:
    w, h = preset.width, preset.height
    lo, hi = preset.face_px
    speed = rng.uniform(*preset.speed_px)
    sway = (0.03, rng.uniform(10, 16))
    if at is None and rng.random() < TOWARD_CAMERA_SHARE:
        s0 = _loguniform(rng, lo, max(lo, hi / 1.6))
        vel = (rng.uniform(-0.3, 0.3) * speed, speed)
        start = (rng.uniform(0.2, 0.8) * w, -s0 / GT_BOX_W / 2 + 1)
        growth = 0.6 * s0 / ((h + 2.4 * s0) / speed)  # 1.6x bigger by the time it leaves
        return _roll(start, vel, (s0, s0 + growth * (n_max - 1)), sway, n_max, w, h), vel
    direction = 1.0 if rng.random() < 0.5 else -1.0
    vel = (direction * speed, rng.uniform(-0.12, 0.12) * speed)
    if at is None:
        s0 = _loguniform(rng, lo, hi)
        half = s0 / GT_BOX_W / 2
        start = (-half + 1 if direction > 0 else w + half - 1, rng.uniform(0.15, 0.85) * h)
    else:
        s0 = float(np.clip(at[2] * rng.uniform(0.9, 1.1), lo, hi))
        start = (at[0], at[1])
    return _roll(start, vel, (s0, s0 * rng.uniform(0.85, 1.15)), sway, n_max, w, h), vel


def _static(
    preset: Preset, rng: np.random.Generator, n_max: int, at: tuple[float, float, float] | None
) -> tuple[np.ndarray, tuple[float, float]]:
    w, h = preset.width, preset.height
    lo, hi = preset.face_px
    n = min(n_max, round(rng.uniform(3, 10) * preset.fps))
    s0 = _loguniform(rng, lo, hi) if at is None else float(np.clip(at[2] * rng.uniform(0.9, 1.1), lo, hi))
    half = s0 / GT_BOX_W / 2
    if at is None:
        at = (rng.uniform(half, w - half), rng.uniform(half, h - half), s0)
    angle = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(*preset.speed_px)
    vel = (float(np.cos(angle) * speed), float(np.sin(angle) * speed))
    k = np.arange(n)
    period = rng.uniform(2, 4) * preset.fps
    cx = np.clip(at[0] + vel[0] * k + 0.05 * s0 * np.sin(2 * np.pi * k / period), half, w - half)
    cy = np.clip(at[1] + vel[1] * k + 0.03 * s0 * np.cos(2 * np.pi * k / period), half, h - half)
    size = s0 * (1 + 0.05 * np.sin(2 * np.pi * k / (2 * period)))
    return np.stack([cx, cy, size], axis=1), vel


def _overlaps(first: int, path: np.ndarray, people: list[Person]) -> bool:
    """Whether the chip squares of ``path`` touch any placed person's in a shared frame."""
    for q in people:
        a0, a1 = max(first, q.first_frame), min(first + len(path), q.first_frame + len(q.path))
        if a1 <= a0:
            continue
        pa = path[a0 - first : a1 - first]
        pb = q.path[a0 - q.first_frame : a1 - q.first_frame]
        half = (pa[:, 2] + pb[:, 2]) / GT_BOX_W / 2 * 1.05
        if np.any((np.abs(pa[:, 0] - pb[:, 0]) < half) & (np.abs(pa[:, 1] - pb[:, 1]) < half)):
            return True
    return False


SAME_COAT_BGR = (35, 35, 40)  # the one coat of ``Preset.same_clothes``


def _look(rng: np.random.Generator, vel: tuple[float, float], same_clothes: bool = False) -> dict[str, Any]:
    tint = 1 + rng.normal(0, 0.05, 3)
    colour = SAME_COAT_BGR if same_clothes else CLOTHES_BGR[int(rng.integers(len(CLOTHES_BGR)))]
    clothes = np.clip(np.array(colour) + rng.normal(0, 3 if same_clothes else 12, 3), 0, 255)
    return {
        "clothes": (float(clothes[0]), float(clothes[1]), float(clothes[2])),
        "defocus_px": float(rng.uniform(0, 0.8)),
        "motion_blur_px": float(np.hypot(*vel) * rng.uniform(*EXPOSURE_SHARE)),
        "blur_period": float(rng.uniform(15, 40)),
        "blur_phase": float(rng.uniform(0, 2 * np.pi)),
        "gain": float(rng.uniform(0.65, 1.25)),
        "tint": (float(tint[0]), float(tint[1]), float(tint[2])),
    }


def _try_place(
    preset: Preset,
    rng: np.random.Generator,
    people: list[Person],
    first: int,
    at: tuple[float, float, float] | None,
) -> tuple[int, np.ndarray, tuple[float, float]] | None:
    """A path from frame ``first`` (< 0: the person is already there when the clip starts)."""
    make = _walk if preset.mode == "walk" else _static
    for _ in range(MAX_TRIES):
        path, vel = make(preset, rng, preset.frames - first, at)
        start = first
        if first < 0:  # rows before frame 0 are dropped (a path starts when the face is in view)
            path, start = path[-first:], 0
        if len(path) >= 8 and not _overlaps(start, path, people):
            return start, path, vel
    return None


def plan_people(preset: Preset, faces: pd.DataFrame, seed: int) -> list[Person]:
    """Seeded people of one clip: paths, looks, and which validation face each one is.

    Args:
        preset: the clip's preset.
        faces: validation faces (``path, age, gender``), one per person at most.
        seed: random seed.

    Returns:
        People in order of appearance; ``person_id`` 0..n-1; at most ``preset.people``.
    """
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode())])  # presets get different faces
    if preset.people > len(faces):
        raise ValueError(f"preset {preset.name} wants {preset.people} people, only {len(faces)} faces")
    face_rows = rng.permutation(len(faces))[: preset.people]
    pool = _population(preset, faces)
    if pool is not None:  # the plain preset's draws above, then faces of the group from a stream of their own
        face_rows = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 6]).permutation(pool)
        face_rows = face_rows[: preset.people]
    people: list[Person] = []
    if preset.mode in ("counter", "queue"):
        people = _line_up(preset, rng, faces, face_rows, seed)
        max_gap = round(preset.spot_gap_s[1] * preset.fps) + 5
        people = _turn_away(preset, _alike(preset, _link_replacements(people, max_gap), faces), seed)
        return _returns(preset, people, seed)
    if preset.mode == "cross":
        return _alike(preset, _cross(preset, rng, faces, face_rows), faces)
    if preset.mode == "group":
        return _groups(preset, rng, faces, face_rows)
    # Arrivals spread over the clip: about people / (1 + vanish share) arrivals, placed in random
    # order (so running out of people drops random ones, not the last ones), then extra arrivals
    # until the count is reached. Each arrival may bring replacements.
    n_first = max(1, round(preset.people / (1 + VANISH_SHARE * preset.replace_share / 0.2)))
    firsts = rng.uniform(*ARRIVAL_SPAN, n_first) * preset.frames
    extras = rng.uniform(*ARRIVAL_SPAN, preset.people * 4) * preset.frames
    for first in np.concatenate([firsts, extras]):
        if len(people) >= preset.people:
            break
        _arrive(preset, rng, people, int(first), faces, face_rows)
    people.sort(key=lambda q: q.first_frame)
    people = [replace(q, person_id=i) for i, q in enumerate(people)]
    return _returns(preset, _turn_away(preset, _alike(preset, _link_replacements(people), faces), seed), seed)


RETURN_MIN_GAP_S = 0.5  # a person comes back at least this long after their last visit left the view


def _returns(preset: Preset, people: list[Person], seed: int) -> list[Person]:
    """``Preset.returns``: that share of the people (drawn per person; not a newcomer at a vacated
    spot) is an earlier person coming back: the face, age, gender and clothes of a person drawn among
    those none of whose visits is in view within ``RETURN_MIN_GAP_S`` of this one's arrival, with
    ``same_as`` set to that person's first visit. Everything else (path, light, blur) stays this
    person's, so the clip differs from the preset without returns only in those faces and clothes; the
    GT keeps one ``person_id`` per visit. Drawn from a stream of their own."""
    if not preset.returns:
        return people
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 5])
    min_gap = round(RETURN_MIN_GAP_S * preset.fps)
    out: list[Person] = []
    for p in people:  # in order of appearance: person_id is the index in ``out``
        draw, pick = rng.random(), rng.random()  # fixed draws per person
        if draw < preset.returns and p.replaces is None:
            visits: dict[int, list[Person]] = {}
            for q in out:
                visits.setdefault(q.person_id if q.same_as is None else q.same_as, []).append(q)
            gone = [
                first for first, vs in visits.items()
                if all(v.first_frame + len(v.path) + min_gap <= p.first_frame for v in vs)
            ]  # fmt: skip
            if gone:
                q = out[gone[int(pick * len(gone))]]
                same = {"face_row": q.face_row, "age": q.age, "gender": q.gender, "clothes": q.clothes}
                p = replace(p, **same, same_as=q.person_id)
        out.append(p)
    return out


AWAY_S = (2.5, 6.0)  # how long a person who turns away shows the back of the head (at most)
AWAY_MARGIN_S = 1.0  # the face is seen at least this long before and after each spell
AWAY_EVERY_S = 12.0  # one spell per this much of a stay (at least one)


def _turn_away(preset: Preset, people: list[Person], seed: int) -> list[Person]:
    """``Preset.away``: that share of the people who stay long enough turn away (look down, talk to
    someone behind them) for ``AWAY_S`` seconds, once per ``AWAY_EVERY_S`` of their stay, while their
    body stays where it was. Drawn from a stream of their own, so paths, looks and faces stay the
    preset's without it."""
    if not preset.away:
        return people
    rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 3])
    margin = round(AWAY_MARGIN_S * preset.fps)
    out = []
    for p in people:
        draws = rng.random(), rng.uniform(0, 1, 8), rng.uniform(*AWAY_S, 8)  # fixed draws per person
        spells: list[tuple[int, int]] = []
        if draws[0] < preset.away:
            n = min(8, max(1, int(len(p.path) / (AWAY_EVERY_S * preset.fps))))  # 8 draws a person
            slot = len(p.path) / n  # one spell inside each equal share of the stay
            for i in range(n):  # as long as drawn, or as the stay allows (a counter visit: 3-8 s)
                length = min(round(draws[2][i] * preset.fps), int(slot) - 2 * margin)
                if length < AWAY_S[0] * preset.fps:
                    continue
                first = round(i * slot + margin + draws[1][i] * (slot - length - 2 * margin))
                spells.append((first, first + length))
        out.append(replace(p, away=tuple(spells)))
    return out


def _population(preset: Preset, faces: pd.DataFrame) -> np.ndarray | None:
    """``Preset.population``: the rows of ``faces`` (its ``race`` column, UTKFace's label) of that
    group; None for the mix."""
    if not preset.population:
        return None
    pool = np.flatnonzero(faces["race"].to_numpy() == POPULATIONS[preset.population])
    if len(pool) < preset.people:
        raise ValueError(f"preset {preset.name} wants {preset.people} people, only {len(pool)} faces")
    return pool


def _alike(preset: Preset, people: list[Person], faces: pd.DataFrame) -> list[Person]:
    """``Preset.alike``: each newcomer at a vacated spot becomes another validation face of the same
    gender as the person who left and the nearest age (a face no one else in the clip has); paths and
    looks stay, so the clip differs from the preset without it only in those faces."""
    if not preset.alike:
        return people
    ages, genders = faces["age"].to_numpy(float), faces["gender"].to_numpy()
    pool = _population(preset, faces)
    free = np.ones(len(faces), bool) if pool is None else np.isin(np.arange(len(faces)), pool)
    free[[p.face_row for p in people]] = False
    out: list[Person] = []
    for p in people:  # in order of appearance: the person who left is already in ``out``
        if p.replaces is not None:
            q = out[p.replaces]
            cand = np.flatnonzero(free & (genders == q.gender))
            if not len(cand):
                raise ValueError(f"preset {preset.name}: no unused {q.gender} face left for a look-alike")
            row = int(cand[np.argmin(np.abs(ages[cand] - q.age))])
            free[p.face_row], free[row] = True, False
            p = replace(p, face_row=row, age=float(ages[row]), gender=str(genders[row]))
        out.append(p)
    return out


def _line_up(
    preset: Preset, rng: np.random.Generator, faces: pd.DataFrame, face_rows: np.ndarray, seed: int
) -> list[Person]:
    """``counter``: two spots where people step up one after another (3-8 s each, the next 0-3 frames
    after the previous one left, plus ``Preset.spot_gap_s`` seconds drawn from a stream of their own);
    ``queue``: ``preset.people`` people standing in a row all clip."""
    gap_rng = np.random.default_rng([seed, zlib.crc32(preset.stream.encode()), 4])
    w, h = preset.width, preset.height
    lo, hi = preset.face_px
    spots: list[list[tuple[int, int]]]  # per spot: (first frame, frames) of each visit
    if preset.mode == "queue":
        n = preset.people
        spots = [[(0, preset.frames)] for _ in range(n)]
        places = [((i + 0.5) / n * w, h * rng.uniform(0.35, 0.55)) for i in range(n)]
    else:
        spots, places = [], [(0.3 * w, 0.45 * h), (0.7 * w, 0.45 * h)]
        per_spot = preset.people // 2
        for _ in places:
            visits: list[tuple[int, int]] = []
            t = int(rng.integers(0, preset.fps))
            while len(visits) < per_spot and t < preset.frames - 8:
                n_frames = min(int(rng.uniform(3, 8) * preset.fps), preset.frames - t)
                visits.append((t, n_frames))
                gap = round(gap_rng.uniform(*preset.spot_gap_s) * preset.fps)
                t += n_frames + int(rng.integers(0, 4)) + gap
            spots.append(visits)
    people: list[Person] = []
    for (cx0, cy0), visits in zip(places, spots, strict=True):
        for first, n_frames in visits:
            s0 = _loguniform(rng, lo, hi)
            k = np.arange(n_frames)
            period = rng.uniform(2, 4) * preset.fps
            sway = preset.sway  # 0.05 unless a preset says otherwise
            cx = cx0 + rng.normal(0, 0.05) * s0 + sway * s0 * np.sin(2 * np.pi * k / period)
            cy = cy0 + 0.6 * sway * s0 * np.cos(2 * np.pi * k / period)
            path = np.stack(
                [
                    cx,
                    np.full(n_frames, cy) if np.isscalar(cy) else cy,
                    s0 * (1 + 0.6 * sway * np.sin(np.pi * k / period)),
                ],
                axis=1,
            )
            row = int(face_rows[len(people)]) if len(people) < len(face_rows) else None
            if row is None:
                break
            vel = (0.0, 0.0)
            age, gender = float(faces.age.iloc[row]), str(faces.gender.iloc[row])
            look = _look(rng, vel, preset.same_clothes)
            people.append(Person(len(people), row, age, gender, first, path, velocity=vel, **look))
    people.sort(key=lambda q: q.first_frame)
    return [replace(q, person_id=i) for i, q in enumerate(people)]


def _arrive(preset: Preset, rng: np.random.Generator, people: list[Person], t: int, faces: pd.DataFrame,
            face_rows: np.ndarray) -> None:  # fmt: skip
    """Place one arriving person at frame ``t`` and, when it vanishes mid-frame, its replacements."""
    at: tuple[float, float, float] | None = None
    while len(people) < preset.people and t < preset.frames - 8:
        placed = _try_place(preset, rng, people, t, at)
        if placed is None:
            return
        t, path, vel = placed
        vanish = rng.random() < preset.replace_share * 1.5 and len(path) >= 20
        if vanish:
            path = path[: int(rng.integers(len(path) * 3 // 10, len(path) * 7 // 10))]
        row = int(face_rows[len(people)])
        people.append(
            Person(
                person_id=len(people),
                face_row=row,
                age=float(faces.age.iloc[row]),
                gender=str(faces.gender.iloc[row]),
                first_frame=t,
                path=path,
                velocity=vel,
                **_look(rng, vel, preset.same_clothes),
            )
        )
        if not vanish:
            return
        t, at = t + len(path) + int(rng.integers(1, 5)), (path[-1, 0], path[-1, 1], path[-1, 2])


def _cross(
    preset: Preset, rng: np.random.Generator, faces: pd.DataFrame, face_rows: np.ndarray
) -> list[Person]:
    """``cross``: pairs of walkers who meet, one from each side at about one height, and pass: the
    nearer (larger) face goes in front of the other and hides it for a few frames. Pairs arrive
    spread over the clip; nobody vanishes mid-frame."""
    w, h = preset.width, preset.height
    lo, hi = preset.face_px
    people: list[Person] = []
    n_pairs = preset.people // 2
    meets = np.sort(rng.uniform(0.05, 0.95, n_pairs)) * preset.frames  # the frame each pair meets
    for t_meet in meets:
        s_a = _loguniform(rng, lo, hi)
        s_b = float(np.clip(s_a * _loguniform(rng, 0.7, 1.4), lo, hi))  # one nearer than the other
        y = rng.uniform(0.2, 0.8) * h
        dy = rng.uniform(-0.35, 0.35) * min(s_a, s_b) / GT_BOX_W  # faces at about one height
        x_meet = rng.uniform(0.25, 0.75) * w
        for s0, cy, direction in ((s_a, y, 1.0), (s_b, y + dy, -1.0)):
            speed = rng.uniform(*preset.speed_px)
            half = s0 / GT_BOX_W / 2
            x0 = -half + 1 if direction > 0 else w + half - 1
            first = round(t_meet - abs(x_meet - x0) / speed)
            vel = (direction * speed, 0.0)
            path = _roll((x0, cy), vel, (s0, s0), (0.03, rng.uniform(10, 16)), preset.frames + 400, w, h)
            if first < 0:
                path, first = path[-first:], 0
            path = path[: max(preset.frames - first, 0)]
            if len(path) < 8 or len(people) >= len(face_rows):
                continue
            row = int(face_rows[len(people)])
            age, gender = float(faces.age.iloc[row]), str(faces.gender.iloc[row])
            look = _look(rng, vel, preset.same_clothes)
            people.append(Person(len(people), row, age, gender, first, path, velocity=vel, **look))
    people.sort(key=lambda q: q.first_frame)
    return [replace(q, person_id=i) for i, q in enumerate(people)]


GROUP_SIZES = (2, 2, 2, 3)  # members of a group, drawn from these (couples and pairs more often)
CHILD_AGE = 12  # a member this old or younger walks with a smaller face, lower in the frame
CHILD_SIZE = 0.75  # a child's face size against the adults' of its group
CHILD_DROP = (0.6, 1.0)  # how much lower than the group's line a child's face is (chip sides)


def _groups(
    preset: Preset, rng: np.random.Generator, faces: pd.DataFrame, face_rows: np.ndarray
) -> list[Person]:
    """``group``: people who walk through together, 2-3 abreast at one speed (friends, a couple, a
    parent with a child): each group enters at a left or right edge, and its members keep one
    velocity, faces ``Preset.abreast`` chip sides (of the larger face) apart across the walk (and up
    to 0.4 chip sides above or below the group's line), a spacing that swings by
    ``Preset.abreast_swing`` of itself over 2-5 s (people fall behind and catch up). Apart, faces
    never overlap; close (``Preset.overlapping``), they may. Each member has its own gait (the
    vertical sway). A member aged ``CHILD_AGE`` or under has a face ``CHILD_SIZE`` of its group's size
    (which may be under the preset's smallest), ``CHILD_DROP`` below the line. Groups arrive spread
    over the clip; nobody vanishes mid-frame."""
    people: list[Person] = []
    arrivals = rng.uniform(*ARRIVAL_SPAN, preset.people * 4) * preset.frames
    for t in arrivals:
        if len(people) >= min(preset.people, len(face_rows)):
            break
        size = min(int(rng.choice(GROUP_SIZES)), preset.people - len(people))
        rows = [int(r) for r in face_rows[len(people) : len(people) + size]]
        for _ in range(MAX_TRIES):
            group = _group_paths(preset, rng, faces, rows, int(t))
            if group and not any(_overlaps(first, path, people) for first, path, _ in group):
                break
        else:
            continue
        for (first, path, vel), row in zip(group, rows, strict=True):
            age, gender = float(faces.age.iloc[row]), str(faces.gender.iloc[row])
            look = _look(rng, vel, preset.same_clothes)
            people.append(Person(len(people), row, age, gender, first, path, velocity=vel, **look))
    people.sort(key=lambda q: q.first_frame)
    return [replace(q, person_id=i) for i, q in enumerate(people)]


def _group_paths(
    preset: Preset, rng: np.random.Generator, faces: pd.DataFrame, rows: list[int], t: int
) -> list[tuple[int, np.ndarray, tuple[float, float]]]:
    """Paths (first frame, path, velocity) of one group arriving about frame ``t``, in ``rows``'
    order; empty if a member would not be in view for 8 frames."""
    w, h = preset.width, preset.height
    lo, hi = preset.face_px
    s0 = _loguniform(rng, lo, hi)
    speed = rng.uniform(*preset.speed_px)
    direction = 1.0 if rng.random() < 0.5 else -1.0
    vel = (direction * speed, rng.uniform(-0.08, 0.08) * speed)
    child = [float(faces.age.iloc[r]) <= CHILD_AGE for r in rows]
    sizes = [s0 * (CHILD_SIZE if c else rng.uniform(0.9, 1.1)) for c in child]
    chip = max(sizes) / GT_BOX_W
    # offsets across the walk (x, along the line of members) and up or down, in px at the start
    dx, x = [0.0], 0.0
    for a, b in itertools.pairwise(sizes):
        x += rng.uniform(*preset.abreast) * max(a, b) / GT_BOX_W
        dx.append(x)
    dy = [rng.uniform(*CHILD_DROP) * chip if c else rng.uniform(-0.4, 0.4) * chip for c in child]
    reach = dx[-1] + chip
    y0 = rng.uniform(0.2, 0.75) * h
    x0 = -reach - chip if direction > 0 else w + chip  # the whole group starts out of view
    n = round((w + 2 * reach + 4 * chip) / speed)
    k = np.arange(n)
    spread = 1 + preset.abreast_swing * np.sin(
        2 * np.pi * k / (rng.uniform(2, 5) * preset.fps) + rng.uniform(0, 2 * np.pi)
    )
    out = []
    for size, off_x, off_y in zip(sizes, dx, dy, strict=True):
        gait = 0.03 * size * np.sin(2 * np.pi * k / rng.uniform(10, 16) + rng.uniform(0, 2 * np.pi))
        cx = x0 + off_x * spread + vel[0] * k
        cy = y0 + off_y + vel[1] * k + gait
        inside = np.array([_inside(a, b, size, w, h) for a, b in zip(cx, cy, strict=True)])
        if not inside.any():
            return []
        k0, k1 = int(np.argmax(inside)), n - int(np.argmax(inside[::-1]))
        path = np.stack([cx, cy, np.full(n, size)], axis=1)[k0:k1]
        first = t + k0 - round((reach + chip) / speed)  # t: about when the group's first face enters
        if first < 0:  # rows before frame 0 are dropped (a path starts when the face is in view)
            path, first = path[-first:], 0
        path = path[: max(preset.frames - first, 0)]
        if len(path) < 8:
            return []
        out.append((first, path, vel))
    return out


def _link_replacements(people: list[Person], max_gap: int = 5) -> list[Person]:
    """Set ``replaces`` from geometry: the person whose last chip centre is nearest this one's first,
    among those who left fewer than ``max_gap`` frames before."""
    out = []
    for p in people:
        best = None
        for q in people:
            gap = p.first_frame - (q.first_frame + len(q.path))
            if q is p or not 0 <= gap < max_gap:
                continue
            dist = np.hypot(*(p.path[0, :2] - q.path[-1, :2]))
            if dist < 0.5 * q.path[-1, 2] and (best is None or dist < best[0]):
                best = (dist, q.person_id)
        out.append(replace(p, replaces=None if best is None else best[1]))
    return out
