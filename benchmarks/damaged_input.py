"""Damaged video files: does facelog's file reader report what FFmpeg reports (issue 23)?

    python benchmarks/damaged_input.py [--n 200] [--seed 0] [--work DIR] [--json out.json]

Makes ``--n`` damaged copies of the shared clips (``../shared/data/videos``: the MPEG-4 part 2
originals and H.264 re-encodes of two of them, made by the ``ffmpeg`` binary), one kind of damage
each, round robin:

- ``flip``: 1-40 random bytes of the media data XOR 0xFF;
- ``zero``: a run of 16-4,096 bytes of the media data set to 0;
- ``header``: the file's first 16-128 bytes shuffled (the container's header);
- ``index``: 8-64 bytes inside the index (``moov``) shuffled;
- ``truncate``: the file cut at 50-99% of its length;
- ``append``: 1-64 KiB of random bytes after the end (harmless: must not warn).

Each copy is decoded twice: by the ``ffmpeg`` binary (``ffmpeg -v error -i F -f null -``: FFmpeg
"flags" a file when it prints anything) and by ``facelog.pipeline.file.reader.VideoSource`` (every
frame, md5 of all decoded pixels), in worker processes of 25 files (a decoder crash costs one chunk,
and is counted). Outcomes: ``error`` (the reader refused the file with one line: no video,
truncated...), ``warned`` (decoded to the end, ``warnings`` not empty: the run summary lists them),
``clean`` (decoded, no warning). A copy whose decoded frames equal the original's and that FFmpeg does
not flag (appended garbage, bytes of the index nothing reads) is harmless and must not warn; every
other copy that decodes is damaged. Reported: of the damaged copies that decode, the share with a
warning (target >= 90%), the same among those FFmpeg flags, and warnings on harmless copies (target 0).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACELOG_SHARED", REPO.parent / "shared"))
KINDS = ("flip", "zero", "header", "index", "truncate", "append")
CHUNK = 25


def boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level mp4 boxes: name -> (offset, size)."""
    out, i = {}, 0
    while i + 8 <= len(data):
        size = struct.unpack(">I", data[i : i + 4])[0]
        if size < 8:
            break
        out[data[i + 4 : i + 8]] = (i, size)
        i += size
    return out


def damage(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One damaged copy of an mp4 (see the module docstring)."""
    b = bytearray(data)
    top = boxes(data)
    mdat = top.get(b"mdat", (0, len(data)))
    lo, hi = mdat[0] + 8, min(len(data), mdat[0] + mdat[1])
    if hi - lo < 64:  # media data at the end of the file declared with size 1 (64-bit): use the rest
        lo, hi = mdat[0] + 16, len(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 40)):
            b[rng.randrange(lo, hi)] ^= 0xFF
    elif kind == "zero":
        n = rng.randint(16, 4096)
        at = rng.randrange(lo, max(lo + 1, hi - n))
        b[at : at + n] = bytes(min(n, len(b) - at))
    elif kind == "header":
        n = rng.randint(16, 128)
        head = list(b[:n])
        rng.shuffle(head)
        b[:n] = bytes(head)
    elif kind == "index":
        m0, msize = top[b"moov"]
        n = rng.randint(8, 64)
        at = rng.randrange(m0 + 8, m0 + msize - n)
        window = list(b[at : at + n])
        rng.shuffle(window)
        b[at : at + n] = bytes(window)
    elif kind == "truncate":
        del b[int(len(b) * rng.uniform(0.5, 0.99)) :]
    elif kind == "append":
        b += rng.randbytes(rng.randint(1024, 65536))
    else:
        raise ValueError(f"unknown damage kind {kind!r}, expected one of {KINDS}")
    return bytes(b)


def sources(work: Path) -> list[Path]:
    videos = SHARED / "data" / "videos"
    clips = sorted(p for p in videos.glob("*.mp4") if p.stat().st_size < 1_000_000)
    if not clips:
        raise SystemExit(f"no shared clips under {videos} (set FACELOG_SHARED)")
    out = list(clips)
    for src in clips[:2]:  # H.264 copies: other decoder, other messages
        dst = work / f"{src.stem}_h264.mp4"
        if not dst.exists():
            cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-preset", "veryfast",
                   "-g", "12", "-pix_fmt", "yuv420p", "-an", str(dst)]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        out.append(dst)
    return out


def ffmpeg_flags(path: Path) -> bool:
    """True when the ffmpeg binary prints an error while decoding every frame of ``path``."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return True
    return bool(r.stderr.strip()) or r.returncode != 0


def read_one(path: Path) -> dict[str, Any]:
    """facelog's reader on one file (runs in a worker process)."""
    from facelog.pipeline.errors import SourceError
    from facelog.pipeline.file.reader import VideoSource

    digest = hashlib.md5()
    try:
        src = VideoSource(path)
        for frame in src:
            digest.update(frame.image.tobytes())
    except SourceError as exc:
        return {"outcome": "error", "message": str(exc).split(": ", 1)[-1][:120]}
    return {
        "outcome": "warned" if src.warnings else "clean",
        "frames": src.frames_read,
        "md5": digest.hexdigest(),
        "warnings": src.warnings,
    }


def worker(paths: list[str]) -> int:
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # as the facelog command sets it
    for p in paths:
        print(json.dumps({"path": p, **read_one(Path(p))}), flush=True)
    return 0


def run_chunk(paths: list[Path]) -> dict[str, dict[str, Any]]:
    cmd = [sys.executable, __file__, "--worker", *map(str, paths)]
    env = {**os.environ, "OPENCV_FFMPEG_LOGLEVEL": "-8"}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        out = r.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
    done = {d["path"]: d for d in map(json.loads, out.splitlines())}
    for p in paths:  # a file the worker did not answer for: it crashed or hung there
        done.setdefault(str(p), {"path": str(p), "outcome": "crash"})
        if done[str(p)]["outcome"] == "crash":
            break  # the files after it in this chunk are retried below
    missing = [p for p in paths if str(p) not in done]
    return done | (run_chunk(missing) if missing else {})


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="keep the damaged copies here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        raise SystemExit("the ffmpeg binary is not on PATH (Debian: apt-get install ffmpeg)")
    work = args.work or Path(tempfile.mkdtemp(prefix="facelog-damaged-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = sources(work)
    rng = random.Random(args.seed)
    files: list[tuple[Path, str, Path]] = []
    for i in range(args.n):
        kind, clip = KINDS[i % len(KINDS)], clips[(i // len(KINDS)) % len(clips)]
        dst = work / f"{i:04d}_{kind}_{clip.stem}.mp4"
        dst.write_bytes(damage(clip.read_bytes(), kind, rng))
        files.append((dst, kind, clip))
    results = run_chunk(clips)
    originals = {str(c): results[str(c)].get("md5") for c in clips}
    for k in range(0, len(files), CHUNK):
        results |= run_chunk([f for f, _, _ in files[k : k + CHUNK]])
    rows = []
    for f, kind, clip in files:
        r = results[str(f)]
        same = r.get("md5") is not None and r.get("md5") == originals[str(clip)]
        flags = ffmpeg_flags(f)
        rows.append({**r, "kind": kind, "clip": clip.name, "ffmpeg_flags": flags, "same_frames": same})
    report = summarise(rows)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps({"report": report, "files": rows}, indent=1))
    return 0


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    for r in rows:
        c = by_kind[r["kind"]]
        c["files"] += 1
        c[r["outcome"]] += 1
        c["ffmpeg_flags"] += r["ffmpeg_flags"]
        ok = r["outcome"] in ("warned", "clean")
        c["decoded_flagged"] += ok and r["ffmpeg_flags"]
        c["decoded_flagged_warned"] += ok and r["ffmpeg_flags"] and r["outcome"] == "warned"
    # harmless: the original's frames and FFmpeg says nothing (appended garbage, bytes nothing reads);
    # damaged: other frames, or FFmpeg reports errors (a broken header it parsed around)
    decoded = [r for r in rows if r["outcome"] in ("warned", "clean")]
    harmless = [r for r in decoded if r["same_frames"] and not r["ffmpeg_flags"]]
    damaged = [r for r in decoded if not (r["same_frames"] and not r["ffmpeg_flags"])]
    flagged = [r for r in damaged if r["ffmpeg_flags"]]
    appended = [r for r in rows if r["kind"] == "append"]

    def share(part: list[Any], whole: list[Any]) -> float | None:
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "files": len(rows),
        "by_kind": {k: dict(v) for k, v in by_kind.items()},
        "damaged_decoded": len(damaged),
        "damaged_decoded_warned": share([r for r in damaged if r["outcome"] == "warned"], damaged),
        "damaged_decoded_ffmpeg_flags": share(flagged, damaged),
        "ffmpeg_flagged_warned": share([r for r in flagged if r["outcome"] == "warned"], flagged),
        "harmless_decoded": len(harmless),
        "harmless_warned": sum(r["outcome"] == "warned" for r in harmless),
        "append_warned": sum(r["outcome"] == "warned" for r in appended),
        "append_decoded": sum(r["outcome"] in ("warned", "clean") for r in appended),
        "crashes": sum(r["outcome"] == "crash" for r in rows),
        "clean_examples": [Path(r["path"]).name for r in damaged if r["outcome"] == "clean"][:10],
    }


def print_report(rep: dict[str, Any]) -> None:
    head = ("damage", "files", "error", "warned", "clean", "crash", "ffmpeg flags")
    print(f"{head[0]:<9} {head[1]:>5} {head[2]:>5} {head[3]:>6} {head[4]:>5} {head[5]:>5} {head[6]:>12}")
    for k, c in rep["by_kind"].items():
        print(f"{k:<9} {c.get('files', 0):>5} {c.get('error', 0):>5} {c.get('warned', 0):>6} "
              f"{c.get('clean', 0):>5} {c.get('crash', 0):>5} {c.get('ffmpeg_flags', 0):>12}")  # fmt: skip
    print(f"damaged copies that decode (other frames than the original's, or FFmpeg flags them): "
          f"{rep['damaged_decoded']}; with a "
          f"warning: {rep['damaged_decoded_warned']}; "
          f"FFmpeg flags {rep['damaged_decoded_ffmpeg_flags']} of them, and of those facelog warns on "
          f"{rep['ffmpeg_flagged_warned']}")  # fmt: skip
    print(f"copies that decode to the original's frames: {rep['harmless_decoded']}, "
          f"{rep['harmless_warned']} warned (target 0); appended garbage: {rep['append_warned']} of "
          f"{rep['append_decoded']} decoded copies warned")  # fmt: skip
    print(f"crashes/hangs: {rep['crashes']}; damaged copies without a warning: {rep['clean_examples']}")


if __name__ == "__main__":
    sys.exit(main())
