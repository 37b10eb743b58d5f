"""Detection around the faces of the frames before, with a full-frame key frame every ``full_every``.

``RoiDetector`` wraps two detectors of one kind: ``full`` runs on whole frames (at the scale the
smallest face needs, as without this wrapper) on key frames, and ``roi`` runs, on the frames between,
only on regions around the boxes found before: each box grown by ``margin`` box widths (at least
``min_margin_px``) on every side for each frame of gap, overlapping regions merged, each region
shrunk so its smallest face is ``face_px`` wide (never enlarged) and padded to a multiple of
``ROI_PAD_PX`` (few distinct input sizes, so the detector's input size rarely changes).

Every box it returns was detected in that frame: nothing is carried over. A face that enters between
key frames is found where the frame changed (``change``, ``motion.FrameChange``: regions at the key
frame's scale where the frame differs from the one before, outside the known faces and their bodies),
else on the next key frame at the latest; a face missed (on a region or a key frame)
keeps its region for ``hold_frames`` frames (default ``full_every``), its margin growing with the
frames since it was seen, up to ``ROI_MAX_GROWTH`` times. It needs frames in order (one detect
thread) and ``reset()`` between sources; ``detect(image, frame_index)`` resets by itself when the
index goes backwards or the frame size changes, and widens the margins by the frames a gap spans
(``sampling.stride``, or a recording at under 25 fps: file runs pass the frame's place on the
source's clock, frames of 25 fps, ``kalman.FrameClock.tick``; live cameras their own frame index);
``full_every`` counts processed frames, and a gap of more than ``ROI_MAX_GAP_FRAMES`` frames is a key
frame (``max_gap_frames``; live cameras turn that off: there a gap means the machine dropped frames,
and a whole frame would only make it drop more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facelog.pipeline.detect.base import Detector, check_image, finish_faces, min_face_for
from facelog.pipeline.detect.motion import CHANGE_MAX_SHARE, FrameChange
from facelog.pipeline.types import Faces

log = logging.getLogger(__name__)

ROI_FACE_PX = 64  # the smallest known face of a region at the detector input (48: weak faces score lower)
ROI_PAD_PX = 32  # region inputs are padded to multiples of this
ROI_EDGE_PX = 2.0  # a box this close to a region's inner edge is a face the region cuts: dropped
# detector.full_every when unset, with one detect worker (docs/BENCHMARKS.md, issue 12)
ROI_DEFAULT_FULL_EVERY = 4
# detector.full_every of live cameras when unset: with the frame-change regions (as many faces found per
# analysed frame as whole frames at 4 and at 8, and 12 cameras kept up at 8 where 1 of 12 did at 4;
# docs/BENCHMARKS.md, twelfth session)
ROI_LIVE_FULL_EVERY = 8
ROI_SCORE_BELOW = 0.1  # regions' threshold under the frame's when roi_score_threshold is unset
# a frame more frames after the last one than this is a key frame (file runs count frames of 25 fps,
# ``kalman.FrameClock``): a recording at 5 fps (every 5th frame of the CCTV clips) lost 3-5% of the faces
# in regions sized for 25-fps motion, and regions sized for its own motion cost more than whole frames;
# at 8 fps such regions cost about what whole frames cost and found as many (docs/BENCHMARKS.md,
# "Cameras that record 5 and 8 frames a second")
ROI_MAX_GAP_FRAMES = 4
ROI_MAX_GROWTH = 3  # a missed face's margin grows with the frames since it was seen, up to this many
# ``moving_share`` of live cameras (``live/detectors.py``; file runs: None). A face found in two
# frames has a velocity (px per source frame, from its last two boxes): its region is centred where it
# will be and its margin is this share of ``margin`` (the whole margin is for a face whose motion is
# unknown). Lower: smaller regions, and faces that enter between key frames are found less often by
# chance in another face's region (they wait for the next key frame); followed faces were found as
# often at 0.35 and 0.5 as with the wide regions (docs/BENCHMARKS.md, issue 23, eighth session).
ROI_MOVING_SHARE = 0.5
# detector.roi_motion unset: file frames this large and larger get no frame-change regions (1080p: at
# 25 fps a new face waits at most 3 frames for a key frame, and the change regions cost 22% of the fps
# there; docs/BENCHMARKS.md, twelfth session); live cameras get them at every size
ROI_CHANGE_FILE_MAX_PX = 1_500_000
# the body below a known face, for the frame-change regions: its motion is not a new face's
ROI_BODY_WIDTHS = 3.0  # face widths, centred on the face
ROI_BODY_HEIGHTS = 6.0  # face heights below the face
ROI_SAME_FACE_WIDTH_RATIO = 1.5  # an old and a new box wider than this apart are not one moving face


def _centres_inside(boxes: np.ndarray, margins: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """(old, new): whether each new box's centre (``cx``, ``cy``: shape (1, new)) lies in each old
    box grown by its margin."""
    m = margins[:, None]
    inside = (cx >= boxes[:, :1] - m) & (cx <= boxes[:, 2:3] + m)
    return np.asarray(inside & (cy >= boxes[:, 1:2] - m) & (cy <= boxes[:, 3:4] + m))


@dataclass(frozen=True)
class LargeFaceRule:
    """Boxes at least ``width_px`` wide (at the key frame's input scale) need ``min_score``."""

    width_px: float
    min_score: float


class RoiDetector:
    """Full-frame detection every ``full_every`` frames, detection around known faces between.

    Args:
        full: the detector for key frames (whole frames).
        roi: a detector of the same kind that runs on the region images as given (no resize of its own,
            no minimum face size): its boxes are in region-image pixels.
        full_every: a key frame every this many frames (>= 1; 1: every frame is a key frame).
        margin: region margin per side, in box widths per frame of gap (>= 0).
        min_margin_px: the least margin per side per frame of gap, in frame pixels (>= 0).
        min_face_px: boxes narrower than 0.8 x this are dropped (as by ``full``).
        key_scale: ``full``'s input scale for a frame size (frame px -> input px), for ``large``.
        large: the full detector's large-box score rule, applied in region frames at the key frame's
            scale (regions shrink large faces below its width); None: none.
        hold_frames: frames a face missed (on region or key frames) keeps its region (None:
            ``full_every``: a weak face missed on one key frame is looked for until the next).
        face_px: regions are shrunk so their smallest known face is this wide (never enlarged).
        min_frame_px: frames with fewer pixels (w x h) are all key frames (regions only pay off, and
            keep recall, on large frames).
        small_frame_lines: frames with fewer lines than this that ``full`` enlarges (``key_scale`` >
            1: a small camera's, ``detector.small_frame_scale``) are all key frames: regions would miss
            what enlarging finds. Taller frames keep their regions with any ``max_input_scale``.
        max_gap_frames: a frame more frames after the one before than this is a key frame;
            None: gaps only widen the regions (they are clipped to the frame, so a region frame never
            costs much more than a key frame).
        moving_share: None: regions stay where the faces were, ``margin`` wide. A share (0-1]: a face
            whose velocity is known (found in two frames) is looked for where it will be, with this
            share of ``margin``, while it keeps being found; once missed, where it was last seen, with
            the whole margin (``ROI_MOVING_SHARE``: live cameras).
        change: also look where the frame changed since the frame before, outside the known faces'
            regions, at the key frame's scale (``motion.FrameChange``: faces that enter between key
            frames); boxes found only there need the key frame's score (below it they may only
            continue a track, as on key frames). A frame whose changed part is larger than
            ``CHANGE_MAX_SHARE``, or whose regions would cost more than a key frame, is a key frame.
            None: regions around known faces only.
        change_max_frame_px: frames of this many pixels or more get no change regions (None: any).
    """

    def __init__(
        self,
        full: Detector,
        roi: Detector,
        full_every: int,
        margin: float,
        min_margin_px: float,
        min_face_px: float,
        key_scale: Callable[[tuple[int, int]], float] | None = None,
        large: LargeFaceRule | None = None,
        hold_frames: int | None = None,
        face_px: float = ROI_FACE_PX,
        min_frame_px: int = 0,
        max_gap_frames: int | None = ROI_MAX_GAP_FRAMES,
        moving_share: float | None = None,
        change: FrameChange | None = None,
        change_max_frame_px: int | None = None,
        small_frame_lines: int = 0,
    ) -> None:
        hold_frames = full_every if hold_frames is None else hold_frames
        if full_every < 1 or margin < 0 or min_margin_px < 0 or hold_frames < 0:
            raise ValueError(
                "need full_every >= 1, margin >= 0, min_margin_px >= 0 and hold_frames >= 0, got "
                f"{full_every}, {margin}, {min_margin_px}, {hold_frames}"
            )
        self.full, self.roi = full, roi
        self.name, self.framing = full.name, full.framing
        self.full_every, self.margin, self.min_margin_px = full_every, margin, min_margin_px
        self.min_face_px, self.hold_frames, self.face_px = min_face_px, hold_frames, face_px
        self.faces_too_small = 0  # region boxes dropped as smaller than the minimum (key frames: full's)
        self.min_frame_px, self.small_frame_lines = min_frame_px, small_frame_lines
        self.max_gap_frames = max_gap_frames
        self.moving_share = moving_share
        self.change = change
        self.change_max_frame_px = change_max_frame_px
        self._changing = False  # this frame uses the change regions
        self._added = 0  # change regions _with_changes added for this frame
        self.change_regions = 0  # regions added where the frame changed
        self._key_scale: Callable[[tuple[int, int]], float] = key_scale or (lambda wh: 1.0)
        self._large = large
        self.frames_full = 0
        self.frames_roi = 0
        self.regions = 0
        self._pixel_fraction_sum = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the known faces: the next frame is a key frame (call between sources)."""
        self._boxes = np.zeros((0, 4), np.float32)  # faces to look around
        self._ages = np.zeros(0, np.int64)  # frames since each was last detected
        self._vel = np.zeros((0, 2), np.float32)  # px per source frame of each; NaN: unknown
        self._since_key: int | None = None  # frames since the last key frame; None: none yet
        self._last_index: int | None = None
        self._size: tuple[int, int] | None = None
        self.faces_too_small = 0
        self.full.reset()
        if self.change is not None:
            self.change.reset()

    def detect(self, image_bgr: np.ndarray, frame_index: int | None = None) -> Faces:
        """Detect faces in the next frame of the source.

        Args:
            image_bgr: (H, W, 3) uint8.
            frame_index: the frame's index in its source, when known: a gap widens the margin (by
                the number of frames it spans), a jump back (a new source) resets.

        Returns:
            Boxes in frame pixels, each detected in this frame.
        """
        check_image(image_bgr)
        h, w = image_bgr.shape[:2]
        gap = 1
        if frame_index is not None and self._last_index is not None:
            gap = frame_index - self._last_index
            if gap <= 0:
                log.debug("frame index %d after %d: a new source, reset", frame_index, self._last_index)
                self.reset()
                gap = 1
        if self._size is not None and self._size != (w, h):
            self.reset()
        self._last_index, self._size = frame_index, (w, h)
        self._changing = self.change is not None and (
            self.change_max_frame_px is None or w * h < self.change_max_frame_px
        )
        changed = 0.0
        if self.change is not None and self._changing:
            changed = self.change.observe(image_bgr, self._boxes)
            if self.change.moved.any():  # a shaking camera: the known faces moved with the view
                dx, dy = self.change.moved
                self._boxes = self._boxes - np.array([dx, dy, dx, dy], np.float32)
        key = (
            self._since_key is None
            or self._since_key + 1 >= self.full_every  # processed frames, whatever the stride
            or (self.max_gap_frames is not None and gap > self.max_gap_frames)
            or w * h < self.min_frame_px
            or (h < self.small_frame_lines and self._key_scale((w, h)) > 1.0)  # an enlarged small frame
            or changed > CHANGE_MAX_SHARE  # a light change or a camera moved (more than shaking)
        )
        regions: list[tuple[int, int, int, int, float]] = []
        known: list[tuple[int, int, int, int, float]] = []
        if not key:
            known = self.regions_for((w, h), gap)
            regions = self._with_changes(known, (w, h))
            if regions is not known:  # change regions were added: never more than a key frame costs
                cost = sum(pw * ph for *_, pw, ph in map(self._region_input, regions))
                key = cost >= self._key_input_px((w, h))
        if key:
            faces = self.full.detect(image_bgr)
            self._since_key = 0
            self.frames_full += 1
            self._pixel_fraction_sum += 1.0
            self._remember(faces.accepted().xyxy, gap, (w, h), key=True)
            return faces
        assert self._since_key is not None
        self._since_key += 1
        self.frames_roi += 1
        self.change_regions += self._added  # regions added where the frame changed, on a region frame
        faces = self._detect_regions(image_bgr, regions, known)
        self._remember(faces.accepted().xyxy, gap, (w, h), key=False)
        return faces

    # -- regions -----------------------------------------------------------------------------------
    def regions_for(self, wh: tuple[int, int], gap: int = 1) -> list[tuple[int, int, int, int, float]]:
        """The regions to look at on the next region frame: (x1, y1, x2, y2, smallest face width).

        Each known box grown by ``max(margin x width, min_margin_px) x (gap + age)`` per side (at most
        ``ROI_MAX_GROWTH x gap``; age: source frames since it was last found); a box whose velocity
        is known (``moving_share`` set) and that was found in the last frame is moved by it first and
        gets ``moving_share x margin``; clipped to the frame; overlapping regions merged.
        """
        w, h = wh
        if len(self._boxes) == 0:
            return []
        boxes, m = self._grown(gap)
        bw = boxes[:, 2] - boxes[:, 0]
        rects = [
            [max(0.0, b[0] - mi), max(0.0, b[1] - mi), min(float(w), b[2] + mi), min(float(h), b[3] + mi), wi]
            for b, mi, wi in zip(boxes.tolist(), m.tolist(), bw.tolist(), strict=True)
        ]
        return _merged(rects)

    def _with_changes(
        self, known: list[tuple[int, int, int, int, float]], wh: tuple[int, int]
    ) -> list[tuple[int, int, int, int, float]]:
        """``known`` plus regions where the frame changed outside them, at the key frame's scale
        (their smallest face: one that is ``face_px`` wide at the key frame's input), merged."""
        self._added = 0
        if self.change is None or not self._changing:
            return known
        moving = self.change.boxes([r[:4] for r in known] + self._bodies(wh), wh)
        if len(moving) == 0:
            return known
        self._added = len(moving)
        face_w = self.face_px / max(self._key_scale(wh), 1e-6)
        return _merged([list(r) for r in known] + [[*b, face_w] for b in moving.tolist()])

    def _bodies(self, wh: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """Where the bodies of the known faces are (``ROI_BODY_WIDTHS`` face widths wide, down to
        ``ROI_BODY_HEIGHTS`` face heights below the face): their motion is the known people's own."""
        out = []
        for x1, y1, x2, y2 in self._boxes.tolist():
            fw, fh = x2 - x1, y2 - y1
            cx = (x1 + x2) / 2
            half = ROI_BODY_WIDTHS * fw / 2
            bottom = min(wh[1], y2 + ROI_BODY_HEIGHTS * fh)
            out.append((int(max(0.0, cx - half)), int(max(0.0, y1)), int(min(wh[0], cx + half)), int(bottom)))
        return out

    def _region_input(self, region: tuple[int, int, int, int, float]) -> tuple[float, int, int, int, int]:
        """How one region is fed to the detector: its scale (shrunk so its smallest face is ``face_px``
        wide, never enlarged), its shrunk width and height, and those padded to ``ROI_PAD_PX``."""
        x1, y1, x2, y2, face_w = region
        scale = min(1.0, self.face_px / max(face_w, 1.0))
        cw, ch = max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))
        return scale, cw, ch, -(-cw // ROI_PAD_PX) * ROI_PAD_PX, -(-ch // ROI_PAD_PX) * ROI_PAD_PX

    def _detect_regions(
        self,
        image: np.ndarray,
        regions: list[tuple[int, int, int, int, float]],
        known: list[tuple[int, int, int, int, float]],
    ) -> Faces:
        h, w = image.shape[:2]
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        examined = 0.0
        for region in regions:
            x1, y1, x2, y2, _ = region
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            scale, cw, ch, pw, ph = self._region_input(region)
            crop = image[y1:y2, x1:x2]
            if (cw, ch) != (x2 - x1, y2 - y1):
                crop = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA)
            crop = cv2.copyMakeBorder(crop, 0, ph - ch, 0, pw - cw, cv2.BORDER_CONSTANT, value=0)
            examined += pw * ph
            self.regions += 1
            found = self.roi.detect(crop)
            if len(found) == 0:
                continue
            xyxy = found.xyxy
            # a box at an inner edge of the region is a face the region cuts (the frame edge is fine)
            cut = (
                ((xyxy[:, 0] <= ROI_EDGE_PX) & (x1 > 0))
                | ((xyxy[:, 1] <= ROI_EDGE_PX) & (y1 > 0))
                | ((xyxy[:, 2] >= cw - ROI_EDGE_PX) & (x2 < w))
                | ((xyxy[:, 3] >= ch - ROI_EDGE_PX) & (y2 < h))
            )
            keep = ~cut
            off = np.asarray([x1, y1], np.float32)
            box = xyxy[keep] / np.float32(scale) + np.tile(off, 2)
            lm = found.landmarks[keep] if found.landmarks is not None else np.zeros((int(keep.sum()), 5, 2))
            only = found.track_only[keep] if found.track_only is not None else np.zeros(int(keep.sum()), bool)
            parts.append((box, found.score[keep], lm / np.float32(scale) + off, only))
        key_input = self._key_input_px((w, h))
        self._pixel_fraction_sum += examined / key_input if key_input else 0.0
        if not parts:
            return Faces.empty()
        xyxy = np.concatenate([p[0] for p in parts]).astype(np.float32)
        score = np.concatenate([p[1] for p in parts]).astype(np.float32)
        lm = np.concatenate([p[2] for p in parts]).astype(np.float32)
        only = np.concatenate([p[3] for p in parts])
        if self._large is not None:
            wide = (xyxy[:, 2] - xyxy[:, 0]) * self._key_scale((w, h)) >= self._large.width_px
            ok = ~wide | (score >= self._large.min_score)
            xyxy, score, lm, only = xyxy[ok], score[ok], lm[ok], only[ok]
        if regions is not known and len(xyxy):  # change regions were added: a face found only there is
            # new to the regions: it needs the key frame's score (below: it may only continue a track)
            cx, cy = (xyxy[None, :, 0] + xyxy[None, :, 2]) / 2, (xyxy[None, :, 1] + xyxy[None, :, 3]) / 2
            rects = np.asarray([r[:4] for r in known], np.float32).reshape(-1, 4)
            in_known = _centres_inside(rects, np.zeros(len(rects), np.float32), cx, cy).any(axis=0)
            key_thr = getattr(self.full, "score_threshold", 0.0)
            only = only | (~in_known & (score < key_thr))
        min_px = min_face_for(self.min_face_px, h, getattr(self.full, "min_face_ref_height", 0))
        faces = finish_faces(xyxy, score, lm, w, h, min_px, only if only.any() else None)
        self.faces_too_small += len(xyxy) - len(faces)
        return faces

    def _key_input_px(self, wh: tuple[int, int]) -> float:
        s = self._key_scale(wh)
        return wh[0] * s * wh[1] * s

    def _wide(self, gap: int) -> np.ndarray:
        """Each known box's margin per side where its motion is unknown (see ``regions_for``)."""
        bw = self._boxes[:, 2] - self._boxes[:, 0]
        frames = self._ages + gap
        return np.maximum(self.margin * bw, self.min_margin_px) * np.minimum(frames, ROI_MAX_GROWTH * gap)

    def _grown(self, gap: int) -> tuple[np.ndarray, np.ndarray]:
        """The known boxes where they are expected ``gap`` source frames on (moved by their velocity
        where known) and their margins per side (see ``regions_for``)."""
        if self.moving_share is None:
            return self._boxes, self._wide(gap)
        frames = self._ages + gap
        # followed: velocity known and found in the last frame; a face missed since may have turned,
        # stopped or been hidden: its region is the wide one around where it was last seen
        followed = ~np.isnan(self._vel[:, 0]) & (self._ages == 0)
        shift = np.where(followed[:, None], self._vel, 0.0) * frames[:, None]
        boxes = self._boxes + np.tile(shift, 2).astype(np.float32)
        return boxes, np.where(followed, self.moving_share * self._wide(gap), self._wide(gap))

    def _remember(self, xyxy: np.ndarray, gap: int, wh: tuple[int, int], key: bool) -> None:
        """New boxes (age 0) plus earlier ones not found again, aged by ``gap``. A new box whose centre
        is in an old box's region (with ``moving_share``: the region where it was expected) found that
        face again; with ``moving_share`` new boxes get velocities (``_step_velocities``). A followed
        face that stopped and is found outside its narrow region keeps its old box as a missed face
        (a wide region for ``hold_frames``): a few more pixels, no face lost (measured: treating any
        box in the wide region as found lost 0.9 points of recall, docs/BENCHMARKS.md)."""
        boxes, ages = xyxy.astype(np.float32), np.zeros(len(xyxy), np.int64)
        vel = np.full((len(xyxy), 2), np.nan, np.float32)
        if len(self._boxes):  # key frames too: a weak face missed on a key frame keeps its region
            old_age = self._ages + gap
            cx, cy = (xyxy[None, :, 0] + xyxy[None, :, 2]) / 2, (xyxy[None, :, 1] + xyxy[None, :, 3]) / 2
            b, m = self._grown(gap)  # with moving_share: a followed face's narrow region ahead
            inside = _centres_inside(b, m, cx, cy)  # (old, new)
            if self.moving_share is not None and inside.shape[1]:
                vel = self._step_velocities(xyxy, b, inside, old_age)
            found = inside.any(axis=1)
            lost = ~found & (old_age <= self.hold_frames * gap)  # hold counts processed frames
            boxes = np.concatenate([boxes, self._boxes[lost]])
            ages = np.concatenate([ages, old_age[lost]])
            vel = np.concatenate([vel, self._vel[lost]])
        self._boxes, self._ages, self._vel = boxes, ages, vel

    def _step_velocities(
        self, xyxy: np.ndarray, expected: np.ndarray, inside: np.ndarray, old_age: np.ndarray
    ) -> np.ndarray:
        """Velocity (px per source frame) of each new box paired with an old one, NaN for the rest.

        Pairs: the new centre in the old box's region where it was expected (``inside``: the narrow
        region ahead of a followed face, the wide one around any other), widths within
        ``ROI_SAME_FACE_WIDTH_RATIO``, one to one, the nearest first (to where the old face was
        expected or last seen). So a face that appears beside a followed one is not given its motion.
        """
        old_c = (self._boxes[:, :2] + self._boxes[:, 2:]) / 2
        exp_c = (expected[:, :2] + expected[:, 2:]) / 2
        new_c = (xyxy[:, :2] + xyxy[:, 2:]) / 2
        ow, nw = self._boxes[:, 2] - self._boxes[:, 0], xyxy[:, 2] - xyxy[:, 0]
        ratio = np.maximum(ow[:, None], nw[None, :]) / np.maximum(np.minimum(ow[:, None], nw[None, :]), 1e-3)
        dist = np.minimum(
            np.linalg.norm(new_c[None, :, :] - exp_c[:, None, :], axis=2),
            np.linalg.norm(new_c[None, :, :] - old_c[:, None, :], axis=2),
        )
        dist = np.where(inside & (ratio <= ROI_SAME_FACE_WIDTH_RATIO), dist, np.inf)
        vel = np.full((len(xyxy), 2), np.nan, np.float32)
        used_old, used_new = set(), set()
        for flat in np.argsort(dist, axis=None):
            i, j = divmod(int(flat), dist.shape[1])
            if not np.isfinite(dist[i, j]):
                break  # sorted: no pair left
            if i in used_old or j in used_new:
                continue
            used_old.add(i)
            used_new.add(j)
            vel[j] = (new_c[j] - old_c[i]) / np.float32(old_age[i])  # the last step: a turn counts at once
        return vel

    def describe(self) -> dict[str, Any]:
        """The key-frame detector's summary plus the key-frame interval and what the regions cost."""
        frames = self.frames_full + self.frames_roi
        return {
            **self.full.describe(),
            "faces_too_small": getattr(self.full, "faces_too_small", 0) + self.faces_too_small,
            "full_every": self.full_every,
            "roi_margin": self.margin,
            "roi_min_margin_px": self.min_margin_px,
            "roi_score_threshold": getattr(self.roi, "score_threshold", None),
            "roi_face_px": self.face_px,
            "roi_min_frame_px": self.min_frame_px,
            "frames_full": self.frames_full,
            "frames_roi": self.frames_roi,
            "roi_regions": self.regions,
            "roi_change_regions": self.change_regions if self.change is not None else None,
            # detector input pixels per frame / a key frame's, averaged over every frame (key = 1)
            "input_pixel_fraction": round(self._pixel_fraction_sum / frames, 4) if frames else None,
        }


def _merged(rects: list[list[float]]) -> list[tuple[int, int, int, int, float]]:
    """Overlapping rectangles ``[x1, y1, x2, y2, smallest face width]`` merged (their union box, the
    smaller face width), as integer pixel boxes."""
    rects = [list(r) for r in rects]
    merged = True
    while merged:  # a handful of regions: quadratic is fine
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]),
                                min(a[4], b[4])]  # fmt: skip
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return [(int(r[0]), int(r[1]), int(np.ceil(r[2])), int(np.ceil(r[3])), r[4]) for r in rects]
