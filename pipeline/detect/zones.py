"""Zones of a camera's view where faces are ignored: a screen, a mirror, a glass door, a poster.

Some faces in view are not visitors, and no rule that looks only at the faces can tell: a wall
screen whose advert shows real faces that move (``benchmarks/cctv_synth.py``'s ``screen720``: every
advert face became a person), a person's reflection in a mirror or a shop window (a second,
mirrored person), a poster the static rule keeps apart only after ``tracking.static_after_s``.
Video analytics tools let the operator mask such parts of the view (Frigate's object filter masks);
facelog's are ``detector.ignore_zones`` for every source of a run and ``rtsp.cameras[].ignore_zones``
for one live camera.

A zone is a polygon of 3 or more ``[x, y]`` points (checked by ``config.zone_problem``), as fractions
of the frame's width and height (0..1, from the top left), so it holds at any stream resolution. A
face whose box centre lies inside a zone (or on its edge) is dropped before tracking: no frame row,
no track, not in the persons; the run's summary counts them (``faces_ignored``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from facelog.pipeline.types import Faces

Point = tuple[float, float]
Zone = Sequence[Point]


def in_zones(xyxy: np.ndarray, zones: Sequence[Zone], width: int, height: int) -> np.ndarray:
    """(n,) bool: whether each box's centre lies inside or on the edge of any zone.

    Args:
        xyxy: (n, 4) boxes in frame pixels.
        zones: polygons of ``[x, y]`` fractions of the frame.
        width, height: the frame's size in pixels (the zones are scaled to it).
    """
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    inside = np.zeros(len(boxes), bool)
    if not len(boxes):
        return inside
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    for zone in zones:
        poly = (np.asarray(zone, np.float32) * np.array([width, height], np.float32)).reshape(-1, 1, 2)
        for i, (x, y) in enumerate(centres.tolist()):
            if not inside[i]:
                inside[i] = cv2.pointPolygonTest(poly, (x, y), False) >= 0
    return inside


class IgnoreZones:
    """The zones of each source: ``by_source``'s where it names the source, else ``default``.

    Args:
        default: the zones of every source (``detector.ignore_zones``).
        by_source: zones of named sources (``rtsp.cameras[].ignore_zones``), instead of the default.
    """

    def __init__(
        self, default: Sequence[Zone] = (), by_source: Mapping[str, Sequence[Zone]] | None = None
    ) -> None:
        self.default = tuple(default)
        self.by_source = {k: tuple(v) for k, v in (by_source or {}).items()}

    def __bool__(self) -> bool:
        return bool(self.default) or any(self.by_source.values())

    def zones(self, source_id: str) -> tuple[Zone, ...]:
        """The zones of one source."""
        return self.by_source.get(source_id, self.default)

    def outside(self, source_id: str, faces: Faces, width: int, height: int) -> tuple[Faces, np.ndarray]:
        """The faces of one frame of ``source_id`` outside its zones, and the (k, 4) boxes inside."""
        zones = self.zones(source_id)
        if not zones or not len(faces):
            return faces, np.zeros((0, 4), np.float32)
        inside = in_zones(faces.xyxy, zones, width, height)
        return faces.select(~inside), faces.xyxy[inside]
