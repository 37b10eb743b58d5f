"""Faces as the benchmark's presets never showed them: behind a surgical mask, behind dark
sunglasses, seen from a camera mounted high, reflected in glass, turned and tilted. Used by
``frontal_faces.py --worlds`` (one face at a time) and by ``cctv_synth.py``'s ``Preset.masks``,
``Preset.sunglasses``, ``Preset.pitch`` and ``Preset.head_turn`` (whole clips).

All work on a UTKFace chip (200 x 200, the face aligned in it). The mask is ``../shared``'s
``data/stills/insightface/mask_white.jpg`` (a mask texture, no face in it) placed by YuNet's
landmarks on the chip. Sunglasses are drawn there too: two dark lenses over the eyes, a bridge and
the start of the arms (no real pair's texture: dark glass over the eyes is what hides them). The
camera above is a flat warp: the chip tilted about its horizontal axis, top towards the camera; a
real head also hides its chin and shows its hair from above, so the warp flatters every detector,
and numbers from it are an upper bound. A reflection is the chip mirrored at a share of its light
over a flat grey (what the glass lets through from behind). A turned head is the chip wrapped on a
vertical cylinder and turned about its axis (the near cheek widens, the far one narrows and goes out
of view), then tilted in the picture's plane: one photo cannot show the far side of a nose or an
ear, so the turn flatters the identity descriptor, and numbers from it are an upper bound too.
"""

from __future__ import annotations

import cv2
import numpy as np

MASK_FILE = "data/stills/insightface/mask_white.jpg"  # under ../shared


def masked(chip: np.ndarray, mask: np.ndarray, detector: cv2.FaceDetectorYN) -> np.ndarray | None:
    """The chip with a surgical mask from halfway between the eyes and the nose tip to below the mouth,
    1.05 eye distances each side of the nose; None when YuNet finds no face to place it on."""
    _, found = detector.detect(chip)
    if found is None:
        return None
    lm = found[0][4:14].reshape(5, 2)  # right eye, left eye, nose tip, mouth corners
    eye_y, eye_d, nose = lm[:2, 1].mean(), abs(lm[0, 0] - lm[1, 0]), lm[2]
    mouth_y = lm[3:5, 1].mean()
    top, bottom = (
        int(eye_y + 0.45 * (nose[1] - eye_y)),
        int(min(chip.shape[0] - 1, mouth_y + 1.3 * (mouth_y - nose[1]))),
    )
    x0, x1 = int(max(0, nose[0] - 1.05 * eye_d)), int(min(chip.shape[1], nose[0] + 1.05 * eye_d))
    if bottom - top < 5 or x1 - x0 < 5:
        return None
    w, h = x1 - x0, bottom - top
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (w // 2, h // 2), (w // 2, int(h * 0.62)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)[..., None]
    cloth = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    cloth *= (0.85 + 0.15 * np.linspace(1, 0.6, h))[:, None, None]  # shaded towards the chin
    out = chip.copy()
    out[top:bottom, x0:x1] = (alpha * cloth + (1 - alpha) * out[top:bottom, x0:x1]).astype(np.uint8)
    return out


def sunglasses(chip: np.ndarray, detector: cv2.FaceDetectorYN) -> np.ndarray | None:
    """The chip with dark sunglasses: a lens 0.84 x 0.6 eye distances over each eye (tilted with the
    eyes), a bridge between them and the start of each arm; None when YuNet finds no face to place
    them on. The lenses are nearly black at the top and a little lighter below (tinted glass)."""
    _, found = detector.detect(chip)
    if found is None:
        return None
    lm = found[0][4:14].reshape(5, 2).astype(np.float64)  # right eye, left eye, nose tip, mouth corners
    right, left = lm[0], lm[1]
    eye_d = float(np.hypot(*(left - right)))
    if eye_d < 4:
        return None
    u = (left - right) / eye_d  # along the eyes
    up = np.array([u[1], -u[0]])  # towards the forehead (image y grows downwards)
    alpha = np.zeros(chip.shape[:2], np.float32)
    axes = (round(0.42 * eye_d), round(0.30 * eye_d))
    angle = float(np.degrees(np.arctan2(u[1], u[0])))
    for eye in (right, left):
        centre = eye - 0.03 * eye_d * up
        cv2.ellipse(alpha, (round(centre[0]), round(centre[1])), axes, angle, 0, 360, 1.0, -1)
    thick = max(1, round(0.06 * eye_d))
    for a, b in (
        (right + 0.40 * eye_d * u + 0.10 * eye_d * up, left - 0.40 * eye_d * u + 0.10 * eye_d * up),  # bridge
        (right - 0.40 * eye_d * u + 0.05 * eye_d * up, right - 0.75 * eye_d * u + 0.08 * eye_d * up),
        (left + 0.40 * eye_d * u + 0.05 * eye_d * up, left + 0.75 * eye_d * u + 0.08 * eye_d * up),
    ):
        cv2.line(alpha, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), 1.0, thick)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.8)[..., None]
    rows = np.arange(chip.shape[0], dtype=np.float32)
    eye_y = float(right[1] + left[1]) / 2
    shade = 18.0 + 30.0 * np.clip((rows - eye_y + 0.3 * eye_d) / (0.6 * eye_d), 0, 1)  # tint: darker at top
    glass = np.repeat(shade[:, None, None], chip.shape[1], axis=1)
    out = alpha * glass + (1 - alpha) * chip.astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def from_above(chip: np.ndarray, degrees: float) -> np.ndarray:
    """The chip as a flat card tilted ``degrees`` about its horizontal axis, top towards the camera,
    seen through a pinhole 2.5 chip heights away."""
    h, w = chip.shape[:2]
    dist, t = 2.5 * h, np.deg2rad(degrees)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = []
    for x, y in src.tolist():
        sx, sy = x - w / 2, y - h / 2
        z = sy * np.sin(t)
        dst.append([dist * sx / (dist + z) + w / 2, dist * sy * np.cos(t) / (dist + z) + h / 2])
    warp = cv2.getPerspectiveTransform(src, np.float32(dst))
    return cv2.warpPerspective(chip, warp, (w, h), borderMode=cv2.BORDER_REPLICATE)


def reflected(chip: np.ndarray, share: float, behind: int = 110) -> np.ndarray:
    """The chip as a reflection in a glass door or shop window: mirrored left to right and only
    ``share`` of its light over what is behind the glass (a flat ``behind`` grey, as the canvas)."""
    out = share * chip[:, ::-1].astype(np.float32) + (1 - share) * behind
    return np.clip(out, 0, 255).astype(np.uint8)


# Where YuNet boxes a turned face (``turned``, yaw only), against its box of the chip as it was: the
# centre moves by TURN_SHIFT * sin(yaw) box widths towards the side turned to, the width shrinks by
# TURN_NARROW * (1 - cos(yaw)), the height stays (medians over 150 validation faces at -30..30 degrees:
# shift -0.160 / +0.174 and width 0.85 / 0.92 at -30 / +30; thirty-seventh session)
TURN_SHIFT = 0.34
TURN_NARROW = 0.9


def turned_box(x1: float, x2: float, yaw: float) -> tuple[float, float]:
    """The columns of a face box after the head turns ``yaw`` degrees (``turned``), as YuNet boxes it
    (``TURN_SHIFT``, ``TURN_NARROW``); the rows stay."""
    if not yaw:
        return x1, x2
    t = np.deg2rad(yaw)
    width = x2 - x1
    centre = (x1 + x2) / 2 + TURN_SHIFT * float(np.sin(t)) * width
    half = width / 2 * (1 - TURN_NARROW * (1 - float(np.cos(t))))
    return centre - half, centre + half


def _surface(width: int, yaw: float) -> tuple[float, np.ndarray]:
    """The cylinder of ``turned`` for a chip ``width`` wide: its radius in columns and, per output
    column, the angle of the surface it shows after a turn of ``yaw`` degrees (past +-pi/2: out of
    view)."""
    r = width / 2
    x = (np.arange(width, dtype=np.float64) + 0.5 - r) / r
    return r, np.arcsin(np.clip(x, -1, 1)) - np.deg2rad(yaw)


def turned(chip: np.ndarray, yaw: float, roll: float) -> np.ndarray:
    """The chip's face turned ``yaw`` degrees about its vertical axis (positive: towards the chip's
    right) and tilted ``roll`` degrees in the picture's plane (positive: anticlockwise).

    The turn wraps the chip on a cylinder of its width: an output column at ``x`` (from the centre,
    in half-widths) shows the surface at angle ``asin(x) - yaw``, the source column ``sin`` of that;
    surface past the cylinder's side is out of view (the edge column repeats there: ``turned_visible``
    says which columns to leave out). ``turned(chip, 0, 0)`` is the chip.
    """
    if not yaw and not roll:
        return chip
    h, w = chip.shape[:2]
    out = chip
    if yaw:
        r, surface = _surface(w, yaw)
        angle = np.clip(surface, -np.pi / 2, np.pi / 2)
        src_x = (np.sin(angle) * r + r - 0.5).astype(np.float32)
        map_x = np.repeat(src_x[None, :], h, axis=0)
        map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
        out = cv2.remap(out, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if roll:
        m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), roll, 1.0)
        out = cv2.warpAffine(out, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def turned_visible(width: int, yaw: float) -> np.ndarray:
    """(width,) float32: 1 on the columns of a chip ``width`` wide that show its face after a turn of
    ``yaw`` degrees (``turned``), 0 on those past the cylinder's side (what the photo cannot show: the
    repeated edge column, smeared streaks a detector can take for a face), a 2-column fade between."""
    r, surface = _surface(width, yaw)
    past = np.abs(surface) - np.pi / 2  # radians past the side
    edge = past * r  # about columns past it, near the side
    return np.clip(0.5 - edge / 2, 0, 1).astype(np.float32)
