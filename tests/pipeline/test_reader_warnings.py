"""Damaged files that still decode: the summary lists ``warnings`` and stderr says so once."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.reader import VideoSource

N_FRAMES = 100


def _boxes(data: bytes) -> dict[bytes, bytes]:
    out, i = {}, 0
    while i < len(data):
        size = struct.unpack(">I", data[i : i + 4])[0]
        out[data[i + 4 : i + 8]] = data[i : i + size]
        i += size
    return out


def moov_first(data: bytes) -> bytes:
    """The mp4 with its index (moov) moved before the media data, as recorders that stream do: a file
    cut short then keeps its index and still opens. Chunk offsets (stco) move by the index's size."""
    boxes = _boxes(data)
    moov = bytearray(boxes[b"moov"])
    j = moov.find(b"stco")
    for k in range(struct.unpack(">I", moov[j + 8 : j + 12])[0]):
        o = j + 12 + 4 * k
        moov[o : o + 4] = struct.pack(">I", struct.unpack(">I", moov[o : o + 4])[0] + len(moov))
    return boxes[b"ftyp"] + boxes.get(b"free", b"") + bytes(moov) + boxes[b"mdat"]


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(intact, cut): a 100-frame noise mp4, and the same with the last 2% of its media data cut off."""
    root = tmp_path_factory.mktemp("cut")
    src = root / "src.mp4"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (64, 48))
    for k in range(N_FRAMES):
        w.write(np.random.default_rng(k).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    w.release()
    whole = moov_first(src.read_bytes())
    intact, cut, gap = root / "intact.mp4", root / "cut.mp4", root / "gap.mp4"
    intact.write_bytes(whole)
    cut.write_bytes(whole[: len(whole) - len(_boxes(whole)[b"mdat"]) // 50])
    gap.write_bytes(with_gap(src.read_bytes(), 50, 10))
    return intact, cut


def _u32(b: bytes) -> int:
    return int(struct.unpack(">I", b)[0])


def with_gap(data: bytes, at: int, intervals: int) -> bytes:
    """The mp4 (index last) with frame ``at``'s duration stretched to ``intervals`` frame intervals, as
    when frames are missing: stts gets three entries, its parent boxes grow, the edit list is blanked
    (renamed ``free``) so the longer stream is played whole. Every frame is still there and decodes."""
    m = data.find(b"moov") - 4
    j = data.find(b"stts", m) - 4
    size = _u32(data[j : j + 4])
    assert _u32(data[j + 12 : j + 16]) == 1, "expected one stts entry"
    n, d = _u32(data[j + 16 : j + 20]), _u32(data[j + 20 : j + 24])
    body = b"\0\0\0\0" + struct.pack(">7I", 3, at, d, 1, d * intervals, n - at - 1, d)
    stts = struct.pack(">I", 8 + len(body)) + b"stts" + body
    grown = data[:j] + stts + data[j + size :]
    out = bytearray(grown)
    for name in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
        k = grown.find(name, m) - 4
        out[k : k + 4] = struct.pack(">I", _u32(grown[k : k + 4]) + len(stts) - size)
    e = out.find(b"edts", m)
    if e > 0:
        out[e : e + 4] = b"free"
    return bytes(out)


def frames_and_warnings(path: Path) -> tuple[int, list[str]]:
    src = VideoSource(path, stride=5)
    for _ in src:
        pass
    return src.frames_read, src.warnings


def test_an_intact_file_has_no_warnings(cut_clip: tuple[Path, Path]) -> None:
    assert frames_and_warnings(cut_clip[0]) == (N_FRAMES, [])


def test_a_file_cut_short_still_decodes_with_a_warning(cut_clip: tuple[Path, Path]) -> None:
    read, warnings = frames_and_warnings(cut_clip[1])
    assert 97 <= read < N_FRAMES  # within the truncation slack: no error, but not silent either
    # FFmpeg also reports the broken last packets (a partial file, a damaged macroblock)
    assert warnings[0].startswith("FFmpeg reported ") and len(warnings) == 2
    assert warnings[1] == f"container declares {N_FRAMES} frames, {read} decoded: damaged or cut short"


def test_timestamps_that_jump_over_missing_frames_are_a_warning(cut_clip: tuple[Path, Path]) -> None:
    read, warnings = frames_and_warnings(cut_clip[0].parent / "gap.mp4")
    assert read == N_FRAMES  # every frame decodes; 9 frame intervals have no frame after frame 50
    assert warnings == [
        "timestamps jump over missing frames 1 time(s), the longest 1000 ms: damaged stream or dropped frames"
    ]


def test_cli_run_lists_the_warning_in_the_summary_and_says_it_once(
    cut_clip: tuple[Path, Path], tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o.csv"
    cmd = [sys.executable, "-m", "facelog.cli", "run", str(cut_clip[1]), "-o", str(out),
           "--model", str(tiny_model), "--detector", "blazeface", "--no-progress"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "o.summary.json").read_text())
    assert len(doc["warnings"]) == 2 and doc["warnings"][1].startswith(
        f"container declares {N_FRAMES} frames"
    )
    assert r.stderr.count("damaged or cut short") == 1, r.stderr  # one line says both


# -- FFmpeg's own decode errors (pipeline/file/ffmpeg_log.py) ----------------------------------------
CLIP = "face-demographics-walking.mp4"  # MPEG-4 part 2, 35 frames, index (moov) at the end


def _mdat(data: bytes) -> tuple[int, int]:
    off = data.find(b"mdat") - 4
    return off + 8, off + struct.unpack(">I", data[off : off + 4])[0]


def _flip(data: bytes) -> bytes:
    b, (lo, hi) = bytearray(data), _mdat(data)
    for k in range(20):
        b[lo + (hi - lo) * (k + 3) // 25] ^= 0xFF
    return bytes(b)


def _zero(data: bytes) -> bytes:
    b, (lo, hi) = bytearray(data), _mdat(data)
    mid = (lo + hi) // 2
    b[mid : mid + 500] = bytes(500)
    return bytes(b)


def _shuffle_header(data: bytes) -> bytes:
    head = list(data[:64])
    np.random.default_rng(0).shuffle(head)
    return bytes(head) + data[64:]


def _append(data: bytes) -> bytes:
    return data + np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()


@pytest.fixture
def damaged(videos: Path, tmp_path: Path) -> Callable[[Callable[[bytes], bytes]], Path]:
    def make(how: Callable[[bytes], bytes]) -> Path:
        out = tmp_path / f"{how.__name__.strip('_')}.mp4"
        out.write_bytes(how((videos / CLIP).read_bytes()))
        return out

    return make


@pytest.mark.parametrize("how", [_flip, _zero, _shuffle_header], ids=["flipped", "zeroed", "shuffled-header"])
def test_ffmpeg_decode_errors_are_a_warning(
    damaged: Callable[[Callable[[bytes], bytes]], Path], how: Callable[[bytes], bytes]
) -> None:
    read, warnings = frames_and_warnings(damaged(how))
    assert read >= 34  # still decodes (the shuffled header costs the first frame)
    ffmpeg = [w for w in warnings if w.startswith("FFmpeg reported ")]
    assert len(ffmpeg) == 1 and "decode error(s) (first: '" in ffmpeg[0], warnings
    assert ffmpeg[0].endswith("damaged stream, some frames may be corrupted")


def test_intact_clips_and_appended_garbage_give_no_warning(
    videos: Path, damaged: Callable[[Callable[[bytes], bytes]], Path]
) -> None:
    for clip in sorted(videos.glob("*.mp4")):
        if clip.stat().st_size < 1_000_000:  # the large H.264 clip takes seconds: the others suffice
            assert frames_and_warnings(clip)[1] == [], clip.name
    assert frames_and_warnings(damaged(_append)) == (35, [])  # bytes after the last frame: harmless


def test_a_truncated_copy_is_an_error_not_a_warning(videos: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = (videos / CLIP).read_bytes()
    cut.write_bytes(data[: len(data) * 7 // 10])  # the index is at the end: it is gone
    with pytest.raises(SourceError, match="FFmpeg cannot open: unsupported codec, or damaged/truncated"):
        frames_and_warnings(cut)


def test_a_copy_that_stops_decoding_at_damage_says_what_ffmpeg_reported(
    damaged: Callable[[Callable[[bytes], bytes]], Path],
) -> None:
    def _zero_much(data: bytes) -> bytes:  # 4 KB of zeros: OpenCV's decoder gives up there
        b, (lo, hi) = bytearray(data), _mdat(data)
        b[(lo + hi) // 2 : (lo + hi) // 2 + 4000] = bytes(4000)
        return bytes(b)

    with pytest.raises(
        SourceError,
        match=r"truncated video: stream ended after \d+ of 35 frames \(FFmpeg reported \d+ decode",
    ):
        frames_and_warnings(damaged(_zero_much))


def test_decode_errors_count_for_the_file_that_was_open(
    damaged: Callable[[Callable[[bytes], bytes]], Path], videos: Path
) -> None:
    """A damaged file's errors do not leak into the next file decoded in the same process."""
    assert frames_and_warnings(damaged(_flip))[1]
    assert frames_and_warnings(videos / CLIP)[1] == []


def test_cli_says_what_ffmpeg_reported_once_although_ffmpeg_is_silenced(
    damaged: Callable[[Callable[[bytes], bytes]], Path], tiny_model: Path, tmp_path: Path
) -> None:
    src, out = damaged(_zero), tmp_path / "o.csv"
    cmd = [sys.executable, "-m", "facelog.cli", "run", str(src), "-o", str(out),
           "--model", str(tiny_model), "--detector", "blazeface", "--no-progress"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "o.summary.json").read_text())
    assert doc["status"] == "complete" and doc["warnings"][0].startswith("FFmpeg reported "), doc["warnings"]
    assert r.stderr.count("FFmpeg reported ") == 1, r.stderr
    assert "[mpeg4 @" not in r.stderr  # FFmpeg's own lines stay silenced (-vv shows them)


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def test_timestamps_that_start_again_where_recordings_were_joined_count_on_from_the_last(
    cut_clip: tuple[Path, Path], tmp_path: Path
) -> None:
    """Two MPEG-TS recordings joined byte for byte (as recorders export them): the second one's
    timestamps start at 0 again. They count on from the first one's last frame, so time never runs
    backwards, although the first one's own gap put it 900 ms past index / fps."""
    segment = tmp_path / "segment.ts"
    gap = cut_clip[0].parent / "gap.mp4"
    _ffmpeg("-i", str(gap), "-fps_mode", "passthrough", "-c:v", "libx264", "-f", "mpegts", str(segment))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(segment.read_bytes() * 2)
    src = VideoSource(joined)
    pts = [f.pts_ns for f in src]
    step = round(1e9 / src.info.fps)
    assert len(pts) == 2 * N_FRAMES and all(b > a for a, b in itertools.pairwise(pts))
    assert pts[N_FRAMES - 1] == (N_FRAMES - 1 + 9) * step  # the first recording's own timestamps
    assert pts[N_FRAMES] == pts[N_FRAMES - 1] + step  # index / fps would be 900 ms back
    assert src.pts_note().startswith(f"timestamps stopped increasing after frame {N_FRAMES - 1} (10800 ms)")


def test_a_raw_stream_without_timestamps_is_timed_by_its_frame_rate(tmp_path: Path) -> None:
    raw = tmp_path / "raw.h264"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=25", "-t", "1", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-f", "h264", str(raw))  # fmt: skip
    src = VideoSource(raw)
    assert [f.pts_ns for f in src] == [k * 40_000_000 for k in range(25)]
    assert src.pts_note() == "stream has no increasing timestamps; pts = index / fps"
