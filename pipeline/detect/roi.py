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
frames since it was seen, up to ``known_faces.ROI_MAX_GROWTH`` times. It needs frames in order (one detect
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
from facelog.pipeline.detect.known_faces import KnownFaces, Region, centres_inside, merged_regions
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
        self.full_every, self.min_face_px, self.face_px = full_every, min_face_px, face_px
        self.faces_too_small = 0  # region boxes dropped as smaller than the minimum (key frames: full's)
        self.min_frame_px, self.small_frame_lines = min_frame_px, small_frame_lines
        self.max_gap_frames = max_gap_frames
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
        self.known = KnownFaces(margin, min_margin_px, hold_frames, moving_share)
        self.reset()

    def reset(self) -> None:
        """Forget the known faces: the next frame is a key frame (call between sources)."""
        self.known.reset()
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
            changed = self.change.observe(image_bgr, self.known.boxes)
            if self.change.moved.any():  # a shaking camera: the known faces moved with the view
                self.known.shift(*self.change.moved)
        key = (
            self._since_key is None
            or self._since_key + 1 >= self.full_every  # processed frames, whatever the stride
            or (self.max_gap_frames is not None and gap > self.max_gap_frames)
            or w * h < self.min_frame_px
            or (h < self.small_frame_lines and self._key_scale((w, h)) > 1.0)  # an enlarged small frame
            or changed > CHANGE_MAX_SHARE  # a light change or a camera moved (more than shaking)
        )
        regions: list[Region] = []
        known: list[Region] = []
        if not key:
            known = self.known.regions((w, h), gap)
            regions = self._with_changes(known, (w, h))
            if regions is not known:  # change regions were added: never more than a key frame costs
                cost = sum(pw * ph for *_, pw, ph in map(self._region_input, regions))
                key = cost >= self._key_input_px((w, h))
        if key:
            faces = self.full.detect(image_bgr)
            self._since_key = 0
            self.frames_full += 1
            self._pixel_fraction_sum += 1.0
            self.known.remember(faces.accepted().xyxy, gap)
            return faces
        assert self._since_key is not None
        self._since_key += 1
        self.frames_roi += 1
        self.change_regions += self._added  # regions added where the frame changed, on a region frame
        faces = self._detect_regions(image_bgr, regions, known)
        self.known.remember(faces.accepted().xyxy, gap)
        return faces

    # -- regions -----------------------------------------------------------------------------------
    def regions_for(self, wh: tuple[int, int], gap: int = 1) -> list[Region]:
        """The regions the next region frame would look at (``KnownFaces.regions``)."""
        return self.known.regions(wh, gap)

    def _with_changes(self, known: list[Region], wh: tuple[int, int]) -> list[Region]:
        """``known`` plus regions where the frame changed outside them, at the key frame's scale
        (their smallest face: one that is ``face_px`` wide at the key frame's input), merged."""
        self._added = 0
        if self.change is None or not self._changing:
            return known
        moving = self.change.boxes([r[:4] for r in known] + self.known.bodies(wh), wh)
        if len(moving) == 0:
            return known
        self._added = len(moving)
        face_w = self.face_px / max(self._key_scale(wh), 1e-6)
        return merged_regions([list(r) for r in known] + [[*b, face_w] for b in moving.tolist()])

    def _region_input(self, region: Region) -> tuple[float, int, int, int, int]:
        """How one region is fed to the detector: its scale (shrunk so its smallest face is ``face_px``
        wide, never enlarged), its shrunk width and height, and those padded to ``ROI_PAD_PX``."""
        x1, y1, x2, y2, face_w = region
        scale = min(1.0, self.face_px / max(face_w, 1.0))
        cw, ch = max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))
        return scale, cw, ch, -(-cw // ROI_PAD_PX) * ROI_PAD_PX, -(-ch // ROI_PAD_PX) * ROI_PAD_PX

    def _detect_regions(
        self,
        image: np.ndarray,
        regions: list[Region],
        known: list[Region],
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
            in_known = centres_inside(rects, np.zeros(len(rects), np.float32), cx, cy).any(axis=0)
            key_thr = getattr(self.full, "score_threshold", 0.0)
            only = only | (~in_known & (score < key_thr))
        min_px = min_face_for(self.min_face_px, h, getattr(self.full, "min_face_ref_height", 0))
        faces = finish_faces(xyxy, score, lm, w, h, min_px, only if only.any() else None)
        self.faces_too_small += len(xyxy) - len(faces)
        return faces

    def _key_input_px(self, wh: tuple[int, int]) -> float:
        s = self._key_scale(wh)
        return wh[0] * s * wh[1] * s

    def describe(self) -> dict[str, Any]:
        """The key-frame detector's summary plus the key-frame interval and what the regions cost."""
        frames = self.frames_full + self.frames_roi
        return {
            **self.full.describe(),
            "faces_too_small": getattr(self.full, "faces_too_small", 0) + self.faces_too_small,
            "full_every": self.full_every,
            "roi_margin": self.known.margin,
            "roi_min_margin_px": self.known.min_margin_px,
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
