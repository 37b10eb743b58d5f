"""One video file -> CSV + run summary, with decode, detection and inference overlapping.

Threads and bounded queues (``facelog.pipeline.file.stages``; OpenCV and ONNX Runtime release the GIL)::

    reader thread --frames--> detect thread(s) --frames + faces, in order--> caller's thread:
    decode + sample           detect                                         batch, crop, infer,
                                                                             track, write in order

The caller's thread hands a batch to the analyzer when the next frame's faces would not fit in
``batching.batch_size``, or when its oldest frame has waited ``batching.max_wait_ms``. Memory is
bounded by the queue sizes, not the video.

Outputs (``outputs.RunOutputs``) are atomic; the summary is written last and marks a complete run.
A bad input raises ``SourceError``; a truncated video keeps the rows before the break in
``<out>.partial`` and their persons in ``<out>.tracks.csv.partial``, and writes no summary.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from facelog.pipeline.analyzer import FaceAnalyzer
from facelog.pipeline.config import AppConfig
from facelog.pipeline.errors import SourceError
from facelog.pipeline.file.outputs import RunOutputs, check_outputs_spare_inputs, output_paths
from facelog.pipeline.file.progress import make_progress
from facelog.pipeline.file.reader import VideoSource
from facelog.pipeline.file.stages import DetectStages, batches
from facelog.pipeline.file.summary import FrameCounts, RunSummary, build_summary
from facelog.pipeline.session import InferenceSession

log = logging.getLogger(__name__)


def process_video(
    source: str | Path,
    out_csv: str | Path,
    cfg: AppConfig,
    *,
    progress: bool = False,
    annotate: Path | None = None,
    blur_faces: bool = False,
    session: InferenceSession | None = None,
    source_id: str | None = None,
) -> RunSummary:
    """Analyze one video file into ``out_csv`` and ``summary_path(out_csv)``.

    Args:
        source: the video file.
        out_csv: the CSV to write (atomically; its folder is created).
        cfg: the run's config.
        progress: report progress on stderr: a tqdm bar on a terminal, else a plain line every
            ~10 s (``file.progress``).
        annotate: also write an mp4 with boxes and labels here.
        blur_faces: blur every detected face in the ``annotate`` video (boxes and labels still drawn).
        session: detector + backend to reuse (else built from ``cfg`` and closed at the end).
        source_id: the CSV's ``source`` value (default: ``source`` as given).

    Returns:
        The run summary.

    Raises:
        ValueError: an output path is the input itself (nothing is touched).
        SourceError: the input is missing, empty, not a video, undecodable or truncated. Nothing is
            left at ``out_csv`` (a stale one is removed); for a truncation the rows before the break
            are in ``<out_csv>.partial`` (``SourceError.partial``) and their persons in the tracks
            CSV's ``.partial`` (``SourceError.partial_tracks``).
        ModelError, BackendUnavailable: the model or detector cannot be loaded.
    """
    t_start = time.perf_counter()
    out_csv, src_path = Path(out_csv), Path(source)
    check_outputs_spare_inputs([src_path], output_paths(out_csv, annotate))
    RunOutputs.remove_stale(out_csv, annotate)
    sampling = cfg.sampling
    src = VideoSource(
        src_path,
        source_id,
        stride=sampling.stride,
        target_fps=sampling.target_fps,
        deinterlace=sampling.deinterlace,
    )
    try:
        sess = session if session is not None else InferenceSession(cfg)
    except BaseException:
        src.close()
        raise
    outputs: RunOutputs | None = None
    stages: DetectStages | None = None
    try:
        try:
            detectors = sess.detectors(cfg.batching.detect_workers)
            analyzer = sess.analyzer()
            fps = src.info.fps / sampling.stride if sampling.target_fps is None else sampling.target_fps
            size = (src.info.width, src.info.height)
            outputs = RunOutputs(
                out_csv, analyzer.model_id, cfg.output.decimals, annotate, fps or 10.0, size,
                tracks=analyzer.tracking is not None,
                separate_left_out=cfg.output.left_out_rows == "separate",
                min_evidence_frames=cfg.tracking.min_evidence_frames,
                min_evidence_s=cfg.tracking.min_evidence_s,
            )  # fmt: skip
            if outputs.video is not None:
                outputs.video.blur_faces = blur_faces
                outputs.video.zones = sess.ignore_zones.zones(src.source_id)
            bc = cfg.batching
            stages = DetectStages(src, detectors, bc.frame_queue, bc.face_queue, src.close)
            counts = _write_frames(src, stages, analyzer, outputs, cfg, progress)
            summary = build_summary(
                source=str(source), output=str(out_csv), src=src, counts=counts, rows=outputs.rows,
                session=sess, detector=detectors[0], times=analyzer.times, model=analyzer.model_id,
                sampling=sampling,
                wall_s=time.perf_counter() - t_start,
            )  # fmt: skip
        except BaseException:
            # Ctrl-C or SIGTERM may land anywhere here, also before the stage threads own the source
            # or after they ended: no temporary file may stay behind (a truncation's .partial files
            # were committed already, abort() leaves them), and the decoder is released here.
            if outputs is not None:
                outputs.abort()
            if stages is not None and stages.started:
                stages.close()  # the reader thread releases the decoder (never two threads at once)
            else:
                src.close()
            raise
        summary = outputs.commit(summary)  # all or nothing
    finally:
        if session is None:
            sess.close()
    log.info(
        "%s: %d frames read, %d processed, %d faces in %.1f s",
        source, summary.frames_read, summary.frames_processed, summary.faces, summary.timings["wall_s"],
    )  # fmt: skip
    return summary


def _write_frames(
    src: VideoSource,
    stages: DetectStages,
    analyzer: FaceAnalyzer,
    outputs: RunOutputs,
    cfg: AppConfig,
    progress: bool,
) -> FrameCounts:
    """Run the stage threads over ``src`` and write every frame's result; abort the outputs on error.

    Raises:
        SourceError: from the reader, after the frames before it were written (kept as ``.partial``).
        BaseException: whatever a stage raised; the outputs are removed first.
    """
    bc = cfg.batching
    counts = FrameCounts()
    bar = make_progress(progress, src.info.frame_count, src.path.name)
    try:
        with stages:
            for batch in batches(stages.get, bc.batch_size, bc.max_wait_ms / 1000):
                results = analyzer.analyze([(d.frame, d.faces) for d in batch])
                t0 = time.perf_counter()
                for d, result in zip(batch, results, strict=True):
                    outputs.write(d.frame, result)
                    counts.processed.append(d.frame.index)
                    counts.faces += len(result.predictions)
                counts.write_s += time.perf_counter() - t0
                if bar is not None:
                    bar.update(batch[-1].frame.index + 1, counts.faces)
            outputs.write_persons(analyzer.finish())  # the tracks still live end with the input
    except SourceError as exc:
        if counts.last_frame is not None:
            outputs.write_persons(analyzer.finish())  # the tracks of the rows kept end at the break
        error = outputs.abort_truncated(exc, counts.last_frame)
        if error is exc:
            raise
        raise error from exc
    except BaseException:
        outputs.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    counts.detect_s = stages.detect_s
    return counts
