"""A second opinion on a person's faces: was any of them seen from the front?

YuNet also fires on the backs and sides of heads, at scores a small or blurred real face gets too.
In ``../shared``'s `one-by-one-person-detection.mp4` (people walking away from the camera) every
track is the back or side of a head, scoring 0.43-0.83, and the tracks CSV named 8 people "of 24-29
years" read from their hair. No score limit separates them from real faces: the synthetic
benchmark's low-scoring real people (odd photos, a dim camera) score as low.

dlib's frontal face detector does (``dlib.get_frontal_face_detector``: HOG features and five linear
filters, frontal to half-profile, built into ``dlib-bin``, which the identity descriptor already
installs; no model file). Each track keeps up to ``FRONT_FACES`` of its faces (``offer``: the best
by detector score, about one per ``FRONT_GAP_NS``, at least ``FRONT_MIN_PX``); when it ends,
``persons.PersonTracks`` shows them, best first, each scaled so the box's longer side is
``FRONT_FACE_PX``, and stops at the first one found. A track none of whose faces is found gets the
status ``no_face`` (left out of the persons, as ``static`` is); one with fewer than
``FRONT_MIN_FACES`` kept faces is not asked. ~9 ms a face, only when a track ends.
``tracking.frontal_check: false`` turns it off.

Measured (docs/BENCHMARKS.md, "Heads seen from behind"): on that clip no face of any of its head
tracks is found at the lenient ``FRONT_THRESHOLD``, and its tracks CSV names no person (was 8);
every real clip's 13 people pass; UTKFace validation faces at 32-39 px are found 98.9-100% of the
time for every race label, the darker-skinned less often (~1% missed against ~0.1%,
``benchmarks/frontal_faces.py``); the synthetic benchmark's 38 clips as made are unchanged, and on its
5-fps, dim and shaking cameras 7 of 1,126 real people (faces of 30-41 px) are lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from facelog.pipeline.tracking.identity import FacePatch, KeptFaces, import_dlib

FRONT_FACES = 8  # faces kept per track for the look (the best by detector score)...
FRONT_GAP_NS = 200_000_000  # ... one per this much stream time (5 frames at 25 fps: not one moment)
FRONT_MIN_PX = 32.0  # ... at least this big (sqrt of the box area: a head seen from behind is tall)
# a track with fewer kept faces is not asked: one face is too little to judge (crowd720 seed 1: two
# people of 24-27 px whose one face that reached 32 px was not found); heads seen from behind kept 2-8
FRONT_MIN_FACES = 2
FRONT_FACE_PX = 100.0  # a face's box is scaled to this longer side first: the detector's window is 80 x 80 px
# the detector's score offset (dlib's own default 0; lower finds more): small, soft real faces often
# score between -1 and 0; on the heads seen from behind nothing was found at -1
FRONT_THRESHOLD = -1.0
FRONT_CENTRE = 0.4  # a detection is this face when its centre is within this many face widths of the box's


def load_frontal_detector() -> Any:
    """dlib's frontal face detector: ~0.4 s to build, so a session builds it once (``session.py``).
    One object must not run in two threads at a time.

    Raises:
        IdentityError: dlib is not installed.
    """
    return import_dlib().get_frontal_face_detector()


class FrontalCheck:
    """Whether a kept face shows a face from the front: dlib's HOG face detector, counting its calls.

    Args:
        detector: ``load_frontal_detector()``'s, shared by the sources of one analyzer; None: built here.

    Raises:
        IdentityError: dlib is not installed.
    """

    def __init__(self, detector: Any | None = None) -> None:
        self._detector: Any = detector if detector is not None else load_frontal_detector()
        self.calls = 0  # faces looked at
        self.seconds = 0.0  # time spent on them

    def offer(
        self, kept: KeptFaces, weight: float, pts_ns: int, xyxy: np.ndarray, patch: Callable[[], FacePatch]
    ) -> None:
        """Keep this face (box ``xyxy``, cut by ``patch()`` only if kept) among the track's
        ``FRONT_FACES`` best, about ``FRONT_GAP_NS`` apart, if it is ``FRONT_MIN_PX`` or more; a big
        face is kept shrunk to ``FRONT_FACE_PX`` (8 patches of a 300-px face would be ~9 MB a track)."""
        w, h = float(xyxy[2] - xyxy[0]), float(xyxy[3] - xyxy[1])
        if w > 0 and h > 0 and np.sqrt(w * h) >= FRONT_MIN_PX:
            kept.offer(FRONT_FACES, FRONT_GAP_NS, weight, pts_ns, lambda: _at_most(patch(), FRONT_FACE_PX))

    def frontal(self, patch: FacePatch) -> bool:
        """Whether the detector finds a face centred on the patch's box."""
        t0 = time.perf_counter()
        x1, y1, x2, y2 = patch.xyxy
        img, scale = _scaled(patch, FRONT_FACE_PX)
        rects, _, _ = self._detector.run(np.ascontiguousarray(img[:, :, ::-1]), 0, FRONT_THRESHOLD)
        cx, cy, reach = (x1 + x2) / 2 * scale, (y1 + y2) / 2 * scale, FRONT_CENTRE * FRONT_FACE_PX
        found = any(abs(r.center().x - cx) <= reach and abs(r.center().y - cy) <= reach for r in rects)
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        return found

    def seen_from_front(self, kept: KeptFaces) -> bool | None:
        """Whether any kept face (best first) is frontal; None (not asked) with fewer
        than ``FRONT_MIN_FACES`` kept faces."""
        if len(kept.faces) < FRONT_MIN_FACES:
            return None
        return any(self.frontal(face) for _, _, face in sorted(kept.faces, key=lambda f: -f[0]))


def _scaled(patch: FacePatch, face_px: float) -> tuple[np.ndarray, float]:
    """The patch's image scaled so its face box's longer side is ``face_px``, and the scale."""
    x1, y1, x2, y2 = patch.xyxy
    scale = face_px / max(x2 - x1, y2 - y1, 1.0)
    h, w = patch.image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):  # a big face kept shrunk already
        return patch.image, scale
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(patch.image, size, interpolation=interpolation), scale


def _at_most(patch: FacePatch, face_px: float) -> FacePatch:
    """The patch, shrunk where its face box's longer side is over ``face_px``."""
    x1, y1, x2, y2 = patch.xyxy
    if face_px / max(x2 - x1, y2 - y1, 1.0) >= 1:  # not resized: ``_scaled`` would enlarge it
        return patch
    img, scale = _scaled(patch, face_px)
    box = tuple(v * scale for v in patch.xyxy)
    return FacePatch(np.ascontiguousarray(img), (box[0], box[1], box[2], box[3]), patch.frame_index)
