"""One face detector per live camera, all built on the run session's whole-frame detector."""

from __future__ import annotations

from typing import Any

from facelog.pipeline.detect import Detector, RoiDetector, make_detector, make_whole_frame_detector
from facelog.pipeline.detect.roi import ROI_LIVE_FULL_EVERY
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.types import Faces, Frame


class CameraDetectors:
    """One detector per camera, built at its first frame: detection around that camera's known faces.

    A ``RoiDetector`` keeps the faces of the frames before, so each camera needs its own (frames of one
    camera come in index order; sampling gaps widen the regions). With ``threads`` 1 they run one at a
    time and share the session's whole-frame detector for key frames; with more (cameras detected at
    once) each camera has a whole-frame detector of its own. Unset, ``detector.full_every`` is
    ``ROI_LIVE_FULL_EVERY`` (8) here, ``detector.roi_motion`` on at every frame size (regions where the
    frame changed find the faces that enter, so key frames matter less), and
    ``detector.roi_min_megapixels`` 0 (regions at every frame size): a camera the machine cannot keep up
    with loses whole frames, which costs far more recall than regions do (docs/RTSP.md). Frames dropped
    before a frame only widen its regions (no gap makes a key frame). Regions follow each face's motion
    (``ROI_MOVING_SHARE``; file runs keep the wide regions around where faces were). ``full_every: 1``
    detects every frame in full.
    """

    def __init__(self, session: InferenceSession, threads: int = 1) -> None:
        cfg = session.cfg.detector
        if "roi_min_megapixels" not in cfg.model_fields_set:
            cfg = cfg.model_copy(update={"roi_min_megapixels": 0.0})
        if cfg.full_every is None:  # unset: the frame-change regions find new faces, key frames matter less
            cfg = cfg.model_copy(update={"full_every": ROI_LIVE_FULL_EVERY})
        self.cfg = cfg
        self._choice = session.resolved.detector
        plain = session.detector
        self._full = plain.full if isinstance(plain, RoiDetector) else plain
        self._by_camera: dict[str, Detector] = {}
        self._shared_full = threads <= 1  # a detector must not run in two threads at once

    def detector(self, camera: str) -> Detector:
        det = self._by_camera.get(camera)
        if det is None:
            full = self._full if self._shared_full else make_whole_frame_detector(self.cfg, self._choice)
            det = make_detector(self.cfg, self._choice, workers=1, full=full, live=True)
            self._by_camera[camera] = det
        return det

    def detect(self, frame: Frame) -> Faces:
        """The faces of one camera's frame (frames of a camera come in index order)."""
        return self.detector(frame.source_id).detect(frame.image, frame.index)

    def reset(self, camera: str) -> None:
        """Forget the camera's known faces (after a reconnect: its next frame is a key frame)."""
        det = self._by_camera.get(camera)
        if isinstance(det, RoiDetector):
            det.reset()

    def describe(self, camera: str) -> dict[str, Any]:
        """The camera's detector summary (key and region frames, input pixel fraction); {} before its
        first frame."""
        det = self._by_camera.get(camera)
        return det.describe() if det is not None else {}
