"""Identity embeddings (dlib's face descriptor) on real faces: the same person across photos and frames
is near, different people are far; patches, thumbnails and bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelog.pipeline.tracking.identity import (
    IDENTITY_MAX_DISTANCE,
    FrameFaces,
    IdentityEmbedder,
    cut_patch,
    face_thumbs,
    identity_distance,
    thumb_change,
)


@pytest.fixture(scope="module")
def embedder() -> IdentityEmbedder:
    return IdentityEmbedder()


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None, path
    return np.asarray(img)


def _largest_face(img: np.ndarray, yunet: Path, k: int = 0) -> np.ndarray:
    """The ``k``-th largest YuNet box (xyxy) of an image."""
    h, w = img.shape[:2]
    det = cv2.FaceDetectorYN.create(str(yunet), "", (w, h), 0.6, 0.3, 5000)
    _, rows = det.detect(img)
    assert rows is not None and len(rows) > k
    rows = rows[np.argsort(-rows[:, 2])]
    x, y, bw, bh = rows[k, :4]
    return np.array([x, y, x + bw, y + bh], np.float64)


def _embed(
    emb: IdentityEmbedder, img: np.ndarray, box: np.ndarray, face_px: float | None = None
) -> np.ndarray:
    """Embedding of one face, optionally after shrinking the image so the face is ``face_px`` wide
    (and blowing it back up: the pixels a small face in CCTV has)."""
    if face_px is not None:
        s = face_px / (box[2] - box[0])
        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    v = emb.embed(cut_patch(img, box, 0))
    assert v is not None and v.shape == (128,)
    return v


@pytest.mark.parametrize("face_px", [None, 32.0], ids=["full", "32px"])
def test_same_person_near_different_people_far_on_real_photos(
    stills: Path, yunet_path: Path, embedder: IdentityEmbedder, face_px: float | None
) -> None:
    photos = stills / "face_recognition_examples"
    imgs = {n: _read(photos / f"{n}.jpg") for n in ("obama", "obama-720p", "biden")}
    e = {n: _embed(embedder, img, _largest_face(img, yunet_path), face_px) for n, img in imgs.items()}
    same = identity_distance(e["obama"], e["obama-720p"])
    assert same < 0.3  # the same photo at two resolutions
    for a in ("obama", "obama-720p"):
        assert identity_distance(e[a], e["biden"]) > IDENTITY_MAX_DISTANCE + 0.15


def test_same_person_across_video_frames_is_near(
    videos: Path, yunet_path: Path, embedder: IdentityEmbedder
) -> None:
    cap = cv2.VideoCapture(str(videos / "head-pose-face-detection-male.mp4"))
    frames = []
    ok, img = cap.read()
    while ok:
        frames.append(img)
        ok, img = cap.read()
    cap.release()
    picks = [frames[i] for i in (0, len(frames) // 2, len(frames) - 1)]
    vecs = [_embed(embedder, f, _largest_face(f, yunet_path)) for f in picks]
    dists = [identity_distance(a, b) for i, a in enumerate(vecs) for b in vecs[i + 1 :]]
    assert max(dists) < IDENTITY_MAX_DISTANCE
    assert embedder.calls >= 3 and embedder.seconds > 0


def test_tiny_face_has_no_embedding(embedder: IdentityEmbedder) -> None:
    img = np.full((60, 60, 3), 128, np.uint8)
    assert embedder.embed(cut_patch(img, np.array([20, 20, 30, 32.0]), 0)) is None


def test_patch_keeps_a_margin_and_is_clipped_to_the_frame() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    p = cut_patch(img, np.array([10.0, 20, 50, 60]), 7)
    assert p.frame_index == 7 and p.face_px == 40
    assert p.image.shape == (80, 70, 3)  # 20 px margin, cut at the left and top edges
    assert p.xyxy == (10.0, 20.0, 50.0, 60.0)
    with pytest.raises(ValueError, match=r"xyxy must be \(4,\)"):
        cut_patch(img, np.zeros(3), 0)
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        cut_patch(np.zeros((5, 5)), np.zeros(4), 0)


def test_thumbnail_change_small_for_the_same_face_large_for_another() -> None:
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 255, (60, 60, 3)).astype(np.uint8), (0, 0), 3)
    b = cv2.GaussianBlur(rng.integers(0, 255, (60, 60, 3)).astype(np.uint8), (0, 0), 3)
    box = np.array([[5.0, 5, 55, 55]])
    noisy = np.clip(a.astype(np.int16) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    ta, tn, tb = face_thumbs(a, box)[0], face_thumbs(noisy, box)[0], face_thumbs(b, box)[0]
    assert thumb_change(ta, tn) < 0.05
    assert thumb_change(ta, tb) > 0.3
    assert np.isnan(thumb_change(ta, np.zeros_like(ta)))  # an empty box: unknown
    assert face_thumbs(a, np.zeros((0, 4))).shape == (0, 65)


def test_frame_faces_embeds_once_and_only_when_asked(stills: Path, yunet_path: Path) -> None:
    img = _read(stills / "face_recognition_examples" / "obama.jpg")
    emb = IdentityEmbedder()
    ff = FrameFaces(emb, img, _largest_face(img, yunet_path)[None], 3)
    assert emb.calls == 0 and ff.computed(0) is None
    v = ff.embedding(0)
    assert v is not None and ff.embedding(0) is v and emb.calls == 1
    assert not ff.cut_by_edge(0)


def test_an_interrupt_during_the_dlib_import_stays_an_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """pybind11 turns a signal landing in dlib's module init into ImportError('initialization failed')
    caused by it (seen in CI: SIGTERM became 'dlib is not installed'); a fake import injects that."""
    import builtins
    import sys

    real_import = builtins.__import__

    def interrupted(name: str, *args: object, **kw: object) -> object:
        if name == "dlib":
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as ki:
                raise ImportError("initialization failed") from ki
        return real_import(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "dlib", raising=False)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        IdentityEmbedder()


def test_a_model_file_that_is_not_the_descriptor_network_is_an_identity_error(tmp_path: Path) -> None:
    from facelog.pipeline.tracking.identity import IdentityError

    damaged = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    damaged.write_bytes(b"\x01\x05con_4" + bytes(64))  # a record name, then nothing readable
    with pytest.raises(IdentityError, match=r"identity model .*dlib_face_recognition.*damaged"):
        IdentityEmbedder(model_path=damaged)
