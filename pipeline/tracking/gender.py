"""A person's gender read a second time, from the face-identity descriptor.

The age/gender model reads some real camera faces confidently wrong for a whole clip (rolled heads,
glasses: issue 21), and dlib's descriptor (``identity.IdentityEmbedder``), trained for identity on
many real photos, carries gender: ``IdentityGender`` reads it with a logistic regression fitted on
UTKFace training faces (``training/identity_gender.py``). ``GenderReading`` (``tracking.gender_faces``,
default 3, file and live runs alike) keeps a copy of up to that many faces per track (``offer``: at
least ``identity.MIN_FACE_PX`` wide, the descriptor's own limit, not cut by the frame edge, the best
by fusion weight of each ``GAP_NS`` of stream time, and when all places are taken a better face
replaces the weakest kept one). When the track ends as a person (``persons.PersonTracks``) their
descriptors are computed and read; the person's female log-odds is the mean of the model's fused
log-odds and the mean reading (equal weights: the two are not calibrated against each other; other
weights measured in docs/BENCHMARKS.md, twenty-fifth session). Only the person's answer changes
(tracks CSV, report): the frame rows' ``gender_smooth`` stays the model's running answer. Measured in
docs/BENCHMARKS.md, "Gender from the identity descriptor".
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facelog.pipeline.tracking.fusion import logistic
from facelog.pipeline.tracking.identity import (
    IDENTITY_DIM,
    MIN_FACE_PX,
    Embedder,
    FacePatch,
    IdentityError,
    KeptFaces,
)
from facelog.pipeline.types import Gender, gender_of
from facelog.pipeline.weights import shipped_identity_gender_path

log = logging.getLogger(__name__)

GAP_NS = 1_000_000_000  # the gender reading keeps one face per this much stream time (the better one)


class IdentityGender:
    """Gender read from identity descriptors: a logistic regression on dlib's 128 numbers.

    The age/gender model reads some real camera faces wrong for a whole clip, confidently (rolled
    heads, glasses; issue 21); the descriptor, trained for identity on many real photos, reads them
    right (docs/BENCHMARKS.md, "Gender from the identity descriptor"). ``persons.PersonTracks``
    averages this reading of a few of a person's best faces with the model's fused answer.

    Args:
        path: the fitted file (``training/identity_gender.py``); None: the shipped one
            (``weights.shipped_identity_gender_path``; UTKFace terms: engines/models/MODEL_CARD.md).

    Raises:
        IdentityError: the file is missing or not a fitted classifier of 128 descriptor numbers.
    """

    def __init__(self, path: Path | None = None) -> None:
        p = Path(path) if path is not None else shipped_identity_gender_path()
        try:
            doc = json.loads(p.read_text())
            self._mean, self._std, self._weight = (
                np.asarray(doc[k], np.float64) for k in ("mean", "std", "weight")
            )
            self._bias = float(doc["bias"])
            self.version = str(doc.get("version", "?"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise IdentityError(f"identity gender file {p} unreadable: {e}") from None
        arrays = (self._mean, self._std, self._weight)
        if (
            any(a.shape != (IDENTITY_DIM,) or not np.isfinite(a).all() for a in arrays)
            or (self._std <= 0).any()
            or not math.isfinite(self._bias)
        ):
            raise IdentityError(
                f"identity gender file {p}: mean, std, weight must be {IDENTITY_DIM} finite numbers "
                "(std > 0), bias one finite number"
            )

    def female_logit(self, descriptors: np.ndarray) -> np.ndarray:
        """(k,) log-odds of female for (k, 128) descriptors (one (128,) descriptor: (1,)).

        Raises:
            ValueError: not 128 numbers per descriptor.
        """
        d = np.asarray(descriptors, np.float64)
        d = d[None, :] if d.ndim == 1 else d
        if d.ndim != 2 or d.shape[1] != IDENTITY_DIM:
            raise ValueError(f"descriptors must be (k, {IDENTITY_DIM}), got {np.shape(descriptors)}")
        return np.asarray(((d - self._mean) / self._std) @ self._weight + self._bias)


class GenderReading:
    """Keeps faces per track and reads a person's gender from them when the track ends.

    Args:
        faces: faces kept per track (``tracking.gender_faces``, >= 1).
        reader: the descriptor's gender read-out.
        embedder: the identity descriptor.
    """

    def __init__(self, faces: int, reader: IdentityGender, embedder: Embedder) -> None:
        if faces < 1:
            raise ValueError(f"faces must be >= 1, got {faces}")
        self.faces = faces
        self.reader = reader
        self.embedder = embedder
        self.read = 0  # persons whose gender the descriptor also read...
        self.changed = 0  # ...and those where that turned the model's answer

    def offer(
        self, kept: KeptFaces, weight: float, pts_ns: int, xyxy: np.ndarray, patch: Callable[[], FacePatch]
    ) -> None:
        """Keep this face (box ``xyxy``, cut by ``patch()`` only if kept) if it is among the track's
        best (see the module docstring)."""
        if float(xyxy[2] - xyxy[0]) >= MIN_FACE_PX:  # the descriptor's limit: under it, none
            kept.offer(self.faces, GAP_NS, weight, pts_ns, patch)

    def person_gender(
        self, kept: KeptFaces, model_logit: float, model_gender: Gender, track_id: int = -1
    ) -> tuple[Gender, float]:
        """The person's gender and its probability from the model's fused log-odds and the kept faces'
        reading; the model's alone (``logistic(model_logit)``) when no face gave a descriptor.
        ``track_id`` names the person in the debug log line (``benchmarks/gender_rules.py`` reads it)."""
        found = kept.descriptors(self.embedder)
        readings = self.reader.female_logit(np.array(found)) if found else np.zeros(0)
        logit = model_logit
        if found:
            logit = (model_logit + float(np.mean(readings))) / 2
        female = logistic(logit)
        gender = gender_of(female)
        read = [round(float(x), 4) for x in readings]
        log.debug("track %d gender readings: model %.4f, descriptor %s", track_id, model_logit, read)
        if found:
            self.read += 1
            self.changed += gender != model_gender
        return gender, female if gender == "female" else 1.0 - female
