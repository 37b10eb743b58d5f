"""Pieces of one person joined after the fact, from their best faces (file and live runs).

The tracker decides frame by frame, mostly from one face at a time. Where a walker comes out from
behind another, its first faces are partly hidden, and the identity descriptor of one such face can
read far from the walker's own (cross720 s3: 0.51 and 0.38 against a limit of 0.38). The walker then
goes on as a new track, and the person is counted twice (docs/BENCHMARKS.md, thirty-third session).

When a track ends as a person, ``PersonTracks`` looks among the live tracks for one of the same
person: one born after its last face whose first face is where its walk could have led, or one last
seen before its first face (still waiting for its person) from whose walk it could have come
(``continues``), or one whose gaps held all of its faces (``inside_gap``: a face handed back and
forth between two tracks), or one born in its gaps that went on after it (``hands_over``); never one
seen beside it otherwise. It compares the two tracks' best faces, the few each keeps for the gender
reading (``gender.GenderReading``: up to 3, one a second): the distance between the means of each
side's descriptors, at ``tracking.join_max_distance`` (``descriptor_distance``; where the two tracks'
faces alternated, the last two relations, at the tracker's own limit for one face if that is
looser: ``join_limit``). These are a track's best faces, not the frame's: a half-hidden face read at
a question is mostly not among them. The closest within the limit takes the ended track in (its
frames, motion, faces and fusion are added to the live track's: one person, one tracks CSV row), and
the ended track's frame rows carry the live track's id (``PersonResult.pieces``;
``file.outputs.RunOutputs`` relabels them at commit). A live run wrote those rows as they came: they
keep the ended track's id, and the person's row in the live tracks CSV names it in ``pieces``
(``live.rotating_sink``). The run summary counts such tracks in ``persons_dropped.joined``.

Not where the age/gender model reads the two ``JOIN_AGE_YEARS`` or more apart, nor for small
children (both read under ``tracking.identity_child_age``: their descriptors barely differ), nor where
either side has no readable kept face (under 32 px, cut by the frame edge, low-score
boxes only).
"""

from __future__ import annotations

import logging
from enum import StrEnum

import numpy as np

from facelog.pipeline.tracking.identity import Embedder, KeptFaces, identity_distance

log = logging.getLogger(__name__)

# a continuation's first face lies within JOIN_REACH face sizes of where the walk led (or of the last
# face), plus JOIN_SLACK of the distance walked meanwhile. The pieces of one person on seeds 0-3 and
# the pillar camera came out 0.02-0.80 face sizes off after gaps of 0.04-2.9 s (walked up to 13 face
# sizes); a visitor who came back from the frame edge 1.9 s later was 2.2 off (walk720_returns s3),
# and different people as close as the descriptor allows 2.9 and 7.5 (docs/BENCHMARKS.md,
# thirty-third session). Up if pieces of one walker stay apart, down if different people are joined.
JOIN_REACH = 1.0
JOIN_SLACK = 0.1
JOIN_SIZE = 1.5  # ...and of a size within this factor of the ended track's last faces
# two tracks the age/gender model reads this many years apart (their fused ages so far) are not joined:
# on a dim, noisy camera two women read 67 and 29 were 0.396 apart in the descriptor (walk720_away s1,
# ``--camera dim``); the pieces of one person within the descriptor's limit read at most 5.1 years apart
# (docs/BENCHMARKS.md, thirty-third session). Down if people of different ages are joined.
JOIN_AGE_YEARS = 20.0
JOIN_WALK_S = 1.0  # the ended track's velocity: over its last this many seconds of faces


class Relation(StrEnum):
    """How a live track stands to the ended one (``persons.PersonTracks._join``); the value is what the
    join's debug line says."""

    AFTER = "after it"  # born after its last face
    BEFORE = "before it"  # last seen before its first face
    AROUND = "around it"  # seen beside it, its faces all in the ended one's gaps (``inside_gap``)
    TOOK_OVER = "took it over"  # born in its gaps and going on after it (``hands_over``)


# where the two tracks' faces alternated on one walk, never two at one time, the join reads them at the
# tracker's own limit for one face (``tracking.identity_max_distance``, 0.5) where that is looser than
# ``tracking.join_max_distance``: over 98 benchmark clips every such question of 0.40-0.50 was one
# person (7, all on the dim camera; none of two people), where 9 of the other relations' 25 were two
# people; 42 fresh clips had no such pair in that band (docs/BENCHMARKS.md, thirty-eighth session).
# Down to join_max_distance if people are joined.
INTERLEAVED = (Relation.AROUND, Relation.TOOK_OVER)


def join_limit(how: Relation, join_max_distance: float, identity_max_distance: float) -> float:
    """The descriptor limit of a join question about a live track that stands ``how`` to the ended one:
    ``join_max_distance``, or the tracker's limit for one face where that is looser and the two
    tracks' faces alternated (``INTERLEAVED``)."""
    return max(join_max_distance, identity_max_distance) if how in INTERLEAVED else join_max_distance


def continues(ended: np.ndarray, first: np.ndarray) -> bool:
    """Whether a track whose first motion row is ``first`` may continue one whose motion rows are
    ``ended`` (rows: pts_ns, centre x, centre y, size px, ...; the ``StaticRule`` rows): its first
    face lies within ``JOIN_REACH`` face sizes, plus ``JOIN_SLACK`` of the distance walked, of where
    the ended track's last second of faces led (or of its last face: someone who stopped), at a size
    within ``JOIN_SIZE``."""
    last = ended[-1]
    size = float(np.median(ended[-5:, 3]))
    if not 1 / JOIN_SIZE <= float(first[3]) / size <= JOIN_SIZE:
        return False
    recent = ended[ended[:, 0] >= last[0] - JOIN_WALK_S * 1e9]
    dt = float(recent[-1, 0] - recent[0, 0]) / 1e9
    velocity = (recent[-1, 1:3] - recent[0, 1:3]) / dt if dt > 0 else np.zeros(2)
    gap = float(first[0] - last[0]) / 1e9
    led = last[1:3] + velocity * gap
    reach = JOIN_REACH * size + JOIN_SLACK * float(np.hypot(*(velocity * gap)))
    off = min(float(np.hypot(*(first[1:3] - led))), float(np.hypot(*(first[1:3] - last[1:3]))))
    return off <= reach


def inside_gap(track: np.ndarray, piece: np.ndarray) -> bool:
    """Whether every face of ``piece`` (motion rows, in time order) fell in gaps of ``track`` (motion
    rows, in time order), between faces of it: the two never had a face at one time, and each run of
    the piece's faces continues ``track``'s faces before it (``continues``) as ``track``'s next face
    continues the run. One face handed back and forth between two tracks: on a dim, noisy camera the
    holding track's question refuses a noisy face, a new track takes it, and the first, lost a frame,
    takes it back (docs/BENCHMARKS.md, thirty-fifth session)."""
    if piece[0, 0] <= track[0, 0] or piece[-1, 0] >= track[-1, 0] or np.isin(piece[:, 0], track[:, 0]).any():
        return False
    slot = np.searchsorted(track[:, 0], piece[:, 0])  # the track's next face after each of the piece's
    for k in np.unique(slot):
        run = piece[slot == k]
        if not (continues(track[:k], run[0]) and continues(run, track[k])):
            return False
    return True


def hands_over(ended: np.ndarray, live: np.ndarray) -> bool:
    """Whether a ``live`` track born during the ``ended`` track's life and going on after its last face
    took that face over (motion rows, in time order): its faces up to the ended track's last fell in
    gaps of it (``inside_gap``) and its first face after continues it (``continues``). One face handed
    back and forth between two tracks that the younger kept: on a dim, noisy camera a turning head's
    faces read 0.54-0.68 from their own track, each refusal starts a track, and the one holding the
    face last goes on as a second person (walk720_heads s1, ``--camera dim``; docs/BENCHMARKS.md,
    thirty-eighth session)."""
    before, after = live[live[:, 0] < ended[-1, 0]], live[live[:, 0] > ended[-1, 0]]
    return bool(len(before) and len(after)) and inside_gap(ended, before) and continues(ended, after[0])


def descriptor_distance(embedder: Embedder, a: KeptFaces, b: KeptFaces) -> float | None:
    """The distance between the means of the descriptors of two tracks' kept faces; None where either
    has none readable."""
    found = [a.descriptors(embedder), b.descriptors(embedder)]
    if not all(found):
        log.debug("kept faces %d and %d, readable %d and %d", len(a.faces), len(b.faces), *map(len, found))
        return None
    return identity_distance(np.mean(found[0], axis=0), np.mean(found[1], axis=0))
