"""Video files via OpenCV (FFmpeg): frames with their index and presentation time.

``VideoSource`` checks the input before the first frame (missing, empty, not a video, no decodable
frame) and raises ``SourceError`` with one line. Frames are sampled by stride or target fps; skipped
frames are only grabbed, not converted. pts comes from ``CAP_PROP_POS_MSEC`` as integer ns; fps stays
a float. Where the timestamps stop increasing (none in raw elementary streams; a reset where MPEG-TS
recordings were joined) they count on from the last one by frames / fps, and the summary says so. A
stream that ends well before the frame count its container announced is truncated: ``VideoSource``
raises ``SourceError`` after yielding the frames before the break.

Frames whose pixels are stored wider (or taller) than square are resized to the picture a player
shows (``aspect.SquarePixels``: a DVR's anamorphic D1); ``VideoInfo`` gives that size.

Damage that still decodes is kept in ``VideoSource.warnings`` (and logged once): what FFmpeg
reported while decoding the file (decode errors, frames with concealed errors; OpenCV does not hand
them on, ``ffmpeg_log`` reads FFmpeg's log for them), a few frames short of the announced count, and
timestamps that jump over missing frames.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from facelog.pipeline.errors import SourceError
from facelog.pipeline.file import ffmpeg_log
from facelog.pipeline.frames.aspect import SquarePixels, sample_aspect, square_size
from facelog.pipeline.frames.interlace import Deinterlacer, Mode
from facelog.pipeline.types import Frame

log = logging.getLogger(__name__)

# A container's frame count is an estimate for some formats: allow this much shortfall at the end.
TRUNCATION_SLACK = 0.02
# A timestamp step above this many frame intervals (1/fps) means frames are missing there.
PTS_GAP_INTERVALS = 2.5


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about the video stream."""

    width: int  # the frames as analysed: square pixels (``aspect.square_size``)
    height: int
    fps: float  # 0.0 when unknown
    frame_count: int  # as announced by the container; 0 when unknown
    codec: str
    sample_aspect: float = 1.0  # a stored pixel's width over its height (1.0: square, or not said)


_MAGIC = (
    (4, b"ftyp", "MP4/MOV"),
    (0, b"RIFF", "AVI"),
    (0, b"\x1aE\xdf\xa3", "Matroska/WebM"),
    (0, b"FLV", "FLV"),
    (0, b"OggS", "Ogg"),
    (0, b"\x00\x00\x01\xba", "MPEG-PS"),
)


def sniff_container(path: Path) -> str | None:
    """Name the container from the file's first bytes (for error messages only), or None."""
    with open(path, "rb") as f:
        head = f.read(16)
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def _fourcc(value: float) -> str:
    code = int(value)
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else f"0x{code:08x}"


class VideoSource:
    """Decoded, sampled frames of one video file.

    Args:
        path: the video file.
        source_id: the ``source`` column value (default: the path as given).
        stride: process every ``stride``-th frame.
        target_fps: process about this many frames per second of video (by pts) instead.
        deinterlace: interlaced frames reduced to one field (``interlace.Deinterlacer``: ``auto``,
            ``on``, ``off``); ``VideoSource.deinterlacer`` says whether and from which frame.

    Raises:
        SourceError: on open, when the file cannot be read as video.
    """

    def __init__(
        self,
        path: str | Path,
        source_id: str | None = None,
        stride: int = 1,
        target_fps: float | None = None,
        deinterlace: Mode = "off",
    ) -> None:
        self.path = Path(path)
        self.source_id = source_id if source_id is not None else str(path)
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.stride = stride
        self.target_fps = target_fps
        self.deinterlacer = Deinterlacer(deinterlace, self.source_id)
        self.frames_read = 0
        self.frames_processed = 0
        self.decode_s = 0.0
        self._last_slot = -1
        # where the stream's timestamps stopped increasing (or never did), (frame index, pts ns) of the
        # last one it gave: later ones count on from it by frames / fps; None while they increase
        self.pts_derived_from: tuple[int, int] | None = None
        self.warnings: list[str] = []  # damage that still decoded (see the module docstring)
        self._gaps = 0
        self._max_gap_ns = 0
        self._ffmpeg = ffmpeg_log.start()  # FFmpeg's messages while this file is open
        try:
            self._cap = self._open()
        except BaseException:
            ffmpeg_log.stop(self._ffmpeg)
            raise
        c = self._cap
        sar = sample_aspect(c)
        self.square = SquarePixels(sar, self.source_id)
        self.stored_size = (int(c.get(cv2.CAP_PROP_FRAME_WIDTH)), int(c.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        width, height = square_size(*self.stored_size, sar)
        self.info = VideoInfo(
            width=width,
            height=height,
            fps=float(c.get(cv2.CAP_PROP_FPS) or 0.0),
            frame_count=max(0, int(c.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
            codec=_fourcc(c.get(cv2.CAP_PROP_FOURCC)),
            sample_aspect=sar,
        )

    def _open(self) -> cv2.VideoCapture:
        p = self.path
        if not p.exists():
            raise SourceError(f"{p}: no such file", path=str(p))
        if p.is_dir():
            raise SourceError(
                f"{p}: is a folder, expected a video file "
                "(for a folder of videos: facelog batch DIR -o OUT_DIR)",
                path=str(p),
            )
        size = p.stat().st_size
        if size == 0:
            raise SourceError(f"{p}: empty file (0 bytes)", path=str(p))
        cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            container = sniff_container(p)
            why = (
                f"a {container} file that FFmpeg cannot open: unsupported codec, or damaged/truncated"
                if container
                else "not a video: FFmpeg does not recognise the format"
            )
            raise SourceError(f"{p}: {why} ({size} bytes)", path=str(p))
        return cap

    @property
    def frames_skipped(self) -> int:
        return self.frames_read - self.frames_processed

    def _wanted(self, index: int, pts_ns: int) -> bool:
        if self.target_fps is None:
            return index % self.stride == 0
        # keep the first frame of each 1/target_fps slot of media time
        slot = math.floor(pts_ns * 1e-9 * self.target_fps + 1e-6)
        if slot > self._last_slot:
            self._last_slot = slot
            return True
        return False

    def __iter__(self) -> Iterator[Frame]:
        import time

        self._last_slot = -1
        cap = self._cap
        codec = self.info.codec
        index = 0
        last_pts = -1
        while True:
            t0 = time.perf_counter()
            if not cap.grab():
                self.decode_s += time.perf_counter() - t0
                break
            pts_ns = round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
            if index and pts_ns <= last_pts and self.info.fps > 0 and self.pts_derived_from is None:
                # timestamps that stop increasing: none at all (raw elementary streams: index / fps), or
                # reset where recordings were joined (MPEG-TS segments, a recorder's clock set back):
                # from here on the last one plus frames / fps, so time never runs backwards
                self.pts_derived_from = (index - 1, last_pts)
                log.warning("%s: %s", self.path, self.pts_note())
            if self.pts_derived_from is not None:
                i0, p0 = self.pts_derived_from
                pts_ns = p0 + round((index - i0) * 1e9 / self.info.fps)
            elif index and self.info.fps > 0 and pts_ns - last_pts > PTS_GAP_INTERVALS * 1e9 / self.info.fps:
                self._gaps += 1
                self._max_gap_ns = max(self._max_gap_ns, pts_ns - last_pts)
            last_pts = pts_ns
            self.frames_read += 1
            if self._wanted(index, pts_ns):
                ok, image = cap.retrieve()
                if not ok or image is None:
                    self.decode_s += time.perf_counter() - t0
                    raise SourceError(
                        f"{self.path}: frame {index} could not be decoded (codec {codec})",
                        path=str(self.path),
                    )
                image = self.square(self.deinterlacer(image))  # the fields are stored rows
                self.decode_s += time.perf_counter() - t0
                self.frames_processed += 1
                yield Frame(self.source_id, index, pts_ns, image)
            else:
                self.decode_s += time.perf_counter() - t0
            index += 1
        self.close()
        if index == 0:
            raise SourceError(
                f"{self.path}: no decodable video frame (codec {codec} unsupported or stream damaged)",
                path=str(self.path),
            )
        expected = self.info.frame_count
        if expected and index < expected * (1 - TRUNCATION_SLACK) - 1:
            why = self._ffmpeg.reason()  # decoding stopped at damage, not only at a cut
            raise SourceError(
                f"{self.path}: truncated video: stream ended after {index} of {expected} frames"
                + (f" ({why})" if why else ""),
                path=str(self.path),
            )
        self._note_damage(index)

    def _note_damage(self, decoded: int) -> None:
        """Fill ``warnings`` after the last frame and say so once on the log."""
        ffmpeg = self._ffmpeg.warning()
        if ffmpeg:
            self.warnings.append(ffmpeg)
        expected = self.info.frame_count
        if expected and decoded < expected:
            self.warnings.append(
                f"container declares {expected} frames, {decoded} decoded: damaged or cut short"
            )
        if self._gaps:
            self.warnings.append(
                f"timestamps jump over missing frames {self._gaps} time(s), the longest "
                f"{self._max_gap_ns / 1e6:.0f} ms: damaged stream or dropped frames"
            )
        if self.warnings:
            log.warning("%s: %s (listed under warnings in the summary)", self.path, "; ".join(self.warnings))

    def pts_note(self) -> str:
        """What the reader did to the timestamps (for the log and the summary); "" when nothing."""
        if self.pts_derived_from is None:
            return ""
        i0, p0 = self.pts_derived_from
        if i0 == 0 and p0 == 0:
            return "stream has no increasing timestamps; pts = index / fps"
        return (
            f"timestamps stopped increasing after frame {i0} ({p0 / 1e6:.0f} ms): from there on pts = "
            "that one + frames / fps (joined recordings, or a clock set back)"
        )

    def close(self) -> None:
        self._cap.release()
        ffmpeg_log.stop(self._ffmpeg)
