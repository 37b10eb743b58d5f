"""The ``facelog`` command. ``facelog run`` is defined here; other packages add subcommands.

A package contributes subcommands through a module-level ``register(subparsers) -> None`` in one of
``PLUGINS``. A module that does not exist is simply not offered; one that exists but fails to import
raises (a broken install must not hide a command).

Every expected failure prints one line, ``facelog: error: <message>``, and exits non-zero:
1 = some input failed, 2 = bad usage/config/model, 130 = interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

PLUGINS = ("facelog.training.cli", "facelog.engines.cli", "facelog.pipeline.batch")
RTSP_PREFIXES = ("rtsp://", "rtsps://")

log = logging.getLogger("facelog.pipeline.cli")


def _error(msg: str) -> None:
    first = str(msg).strip().splitlines()[0] if str(msg).strip() else "unknown error"
    print(f"facelog: error: {first}", file=sys.stderr)


def _load_plugins(sub: Any) -> None:
    for name in PLUGINS:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # parent package missing
            spec = None
        if spec is None:
            continue
        module = importlib.import_module(name)  # a broken module raises here, on purpose
        register = getattr(module, "register", None)
        if register is None:
            raise ImportError(f"{name} has no register(subparsers) function")
        register(sub)


def add_run_parser(sub: Any) -> None:
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
    p.add_argument("--min-face", type=int, help="skip faces smaller than N pixels")
    p.add_argument("--det-threshold", type=float, help="detector score threshold (0..1)")
    p.add_argument("--detector", choices=("auto", "yunet", "blazeface"))
    p.add_argument("--yunet", help="path of the YuNet ONNX file")
    p.add_argument("--batch-size", type=int, help="faces per inference batch")
    p.add_argument("--backend", choices=("auto", "onnxruntime", "onnxruntime-cuda", "tensorrt"))
    p.add_argument("--model", help="age/gender ONNX model (default: the shipped one)")
    p.add_argument("--annotate", type=Path, help="also write an mp4 with boxes and labels (one input only)")
    p.set_defaults(func=handle_run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "sampling.stride": args.stride,
        "sampling.target_fps": args.target_fps,
        "detector.min_face_px": args.min_face,
        "detector.score_threshold": args.det_threshold,
        "detector.kind": args.detector,
        "detector.yunet_path": args.yunet,
        "batching.batch_size": args.batch_size,
        "backend.kind": args.backend,
        "model.path": args.model,
    }


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


def _run_rtsp(args: argparse.Namespace, cfg: Any) -> int:
    """Hook for live cameras: ``facelog.pipeline.rtsp.run_cameras(cfg, urls, out_dir)`` runs until stopped."""
    from facelog.pipeline import rtsp

    return int(rtsp.run_cameras(cfg, args.inputs, args.out))


def handle_run(args: argparse.Namespace) -> int:
    from facelog.engines.base import BackendUnavailable
    from facelog.pipeline.config import load_config
    from facelog.pipeline.errors import FacelogError, SourceError
    from facelog.pipeline.runner import (
        build_components,
        check_outputs_spare_inputs,
        output_paths,
        process_video,
    )

    try:
        cfg = load_config(args.config, _overrides(args))
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
        comps = build_components(cfg)
    except (FacelogError, BackendUnavailable, ValueError, OSError) as exc:
        _error(str(exc))
        return 2
    failed = 0
    try:
        det = comps.detector_choice
        log.info(
            "detector %s (%s); backend %s (%s)",
            det.name,
            det.reason,
            comps.backend_name,
            comps.backend_reason,
        )
        for src, out in zip(args.inputs, outs, strict=True):
            try:
                s = process_video(
                    src, out, cfg, progress=not args.quiet, annotate=args.annotate, components=comps
                )
            except (SourceError, OSError) as exc:
                _error(str(exc))
                failed += 1
                continue
            if not args.quiet:
                print(
                    f"{src}: {s.frames_processed}/{s.frames_read} frames, {s.faces} faces, "
                    f"{s.timings['fps']:.1f} fps -> {out}",
                    file=sys.stderr,
                )
    finally:
        comps.close()
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facelog", description="Per-frame age and gender logs for faces in video."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bar")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_run_parser(sub)
    _load_plugins(sub)
    return parser


def _setup_logging(quiet: bool, verbose: int) -> None:
    level = logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import cv2

    # OpenCV and FFmpeg print their own warnings on stderr; keep them for -vv only. FFmpeg reads
    # OPENCV_FFMPEG_LOGLEVEL when the first capture opens (also in worker processes, which inherit it).
    if verbose < 2:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_INFO if verbose >= 2 else cv2.utils.logging.LOG_LEVEL_SILENT
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``facelog`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # -q/-v are accepted after the subcommand too
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-q", "--quiet", action="store_true")
    pre.add_argument("-v", "--verbose", action="count", default=0)
    early, rest = pre.parse_known_args(argv)
    args = parser.parse_args(rest)
    args.quiet = args.quiet or early.quiet
    args.verbose = max(args.verbose, early.verbose)
    _setup_logging(args.quiet, args.verbose)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
