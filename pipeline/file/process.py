"""One video file -> CSV + run summary, with decode, detection and inference overlapping.

Threads and bounded queues (OpenCV and ONNX Runtime release the GIL)::

    reader thread --frames--> detector thread --(frame, faces)--> caller's thread:
    decode + sample           detect                              batch faces of consecutive frames,
                                                                  crop, infer, track, write in order

The caller's thread flushes its pending frames when they hold ``batching.batch_size`` faces or the
oldest has waited ``batching.max_wait_ms``. Memory is bounded by the queue sizes, not the video.

Outputs are atomic: the CSV and ``<out>.summary.json`` are written under temporary names, fsynced
and renamed; the summary is renamed last and marks a complete run. A bad input raises
``SourceError``; a truncated video keeps the rows before the break in ``<out>.partial`` only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facelog.engines.base import Backend
from facelog.pipeline import stages
from facelog.pipeline.config import AppConfig
from facelog.pipeline.detect import Detector, DetectorChoice, choose_detector, make_detector
from facelog.pipeline.errors import ModelError, SourceError
from facelog.pipeline.file.annotate import AnnotatedVideo
from facelog.pipeline.reader import VideoSource
from facelog.pipeline.session import FaceAnalyzer
from facelog.pipeline.sinks import SCHEMA_VERSION, CsvSink, fsync_replace, temp_name

log = logging.getLogger(__name__)


@dataclass
class Components:
    """What a run loads once and can reuse across files: detector and backend (one thread each)."""

    detector_choice: DetectorChoice
    detector: Detector
    backend: Backend
    backend_name: str
    backend_reason: str
    model_path: str
    extra_detectors: list[Detector] = field(default_factory=list)

    def detectors(self, n: int, cfg: AppConfig) -> list[Detector]:
        """``n`` detector objects (one per detect thread), built once and kept for later files."""
        while len(self.extra_detectors) < n - 1:
            self.extra_detectors.append(make_detector(cfg.detector, self.detector_choice))
        return [self.detector, *self.extra_detectors[: n - 1]]

    def close(self) -> None:
        self.backend.close()


def load_model_backend(cfg: AppConfig, threads: int = 0) -> tuple[Backend, str, str]:
    """Load the age/gender model with the backend the config names: (backend, kind, reason).

    Raises:
        ModelError: the model file does not exist.
        BackendUnavailable: the backend kind cannot run here.
    """
    from facelog.engines.registry import choose_backend, load_backend

    path = Path(cfg.model.path).expanduser()
    if not path.is_file():
        raise ModelError(f"model file not found: {path} (set model.path or pass --model)")
    choice = choose_backend(cfg.backend.kind)
    opts = cfg.backend.options()
    if threads:
        opts["threads"] = threads
    backend = load_backend(choice.name, path, **opts)
    return backend, choice.name, choice.reason


def build_components(cfg: AppConfig, threads: int = 0) -> Components:
    """Load the detector and the backend once (e.g. per batch worker)."""
    choice = choose_detector(cfg.detector)
    detector = make_detector(cfg.detector, choice)
    backend, name, reason = load_model_backend(cfg, threads)
    return Components(choice, detector, backend, name, reason, str(Path(cfg.model.path).expanduser()))


def summary_path(out_csv: str | Path) -> Path:
    """``out.csv`` -> ``out.summary.json`` (its presence marks a complete CSV)."""
    p = Path(out_csv)
    return p.with_name(f"{p.stem}.summary.json")


def output_paths(out_csv: str | Path, annotate: str | Path | None = None) -> list[Path]:
    """Every file a run may write or replace: the CSV, its summary, ``.partial`` and the annotated mp4."""
    out = Path(out_csv)
    paths = [out, summary_path(out), out.with_name(out.name + ".partial")]
    return [*paths, Path(annotate)] if annotate is not None else paths


def check_outputs_spare_inputs(inputs: list[str | Path], outputs: list[Path]) -> None:
    """Refuse outputs that are inputs: a run removes stale outputs first and would delete the video.

    Raises:
        ValueError: naming the output and the input it would overwrite.
    """
    sources = {Path(i).resolve(): str(i) for i in inputs}
    for out in outputs:
        hit = sources.get(out.resolve())
        if hit is None and out.exists():
            hit = next((s for p, s in sources.items() if p.exists() and out.samefile(p)), None)
        if hit is not None:
            raise ValueError(f"output {out} is the input {hit}: choose another -o / --annotate path")


@dataclass
class RunSummary:
    """What one ``process_video`` call did (written as ``<out>.summary.json``)."""

    source: str
    output: str
    status: str  # "complete"
    frames_read: int
    frames_processed: int
    frames_skipped: int
    processed_frames: list[list[int]]  # runs [start, stop (exclusive), step] of processed indices
    faces: int
    rows: int
    video_fps: float
    video_s: float  # media time covered by the frames read
    width: int
    height: int
    codec: str
    detector: str
    detector_reason: str
    backend: str
    backend_reason: str
    model: str
    model_path: str
    schema_version: int
    sampling: dict[str, Any]
    timings: dict[str, float]
    finished_utc: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        """Frames read from the file."""
        return self.frames_read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def frame_runs(indices: list[int]) -> list[list[int]]:
    """Compress sorted frame indices into arithmetic runs ``[start, stop, step]``."""
    runs: list[list[int]] = []
    i = 0
    while i < len(indices):
        start = indices[i]
        if i + 1 == len(indices):
            runs.append([start, start + 1, 1])
            break
        step = indices[i + 1] - start
        j = i + 1
        while j + 1 < len(indices) and indices[j + 1] - indices[j] == step:
            j += 1
        runs.append([start, indices[j] + 1, step])
        i = j + 1
    return runs


def process_video(
    source: str | Path,
    out_csv: str | Path,
    cfg: AppConfig,
    *,
    progress: bool = False,
    annotate: Path | None = None,
    components: Components | None = None,
    source_id: str | None = None,
) -> RunSummary:
    """Analyze one video file into ``out_csv`` and ``summary_path(out_csv)``.

    Args:
        source: the video file.
        out_csv: the CSV to write (atomically; its folder is created).
        cfg: the run's config.
        progress: show a tqdm progress bar (frames/s) on stderr.
        annotate: also write an mp4 with boxes and labels here.
        components: detector + backend to reuse (else built from ``cfg`` and closed at the end).
        source_id: the CSV's ``source`` value (default: ``source`` as given).

    Returns:
        The run summary.

    Raises:
        ValueError: an output path is the input itself (nothing is touched).
        SourceError: the input is missing, empty, not a video, undecodable or truncated. Nothing is
            left at ``out_csv`` (a stale one is removed); for a truncation the rows before the break
            are in ``<out_csv>.partial`` (``SourceError.partial``).
        ModelError, BackendUnavailable: the model or detector cannot be loaded.
    """
    t_start = time.perf_counter()
    out_csv, src_path = Path(out_csv), Path(source)
    check_outputs_spare_inputs([src_path], output_paths(out_csv, annotate))
    for stale in (out_csv, summary_path(out_csv)):
        stale.unlink(missing_ok=True)  # whatever happens next, no older output may pass for this run's
    sampling = cfg.sampling
    src = VideoSource(src_path, source_id, stride=sampling.stride, target_fps=sampling.target_fps)
    own = components is None
    built: Components | None = None
    try:
        comp = components if components is not None else (built := build_components(cfg))
        detectors = comp.detectors(cfg.batching.detect_workers, cfg)
    except BaseException:
        src.close()
        if built is not None:
            built.close()
        raise
    analyzer = FaceAnalyzer(
        comp.backend,
        cfg.crop,
        framing=comp.detector.framing,
        batch_size=cfg.batching.batch_size,
        tracking=cfg.tracking,
    )
    info = src.info
    stop = threading.Event()
    sink = CsvSink(out_csv, analyzer.model_id, cfg.output.decimals)
    video = None
    if annotate is not None:
        stride_fps = info.fps / sampling.stride if sampling.target_fps is None else sampling.target_fps
        video = AnnotatedVideo(annotate, stride_fps or 10.0, (info.width, info.height))
    bar = _progress_bar(progress, info.frame_count, src_path.name)
    processed: list[int] = []
    faces = 0
    write_s = 0.0
    error: BaseException | None = None
    bc = cfg.batching
    threads, ordered, det_times = stages.start(src, detectors, stop, bc.frame_queue, bc.face_queue)
    try:
        for chunk in stages.batches(ordered.get, bc.batch_size, bc.max_wait_ms / 1000):
            if isinstance(chunk, BaseException):
                error = chunk
                break
            results = analyzer.analyze(chunk)
            t0 = time.perf_counter()
            for (frame, _), res in zip(chunk, results, strict=True):
                sink.write(res)
                processed.append(frame.index)
                faces += len(res.predictions)
                if video is not None:
                    video.write(frame.image, res)
            write_s += time.perf_counter() - t0
            if bar is not None:
                bar.update(chunk[-1][0].index + 1 - bar.n)
                bar.set_postfix(faces=faces, refresh=False)
    except BaseException:
        stop.set()
        sink.abort()
        if video is not None:
            video.abort()
        raise
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if bar is not None:
            bar.close()
        if own:
            comp.close()
    if error is not None:
        partial = None
        if isinstance(error, SourceError) and processed:
            kept = sink.abort(keep_partial=True)
            partial = str(kept) if kept else None
        else:
            sink.abort()
        if video is not None:
            video.abort()
        if isinstance(error, SourceError):
            msg = str(error)
            if partial:
                msg += f"; {sink.rows} rows from frames 0..{processed[-1]} kept in {partial}"
            raise SourceError(msg, path=error.path, partial=partial) from error
        raise error
    wall = time.perf_counter() - t_start
    summary = RunSummary(
        source=str(source),
        output=str(out_csv),
        status="complete",
        frames_read=src.frames_read,
        frames_processed=src.frames_processed,
        frames_skipped=src.frames_skipped,
        processed_frames=frame_runs(processed),
        faces=faces,
        rows=sink.rows,
        video_fps=info.fps,
        video_s=round(src.frames_read / info.fps, 3) if info.fps > 0 else 0.0,
        width=info.width,
        height=info.height,
        codec=info.codec,
        detector=comp.detector_choice.name,
        detector_reason=comp.detector_choice.reason,
        backend=comp.backend_name,
        backend_reason=comp.backend_reason,
        model=analyzer.model_id,
        model_path=comp.model_path,
        schema_version=SCHEMA_VERSION,
        sampling=cfg.sampling.model_dump(),
        timings={
            "wall_s": round(wall, 3),
            "fps": round(src.frames_processed / wall, 2) if wall > 0 else 0.0,
            "decode_s": round(src.decode_s, 3),
            "detect_s": round(sum(det_times), 3),
            "crop_s": round(analyzer.times.crop_s, 3),
            "infer_s": round(analyzer.times.infer_s, 3),
            "track_s": round(analyzer.times.track_s, 3),
            "write_s": round(write_s, 3),
            "batches": analyzer.times.batches,
        },
        finished_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"pts": "derived from index / fps (stream had none)"} if src.pts_derived else {},
    )
    sink_path = summary_path(out_csv)
    tmp = temp_name(sink_path)
    tmp.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    if video is not None:
        video.commit()
    sink.commit()
    fsync_replace(tmp, sink_path)
    log.info(
        "%s: %d frames read, %d processed, %d faces in %.1f s",
        source,
        summary.frames_read,
        summary.frames_processed,
        faces,
        wall,
    )
    return summary


def _progress_bar(enabled: bool, total: int, name: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total or None, desc=name, unit="frame", dynamic_ncols=True, leave=False)
