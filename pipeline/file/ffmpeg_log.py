"""FFmpeg's own decode messages, counted per video file (OpenCV does not pass them to the caller).

A damaged file often still decodes: FFmpeg conceals the broken macroblocks (paints them from the
frames around) or drops the frame, and says so in its log ("concealing 431 DC, 431 AC, 431 MV errors
in I frame", "error while decoding MB 10 20", "Invalid NAL unit size"). OpenCV keeps that log to
itself (the ``facelog`` command even silences it), so a run over such a file looked complete and
clean. :func:`watch` counts those messages for one file while it is open.

How: FFmpeg has one log callback per process (``av_log_set_callback`` in libavutil). The first
:func:`watch` finds the libavutil that OpenCV loaded (``/proc/self/maps``, so the very library
OpenCV's FFmpeg uses, also a system one), lets OpenCV's FFmpeg backend set its own callback first
(it does so once, on its first open), then installs one of ours through ``ctypes``. Ours counts
and passes every message on to FFmpeg's default callback, so what FFmpeg prints (or, at
``OPENCV_FFMPEG_LOGLEVEL=-8`` as the CLI sets it, does not print) stays as before. At exit the
default callback is put back, so no FFmpeg thread calls into a finalising interpreter.

Counted: messages at ``AV_LOG_ERROR`` or worse (decode and demux errors; an intact file has none),
and "concealing ..." messages (one per frame decoded with concealed errors; FFmpeg logs them at
ERROR for H.264, at INFO for MPEG-4 part 2). Messages carry no file name, so every file open in the
process at that moment gets them; a report says when another file was open at the same time
(``shared``). Where libavutil cannot be found (not Linux, or OpenCV without FFmpeg) nothing is
counted and :attr:`DecodeReport.available` is False.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2

log = logging.getLogger(__name__)

AV_LOG_ERROR = 16  # libavutil/log.h: errors that break decoding of a frame or packet
_CONCEAL = b"concealing "
_CONVERSION = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?[diouxXcsfgeEp]")


@dataclass(eq=False)
class DecodeReport:
    """What FFmpeg said while one file was open (filled by the log callback).

    Attributes:
        available: False when FFmpeg's log cannot be hooked here (then nothing is counted).
        errors: messages at error level or worse (decode/demux errors).
        concealed: frames decoded with concealed (made-up) parts.
        first_error: the first error message, with its numbers left out ("Error at MB: #").
        shared: another file was open in this process when a message came (it may be that file's).
    """

    available: bool = True
    errors: int = 0
    concealed: int = 0
    first_error: str = ""
    shared: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reason(self) -> str | None:
        """A short clause for an error message ("FFmpeg reported 3 decode error(s), first: '...'")."""
        if not self.errors:
            return None
        return f"FFmpeg reported {self.errors} decode error(s), first: {self.first_error!r}"

    def warning(self) -> str | None:
        """One sentence for the run summary's ``warnings``; None when FFmpeg reported nothing."""
        if not (self.errors or self.concealed):
            return None
        parts = []
        if self.errors:
            parts.append(f"{self.errors} decode error(s) (first: {self.first_error!r})")
        if self.concealed:
            parts.append(f"{self.concealed} frame(s) decoded with concealed errors")
        also = "; another file was decoding in this process at the same time" if self.shared else ""
        return f"FFmpeg reported {' and '.join(parts)}: damaged stream, some frames may be corrupted{also}"


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class _Hook:
    """The process's FFmpeg log callback: counts into every open file's report, then prints as before."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        self.active: weakref.WeakSet[DecodeReport] = weakref.WeakSet()
        self.lock = threading.Lock()
        lib.av_log_set_callback.argtypes = [ctypes.c_void_p]
        lib.av_log_set_callback.restype = None
        default = lib.av_log_default_callback
        default.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
        default.restype = None
        self._default = default
        self._thunk = _CALLBACK(self._callback)  # kept alive as long as the process (FFmpeg holds it)
        lib.av_log_set_callback(ctypes.cast(self._thunk, ctypes.c_void_p))
        atexit.register(self.uninstall)

    def uninstall(self) -> None:
        self.lib.av_log_set_callback(ctypes.cast(self._default, ctypes.c_void_p))

    def _callback(self, ptr: int | None, level: int, fmt: bytes | None, vl: int | None) -> None:
        try:
            if fmt is not None and (level <= AV_LOG_ERROR or fmt.startswith(_CONCEAL)):
                self._count(level, fmt)
        finally:  # FFmpeg's own printing (it applies the log level) whatever happened above
            self._default(ptr, level, fmt, vl)

    def _count(self, level: int, fmt: bytes) -> None:
        with self.lock:
            reports = list(self.active)
        for r in reports:
            with r._lock:
                r.shared = r.shared or len(reports) > 1
                if fmt.startswith(_CONCEAL):
                    r.concealed += 1
                else:
                    r.errors += 1
                    if not r.first_error:
                        text = fmt.decode("utf-8", "replace").strip()
                        r.first_error = _CONVERSION.sub("#", text)


_install_lock = threading.Lock()
_hook: _Hook | None = None
_tried = False


def _find_avutil() -> Path | None:
    """The libavutil this process loaded (OpenCV's), from the memory map; None off Linux."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    for line in maps.read_text().splitlines():
        path = line.split()[-1] if line.count(" ") >= 5 else ""
        if "/libavutil" in path:
            return Path(path)
    return None


def _install() -> _Hook | None:
    global _hook, _tried
    with _install_lock:
        if _tried:
            return _hook
        _tried = True
        # OpenCV's FFmpeg backend sets its own callback on its first open (with OPENCV_FFMPEG_LOGLEVEL
        # or OPENCV_FFMPEG_DEBUG set): let it do so now, quietly, so it does not replace ours later.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            cv2.VideoCapture("/dev/null", cv2.CAP_FFMPEG).release()
        finally:
            cv2.utils.logging.setLogLevel(level)
        path = _find_avutil()
        if path is None:
            log.info("FFmpeg's log cannot be read here (no libavutil found): decode errors are not counted")
            return None
        try:
            _hook = _Hook(ctypes.CDLL(str(path)))
        except (OSError, AttributeError) as exc:
            log.info("FFmpeg's log cannot be read (%s): decode errors are not counted", exc)
            return None
        log.debug("counting FFmpeg decode messages through %s", path)
        return _hook


@contextmanager
def watch() -> Iterator[DecodeReport]:
    """Count FFmpeg's decode messages while the block runs (open, decode and close one file in it)."""
    report = start()
    try:
        yield report
    finally:
        stop(report)


def start() -> DecodeReport:
    """Start counting for one file (:func:`stop` ends it); see :func:`watch`."""
    hook = _install()
    if hook is None:
        return DecodeReport(available=False)
    report = DecodeReport()
    with hook.lock:
        hook.active.add(report)
    return report


def stop(report: DecodeReport) -> None:
    """Stop counting for ``report`` (idempotent)."""
    if _hook is not None:
        with _hook.lock:
            _hook.active.discard(report)
