"""CCTV benchmark: build synthetic clips, run ``facelog run`` on each, time it, score it, one table.

    nice -n 5 .venv/bin/python benchmarks/cctv_bench.py --work /work/scratch/B \\
        [--presets walk720 static720] [--label default] [--seed 0] [--det-frames 150] \\
        [--json RESULT.json] [--reuse] \\
        [--camera fps5|fps8|fps30|gray|low270|lowbit|dim|shake|lights|pillar|interlaced|osd|slowshutter|
        slowshutter2|dup|freeze|recoded] \\
        [-- EXTRA FACELOG ARGS]

Per preset: ``WORK/clips/NAME.mp4`` + ``NAME.gt.csv`` are made by ``cctv_synth`` when absent; then
``facelog run CLIP -o WORK/runs/LABEL/NAME.csv EXTRA`` (the ``facelog`` next to this Python, or
``--facelog``). ``--camera``: the clip as another camera records it (``CAMERAS``: at 5 or 8.3 fps,
timed at 30 fps, monochrome, shrunk to 480x270, short of bits, dim and noisy, shaking on a pole,
under lights that switch, with a pillar in the middle of the view, interlaced, with a burned-in clock
and camera name, through a slow shutter, sending each picture twice, stalled for 3 s; ``recoded``: only
encoded again, their control), made once in ``WORK/clips_<camera>/`` (seed 0; ``clips_sN_<camera>/``
others).
Reported:

- ``fps``: the run summary's end-to-end fps (``timings.fps``: frames over the pipeline's wall time,
  decode included, start-up excluded); ``wall_s``: the whole command; ``cpu_ms``: CPU ms per frame
  of the facelog process (user + system, all threads).
- ``det_fps_own``: detect-only fps of the detector facelog builds for the same options
  (``load_config`` + ``make_detector`` of the facelog this Python imports) on the clip's first
  ``--det-frames`` frames, timing only the detect calls (decode excluded), right after the run;
  ``fps_ratio_own`` = fps / that (issue 10 wants >= 0.9).
- ``det_fps_full_frame_yunet``: the same for full-frame YuNet (``cv2.FaceDetectorYN``, score 0.8,
  OpenCV's default threads); ``fps_ratio`` = fps / that (issue 12 wants >= 2.0 at 1080p).
- Everything ``cctv_score`` reports (the frame CSV, and ``NAME.tracks.csv`` when facelog wrote one).

Times depend on the machine's load: quote them with the load (``os.getloadavg`` is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cctv_common import SHARED, YUNET_PATH, read_csv_checked, temp_beside
from cctv_score import score
from cctv_synth import PRESETS, make_clip

log = logging.getLogger("cctv_bench")

DET_SCORE = 0.8  # YuNet's default threshold in facelog


class BenchError(RuntimeError):
    """A benchmark step failed (facelog exited non-zero, a file is missing)."""


def clip_paths(work: Path, preset: str, seed: int, shared: Path) -> tuple[Path, Path]:
    """The preset's clip and GT, rendered when absent (seed 0 in ``clips/``, others in ``clips_sN/``)."""
    folder = work / ("clips" if seed == 0 else f"clips_s{seed}")
    mp4, gt = folder / f"{preset}.mp4", folder / f"{preset}.gt.csv"
    if not (mp4.is_file() and gt.is_file()):
        log.info("rendering %s (seed %d) into %s", preset, seed, folder)
        mp4, gt = make_clip(folder, preset, seed, shared)
    return mp4, gt


# ``--camera``: the same clips as another camera would record them (the worlds the presets, rendered
# at 25 fps in colour by a camera fixed in a steady light, were not made for): a recorder at 5 or 8.3
# fps (every 5th / 3rd frame and its GT rows, renumbered), the same frames timed at 30 fps, a
# monochrome night camera, a 480x270 camera, a camera starved of bits, a dim room with sensor noise, a
# camera on a pole that shakes in the wind, lights that switch, a pillar that hides passers-by, an
# interlaced camera recorded without deinterlacing, a clock and a name burned into the picture. x264
# CRF 23 unless the entry says otherwise (the presets' own CRF 29 was applied once already).
X264 = ("-crf", "23")

# The shaking camera (for the 1280x720 presets): the camera's view, 1216x684 of the 1280x720 scene
# (a margin of 32 x 18 px), moves as a pole in the wind moves it, two sways per axis of 0.8-3.1 Hz, up
# to SHAKE_PX px from its rest (+-10 px over a 30-s clip; steps of 2 px a frame typical, 6 at most, in
# scene px), and is sent at 1280x720 again
# (x 20/19), as a camera sends its full frame however it points. ffmpeg's crop and the GT evaluate the
# same offset per frame, in steps of 2 px (a 4:2:0 frame is cut at even rows: an odd y would come out
# one row less).
SHAKE_PX = 12
SHAKE_MARGIN = (32, 18)  # x, y: the view at rest
SHAKE_VIEW = (1216, 684)  # the view's size in the scene (1280x720 x 19/20)
PILLAR_X = (576, 704)  # the pillar camera's hidden columns (1280x720 source px)
# The wide-angle camera: the view enlarged LENS_ZOOM x, bowed by ffmpeg's lenscorrection (k1 =
# LENS_K1: the picture at radius r shows the enlarged view at r (1 + k1 (r / r0)^2), r0 the enlarged
# frame's half diagonal) and cut back to 1280x720 about the centre (``lens_point``).
LENS_K1 = 0.3
LENS_ZOOM = 1.3
OSD_EPOCH = 1796554800  # the on-screen clock's first second: 2026-12-06 11:00:00 UTC
FREEZE = (250, 324)  # the ``freeze`` camera: these source frames (10-13 s) all show the first of them
_SWAY_X = ((0.6, 1.1, 0.0), (0.4, 2.7, 1.3))  # (share of SHAKE_PX, Hz, phase) per sway
_SWAY_Y = ((0.6, 0.8, 0.5), (0.4, 3.1, 2.1))


def _sway_expr(sways: tuple[tuple[float, float, float], ...], margin: int) -> str:
    terms = "+".join(f"{a}*sin(2*PI*{hz}*n/25+{ph})" for a, hz, ph in sways)
    return f"{margin}+2*trunc({SHAKE_PX / 2}*({terms}))"


def shake_offset(frame_index: int) -> tuple[int, int]:
    """Where the shaking camera's view starts in the 1280x720 scene at this frame (x, y px)."""

    def sway(sways: tuple[tuple[float, float, float], ...], margin: int) -> int:
        s = sum(a * math.sin(2 * math.pi * hz * frame_index / 25 + ph) for a, hz, ph in sways)
        return margin + 2 * math.trunc(SHAKE_PX / 2 * s)

    return sway(_SWAY_X, SHAKE_MARGIN[0]), sway(_SWAY_Y, SHAKE_MARGIN[1])


def lens_point(
    x: np.ndarray, y: np.ndarray, size: tuple[int, int] = (1280, 720)
) -> tuple[np.ndarray, np.ndarray]:
    """Where the ``lens`` camera shows source points (x, y) of a ``size`` frame (arrays of px)."""
    cx, cy = size[0] / 2, size[1] / 2
    dx, dy = np.asarray(x, np.float64) - cx, np.asarray(y, np.float64) - cy
    rs = np.hypot(dx, dy) * LENS_ZOOM  # radius in the enlarged view
    r0 = np.hypot(cx, cy) * LENS_ZOOM
    rt = rs.copy()
    for _ in range(30):  # Newton on rt (1 + k (rt / r0)^2) = rs: increasing in rt, so one root
        f = rt * (1 + LENS_K1 * (rt / r0) ** 2) - rs
        rt = rt - f / (1 + 3 * LENS_K1 * (rt / r0) ** 2)
    k = np.divide(rt, rs / LENS_ZOOM, out=np.ones_like(rt), where=rs > 0)
    return cx + dx * k, cy + dy * k


def _lens_boxes(rows: pd.DataFrame) -> pd.DataFrame:
    """The GT boxes as the ``lens`` camera shows them: the box of 16 points of each box's outline;
    rows whose face centre leaves the view dropped, boxes clipped to it, ``face_px`` the new width."""
    t = np.linspace(0.0, 1.0, 5)
    x1, y1, x2, y2 = (rows[c].to_numpy(np.float64)[:, None] for c in ("x1", "y1", "x2", "y2"))
    xs = np.concatenate([x1 + (x2 - x1) * t, x1 + (x2 - x1) * t, x1 + 0 * t, x2 + 0 * t], axis=1)
    ys = np.concatenate([y1 + 0 * t, y2 + 0 * t, y1 + (y2 - y1) * t, y1 + (y2 - y1) * t], axis=1)
    mx, my = lens_point(xs, ys)
    cx, cy = lens_point((x1 + x2)[:, 0] / 2, (y1 + y2)[:, 0] / 2)
    out = rows.copy()
    out["x1"], out["x2"] = mx.min(axis=1).clip(0, 1280), mx.max(axis=1).clip(0, 1280)
    out["y1"], out["y2"] = my.min(axis=1).clip(0, 720), my.max(axis=1).clip(0, 720)
    for col in ("x1", "y1", "x2", "y2"):
        out[col] = out[col].round(1)
    out["face_px"] = (out.x2 - out.x1).round().astype(int)
    inside = (cx >= 0) & (cx < 1280) & (cy >= 0) & (cy < 720)
    return out[inside].copy()


def _dup_boxes(rows: pd.DataFrame) -> pd.DataFrame:
    """The GT of the ``dup`` camera: frame k shows source frame k - k % 2."""
    even = rows[rows.frame_index % 2 == 0]
    return pd.concat([even, even.assign(frame_index=even.frame_index + 1)], ignore_index=True)


def _freeze_boxes(rows: pd.DataFrame) -> pd.DataFrame:
    """The GT of the ``freeze`` camera: frames ``FREEZE`` all show the first one's faces."""
    f0, f1 = FREEZE
    held = rows[rows.frame_index == f0]
    kept = rows[(rows.frame_index <= f0) | (rows.frame_index > f1)]
    return pd.concat([kept, *(held.assign(frame_index=k) for k in range(f0 + 1, f1 + 1))], ignore_index=True)


class Camera(NamedTuple):
    """How ``--camera NAME`` records a clip."""

    vf: str  # ffmpeg filter
    rate: str  # output frame rate
    every: int = 1  # keep every Nth GT frame (renumbered)
    scale: float = 1.0  # GT box scale
    scale_x: float | None = None  # GT box scale across (boxes and face_px), where it differs from ``scale``
    x264: tuple[str, ...] = X264  # x264 rate options
    shift: Callable[[int], tuple[int, int]] | None = None  # per (source) frame: GT boxes move by -shift
    size: tuple[int, int] | None = None  # the only source frame size it takes (w, h)
    cover_x: tuple[int, int] | None = None  # columns [x0, x1) a fixed occluder hides: GT ``occluded``
    offset: int = 0  # output frame k shows source frame k + offset (GT rows renumbered, earlier dropped)
    boxes: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # GT rows as this camera shows them


CAMERAS: dict[str, Camera] = {
    "fps5": Camera("select=not(mod(n\\,5)),setpts=N/5/TB", "5", every=5),
    "fps8": Camera("select=not(mod(n\\,3)),setpts=N/(25/3)/TB", "25/3", every=3),
    "fps30": Camera("setpts=N/30/TB", "30"),
    # The same frames through the same x264 pass and nothing else: the control for the cameras above
    # and below, which all encode the clip a second time (what changes with that alone).
    "recoded": Camera("null", "25"),
    "gray": Camera("hue=s=0", "25"),
    # A 480x270 camera (the real clips' size) seeing the same scene: a 1280x720 clip shrunk 0.375x.
    "low270": Camera("scale=iw*3/8:ih*3/8:flags=area", "25", scale=0.375),
    # A standard-definition camera of 1024x576 square pixels (the view shrunk 0.8x): the control for
    # the two below.
    "d1": Camera("scale=1024:576:flags=area", "25", scale=0.8, size=(1280, 720)),
    # A DVR's anamorphic D1 stream of the same view: 720x576 frames of 64:45 pixels (a player shows
    # 1024x576), every face stored at 70% of its width. The GT is in the picture a player shows (what
    # facelog analyses since it widens such frames: pipeline/frames/aspect.py) ...
    "d1wide": Camera("scale=720:576:flags=area,setsar=64/45", "25", scale=0.8, size=(1280, 720)),
    # ... or in the stored pixels, to score a pipeline that analyses the stored frames as they are.
    "d1wide_stored": Camera(
        "scale=720:576:flags=area,setsar=64/45", "25", scale=0.8, scale_x=0.5625, size=(1280, 720)
    ),
    # A wide-angle lens (a 2.8-mm dome camera) without dewarping: straight lines bow, faces near the
    # middle are shown 1.3x, faces near the sides squeezed across (at the left and right edges 0.93x
    # wide, 1.15x tall: as 0.8:1 pixels) and the outer ~80 px each side of the view are out of it
    # (``lens_point``; the GT follows each face's outline).
    "lens": Camera(
        f"scale=iw*{LENS_ZOOM}:ih*{LENS_ZOOM},lenscorrection=k1={LENS_K1}:k2=0:i=bilinear,crop=1280:720",
        "25",
        size=(1280, 720),
        boxes=_lens_boxes,
    ),
    # A camera short of bits: CRF 40 (x264 quantiser ~40 on faces: blocks, smeared features, as a
    # cheap camera on a busy scene or a stream squeezed for a slow uplink).
    "lowbit": Camera("null", "25", x264=("-crf", "40")),
    # A dim room: half the contrast, darker, the gain's noise (new every frame), under a 1.5 Mbit/s cap
    # that the noise fills (so the encoder smears faces as a night camera's does). One x264 thread:
    # under a bit-rate cap x264's threads give another clip each time it is made (the CRF cameras' do
    # not), and two runs compared on two makings of one clip compare two clips (thirty-fifth session).
    "dim": Camera(
        "eq=contrast=0.5:brightness=-0.25,noise=alls=18:allf=t",
        "25",
        x264=("-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "3000k", "-threads", "1"),
    ),
    # A camera on a pole in the wind: the whole view, people, posters and patterns alike, shakes.
    "shake": Camera(
        f"crop=w={SHAKE_VIEW[0]}:h={SHAKE_VIEW[1]}:exact=1:x='{_sway_expr(_SWAY_X, SHAKE_MARGIN[0])}'"
        f":y='{_sway_expr(_SWAY_Y, SHAKE_MARGIN[1])}',scale=1280:720:flags=bicubic",
        "25",
        scale=1280 / SHAKE_VIEW[0],
        shift=shake_offset,
        size=(1280, 720),
    ),
    # A pillar in the middle of the view (a column, a sign post, a door frame): 128 px of the 1280
    # from top to bottom hide whoever passes behind; the GT marks that share of each face occluded.
    "pillar": Camera(
        f"drawbox=x={PILLAR_X[0]}:y=0:w={PILLAR_X[1] - PILLAR_X[0]}:h=ih:color=0x8a8f96@1:t=fill",
        "25",
        size=(1280, 720),
        cover_x=PILLAR_X,
    ),
    # Lights that switch (or an exposure that steps): every 2 s the scene drops to a darker, flatter
    # picture and back, at once, for every face in view.
    "lights": Camera("eq=eval=frame:contrast='1-0.3*lt(mod(t,4),2)':brightness='-0.15*lt(mod(t,4),2)'", "25"),
    # An interlaced camera (a DVR's analogue input) recorded without deinterlacing: each frame's even
    # rows from one instant and its odd rows from the one before, so whatever moves is combed. The
    # fields are 40 ms apart (a source frame's time: the presets have nothing between their frames),
    # twice a 25i camera's 20 ms: the comb of a walker twice as fast. Frame k is source frame k + 1
    # (even rows); the GT follows it.
    "interlaced": Camera("tblend=all_expr='if(mod(Y,2),B,A)'", "25", offset=1),
    # A slow shutter in low light (a camera's "digital slow shutter", frame accumulation): each frame
    # the mean of three source frames, the one at its time and its two neighbours, so whatever moves
    # is smeared over three frames' walk (a 25-fps walker at 4-6 px a frame: 8-12 px, in ghosts at
    # the edges). Centred: frame k is the mean of source frames k-1, k, k+1 (ffmpeg's tmix mixes a
    # frame with the two before it; its first frame is dropped), with source frame k's GT; the last
    # source frame has no frame of its own. A still face is as sharp as before.
    "slowshutter": Camera("tmix=frames=3,trim=start_frame=1,setpts=PTS-STARTPTS", "25"),
    # Half that: the mean of two frames (1/12.5 s), source frames k-1 and k, with source frame k's GT
    # (half a frame's walk behind the picture's middle: 2.5-7 px).
    "slowshutter2": Camera("tmix=frames=2", "25"),
    # A camera that sends each picture twice: a 12.5-fps sensor in a 25-fps stream, or a recorder that
    # fills its frame rate with copies. Frame k shows source frame k - k % 2.
    "dup": Camera("select=not(mod(n\\,2)),setpts=N/12.5/TB,fps=25", "25", boxes=_dup_boxes),
    # A stream that stalls for 3 s and repeats its last picture (a camera whose encoder hangs, a
    # recorder that holds the last frame through a network drop), then goes on where the scene is now:
    # source frames FREEZE all show the first of them; whoever walked on reappears further along.
    "freeze": Camera(
        f"split[a][b];[a][b]freezeframes=first={FREEZE[0]}:last={FREEZE[1]}:replace={FREEZE[0]}",
        "25",
        boxes=_freeze_boxes,
    ),
    # The date and time burned into the top left (changing every second) and the camera's name into
    # the bottom right, white with a black border, as a recorder's on-screen display writes them:
    # a corner of the picture that changes by itself, and faces passing under the text.
    "osd": Camera(
        f"drawtext=text='%{{pts\\:gmtime\\:{OSD_EPOCH}\\:%Y-%m-%d %H\\\\\\:%M\\\\\\:%S}}'"
        ":x=24:y=20:fontsize=32:fontcolor=white:borderw=2:bordercolor=black,"
        "drawtext=text='CAM 03 ENTRANCE':x=w-tw-24:y=h-th-20:fontsize=28:fontcolor=white:borderw=2"
        ":bordercolor=black",
        "25",
    ),
}


def camera_clip(mp4: Path, gt: Path, camera: str) -> tuple[Path, Path]:
    """``mp4`` and its GT as ``camera`` (``CAMERAS``) records them, made once beside them in
    ``<folder>_<camera>/``."""
    folder = mp4.parent.with_name(f"{mp4.parent.name}_{camera}")
    out_mp4, out_gt = folder / mp4.name, folder / gt.name
    if out_mp4.is_file() and out_gt.is_file():
        return out_mp4, out_gt
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise BenchError("--camera needs the ffmpeg binary on PATH (Debian: apt-get install ffmpeg)")
    cam = CAMERAS[camera]
    if cam.size is not None:
        cap = cv2.VideoCapture(str(mp4))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        if size != cam.size:
            raise BenchError(f"--camera {camera} takes {cam.size[0]}x{cam.size[1]} clips, {mp4} is {size}")
    mp4_tmp, gt_tmp = temp_beside(out_mp4), temp_beside(out_gt)  # moved in when whole (temp_beside)
    try:
        _camera_clip(ffmpeg, mp4, gt, cam, mp4_tmp, gt_tmp)
        os.replace(mp4_tmp, out_mp4)  # the clip first: a reader takes both only once the GT is there too
        os.replace(gt_tmp, out_gt)
    finally:
        mp4_tmp.unlink(missing_ok=True)
        gt_tmp.unlink(missing_ok=True)
    return out_mp4, out_gt


def _camera_clip(ffmpeg: str, mp4: Path, gt: Path, cam: Camera, out_mp4: Path, out_gt: Path) -> None:
    """Write ``mp4`` as ``cam`` records it to ``out_mp4`` and its GT to ``out_gt`` (``camera_clip``)."""
    cmd = [ffmpeg, "-loglevel", "error", "-y", "-i", str(mp4), "-vf", cam.vf, "-r", cam.rate,
           "-c:v", "libx264", *cam.x264, "-pix_fmt", "yuv420p", str(out_mp4)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"ffmpeg failed on {mp4}: {proc.stderr.strip().splitlines()[-1:]}")
    rows = read_csv_checked(gt, ("frame_index",), "GT")
    if cam.shift is not None:
        shift = np.array([cam.shift(int(k)) for k in rows["frame_index"]], np.float64).reshape(-1, 2)
        rows[["x1", "x2"]] = rows[["x1", "x2"]].to_numpy() - shift[:, :1]
        rows[["y1", "y2"]] = rows[["y1", "y2"]].to_numpy() - shift[:, 1:]
    if cam.cover_x is not None:  # the share of each box's width behind the occluder, with the people's
        x0, x1 = cam.cover_x
        width = (rows["x2"] - rows["x1"]).clip(lower=1.0)
        behind = (rows["x2"].clip(upper=x1) - rows["x1"].clip(lower=x0)).clip(lower=0.0)
        hidden = (behind / width).clip(upper=1.0)
        before = rows["occluded"] if "occluded" in rows.columns else 0.0
        rows["occluded"] = (1.0 - (1.0 - before) * (1.0 - hidden)).round(3)
    if cam.boxes is not None:
        rows = cam.boxes(rows)
    rows["frame_index"] -= cam.offset
    rows = rows[(rows.frame_index >= 0) & (rows.frame_index % cam.every == 0)].copy()
    cap = cv2.VideoCapture(str(out_mp4))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if frames > 0:  # a filter that ends early (slowshutter): no frame, no GT row
        rows = rows[rows.frame_index // cam.every < frames].copy()
    rows["frame_index"] //= cam.every
    sx = cam.scale if cam.scale_x is None else cam.scale_x
    for col, k in (("x1", sx), ("y1", cam.scale), ("x2", sx), ("y2", cam.scale)):
        rows[col] = (rows[col] * k).round(1)
    rows["face_px"] = (rows["face_px"] * sx).round().astype(int)
    rows.to_csv(out_gt, index=False)


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_facelog(facelog: list[str], clip: Path, out_csv: Path, extra: list[str]) -> dict[str, Any]:
    """Run ``facelog run`` once; returns its summary JSON plus ``wall_s`` and ``cpu_s``."""
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*facelog, "run", str(clip), "-o", str(out_csv), *extra]
    log.info("%s", " ".join(cmd))
    t0, c0 = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu_s() - c0
    if proc.returncode != 0:
        raise BenchError(f"facelog exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    summary_path = out_csv.with_suffix(".summary.json")
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {"summary": summary, "wall_s": wall, "cpu_s": cpu, "command": " ".join(cmd)}


def _detect_fps(clip: Path, frames: int, detect: Callable[[np.ndarray], object]) -> float:
    """fps of ``detect`` on the clip's first ``frames`` frames (detect calls only, one warm-up call)."""
    cap = cv2.VideoCapture(str(clip))
    ok, img = cap.read()
    if not ok:
        raise BenchError(f"cannot read {clip}")
    detect(img)
    spent, n = 0.0, 0
    while ok and n < frames:
        t0 = time.perf_counter()
        detect(img)
        spent += time.perf_counter() - t0
        n += 1
        ok, img = cap.read()
    cap.release()
    return n / spent if spent else 0.0


def yunet_detect_fps(clip: Path, frames: int, model: Path = YUNET_PATH) -> float:
    """Full-frame YuNet (``cv2.FaceDetectorYN``, score 0.8) fps on the clip's first ``frames`` frames."""
    if not model.is_file():
        raise BenchError(f"YuNet model not found: {model}")
    cap = cv2.VideoCapture(str(clip))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    det = cv2.FaceDetectorYN.create(str(model), "", (w, h), DET_SCORE, 0.3, 5000)
    return _detect_fps(clip, frames, det.detect)


def own_detect_fps(clip: Path, frames: int, extra: list[str]) -> float | None:
    """fps of the detector facelog builds for this run's options (its API: load_config, make_detector).

    None (with a warning) when the installed facelog's API differs: the YuNet number still stands.
    """
    ap = argparse.ArgumentParser(add_help=False)
    for opt in ("--config", "--detector", "--yunet", "--det-threshold", "--min-face"):
        ap.add_argument(opt)
    known, _ = ap.parse_known_args(extra)
    overrides = {
        "detector.kind": known.detector,
        "detector.yunet_path": known.yunet,
        "detector.score_threshold": None if known.det_threshold is None else float(known.det_threshold),
        "detector.min_face_px": None if known.min_face is None else int(known.min_face),
    }
    try:
        from facelog.pipeline.config import load_config
        from facelog.pipeline.detect import make_detector

        det = make_detector(load_config(known.config, overrides).detector)
    except Exception as e:  # a benchmark of another version's API: report, do not stop the run
        log.warning("own detector not timed (%s: %s)", type(e).__name__, e)
        return None
    return _detect_fps(clip, frames, det.detect)


def bench_preset(args: argparse.Namespace, preset: str, facelog: list[str]) -> dict[str, Any]:
    """Render (if needed), run, time and score one preset."""
    mp4, gt = clip_paths(args.work, preset, args.seed, args.shared)
    if args.camera:
        mp4, gt = camera_clip(mp4, gt, args.camera)
    out_csv = args.work / "runs" / args.label / f"{preset}.csv"
    summary_path = out_csv.with_suffix(".summary.json")
    if args.reuse and out_csv.is_file() and summary_path.is_file():
        log.info("reusing %s (fps from its summary)", out_csv)
        run = {
            "summary": json.loads(summary_path.read_text()),
            "wall_s": None,
            "cpu_s": None,
            "command": None,
        }
    else:
        run = run_facelog(facelog, mp4, out_csv, args.extra)
    det_fps = yunet_detect_fps(mp4, args.det_frames) if args.det_frames else None
    own_fps = own_detect_fps(mp4, args.det_frames, args.extra) if args.det_frames else None
    tracks = out_csv.with_suffix(".tracks.csv")
    res = score(gt, out_csv, tracks if tracks.is_file() else None)
    timings = run["summary"].get("timings", {})
    frames = run["summary"].get("frames_processed") or PRESETS[preset].frames
    fps = timings.get("fps")
    res["run"] = {
        "label": args.label,
        "command": run["command"],
        "fps": fps,
        "wall_s": None if run["wall_s"] is None else round(run["wall_s"], 2),
        "cpu_ms_per_frame": None if run["cpu_s"] is None else round(run["cpu_s"] * 1000 / frames, 1),
        "det_fps_full_frame_yunet": round(det_fps, 2) if det_fps else None,
        "fps_ratio": round(fps / det_fps, 3) if fps and det_fps else None,
        "det_fps_own": round(own_fps, 2) if own_fps else None,
        "fps_ratio_own": round(fps / own_fps, 3) if fps and own_fps else None,
        "detector": run["summary"].get("detector"),
        "model": run["summary"].get("model"),
        "persons_reported": run["summary"].get("persons"),
        "persons_dropped": run["summary"].get("persons_dropped"),
        "identity_embeddings": timings.get("identity_embeddings"),
        "identity_s": timings.get("identity_s"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    return res


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def summary_table(results: list[dict[str, Any]]) -> str:
    """One Markdown table row per (label, preset)."""
    head = (
        "| preset | label | detector | fps | own det-only fps | ratio | YuNet full-frame fps | ratio "
        "| CPU ms/frame | recall>=32 | recall>=40 "
        "| precision | IDF1 | ID sw | split | repl. new id | frame MAE / gender "
        "| person last-smooth MAE / gender | person tracks.csv MAE / gender "
        "| tracks 2+ people | persons / static / no_face rows / GT people | identity embeddings |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        run, d, i, pp = r["run"], r["detection"], r["identity"], r["per_person"]
        pf, ls, tc = d["per_frame"], pp.get("last_smooth") or {}, pp.get("tracks_csv") or {}
        lines.append(
            f"| {r['preset']} | {run['label']} | {run['detector']} | {_f(run['fps'], 1)} "
            f"| {_f(run['det_fps_own'], 1)} | {_f(run['fps_ratio_own'], 2)} "
            f"| {_f(run['det_fps_full_frame_yunet'], 1)} | {_f(run['fps_ratio'], 2)} "
            f"| {_f(run['cpu_ms_per_frame'], 1)} | {_f(d['recall_ge32'])} | {_f(d['recall_ge40'])} "
            f"| {_f(d['precision'])} | {_f(i['idf1'])} | {i['id_switches']} | {_f(i['people_split'], 2)} "
            f"| {_f(i['replacement_new_id']['new_id_share'], 2)} "
            f"| {_f(pf['age_mae'], 2)} / {_f(pf['gender_acc'])} "
            f"| {_f(ls.get('age_mae'), 2)} / {_f(ls.get('gender_acc'))} "
            f"| {_f(tc.get('age_mae'), 2)} / {_f(tc.get('gender_acc'))} "
            f"| {_f(i.get('tracks_multi_person'), 3)} "
            f"| {tc.get('tracks_rows_person', '-')} / {tc.get('tracks_rows_static', '-')} "
            f"/ {tc.get('tracks_rows_no_face', '-')} / {r['gt']['persons']} "
            f"| {_f(run.get('identity_embeddings'))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, type=Path, help="folder for clips/ and runs/ (not the repo)")
    ap.add_argument("--presets", nargs="+", default=["walk720", "static720"], choices=sorted(PRESETS))
    ap.add_argument("--label", default="default", help="name of this configuration (runs/LABEL/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--facelog", default=str(Path(sys.executable).parent / "facelog"), help="facelog command")
    ap.add_argument("--det-frames", type=int, default=150, help="frames for detect-only fps (0 = skip)")
    ap.add_argument("--json", type=Path, help="write all results here")
    ap.add_argument("--reuse", action="store_true", help="score existing runs/LABEL/NAME.csv, do not rerun")
    ap.add_argument("--camera", choices=sorted(CAMERAS), help="the clips as another camera records them")
    args = ap.parse_args(argv)
    args.extra = extra
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = []
    try:
        for preset in args.presets:
            res = bench_preset(args, preset, args.facelog.split())
            res["preset"] = preset
            results.append(res)
    except (BenchError, ValueError, RuntimeError) as e:
        log.error("%s", e)
        return 2
    print(summary_table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
