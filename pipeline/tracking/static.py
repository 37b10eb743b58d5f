"""The static rule: a track whose face never moved is a poster, a screen or a pattern, not a person.

``persons.PersonTracks`` gives ``StaticRule.decide`` every track that ends (its motion rows: per
detection the time, the centre and size of its box, the nose's place between the eyes and the
detection score) and reports what it answers: the track as it is, the track with
``status="static"``, or nothing yet (the track is held at its spot).

A track seen for at least ``tracking.static_after_s`` is ``static`` when its face never moved: the
central 80% of the 1-second means of its box centre (in face sizes) stay within
``tracking.static_max_motion`` (at least ``_STILL_MIN_PX``, a frame pixel: what a small face's box
can tell), and those of its box size and of its nose's place between the eyes (landmarks) within
``_NOISY`` times that: on a still, blurred pattern the detector's box size and landmarks jitter
(textures720: size 0.042-0.046, nose 0.05-0.08) while its centre stays within 0.028; people standing
in a queue move their centre 0.054-0.073 (docs/BENCHMARKS.md, seventh session). A person standing at
a counter sways and turns the head.

A faint pattern is ``static`` however short (``faint_pattern``): a track whose median detection score
is under ``_FAINT_SCORE`` and whose centre reaches no further than ``_FAINT_REACH`` face sizes, at no
more than ``_FAINT_SPEED`` face sizes a second (a face-like patch of background scores low and stays
put; a person who scores that low is small or blurred and walking, and crosses several face sizes;
real faces that stand still score high).

Boxes cut by something in front (``_CUT_SIZE`` off the track's median size) are left out of the still
test: they are not where the face is.

A still pattern that walkers hide now and then is seen as several short tracks at one place: a still
track that ends (faint or not) remembers its *spot* (its box and its ``Looks``, grey thumbnails
sampled by ``identity.face_thumbs`` along it), and the still tracks at one spot whose looks match are
tested together (their times added up, their 1-second means pooled). A still track held at a spot is
reported when the spot is proven static (then all of them are ``static``) or forgotten
(``StaticRule.forget``: ``_SPOT_MEMORY_S`` of stream time without a new one there, or the end of
input: then each is a ``person``). Different people who stand one after another at one counter
differ in look and are never pooled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from facelog.pipeline.tracking.identity import thumb_change
from facelog.pipeline.types import PersonResult

log = logging.getLogger(__name__)

_WINDOW_NS = 1_000_000_000  # static test: positions are averaged over windows of this much stream time
_FAINT_SCORE = 0.7  # a track whose median detection score is below this ...
_FAINT_REACH = 1.0  # ... and whose centre stays within this many face sizes (10-90% of its detections)
_FAINT_SPEED = 0.5  # ... and moves no faster than this many face sizes a second over its time
#                     is a face-like pattern: static. textures720: such patterns score 0.34-0.68,
#                     reach <= 0.38 and move <= 0.21 face sizes/s; walkers that score that low cross
#                     >= 4.3 face sizes, and a 4-frame piece of one moved 0.67 in 0.12 s (seed 1); real
#                     faces in ../shared's clips score 0.84-0.95 (docs/BENCHMARKS.md, seventh session)
# static test: the centre's limit is at least this many frame pixels. Under it the detector's box of a
# still face jitters by more than static_max_motion of a small face: a printed 26-px face at 480x270
# spread 0.84 px (0.032 face sizes) and was a person; people in a queue there spread 1.3-2.6 px
# (docs/BENCHMARKS.md, fifteenth session). Only faces under 33 px get a wider limit.
_STILL_MIN_PX = 1.0
_NOISY = 4.0  # static test: box size and landmarks may spread this many times static_max_motion
# static test: a box this much wider or narrower than the track's median is left out. A walker who
# passes in front of a printed face cuts its box (poster720 s2: 74 px wide -> 54-60 px, its centre 13 px
# off, in the frames before the track ended); with them the 1-second means of a 6-s piece of the poster
# moved 0.07 face sizes, and it was a person (docs/BENCHMARKS.md, thirty-third session). A still face
# keeps most of its rows (those near the median size); a still blurred pattern's box size stays within
# 0.065 of its median in 90% of frames (textures720 s3). Down if cut boxes still move posters.
_CUT_SIZE = 0.15
_SPOT_MEMORY_S = 30.0  # a spot of still tracks is forgotten this long (stream time) after its last one
_SPOT_IOU = 0.5  # a still track belongs to a spot whose box it overlaps this much (intersection/union)
_SPOT_LOOK = 0.1  # ... and whose look it matches: two of their sampled thumbnails within this
#                   thumb_change (pieces of one still pattern: <= 0.068; different people at one spot,
#                   closest pair of 8 x 8: >= 0.15; docs/BENCHMARKS.md, seventh session)
_SPOT_MOTION_ROWS = 4096  # a spot keeps its tracks' latest motion rows (about 3 min at 25 fps)
LOOKS = 8  # thumbnails sampled along a track (evenly: the sampling thins out as the track grows)


@dataclass(slots=True)
class Looks:
    """Grey thumbnails sampled evenly along a track (``identity.face_thumbs``): every ``every``-th
    face's, at most 2 x ``LOOKS`` (then every other one is dropped and the step doubles)."""

    thumbs: list[np.ndarray] = field(default_factory=list)
    every: int = 1
    faces: int = 0

    def add(self, look: np.ndarray) -> None:
        """One more face's thumbnail (kept or not)."""
        if self.faces % self.every == 0:
            self.thumbs.append(look)
            self._thin()
        self.faces += 1

    def absorb(self, other: Looks) -> None:
        """Add ``other``'s thumbnails (another piece of the same person), thinned as ``add`` thins."""
        self.thumbs = self.thumbs + other.thumbs
        self.faces += other.faces
        self._thin()

    def _thin(self) -> None:
        """Every other thumbnail dropped, and the step doubled, until fewer than 2 x ``LOOKS`` are left."""
        while len(self.thumbs) >= 2 * LOOKS:
            self.thumbs = self.thumbs[::2]
            self.every *= 2


@dataclass(slots=True)
class _Spot:
    """A place where still tracks of one look ended (see the module docstring)."""

    box: np.ndarray  # (4,) xyxy of its latest track, from the median centre and size
    looks: list[np.ndarray]  # sampled along each of its tracks
    motion: list[tuple[float, ...]]  # its tracks' motion rows, pooled
    seen_ns: int  # its tracks' spans, added up
    last_pts_ns: int
    static: bool = False
    pending: list[PersonResult] = field(default_factory=list)  # held until the spot is decided


class StaticRule:
    """Decides, per ended track of one source, whether it is ``static``, and holds the still tracks at
    a spot until that spot is decided (see the module docstring).

    Args:
        source_id: the source's id (for the log).
        static_after_s: ``tracking.static_after_s``.
        static_max_motion: ``tracking.static_max_motion``.
    """

    def __init__(self, source_id: str, static_after_s: float, static_max_motion: float) -> None:
        self.source_id = source_id
        self.static_after_s = static_after_s
        self.static_max_motion = static_max_motion
        self.static = 0  # persons reported with status "static"
        self._spots: list[_Spot] = []

    def decide(self, result: PersonResult, m: np.ndarray, looks: Looks, faint: bool) -> list[PersonResult]:
        """The persons to report now for one ended track (``result``): itself with its status, the
        tracks its spot held when that spot is now proven static, or nothing while its spot holds it.
        ``m``: the track's motion rows (module docstring); ``looks``: its thumbnails; ``faint``:
        ``faint_pattern(m)``, computed once by the caller."""
        span = int(m[-1, 0] - m[0, 0])
        still = self._still(m)
        if not (faint or still):  # it moved: a person, whatever its spot
            return [result]
        long_enough = self._long_enough(span)
        # a faint piece of a pattern is static by itself; a still one also adds its time to its spot
        # (textures720 s0: a pattern scoring ~0.7 was seen as short faint and not-quite-faint pieces;
        # only the faint ones proved its spot, so the others stayed persons)
        spot = self._spot_of(m, looks.thumbs, span) if still else None
        if spot is None:
            static = faint or long_enough
            self.static += static
            return [replace(result, status="static")] if static else [result]
        spot.static = (
            spot.static
            or long_enough
            or (self._long_enough(spot.seen_ns) and self._still(np.array(spot.motion, np.float64)))
        )
        if not spot.static:
            if faint:
                self.static += 1
                return [replace(result, status="static")]
            spot.pending.append(result)
            return []
        out = [replace(r, status="static") for r in (*spot.pending, result)]
        spot.pending.clear()
        self.static += len(out)
        return out

    def _spot_of(self, m: np.ndarray, looks: list[np.ndarray], span: int) -> _Spot | None:
        """The spot a still track (motion rows ``m``, sampled ``looks``) ended at, created if new;
        None without a look. Looks match when any two of them do: a walker hides part of a still
        pattern in some of its thumbnails, never in all."""
        if not looks:
            return None
        cx, cy, size = (float(v) for v in np.median(m[:, 1:4], axis=0))
        box = np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2])
        for spot in self._spots:
            if _iou(spot.box, box) >= _SPOT_IOU and _looks_match(looks, spot.looks):
                spot.box, spot.seen_ns = box, spot.seen_ns + span
                spot.looks = (spot.looks + looks)[-4 * LOOKS :]
                if not spot.static:  # decided: its motion is not tested again (a live wall pattern
                    # would otherwise pool its pieces all day); undecided, the latest rows are enough
                    spot.motion = (spot.motion + list(map(tuple, m.tolist())))[-_SPOT_MOTION_ROWS:]
                spot.last_pts_ns = max(spot.last_pts_ns, int(m[-1, 0]))
                return spot
        spot = _Spot(box, list(looks), list(map(tuple, m.tolist()))[-_SPOT_MOTION_ROWS:], span, int(m[-1, 0]))
        self._spots.append(spot)
        return spot

    def forget(self, now_ns: int | None) -> tuple[PersonResult, ...]:
        """Forget the spots last seen ``_SPOT_MEMORY_S`` before ``now_ns`` (None: every spot); the
        tracks they held are persons."""
        keep, out = [], []
        for spot in self._spots:
            if now_ns is not None and now_ns - spot.last_pts_ns < _SPOT_MEMORY_S * 1e9:
                keep.append(spot)
            else:
                out += spot.pending
        self._spots = keep
        return tuple(sorted(out, key=lambda p: p.track_id))

    def _long_enough(self, seen_ns: int) -> bool:
        """Whether a still face seen this long (ns) is ``static`` (``tracking.static_after_s``)."""
        return seen_ns / 1e9 >= self.static_after_s

    def _still(self, m: np.ndarray) -> bool:
        """Whether motion rows ``m`` never moved (see the module docstring), however short."""
        size = float(np.median(m[:, 3]))
        whole = np.abs(m[:, 3] - size) <= _CUT_SIZE * size  # boxes cut by someone in front: not the face's
        if whole.any():  # (two boxes far apart in size have a median near neither)
            m = m[whole]
        window = ((m[:, 0] - m[0, 0]) // _WINDOW_NS).astype(np.int64)
        _, inverse, counts = np.unique(window, return_inverse=True, return_counts=True)
        feats = np.column_stack([m[:, 1] / size, m[:, 2] / size, m[:, 3] / size, m[:, 4], m[:, 5]])
        means = np.stack(
            [np.bincount(inverse, np.nan_to_num(f), minlength=len(counts)) / counts for f in feats.T], axis=1
        )
        known = [j for j in range(feats.shape[1]) if np.isfinite(feats[:, j]).all()]
        # the central 80% of the 1-s means: a first or last second that is off (a face entering, one
        # passing in front) does not hide a poster
        spread = np.percentile(means[:, known], 90, axis=0) - np.percentile(means[:, known], 10, axis=0)
        log.debug("%s: still test spreads (x, y, size, nose along, nose across) %s", self.source_id,
                  dict(zip(known, np.round(spread, 3).tolist(), strict=True)))  # fmt: skip
        limit = self.static_max_motion * np.array([1.0, 1.0, _NOISY, _NOISY, _NOISY])
        limit[:2] = np.maximum(limit[:2], _STILL_MIN_PX / size)  # a pixel: what a box can tell
        return bool((spread <= limit[known]).all())


def faint_pattern(m: np.ndarray) -> bool:
    """Whether motion rows ``m`` (with the detection score last) are a faint face-like pattern: median
    score under ``_FAINT_SCORE``, a centre that reaches no further than ``_FAINT_REACH`` face sizes,
    and no faster than ``_FAINT_SPEED`` face sizes a second (a short piece of a slow walker moves)."""
    size = float(np.median(m[:, 3]))
    reach = max(float(np.percentile(m[:, k], 90) - np.percentile(m[:, k], 10)) for k in (1, 2)) / size
    seconds = float(m[-1, 0] - m[0, 0]) / 1e9
    still = reach <= _FAINT_REACH and reach <= _FAINT_SPEED * seconds
    return bool(np.median(m[:, 6]) < _FAINT_SCORE and still)


def _looks_match(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Whether any thumbnail of ``a`` is within ``_SPOT_LOOK`` of any of ``b``."""
    return any(thumb_change(x, y) <= _SPOT_LOOK for x in a for y in b)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def nose_offsets(landmarks: np.ndarray) -> np.ndarray:
    """(n, 2): the nose tip's offset from the eyes' midpoint across and along the eye axis, in eye
    distances (a head that turns or nods moves it; a printed face never does); NaN where unknown."""
    lm = np.asarray(landmarks, np.float64)
    eye = lm[:, 1] - lm[:, 0]
    dist2 = (eye**2).sum(axis=1)
    rel = lm[:, 2] - (lm[:, 0] + lm[:, 1]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        along = (rel * eye).sum(axis=1) / dist2
        across = (rel[:, 0] * eye[:, 1] - rel[:, 1] * eye[:, 0]) / dist2
    out = np.stack([along, across], axis=1)
    out[~np.isfinite(out).all(axis=1) | (dist2 < 1.0)] = np.nan
    return out
