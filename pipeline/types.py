"""Records that flow through the pipeline. Defined here and nowhere else.

Arrays are struct-of-arrays (dim 0 = n) and are validated on construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

Gender = Literal["female", "male"]
PersonStatus = Literal["person", "static", "no_face"]


def gender_of(female_prob: float) -> Gender:
    """The gender a female probability reads as (a tie reads female), per frame and per person."""
    return "female" if female_prob >= 0.5 else "male"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame."""

    source_id: str
    index: int  # decode order, 0-based
    pts_ns: int  # media timestamp (ns); restarts after an RTSP reconnect
    image: np.ndarray  # (H, W, 3) uint8 BGR
    wall_ns: int = 0  # wall-clock UTC when the frame was read (ns since epoch); 0 for files

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")


@dataclass(frozen=True, slots=True)
class Faces:
    """Detections in one frame; ``Faces.empty()`` is legal."""

    xyxy: np.ndarray  # (n, 4) float32, absolute pixels
    score: np.ndarray  # (n,) float32
    landmarks: np.ndarray | None = None  # (n, 5, 2) float32
    # (n,) bool: below the detector's threshold, kept only to continue a confirmed track (the
    # detector's continue_threshold band; persons.PersonTracks drops those that continue none)
    track_only: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (n, 4), got {self.xyxy.shape}")
        n = len(self.xyxy)
        if self.score.shape != (n,):
            raise ValueError(f"score must be ({n},), got {self.score.shape}")
        if self.landmarks is not None and self.landmarks.shape != (n, 5, 2):
            raise ValueError(f"landmarks must be ({n}, 5, 2), got {self.landmarks.shape}")
        only = self.track_only
        if only is not None and (only.shape != (n,) or only.dtype != bool):
            raise ValueError(f"track_only must be ({n},) bool, got {only.shape} {only.dtype}")

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def accepted(self) -> Faces:
        """These detections without the ``track_only`` ones (what a run without tracking logs)."""
        if self.track_only is None or not self.track_only.any():
            return self
        return replace(self.select(~self.track_only), track_only=None)

    def select(self, keep: np.ndarray) -> Faces:
        """The detections where the (n,) bool ``keep`` is true, in order (``track_only`` kept)."""
        keep = np.asarray(keep, bool)
        if keep.shape != (len(self),):
            raise ValueError(f"keep must be ({len(self)},) bool, got {keep.shape}")
        if keep.all():
            return self
        lm = self.landmarks[keep] if self.landmarks is not None else None
        only = self.track_only[keep] if self.track_only is not None else None
        return Faces(self.xyxy[keep], self.score[keep], lm, only)


@dataclass(frozen=True, slots=True)
class Prediction:
    """One face in one frame."""

    face_index: int
    xyxy: tuple[float, float, float, float]
    det_score: float
    age: float
    gender: Gender
    gender_score: float  # probability of ``gender``
    track_id: int = -1
    age_smooth: float = float("nan")  # the track's fused age so far (``fusion.PersonFusion``)
    gender_smooth: Gender | None = None  # the track's fused gender so far


@dataclass(frozen=True, slots=True)
class PersonResult:
    """One person track, reported once when it ends (lost too long, end of input, reconnect).

    Only confirmed tracks become persons: a track born from a low-score detection and never matched
    again (typically a one-frame false positive) is dropped.
    """

    source_id: str
    track_id: int  # the ``track_id`` of this person's rows in the frame CSV
    first_frame: int
    last_frame: int
    first_pts_ns: int
    last_pts_ns: int
    frames: int  # frames with a detection of this person
    age: float  # fused expected age (years)
    age_low: float  # central 80% interval of the fused age distribution (``fusion.interval``)
    age_high: float
    gender: Gender
    gender_score: float  # fused probability of ``gender``, in [0.5, 1]
    face_px: float  # median face size (sqrt of the box area, px)
    first_wall_ns: int = 0  # wall-clock UTC of the first / last frame (ns); 0 for files
    last_wall_ns: int = 0
    # "person"; "static": the track never moved for long (a poster, a screen, a face-like pattern);
    # "no_face": none of its best faces is a face seen from the front (the back or side of a head,
    # detect.frontal.FrontalCheck). The last two are kept in the tracks CSV, left out of person counts
    status: PersonStatus = "person"
    # the ids of other tracks of this person, joined to this one when they ended (tracking/join.py):
    # their frame rows are this person's (a file run's frame CSV gives them this id)
    pieces: tuple[int, ...] = ()

    @property
    def dwell_s(self) -> float:
        """Seconds from the first to the last sighting (stream time)."""
        return (self.last_pts_ns - self.first_pts_ns) / 1e9


@dataclass(frozen=True, slots=True)
class FrameResult:
    """The sink's only input, one per processed frame."""

    source_id: str
    frame_index: int
    pts_ns: int
    predictions: tuple[Prediction, ...]  # empty = frame seen, no faces
    wall_ns: int = 0
    ended: tuple[PersonResult, ...] = ()  # person tracks of this source that ended at this frame
    # boxes of faces dropped in the source's ignore zones (detect/zones.py): never written, only
    # blurred in an annotated video with --blur-faces
    ignored: tuple[tuple[float, float, float, float], ...] = ()
