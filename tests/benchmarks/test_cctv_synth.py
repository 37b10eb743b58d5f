"""The CCTV clip generator: validation faces only, a decodable H.264 clip, GT that matches it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cctv_common import GT_COLUMNS
from cctv_synth import PRESETS, SynthError, make_clip, validation_faces


@pytest.fixture(scope="module")
def utkface(shared: Path) -> Path:
    if not (shared / "data" / "utkface").is_dir():
        pytest.skip(f"UTKFace not found under {shared}")
    return shared


def test_validation_faces_are_the_model_card_split(utkface: Path) -> None:
    faces = validation_faces(utkface)
    assert len(faces) == 2071  # engines/models/MODEL_CARD.md
    assert set(faces["gender"]) == {"male", "female"}


def test_tiny_clip_matches_its_ground_truth(utkface: Path, tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    mp4, gt_path = make_clip(tmp_path / "a", "tiny", seed=3, shared=utkface)
    gt = pd.read_csv(gt_path)
    assert tuple(gt.columns) == GT_COLUMNS
    cap = cv2.VideoCapture(str(mp4))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (PRESETS["tiny"].height, PRESETS["tiny"].width, 3)
    assert n == PRESETS["tiny"].frames
    assert gt["frame_index"].between(0, n - 1).all()
    assert (gt["x2"] > gt["x1"]).all() and (gt["x2"] <= PRESETS["tiny"].width).all()
    assert gt.groupby(["frame_index", "person_id"]).size().max() == 1
    _, gt_again = make_clip(tmp_path / "b", "tiny", seed=3, shared=utkface)
    assert gt_again.read_text() == gt_path.read_text()


def test_unknown_preset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="unknown preset 'nope'"):
        make_clip(tmp_path, "nope")


def test_counter_people_step_up_into_the_same_spots_and_the_queue_stays(utkface: Path) -> None:
    from cctv_people import SAME_COAT_BGR, plan_people

    faces = validation_faces(utkface)
    counter = plan_people(PRESETS["counter720"], faces, 0)
    assert len(counter) >= 8
    follow = [p for p in counter if p.replaces is not None]
    assert len(follow) >= len(counter) - 2  # all but the first at each spot step into a vacated spot
    for p in follow:
        q = counter[p.replaces]
        assert 0 <= p.first_frame - (q.first_frame + len(q.path)) <= 3
    assert all(abs(p.clothes[0] - SAME_COAT_BGR[0]) < 15 for p in counter)  # one coat for all
    queue = plan_people(PRESETS["queue720"], faces, 0)
    frames = PRESETS["queue720"].frames
    assert len(queue) == 6 and all(p.first_frame == 0 and len(p.path) == frames for p in queue)
    sway = [float(p.path[:, 0].max() - p.path[:, 0].min()) / float(p.path[0, 2]) for p in queue]
    assert min(sway) > 0.05  # they sway: people, not posters


def _faces_table(n: int) -> pd.DataFrame:
    """A validation-faces table for planning only (no pixels are read)."""
    return pd.DataFrame(
        {"path": [f"f{i}.jpg" for i in range(n)], "age": range(n), "gender": ["male", "female"] * (n // 2)}
    )


def test_crossing_walkers_meet_and_the_nearer_face_hides_the_other() -> None:
    from cctv_people import plan_people
    from cctv_synth import _face_box, _hidden_share

    preset = PRESETS["cross720"]
    people = plan_people(preset, _faces_table(60), 0)
    assert len(people) >= preset.people - 2
    met = 0
    for a in people:
        for b in people:
            if a.velocity[0] <= 0 or b.velocity[0] >= 0:
                continue  # a walks right, b walks left
            f0, f1 = (
                max(a.first_frame, b.first_frame),
                min(a.first_frame + len(a.path), b.first_frame + len(b.path)),
            )
            for f in range(f0, f1):
                pa, pb = a.path[f - a.first_frame], b.path[f - b.first_frame]
                half = (pa[2] + pb[2]) / 2 / 0.875
                if abs(pa[0] - pb[0]) < 0.3 * half and abs(pa[1] - pb[1]) < 0.5 * half:
                    met += 1
                    break
    assert met >= preset.people // 2 - 2  # (almost) every pair passes face over face
    # The share hidden: a face behind a same-sized one at its own place is all hidden, one beside it not.
    box = _face_box(100, 100, 80)
    assert _hidden_share(box, [(people[0], 0, 80, 100, 100)], bodies=False) == 1.0
    assert _hidden_share(box, [(people[0], 0, 80, 300, 100)], bodies=False) == 0.0
    half = _hidden_share(box, [(people[0], 0, 80, 140, 100)], bodies=False)
    assert 0.4 < half < 0.6
    assert _hidden_share(box, [(people[0], 0, 80, 100, -60)], bodies=True) > 0.9  # a torso above it


def test_a_face_hidden_by_people_in_front_is_dont_care(tmp_path: Path) -> None:
    from cctv_common import read_gt

    rows = [
        (0, 0, 10.0, 10.0, 50.0, 56.0, 30.0, "male", 40, 0.0),
        (0, 1, 30.0, 10.0, 70.0, 56.0, 30.0, "male", 40, 0.5),
    ]
    path = tmp_path / "x.gt.csv"
    pd.DataFrame(rows, columns=[*GT_COLUMNS, "occluded"]).to_csv(path, index=False)
    gt = read_gt(path)
    assert gt["care"].tolist() == [True, False]
    assert gt["visible"][1] == pytest.approx(0.5 * gt["visible"][0])  # same box, half hidden


def test_the_crowd_has_many_faces_in_view_at_once() -> None:
    from cctv_people import plan_people

    preset = PRESETS["crowd720"]
    people = plan_people(preset, _faces_table(200), 0)
    assert len(people) == preset.people
    in_view = [0] * preset.frames
    for p in people:
        for f in range(p.first_frame, p.first_frame + len(p.path)):
            in_view[f] += 1
    assert sum(in_view) / preset.frames > 12  # walk720: about 4


def test_alike_newcomers_share_gender_and_age_with_the_person_who_left() -> None:
    from cctv_people import plan_people

    faces = _faces_table(300)
    for name in ("counter720_alike", "walk720_nobody_alike"):
        alike, plain = (
            plan_people(PRESETS[name], faces, 0),
            plan_people(PRESETS[name.removesuffix("_alike")], faces, 0),
        )
        assert [p.first_frame for p in alike] == [p.first_frame for p in plain]  # the same people and paths
        newcomers = [p for p in alike if p.replaces is not None]
        assert len(newcomers) >= 5
        for p in newcomers:
            q = alike[p.replaces]
            assert p.gender == q.gender and abs(p.age - q.age) <= 5 and p.face_row != q.face_row
        assert len({p.face_row for p in alike}) == len(alike)  # nobody appears twice
        assert sum(p.face_row != q.face_row for p, q in zip(alike, plain, strict=True)) == len(newcomers)


def test_population_presets_draw_every_face_from_one_group_on_the_plain_paths() -> None:
    from cctv_people import plan_people
    from cctv_presets import POPULATIONS

    faces = _faces_table(600).assign(race=[i % 5 for i in range(600)])  # UTKFace's labels 0-4
    for base in ("walk720_nobody", "counter720_alike"):
        plain = plan_people(PRESETS[base], faces, 0)
        for group, label in POPULATIONS.items():
            people = plan_people(PRESETS[f"{base}_{group}"], faces, 0)
            assert [(p.first_frame, p.path.tolist()) for p in people] == [
                (p.first_frame, p.path.tolist()) for p in plain
            ]  # the same people on the same paths
            assert {int(faces["race"].iloc[p.face_row]) for p in people} == {label}
            assert len({p.face_row for p in people}) == len(people)  # nobody appears twice
            for p in people:
                if p.replaces is not None and PRESETS[base].alike:
                    q = people[p.replaces]
                    assert p.gender == q.gender and abs(p.age - q.age) <= 10
    with pytest.raises(ValueError, match="only 20 faces"):  # a group too small for the clip: said, not padded
        plan_people(PRESETS["walk720_asian"], faces.iloc[:100], 0)


def test_away_presets_turn_people_away_inside_their_stay() -> None:
    """``*_away``: the plain preset's people and paths, some of them turned away (no face) for 2.5-6 s,
    at least 1 s after stepping up and before leaving."""
    from cctv_people import AWAY_MARGIN_S, AWAY_S, plan_people

    faces = _faces_table(300)
    for name in ("queue720_away", "counter720_away", "static720_away", "walk720_away"):
        preset = PRESETS[name]
        away, plain = plan_people(preset, faces, 0), plan_people(PRESETS[preset.stream], faces, 0)
        assert [(p.first_frame, p.face_row) for p in away] == [(p.first_frame, p.face_row) for p in plain]
        assert all((a.path == b.path).all() and not b.away for a, b in zip(away, plain, strict=True))
        spells = [(p, a, b) for p in away for a, b in p.away]
        assert len(spells) >= 4, name
        margin = AWAY_MARGIN_S * preset.fps
        for p, a, b in spells:
            assert AWAY_S[0] * preset.fps <= b - a <= AWAY_S[1] * preset.fps + 1
            assert a >= margin - 1 and b <= len(p.path) - margin + 1
            assert p.turned_away(a) and not p.turned_away(b) and not p.turned_away(a - 1)


def test_a_turned_away_person_has_no_ground_truth_rows(
    utkface: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    from dataclasses import replace

    import cctv_people
    import cctv_synth

    # the tiny preset with everyone turned away once (at 25 fps a 2-s clip: spells of 0.2-0.5 s)
    tiny = replace(PRESETS["tiny"], name="tiny_away", away=1.0)
    monkeypatch.setattr(cctv_synth, "PRESETS", {**PRESETS, "tiny_away": tiny})
    monkeypatch.setattr(cctv_people, "AWAY_S", (0.2, 0.5))
    monkeypatch.setattr(cctv_people, "AWAY_MARGIN_S", 0.2)
    _, gt_path = make_clip(tmp_path, "tiny_away", seed=3, shared=utkface)
    people = cctv_people.plan_people(tiny, validation_faces(utkface), 3)
    gt = pd.read_csv(gt_path)
    assert sum(len(p.away) for p in people) >= 1
    for p in people:
        rows = set(gt[gt.person_id == p.person_id].frame_index)
        for a, b in p.away:
            assert not rows & {p.first_frame + k for k in range(a, b)}  # no row while turned away
            assert min(rows) < p.first_frame + a and max(rows) >= p.first_frame + b  # seen before and after


def test_gap_newcomers_step_up_seconds_after_the_person_who_left() -> None:
    """``counter720_gap_alike``: at each counter spot the next person steps up 2.5-8 s after the one
    before left (inside a still track's longer re-identification window), of the same gender and the
    nearest age."""
    from cctv_people import plan_people

    preset = PRESETS["counter720_gap_alike"]
    people = plan_people(preset, _faces_table(300), 0)
    newcomers = [p for p in people if p.replaces is not None]
    assert len(newcomers) >= 8
    for p in newcomers:
        q = people[p.replaces]
        gap = p.first_frame - (q.first_frame + len(q.path))
        assert 2.5 * preset.fps <= gap <= 8 * preset.fps + 4
        assert p.gender == q.gender and abs(p.age - q.age) <= 5


def test_returning_people_are_earlier_people_after_they_left() -> None:
    """``*_returns``: the plain preset's paths; a returner wears an earlier person's face, age, gender
    and clothes, arrives ``RETURN_MIN_GAP_S`` or more after every visit of that person left, and is
    never a newcomer at a vacated spot; nobody else changes."""
    from cctv_people import RETURN_MIN_GAP_S, plan_people

    faces = _faces_table(300)
    for name in ("walk720_returns", "static720_returns"):
        back, plain = (
            plan_people(PRESETS[name], faces, 1),
            plan_people(PRESETS[name.removesuffix("_returns")], faces, 1),
        )
        assert [(p.first_frame, len(p.path)) for p in back] == [(p.first_frame, len(p.path)) for p in plain]
        returns = [p for p in back if p.same_as is not None]
        assert len(returns) >= 3
        gap = RETURN_MIN_GAP_S * PRESETS[name].fps
        for p in returns:
            first = back[p.same_as]
            assert p.replaces is None and first.same_as is None
            assert (p.face_row, p.age, p.gender, p.clothes) == (
                first.face_row,
                first.age,
                first.gender,
                first.clothes,
            )
            for v in back:  # every earlier visit of that person has left the view by then
                if v is not p and (v is first or v.same_as == p.same_as) and v.first_frame < p.first_frame:
                    assert v.first_frame + len(v.path) + gap <= p.first_frame
        changed = [
            (p.face_row, p.clothes) != (q.face_row, q.clothes) for p, q in zip(back, plain, strict=True)
        ]
        assert sum(changed) == len(returns)


def test_returns_score_says_which_visits_were_linked() -> None:
    """``returns.score_returns`` on a hand-made clip: person 0, then visit 1 (person 0 again) on its
    own track, visit 2 (person 0 once more) on visit 0's track, visit 3 (a new person) never found."""
    from returns import score_returns

    box = {"x1": 10.0, "y1": 10.0, "x2": 50.0, "y2": 60.0}
    gt = pd.DataFrame(
        [{"frame_index": f, "person_id": v, **box, "age": 30, "gender": "male", "face_px": 40.0, "care": True}
         for v, frames in ((0, range(0, 5)), (1, range(20, 25)), (2, range(40, 45)), (3, range(60, 65)))
         for f in frames]
    )  # fmt: skip
    spans = ((7, range(0, 5)), (8, range(20, 25)), (7, range(40, 45)))
    frames = pd.DataFrame([{"frame_index": f, "track_id": t, **box} for t, span in spans for f in span])
    visits = pd.DataFrame(
        {"person_id": [0, 1, 2, 3], "who": [0, 0, 0, 3], "first": [0, 20, 40, 60], "end": [5, 25, 45, 65]}
    )
    tracks = pd.DataFrame({"track_id": [7, 8], "status": ["person", "person"]})
    res = score_returns(gt, frames, tracks, visits, fps=25)
    assert (res["visits"], res["people"], res["persons"], res["tracks_two_people"]) == (4, 2, 2, 0)
    assert [(r["visit"], r["gap_s"], r["state"]) for r in res["returns"]] == [
        (1, 0.6, "counted again"),
        (2, 0.6, "linked"),
    ]


def test_sunglasses_darken_the_eyes_only_and_need_a_face(utkface: Path) -> None:
    from face_worlds import sunglasses

    from facelog.pipeline.weights import YUNET_PATH

    detector = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (200, 200), 0.5)
    chip = cv2.imread(str(validation_faces(utkface)["path"].iloc[0]))
    _, found = detector.detect(chip)
    (rx, ry), (lx, ly), _, (_, my), _ = found[0][4:14].reshape(5, 2).round().astype(int)
    shaded = sunglasses(chip, detector)
    assert shaded is not None and shaded.shape == chip.shape
    for x, y in ((rx, ry), (lx, ly)):  # the eyes: behind nearly black glass
        glass, eye = shaded[y - 4 : y + 5, x - 8 : x + 9], chip[y - 4 : y + 5, x - 8 : x + 9]
        assert glass.mean() < 60 and (glass != eye).any(axis=2).mean() > 0.9
    assert (shaded[my:, :] == chip[my:, :]).all()  # the mouth and chin as they were
    assert sunglasses(chip, detector).tobytes() == shaded.tobytes()  # the same pair every time
    assert sunglasses(chip[:, :, :] * 0, detector) is None  # no face: nothing to place them on


def test_the_sunglasses_presets_are_their_plain_presets_with_half_the_people_in_them() -> None:
    half = [p for p in PRESETS.values() if p.sunglasses]
    names = {
        "walk720_sunglasses",
        "walk720_nobody_sunglasses",
        "counter720_sunglasses",
        "static720_nobody_sunglasses",
    }
    assert {p.name for p in half} == names
    assert all(p.sunglasses == 0.5 and p.stream == p.name.removesuffix("_sunglasses") for p in half)


def test_a_shirt_print_is_a_face_on_the_torso_and_no_ground_truth_row(
    utkface: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny preset with everyone in a printed shirt (``Preset.prints``) against the plain one: the
    same GT (a print is nobody), the same faces, and a face-sized patch changed on each torso."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed")
    from dataclasses import replace

    import cctv_synth
    import numpy as np
    from cctv_common import GT_BOX_IN_CHIP, GT_BOX_W

    tiny = replace(PRESETS["tiny"], name="tiny_prints", prints=1.0)
    monkeypatch.setattr(cctv_synth, "PRESETS", {**PRESETS, "tiny_prints": tiny})
    assert tiny.stream == "tiny"  # the same people, paths and scene as the plain clip
    plain_mp4, plain_gt = make_clip(tmp_path / "a", "tiny", seed=3, shared=utkface)
    print_mp4, print_gt = make_clip(tmp_path / "b", "tiny_prints", seed=3, shared=utkface)
    gt = pd.read_csv(plain_gt)
    assert gt.equals(pd.read_csv(print_gt))

    def frames(mp4: Path) -> list[np.ndarray]:
        cap, out = cv2.VideoCapture(str(mp4)), []
        while True:
            ok, f = cap.read()
            if not ok:
                return out
            out.append(f.astype(np.int16))

    a, b = frames(plain_mp4), frames(print_mp4)
    checked = 0
    h, w = a[0].shape[:2]
    for r in gt.itertuples():
        side = r.face_px / GT_BOX_W
        x0, y0 = r.x1 - GT_BOX_IN_CHIP[0] * side, r.y1 - GT_BOX_IN_CHIP[1] * side  # the chip's corner
        top, ps = round(y0 + cctv_synth.PRINT_TOP * side), round(cctv_synth.PRINT_SIDE * side)
        left = round(x0 + side / 2 - ps / 2)
        if min(r.x1, r.y1) <= 0 or r.x2 >= w or r.y2 >= h or left < 0 or left + ps > w or top + ps > h:
            continue  # a face or print cut by the frame edge
        face = np.s_[round(r.y1) : round(r.y2), round(r.x1) : round(r.x2)]
        shirt = np.s_[top + ps // 4 : top + 3 * ps // 4, left + ps // 4 : left + 3 * ps // 4]
        k = int(r.frame_index)
        assert np.abs(a[k][face] - b[k][face]).mean() < 6, (r, "the face itself changed")
        assert np.abs(a[k][shirt] - b[k][shirt]).mean() > 12, (r, "no print on the torso")
        checked += 1
    assert checked >= 3  # the tiny frame cuts most torsos


def test_the_prints_presets_are_their_plain_presets_with_half_the_people_in_printed_shirts() -> None:
    half = [p for p in PRESETS.values() if p.prints]
    assert {p.name for p in half} == {"walk720_prints", "static720_prints"}
    assert all(p.prints == 0.5 and p.bodies and p.stream == p.name.removesuffix("_prints") for p in half)


def test_groups_walk_abreast_at_one_speed_and_a_child_is_smaller_and_lower() -> None:
    from cctv_common import GT_BOX_W
    from cctv_people import CHILD_AGE, _overlaps, plan_people

    preset = PRESETS["groups720"]
    faces = _faces_table(200)
    faces["age"] = [3, 30, 45, 8, 60, 25, 70, 11, 35, 50] * 20  # a child in most groups
    people = plan_people(preset, faces, 0)
    assert len(people) == preset.people
    groups: dict[tuple[float, float], list] = {}
    for p in people:
        groups.setdefault(p.velocity, []).append(p)
    sizes = sorted(len(g) for g in groups.values())
    assert sizes[0] >= 1 and sizes[1] >= 2 and sizes[-1] <= 3  # twos and threes (the last may be one)
    assert 3 in sizes and 11 <= len(groups) <= 17
    for p in people:  # faces never overlap, inside a group or across groups
        assert not _overlaps(p.first_frame, p.path, [q for q in people if q is not p])
    near = 0
    for g in groups.values():
        adults = [p for p in g if p.age > CHILD_AGE]
        for c in (p for p in g if p.age <= CHILD_AGE):
            for a in adults:  # a child's face: smaller, and lower than the adults' where both are seen
                assert c.path[0, 2] < 0.85 * a.path[0, 2]
                f0 = max(a.first_frame, c.first_frame)
                f1 = min(a.first_frame + len(a.path), c.first_frame + len(c.path))
                assert f1 > f0 and np.all(
                    c.path[f0 - c.first_frame : f1 - c.first_frame, 1]
                    > a.path[f0 - a.first_frame : f1 - a.first_frame, 1] - 0.2 * a.path[0, 2]
                )
        for a in g:
            for b in g:
                f0 = max(a.first_frame, b.first_frame)
                f1 = min(a.first_frame + len(a.path), b.first_frame + len(b.path))
                if a is b or f1 <= f0:
                    continue
                pa = a.path[f0 - a.first_frame : f1 - a.first_frame]
                pb = b.path[f0 - b.first_frame : f1 - b.first_frame]
                chips = np.abs(pa[:, 0] - pb[:, 0]) / np.maximum(pa[:, 2], pb[:, 2]) * GT_BOX_W
                near += bool(np.all(chips < 2.6 * 2))  # within a few chip sides the whole way
    assert near >= 2 * (len(people) - len(groups))  # every neighbour pair, both ways


def test_close_groups_are_the_groups_walking_closer_with_faces_that_overlap() -> None:
    from cctv_people import plan_people

    faces = _faces_table(200)
    for plain, close in (("groups720", "groups720_close"), ("groups720_nobody", "groups720_nobody_close")):
        assert not PRESETS[plain].overlapping and PRESETS[close].overlapping
        assert PRESETS[close].stream == plain
    people = plan_people(PRESETS["groups720_close"], faces, 0)
    apart = plan_people(PRESETS["groups720"], faces, 0)
    assert [p.face_row for p in people[:6]] == [p.face_row for p in apart[:6]]  # the same first people
    hidden = 0
    for a in people:
        for b in people:
            f0, f1 = (
                max(a.first_frame, b.first_frame),
                min(a.first_frame + len(a.path), b.first_frame + len(b.path)),
            )
            if a is b or f1 <= f0:
                continue
            pa, pb = (
                a.path[f0 - a.first_frame : f1 - a.first_frame],
                b.path[f0 - b.first_frame : f1 - b.first_frame],
            )
            half = (pa[:, 2] + pb[:, 2]) / 0.875 / 2
            hidden += int(np.sum((np.abs(pa[:, 0] - pb[:, 0]) < half) & (np.abs(pa[:, 1] - pb[:, 1]) < half)))
    assert hidden > 1000  # frame pairs of faces that overlap (the plain groups: none)


def test_a_turned_head_moves_the_face_centre_and_a_tilt_rotates_it() -> None:
    """``face_worlds.turned`` on a chip with a bright vertical line down its middle (the nose): a
    turn moves the line towards the side turned to, by the cylinder's sine, and widens nothing off
    the chip; a tilt of 90 degrees lays it flat. The columns past the cylinder's side are left out."""
    from face_worlds import turned, turned_visible

    chip = np.zeros((200, 200, 3), np.uint8)
    chip[:, 98:102] = 255
    assert turned(chip, 0, 0) is chip
    for yaw in (-30, -15, 15, 30):
        out = turned(chip, yaw, 0)
        assert out.shape == chip.shape
        col = float(np.argmax(out[100, :, 0]))
        assert abs(col - (99.5 + 100 * np.sin(np.deg2rad(yaw)))) <= 2, (yaw, col)
    flat = turned(chip, 0, 90)
    assert flat[100, 20:180, 0].min() > 200 and flat[20, :, 0].max() < 50  # the line now across
    assert (turned_visible(200, 0) == 1).all()
    seen = turned_visible(200, 30)  # past the side: x < -sin(60 degrees), 6.7% of the width, on the left
    assert (seen[:12] == 0).all() and (seen[16:] == 1).all()
    assert (turned_visible(200, -30) == seen[::-1]).all()


def test_the_heads_presets_are_their_plain_presets_with_heads_that_move() -> None:
    from cctv_synth import HEAD_STEP, HeadPoses

    heads = [p for p in PRESETS.values() if p.head_turn]
    names = {f"{n}_heads" for n in ("walk720", "walk720_nobody", "static720", "counter720", "queue720")}
    assert {p.name for p in heads} == names | {"queue720_still_heads"}
    assert all(p.head_turn == 30 and p.stream == p.name.removesuffix("_heads") for p in heads)
    poses = HeadPoses(seed=1, person_id=4, turn=30.0)
    seen = [poses.at(k) for k in range(300)]  # 12 s: at least two swings of the yaw
    yaws, rolls = np.array([y for y, _ in seen]), np.array([r for _, r in seen])
    assert np.abs(yaws).max() <= 30 and yaws.max() >= 15 and yaws.min() <= -15
    assert np.abs(rolls).max() <= 10
    assert (yaws % HEAD_STEP[0] == 0).all() and (rolls % HEAD_STEP[1] == 0).all()
    assert np.abs(np.diff(yaws)).max() <= 2 * HEAD_STEP[0]  # under 4 degrees a frame: it turns, not jumps
    assert seen == [HeadPoses(seed=1, person_id=4, turn=30.0).at(k) for k in range(300)]  # drawn, not random
    assert seen != [HeadPoses(seed=1, person_id=5, turn=30.0).at(k) for k in range(300)]  # each their own


def test_a_turned_face_ground_truth_box_follows_the_face(utkface: Path) -> None:
    """``face_worlds.turned_box`` moves the GT box where YuNet finds a turned face: over 30
    validation faces turned 30 degrees either way, YuNet's box overlaps the moved box (IoU >= 0.5, the
    scorer's match) on nearly all, more than it overlaps the chip's own box."""
    from cctv_common import iou_matrix
    from cctv_synth import _face_box
    from face_worlds import turned, turned_box

    from facelog.pipeline.weights import YUNET_PATH

    detector = cv2.FaceDetectorYN.create(str(YUNET_PATH), "", (200, 200), 0.5)
    x1, y1, x2, y2 = _face_box(0, 0, 200)
    moved_ok = plain_ok = 0
    for path in validation_faces(utkface)["path"].iloc[:30]:
        chip = cv2.imread(str(path))
        for yaw in (-30, 30):
            _, found = detector.detect(turned(chip, yaw, 0))
            assert found is not None
            bx, by, bw, bh = found[0][:4]
            box = np.array([[bx, by, bx + bw, by + bh]], float)
            moved = np.array([[turned_box(x1, x2, yaw)[0], y1, turned_box(x1, x2, yaw)[1], y2]], float)
            moved_ok += int(iou_matrix(box, moved)[0, 0] >= 0.5)
            plain_ok += int(iou_matrix(box, np.array([[x1, y1, x2, y2]], float))[0, 0] >= 0.5)
    assert moved_ok >= 57 and moved_ok > plain_ok, (moved_ok, plain_ok)
