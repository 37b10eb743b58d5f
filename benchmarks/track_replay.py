"""The tracking step's own cost: record one clip's detections and model outputs, then replay only
``PersonTracks.update`` on them, one thread, timed by process CPU.

    python benchmarks/track_replay.py record CLIP REC.pkl      # a file run, keeping what tracking got
    python benchmarks/track_replay.py replay REC.pkl OUT.pkl [--rounds 2]

``record`` runs ``process_video`` at the defaults and pickles every frame, its faces, model outputs
and single-frame predictions as ``PersonTracks.update`` received them (720p: ~2.8 MB a frame, 2 GB for
crowd720's 750). ``replay`` builds fresh ``PersonTracks`` (the session's identity model, gender reader
and frontal detector) and feeds them the recording, then ends the tracks; it prints wall and CPU
seconds per round, per frame and per face, and the identity descriptors' share, and pickles the
outputs (predictions and ended persons per frame) so that two versions of the code can be compared
byte for byte (``cmp``). Process CPU includes ONNX Runtime's threads of the identity descriptor.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from facelog.pipeline.config import load_config
from facelog.pipeline.file.process import process_video
from facelog.pipeline.session import InferenceSession
from facelog.pipeline.tracking import persons
from facelog.pipeline.tracking.identity import IdentityEmbedder


def record(clip: Path, out: Path) -> None:
    cfg = load_config()
    rec: list[tuple[Any, ...]] = []
    update = persons.PersonTracks.update

    def keep(self: persons.PersonTracks, *args: Any) -> Any:
        rec.append(args)
        return update(self, *args)

    persons.PersonTracks.update = keep
    try:
        with InferenceSession(cfg) as session, tempfile.TemporaryDirectory() as tmp:
            process_video(clip, Path(tmp) / "x.csv", cfg, session=session)
    finally:
        persons.PersonTracks.update = update
    with out.open("wb") as f:
        pickle.dump(rec, f, protocol=5)
    print(f"{len(rec)} frames, {sum(len(r[1]) for r in rec)} faces -> {out}")


def replay(rec_path: Path, out: Path, rounds: int) -> None:
    with rec_path.open("rb") as f:
        rec = pickle.load(f)
    cfg = load_config()
    faces = sum(len(r[1]) for r in rec)
    with InferenceSession(cfg) as session:
        fusion = session.analyzer()._fusion
        outputs: list[Any] = []
        for k in range(rounds):
            embedder = IdentityEmbedder()
            tracks = persons.PersonTracks(
                rec[0][0].source_id,
                cfg.tracking,
                fusion,
                embedder,
                session.gender_reader,
                session.frontal_detector,
            )
            outputs = []
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            for args in rec:
                outputs.append(tracks.update(*args))
            outputs.append(((), tracks.finish()))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(
                f"round {k}: wall {wall:.2f} s, CPU {cpu:.2f} s: {1000 * cpu / len(rec):.2f} ms a frame, "
                f"{1000 * cpu / max(faces, 1):.3f} ms a face; identity descriptors {embedder.calls}, "
                f"{embedder.seconds:.2f} s"
            )
    with out.open("wb") as f:
        pickle.dump(outputs, f)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("clip", type=Path)
    r.add_argument("out", type=Path)
    p = sub.add_parser("replay")
    p.add_argument("rec", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    if args.cmd == "record":
        if not args.clip.is_file():
            print(f"track_replay: {args.clip} not found", file=sys.stderr)
            return 2
        record(args.clip, args.out)
    else:
        if not args.rec.is_file():
            print(f"track_replay: {args.rec} not found", file=sys.stderr)
            return 2
        replay(args.rec, args.out, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
