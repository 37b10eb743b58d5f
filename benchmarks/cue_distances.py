"""The tracker's cues between two faces of a clip: why a pair was kept or refused, as the tracker saw it.

    python benchmarks/cue_distances.py CLIP F1,X1,Y1,F2,X2,Y2 [F1,X1,Y1,F2,X2,Y2 ...]

Runs ``process_video`` on CLIP at default settings and records what ``tracker.Tracker.update`` is
given at frames F1 and F2 (the boxes, the model's face embedding, the body colour, the faces for the
identity veto). For each pair it takes the detection whose centre is nearest (X1, Y1) in frame F1 and
the one nearest (X2, Y2) in F2 and prints their distances in each cue, as the gate and the identity
veto compare them: the model embedding's and the body colour's cosine distance
(``association.cue_distance``; the gate's ``reid_max_cosine`` 0.15, ``identity_keep_cosine`` 0.07,
``max_body_distance`` 0.2), the thumbnail change (``identity.thumb_change``; ``identity_jump`` 0.2)
and the descriptor distance (``identity.identity_distance``; ``identity_max_distance`` 0.5). None:
unknown (no body below the face, a face under 32 px or cut by the frame edge).

Used in docs/BENCHMARKS.md (twenty-fifth session: a walker's first face out from behind a nearer body).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facelog.pipeline.config import load_config
from facelog.pipeline.file.process import process_video
from facelog.pipeline.tracking import tracker as tracker_module
from facelog.pipeline.tracking.identity import identity_distance, thumb_change


@dataclass(frozen=True, slots=True)
class Seen:
    """What the tracker was given in one frame (n detections)."""

    xyxy: np.ndarray  # (n, 4)
    embedding: np.ndarray | None  # (n, d) the model's face embedding
    body: np.ndarray | None  # (n, k) body colour histograms (zeros: unknown)
    thumbs: np.ndarray | None  # (n, 65) the identity's thumbnails (``identity.face_thumbs``)
    descriptors: list[np.ndarray | None]  # the identity descriptor of each face (None: unreadable)


def nearest(seen: Seen, x: float, y: float) -> int:
    """Index of the detection whose box centre is nearest (x, y)."""
    cx = (seen.xyxy[:, 0] + seen.xyxy[:, 2]) / 2
    cy = (seen.xyxy[:, 1] + seen.xyxy[:, 3]) / 2
    return int(np.argmin(np.hypot(cx - x, cy - y)))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def distances(a: Seen, i: int, b: Seen, j: int) -> dict[str, float | None]:
    """The cue distances between detection ``i`` of ``a`` and detection ``j`` of ``b`` (None: unknown)."""
    out: dict[str, float | None] = {"embedding": None, "body": None, "thumb": None, "descriptor": None}
    if a.embedding is not None and b.embedding is not None:
        out["embedding"] = _cosine(a.embedding[i], b.embedding[j])
    if a.body is not None and b.body is not None and a.body[i].any() and b.body[j].any():
        out["body"] = _cosine(a.body[i], b.body[j])
    if a.thumbs is not None and b.thumbs is not None:
        out["thumb"] = thumb_change(a.thumbs[i], b.thumbs[j])
    da, db = a.descriptors[i], b.descriptors[j]
    if da is not None and db is not None:
        out["descriptor"] = identity_distance(da, db)
    return out


def record(clip: Path, frames: set[int]) -> dict[int, Seen]:
    """Run the clip at default settings; what the tracker was given at ``frames``."""
    seen: dict[int, Seen] = {}
    update = tracker_module.Tracker.update

    def recording(
        self: Any, frame_index: int, xyxy: np.ndarray, score: np.ndarray, *args: Any, **kw: Any
    ) -> Any:
        if frame_index in frames:
            emb, body, _, identity = (list(args) + [None] * 4)[:4]
            seen[frame_index] = Seen(
                xyxy=np.array(xyxy),
                embedding=None if emb is None else np.array(emb),
                body=None if body is None else np.array(body),
                thumbs=None if identity is None else np.array(identity.thumbs),
                descriptors=[
                    identity.embedding(k) if identity is not None else None for k in range(len(xyxy))
                ],
            )
        return update(self, frame_index, xyxy, score, *args, **kw)

    tracker_module.Tracker.update = recording  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            process_video(clip, Path(tmp) / "out.csv", load_config())
    finally:
        tracker_module.Tracker.update = update  # type: ignore[method-assign]
    return seen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument(
        "pairs", nargs="+", help="F1,X1,Y1,F2,X2,Y2: a face near (X1,Y1) at F1, one near (X2,Y2) at F2"
    )
    args = ap.parse_args(argv)
    try:
        pairs = [tuple(int(v) for v in p.split(",")) for p in args.pairs]
        if any(len(p) != 6 for p in pairs):
            raise ValueError
    except ValueError:
        print("error: each pair is F1,X1,Y1,F2,X2,Y2 (six integers)", file=sys.stderr)
        return 2
    if not args.clip.is_file():
        print(f"error: no such clip: {args.clip}", file=sys.stderr)
        return 2
    seen = record(args.clip, {p[0] for p in pairs} | {p[3] for p in pairs})
    for f1, x1, y1, f2, x2, y2 in pairs:
        if f1 not in seen or f2 not in seen:
            print(f"{f1} -> {f2}: no detection in frame {f1 if f1 not in seen else f2}")
            continue
        i, j = nearest(seen[f1], x1, y1), nearest(seen[f2], x2, y2)
        d = {k: None if v is None else round(v, 3) for k, v in distances(seen[f1], i, seen[f2], j).items()}
        print(f"{f1} near ({x1},{y1}) -> {f2} near ({x2},{y2}): {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
