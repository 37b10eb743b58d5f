"""``facelog run``: video files (one CSV + summary each) or rtsp:// cameras (until stopped)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from facelog.cli.console import fail, print_error
from facelog.cli.sample import sample_path, show_outputs
from facelog.pipeline.config import SHORTCUTS, AppConfig, with_overrides
from facelog.pipeline.errors import FacelogError, SourceError, first_line
from facelog.pipeline.file.outputs import check_outputs_spare_inputs, output_paths
from facelog.pipeline.file.process import process_video
from facelog.pipeline.live import rtsp
from facelog.pipeline.report.answer import people_lines
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import tracks_path

RTSP_PREFIXES = ("rtsp://", "rtsps://")

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="analyze video files (or rtsp:// cameras) into age/gender CSV logs",
        description="Write one CSV row per face per processed frame.",
    )
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="video files or rtsp:// URLs (or rtsp.cameras in --config)"
    )
    p.add_argument(
        "-o",
        "--out",
        required=True,
        type=Path,
        help="CSV file for one input; a folder for several inputs (one CSV each)",
    )
    p.add_argument("--config", type=Path, help="YAML config (see configs/default.yaml)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stride", type=int, help="process every N-th frame")
    g.add_argument("--fps", type=float, dest="target_fps", help="process about N frames per second of video")
    p.add_argument("--min-face", type=int, dest="min_face_px", help="skip faces smaller than N pixels")
    p.add_argument("--det-threshold", type=float, help="detector score threshold (0..1)")
    p.add_argument("--detector", choices=("auto", "yunet", "blazeface"))
    p.add_argument("--yunet", dest="yunet_path", help="path of the YuNet ONNX file")
    p.add_argument("--batch-size", type=int, help="faces per inference batch")
    p.add_argument("--backend", choices=("auto", "onnxruntime", "onnxruntime-cuda", "tensorrt"))
    p.add_argument("--model", help="age/gender ONNX model (default: the shipped one)")
    p.add_argument("--annotate", type=Path, help="also write an mp4 with boxes and labels (one input only)")
    p.add_argument(
        "--blur-faces", action="store_true", help="blur every detected face in the --annotate video"
    )
    p.add_argument(
        "--sample", action="store_true", help="run on the short clip that ships with facelog (first try)"
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress (bar on a terminal, else a line every ~10 s)"
    )
    p.set_defaults(func=handle_run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that override config keys, by their short names (``config.SHORTCUTS``, shared with
    the notebook API): every flag's argparse dest is its short name."""
    return {name: getattr(args, name) for name in SHORTCUTS}


def _outputs(inputs: list[str], out: Path) -> list[Path]:
    """One CSV per input: ``out`` itself for one input (unless it is a folder), else ``out/<stem>.csv``."""
    if len(inputs) == 1 and not out.is_dir() and not str(out).endswith(("/", "\\")):
        return [out]
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out} must be a folder for {len(inputs)} inputs, but it is a file")
    stems = [Path(i).stem for i in inputs]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ValueError(
            f"inputs share file names {dupes}: their CSVs would collide in {out}; run them apart"
        )
    return [out / f"{s}.csv" for s in stems]


def _run_rtsp(args: argparse.Namespace, cfg: AppConfig) -> int:
    """Live cameras: ``rtsp.run_cameras`` runs until stopped."""
    return int(rtsp.run_cameras(cfg, args.inputs, args.out))


def handle_run(args: argparse.Namespace) -> int:
    if args.blur_faces and args.annotate is None:
        return fail("--blur-faces blurs the --annotate video: give --annotate OUT.mp4 too")
    if args.sample and args.inputs:
        return fail("--sample runs on the clip that ships with facelog: give no INPUT with it")
    try:
        if args.sample:
            args.inputs = [str(sample_path())]
        cfg = with_overrides(args.config, **_overrides(args))
        if not args.inputs and not cfg.rtsp.cameras:
            raise ValueError("no input: give video files or rtsp:// URLs, or list rtsp.cameras in --config")
        cams = [i for i in args.inputs if i.lower().startswith(RTSP_PREFIXES)]
        if cams or not args.inputs:  # no inputs: the cameras of the config's rtsp.cameras
            if len(cams) != len(args.inputs):
                raise ValueError("mix of rtsp:// cameras and files: run them separately")
            if args.annotate is not None:
                raise ValueError("--annotate works with video files only")
            return _run_rtsp(args, cfg)
        outs = _outputs(args.inputs, args.out)
        if args.annotate is not None and len(args.inputs) > 1:
            raise ValueError("--annotate works with one input only")
        check_outputs_spare_inputs(args.inputs, [p for out in outs for p in output_paths(out, args.annotate)])
        session = InferenceSession(cfg)
    except (FacelogError, ValueError, OSError) as exc:
        print_error(exc)
        return 2
    with session:
        r = session.resolved
        log.info("detector %s (%s); backend %s (%s)", r.detector.name, r.detector.reason, r.backend.name,
                 r.backend.reason)  # fmt: skip
        return _run_files(args, cfg, outs, session)


def _run_files(args: argparse.Namespace, cfg: AppConfig, outs: list[Path], session: InferenceSession) -> int:
    """Each file in turn with one session; a bad input is one error line and the others still run."""
    failed = 0
    progress = not (args.quiet or args.no_progress)
    for src, out in zip(args.inputs, outs, strict=True):
        try:
            s = process_video(
                src, out, cfg, progress=progress, annotate=args.annotate, blur_faces=args.blur_faces,
                session=session,
            )  # fmt: skip
        except (SourceError, OSError) as exc:
            print_error(exc)
            failed += 1
            continue
        except Exception as exc:  # a backend or OpenCV failure on this input: one line, the next still runs
            log.debug("%s failed", src, exc_info=True)
            print_error(f"{src}: {type(exc).__name__}: {first_line(exc)}")
            failed += 1
            continue
        if not args.quiet:
            print(
                f"{src}: {s.frames_processed}/{s.frames_read} frames, {s.faces} faces, "
                f"{s.timings['fps']:.1f} fps -> {out}",
                file=sys.stderr,
            )
            small = int(s.detector_input.get("faces_too_small") or 0)
            if small:  # seen but not logged: say so, and how to log them
                px = float(s.detector_input.get("min_face_px_used") or 0)
                print(
                    f"{src}: {small} face boxes smaller than {px:.0f} px were found and left out "
                    f"(--min-face {max(1, int(px * 0.8) // 2 * 2 - 2)} logs them)",
                    file=sys.stderr,
                )
            if "interlaced" in s.extra:  # the reader changed the pictures: say so, and how to stop it
                print(
                    f"{src}: interlaced video: {s.extra['interlaced']} "
                    "(sampling.deinterlace: off keeps both fields)",
                    file=sys.stderr,
                )
            if s.faces_ignored:  # the operator's zones: how much they took (a zone drawn too wide shows here)
                print(
                    f"{src}: {s.faces_ignored} faces in detector.ignore_zones were ignored", file=sys.stderr
                )
            if s.left_out_csv:  # left out of the frame log as of the persons count: say where they are
                why = s.left_out_rows or {}
                print(
                    f"{src}: rows of tracks that are not persons are in {s.left_out_csv}, not in {out}: "
                    f"{why.get('static', 0)} of faces that never moved (static: posters, screens, patterns), "
                    f"{why.get('no_face', 0)} of heads never seen from the front (no_face), "
                    f"{why.get('low_evidence', 0)} of tracks with too little evidence "
                    "(output.left_out_rows: keep in a --config file keeps them)",
                    file=sys.stderr,
                )
            t = cfg.tracking
            if (
                s.persons == 0
                and s.faces
                and (s.frames_processed < t.min_evidence_frames or s.video_s < t.min_evidence_s)
            ):
                # a photo, or a clip shorter than a person's evidence: faces, and no person by design
                print(
                    f"{src}: too short to count people ({s.frames_processed} frame"
                    f"{'' if s.frames_processed == 1 else 's'}, {s.video_s:.2f} s): a "
                    f"person needs {t.min_evidence_frames} confident detections over {t.min_evidence_s} s "
                    f"(tracking.min_evidence_frames, min_evidence_s); the {s.faces} faces are rows in "
                    f"{s.left_out_csv or out}",
                    file=sys.stderr,
                )
            for line in people_lines(tracks_path(out), Path(src).name):  # the answer: who was there
                print(line, file=sys.stderr)
    if args.sample and not failed and not args.quiet:
        show_outputs(outs[0], args.annotate, sys.stdout)
    return 1 if failed else 0
