"""The run summary of one file run (``<out>.summary.json``): what was read, processed and found."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from facelog.pipeline.analyzer import StageTimes
from facelog.pipeline.config import SamplingConfig
from facelog.pipeline.detect import Detector
from facelog.pipeline.file.reader import VideoSource
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.sinks import SCHEMA_VERSION


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
    model_precision: str  # fp32 or int8 (ONNX Runtime on the CPU loads the INT8 twin by default)
    model_precision_reason: str
    detector_input: dict[str, Any]  # frame and detector input size, threshold, min_face_px
    schema_version: int
    sampling: dict[str, Any]
    timings: dict[str, float]
    finished_utc: str
    extra: dict[str, Any] = field(default_factory=dict)
    persons: int | None = None  # tracks CSV rows with status "person"; None: tracking off
    # tracks left out of ``persons``, by why: "low_evidence" (no row: too few high-score detections),
    # "given_back" (no row: a young track whose face went back to an older one, tracking/persons.py),
    # "joined" (no row: a piece of another track's person, its frame rows under that id, tracking/join.py),
    # "static" (a row with status "static": a face that never moved), "no_face" (a row with status
    # "no_face": a head never seen from the front, detect/frontal.py); None: tracking off
    persons_dropped: dict[str, int] | None = None
    warnings: list[str] = field(default_factory=list)  # damage that still decoded (``VideoSource.warnings``)
    tracks: str | None = None  # the tracks CSV (``sinks.tracks_path``); None: tracking off
    # frame rows of tracks that are not persons, moved from the CSV (``rows`` excludes them) to
    # ``left_out_csv`` (``sinks.left_out_path``; None: none moved), by why: "static" (the tracks CSV
    # says static), "no_face" (... no_face), "low_evidence" (no tracks CSV row, given-back tracks'
    # too); None: tracking off or output.left_out_rows keep
    left_out_rows: dict[str, int] | None = None
    left_out_csv: str | None = None
    # the persons' second gender reading (tracking.gender.GenderReading): "identity_gender VERSION, N face(s)
    # a person"; None: off (tracking.gender_faces 0 or tracking off)
    gender_reading: str | None = None
    # detections centred in detector.ignore_zones, dropped before anything else (detect/zones.py)
    faces_ignored: int = 0

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


@dataclass(slots=True)
class FrameCounts:
    """What the caller's thread of a file run counted while writing (filled as frames come)."""

    processed: list[int] = field(default_factory=list)  # indices of the processed frames, in order
    faces: int = 0
    write_s: float = 0.0
    detect_s: float = 0.0

    @property
    def last_frame(self) -> int | None:
        return self.processed[-1] if self.processed else None


def _extra(src: VideoSource) -> dict[str, str]:
    """What the reader did to the stream that a reader of the CSV should know."""
    note = src.pts_note()
    extra = {"pts": note} if note else {}
    since = src.deinterlacer.since_frame
    if since is not None:
        extra["interlaced"] = (
            f"one field of each frame kept from processed frame {since} on (frames/interlace.py)"
        )
    pixels = src.square.describe(*src.stored_size)
    if pixels is not None:
        extra["pixels"] = pixels
    return extra


def build_summary(
    *, source: str, output: str, src: VideoSource, counts: FrameCounts, rows: int, session: InferenceSession,
    detector: Detector,
    times: StageTimes, model: str, sampling: SamplingConfig, wall_s: float,
) -> RunSummary:  # fmt: skip
    """The summary of a complete run (timings rounded to ms, counts exact)."""
    info = src.info
    det, backend = session.resolved.detector, session.resolved.backend
    return RunSummary(
        source=source, output=output, status="complete",
        frames_read=src.frames_read, frames_processed=src.frames_processed, frames_skipped=src.frames_skipped,
        processed_frames=frame_runs(counts.processed), faces=counts.faces, rows=rows,
        video_fps=info.fps, video_s=round(src.frames_read / info.fps, 3) if info.fps > 0 else 0.0,
        width=info.width, height=info.height, codec=info.codec,
        detector=det.name, detector_reason=det.reason, backend=backend.name, backend_reason=backend.reason,
        model=model, model_path=str(session.resolved.model_path), schema_version=SCHEMA_VERSION,
        model_precision=session.resolved.precision, model_precision_reason=session.resolved.precision_reason,
        detector_input=detector.describe(),
        sampling=sampling.model_dump(),
        timings={
            "wall_s": round(wall_s, 3),
            "fps": round(src.frames_processed / wall_s, 2) if wall_s > 0 else 0.0,
            "decode_s": round(src.decode_s, 3),
            "detect_s": round(counts.detect_s, 3),
            "crop_s": round(times.crop_s, 3),
            "infer_s": round(times.infer_s, 3),
            "track_s": round(times.track_s, 3),
            # identity descriptors: the tracker's veto (only where they decide a match) and the persons'
            # gender reading (tracking.gender.GenderReading)
            "identity_embeddings": times.identity_embeddings,
            "identity_s": round(times.identity_s, 3),
            "gender_read": times.gender_read,  # persons whose gender the identity descriptor also read
            "gender_changed": times.gender_changed,  # ... where that changed the model's answer
            "frontal_checks": times.frontal_checks,  # faces the frontal check looked at (detect/frontal.py)
            "frontal_s": round(times.frontal_s, 3),
            "write_s": round(counts.write_s, 3),
            "batches": times.batches,
        },
        finished_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        extra=_extra(src),
        warnings=list(src.warnings),
        persons_dropped=dict(times.persons_dropped) if session.cfg.tracking.enabled else None,
        faces_ignored=times.faces_ignored,
        gender_reading=(
            f"identity_gender {session.gender_reader.version}, "
            f"{session.cfg.tracking.gender_faces} face(s) a person"
            if session.gender_reader is not None
            else None
        ),
    )  # fmt: skip
