"""The config's tracking and fusion sections: they mirror ``TrackerParams`` and ``FusionParams``,
whose field defaults are the sections' defaults (written once, in those dataclasses)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field, model_validator

from facelog.pipeline.config.sections import _Section
from facelog.pipeline.tracking.fusion import FusionParams
from facelog.pipeline.tracking.track import TrackerParams


def _defaults(params: type) -> dict[str, Any]:
    """The field defaults of a parameter dataclass (``TrackerParams``, ``FusionParams``), written there
    once: the config sections take them from there."""
    return {f.name: f.default for f in dataclasses.fields(params) if f.default is not dataclasses.MISSING}


_TRACKER = _defaults(TrackerParams)
_FUSION = _defaults(FusionParams)


class TrackingConfig(_Section):
    """Person tracks: ``track.TrackerParams`` (every key but ``enabled``, ``use_*`` and the person
    evidence and static keys, same names). Their defaults are ``TrackerParams``' own.

    ``max_lost_frames`` and the other ``*_frames`` keys count frames of a 25-fps source, timed by the
    frames' timestamps (``tracker`` module docstring: a 5-fps camera steps 5 a frame), not processed
    frames; frames a stride or a live reader never analysed are not missed (``states.TrackState``).
    """

    enabled: bool = True
    high_score: float = Field(default=_TRACKER["high_score"], ge=0, le=1)  # below: only continues tracks
    match_high: float = Field(default=_TRACKER["match_high"], ge=0, le=1)
    match_low: float = Field(default=_TRACKER["match_low"], ge=0, le=1)
    center_radius: float = Field(default=_TRACKER["center_radius"], ge=0)
    max_size_ratio: float = Field(default=_TRACKER["max_size_ratio"], ge=1)
    max_lost_frames: int = Field(default=_TRACKER["max_lost_frames"], ge=0)
    max_tentative_lost_frames: int = Field(default=_TRACKER["max_tentative_lost_frames"], ge=0)
    # face embedding gate, clothes colour gate
    max_cosine_distance: float = Field(default=_TRACKER["max_cosine_distance"], ge=0, le=2)
    max_body_distance: float = Field(default=_TRACKER["max_body_distance"], ge=0, le=2)
    embedding_momentum: float = Field(default=_TRACKER["embedding_momentum"], ge=0, le=1)
    match_last_box: bool = _TRACKER["match_last_box"]
    # after max_lost_frames: re-identify by face embedding within reid_max_cosine (also the stricter
    # gate after any miss)
    reid_frames: int = Field(default=_TRACKER["reid_frames"], ge=0)
    # ...longer for a track that stood still (a person who looked down or turned away), identity only
    reid_still_frames: int = Field(default=_TRACKER["reid_still_frames"], ge=0)
    # ...and for a track that walked steadily (a walker who looked aside), where the walk leads
    reid_walk_frames: int = Field(default=_TRACKER["reid_walk_frames"], ge=0)
    reid_max_cosine: float = Field(default=_TRACKER["reid_max_cosine"], ge=0, le=2)
    # identity veto (face descriptor); a thumbnail change that questions a followed track; and a
    # periodic identity check (0: never)
    identity_max_distance: float = Field(default=_TRACKER["identity_max_distance"], ge=0, le=4)
    # ...stricter where the model reads both faces younger than identity_child_age (0: never)
    identity_child_age: float = Field(default=_TRACKER["identity_child_age"], ge=0)
    identity_child_distance: float = Field(default=_TRACKER["identity_child_distance"], ge=0, le=4)
    # ...and never looser than this many spreads below the face's distances to the camera's other
    # people (where they look alike to the descriptor; 0: off)
    identity_cohort_z: float = Field(default=_TRACKER["identity_cohort_z"], ge=0, le=10)
    identity_jump: float = Field(default=_TRACKER["identity_jump"], ge=0, le=2)
    identity_check_frames: int = Field(default=_TRACKER["identity_check_frames"], ge=0)
    # a followed track whose model embedding stays this close is not refused by the descriptor alone
    identity_keep_cosine: float = Field(default=_TRACKER["identity_keep_cosine"], ge=0, le=2)
    # a question the descriptor cannot answer (face under 32 px): refused beyond this embedding distance
    identity_unknown_cosine: float = Field(default=_TRACKER["identity_unknown_cosine"], ge=0, le=2)
    # low-score boxes continue a track this long at most
    max_low_score_frames: int = Field(default=_TRACKER["max_low_score_frames"], ge=0)
    use_embedding: bool = True  # gate on the model's embedding output (when the model has one)
    use_body: bool = True  # gate on the colour below the face (appearance.body_histogram)
    use_identity: bool = True  # identity veto (identity.IdentityEmbedder: dlib's face descriptor)
    # follow the view of a camera that shakes (detect.motion.ViewMotion): predictions and the static
    # test in scene coordinates; a fixed camera is measured every 5th frame and left as it is
    camera_motion: bool = True
    min_evidence_frames: int = Field(default=3, ge=0)  # a person needs this many detections...
    evidence_score: float = Field(default=0.6, ge=0, le=1)  # ...at or above this score (not track_only)
    min_evidence_s: float = Field(default=0.2, ge=0)  # ...and its faces span this long (first to last)
    # a track that ends joins a live one of the same person (where its walk led) when their best faces'
    # mean descriptors are this close (tracking/join.py; where the two tracks' faces alternated,
    # identity_max_distance if that is looser: join.join_limit); 0: off
    join_max_distance: float = Field(default=0.4, ge=0)
    static_after_s: float = Field(default=10.0, gt=0)  # a track seen this long whose face never moved...
    static_max_motion: float = Field(default=0.03, ge=0)  # ...(1-s means, in face sizes) is "static"
    # a person's gender also read from the identity descriptor of this many of its best faces (>= 32
    # px, >= 1 s apart), computed when the track ends; 0: the age/gender model alone (persons.py)
    gender_faces: int = Field(default=3, ge=0, le=10)
    # a person's best faces (up to 8, >= 32 px) shown to dlib's frontal face detector when the track
    # ends: a track none of them passes is the back or side of a head, status "no_face" (detect/frontal.py)
    frontal_check: bool = True


class FusionConfig(_Section):
    """One answer per person: ``fusion.FusionParams`` (same names, same meaning, its defaults)."""

    min_face_px: float = Field(default=_FUSION["min_face_px"], ge=0)
    full_face_px: float = Field(default=_FUSION["full_face_px"], gt=0)
    size_floor: float = Field(default=_FUSION["size_floor"], ge=0, le=1)
    frontal_floor: float = Field(default=_FUSION["frontal_floor"], ge=0, le=1)
    sharpness_ref: float = Field(default=_FUSION["sharpness_ref"], gt=0)
    sharpness_floor: float = Field(default=_FUSION["sharpness_floor"], ge=0, le=1)
    min_weight: float = Field(default=_FUSION["min_weight"], gt=0)
    frames_per_observation: float = Field(default=_FUSION["frames_per_observation"], gt=0)
    max_observations: float = Field(default=_FUSION["max_observations"], ge=1)
    floor: float = Field(default=_FUSION["floor"], ge=0, le=1)
    interval: float = Field(default=_FUSION["interval"], gt=0, lt=1)
    mean_after_s: float = Field(default=_FUSION["mean_after_s"], ge=0)

    @model_validator(mode="after")
    def _sizes(self) -> FusionConfig:
        if self.min_face_px >= self.full_face_px:
            raise ValueError(f"min_face_px ({self.min_face_px}) must be < full_face_px ({self.full_face_px})")
        return self
