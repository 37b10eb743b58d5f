"""Faces that pass behind one another (``track.behind_nearer``, ``policy.gate``): the face behind
keeps its id when it comes out where it went in, its looks unknown while a nearer face covers it; a
track lost in the open is not taken by a covered face."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from facelog.pipeline.tracking.track import behind_nearer
from facelog.pipeline.tracking.tracker import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cue_vectors import D, near, unit  # the tracker tests' cue vectors


def _box(cx: float, cy: float, side: float) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_a_box_covered_by_a_larger_one_is_behind_it() -> None:
    small, big = _box(100, 100, 40), _box(140, 100, 80)  # big covers the right 20 px of small: half
    assert behind_nearer(np.array([small, big])).tolist() == [True, False]
    assert behind_nearer(np.array([_box(100, 100, 40), _box(170, 100, 80)])).tolist() == [False, False]
    assert behind_nearer(np.array([_box(100, 100, 40), _box(116, 100, 40)])).tolist() == [True, True]
    assert behind_nearer(np.array([small])).tolist() == [False]
    # a sliver (under HIDDEN_SHARE of the small box) is not a face behind someone
    assert behind_nearer(np.array([_box(100, 100, 40), _box(178, 100, 80)])).tolist() == [False, False]


def _crossing(rng: np.random.Generator, occluder: bool) -> list[int]:
    """A (40 px) walks right at 3 px a frame, B (80 px) walks left; A is covered at frame 58 (its
    embedding a mix of both faces while its box overlaps B's), not detected for frames 59-74 (16 > 10
    frames: past ``max_lost_frames``), covered again at 75, clean from 76. Without ``occluder`` B
    is left out of frames 59-74, where A vanished: A was lost in the open. Returns A's ids."""
    a, b = unit(rng), unit(rng)
    t = Tracker()
    ids = []
    for k in range(100):
        boxes, embs = [], []
        ax, bx = 100 + 3 * k, 500 - 3 * k
        if not 59 <= k <= 74:
            boxes.append(_box(ax, 300, 40))
            covered = k in (58, 75)  # boxes overlapping by 8 and 10 px: a fifth and a quarter of A
            embs.append(near(a, 0.3, rng) if covered else near(a, 0.02, rng))
        if occluder or not 59 <= k <= 76:
            boxes.append(_box(bx, 300, 80))
            embs.append(near(b, 0.02, rng))
        step = t.update(k, np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32),
                        np.array(embs, np.float32))  # fmt: skip
        if not 59 <= k <= 74:
            ids.append(int(step.track_ids[0]))
    return ids


def test_a_walker_who_passes_behind_a_nearer_one_keeps_its_id() -> None:
    ids = _crossing(np.random.default_rng(0), occluder=True)
    assert len(set(ids)) == 1, ids


def test_a_covered_face_does_not_take_a_track_lost_in_the_open() -> None:
    rng = np.random.default_rng(0)
    a, c = unit(rng), unit(rng)
    t = Tracker()
    ids = []
    for k in range(40):
        boxes, embs = [], []
        if k < 10:  # A walks and is lost in the open
            boxes.append(_box(100 + 3 * k, 300, 40))
            embs.append(near(a, 0.02, rng))
        if k == 24:  # someone else, half behind C, where A's path would be (looks unknown)
            boxes += [_box(172, 300, 40), _box(205, 300, 80)]
            embs += [near(c, 0.3, rng), near(c, 0.02, rng)]
        step = t.update(k, np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32),
                        np.array(embs, np.float32).reshape(-1, D))  # fmt: skip
        if boxes:
            ids.append(int(step.track_ids[0]))
    assert ids[-1] != ids[0]
