"""The presets of the synthetic CCTV clips (``cctv_synth.py`` renders them): who is in a clip, how
big, how fast, doing what, and in which world.

Presets (``PRESETS``): ``walk*`` people walk through, entering and leaving at the left/right edges
(some walk down toward the camera and grow), and some vanish mid-frame (turn away, step behind
something) with a new person appearing at that spot 1-4 frames later; ``static*`` people appear,
stand or sway slowly for 3-10 s and leave, with the same replacements. Faces never overlap. Each person
has a neck and torso in a clothing colour (drawn before all faces, so bodies never cover a face);
``*_nobody`` presets leave them out.

Cases where clothes, place and stillness mislead a tracker (issue 20): ``walk720_sameclothes``
(everyone in the same dark coat); ``counter720`` (two spots at a counter where people step up one
after another, 0-3 frames after the previous one left, head-and-shoulders with the same coats);
``queue720`` (people standing in a row for the whole clip, swaying a little: people, not
``static``); ``queue720_still`` (the same queue swaying 1% of a face size instead of 5%: the case
the static rule cannot tell from a poster); ``textures720`` (walkers plus ``Preset.textures`` still,
face-like patterns: validation faces upside down, blurred and faded, in the scene and in no GT);
``poster720`` (walkers plus one real validation face pasted still for the whole clip, a printed
face: in no GT, to be marked ``static`` in the tracks CSV). ``screen720`` (walkers plus a wall screen,
``SCREEN_BOX``, whose advert shows another validation face every 3-6 s, each drifting and zooming
the whole time: real faces that move, in no GT; neither the static rule nor the frontal check can
leave them out, only a zone the operator draws, ``detector.ignore_zones``).

``*_alike`` (``counter720_alike``, ``walk720_nobody_alike``): each newcomer at a vacated spot is
another validation face of the same gender and the nearest age as the person who left (the model's
embedding, which reads age and gender, cannot tell them apart); the clip is the plain preset's in
everything else. ``crowd720``: 120 walkers in 30 s, faces 24-72 px, 15-18 in view at once (bodies
of the nearer overlap the faces behind them, so the colour below a face may be someone else's).

``*_returns`` (``walk720_returns``, ``static720_returns``): each person is drawn (at 0.4; not a
newcomer at a vacated spot, and only where someone left the view 0.5 s or more before) to be an
earlier person of the clip coming back (12-30% of the visits on seeds 0-3): that person's face,
age, gender and clothes on this one's path (``cctv_people._returns``); the GT keeps one ``person_id``
per visit, and ``cctv_people.plan_people`` says which visits are one person (``Person.same_as``;
``returns.py`` scores them). Every other pixel is the plain preset's.

``*_masks`` (``walk720_masks``, ``counter720_masks``): half the people (drawn per person) wear a
surgical mask over nose and mouth (``face_worlds.masked``); ``*_sunglasses`` (``walk720_sunglasses``,
``walk720_nobody_sunglasses``, ``counter720_sunglasses``, ``static720_nobody_sunglasses``): half
the people wear dark sunglasses
(``face_worlds.sunglasses``); ``*_above`` (``walk720_above``,
``static720_above``): every face seen from a camera 40 degrees above (``face_worlds.from_above``, a flat
warp: an upper bound on what a real high camera gives); the GT boxes are the plain chip's. Both keep
their plain preset's people, paths and scene.
``*_heads`` (``walk720_heads``, ``walk720_nobody_heads``, ``static720_heads``, ``counter720_heads``,
``queue720_heads``, ``queue720_still_heads``) break the rule that a person's face is one photo held
still: everyone looks around, the head turning up to 30 degrees to each side and back every 2-5 s
and tilting up to a third of that (``Preset.head_turn``, ``face_worlds.turned``: the chip wrapped on a
cylinder, an upper bound on what the descriptor sees of a real turned head; drawn per person,
``cctv_synth.head_poses``). ``queue720_still_heads`` is the queue as still as a poster, looking around:
people, where ``queue720_still``'s are ``static`` by design. The GT, people, paths and scene are the
plain preset's.

``cross720`` (and ``_nobody``) breaks the rule that faces never overlap: pairs of walkers meet, one
from each side at about one height, and the nearer (larger) one passes in front, hiding the other's
face for a few frames (the identity switch of every tracker's textbook). Its GT has one more column,
``occluded``: the share of the face box that people in front cover (``cctv_common.read_gt`` counts a
face more than a quarter hidden as "don't care", like one the frame edge cuts).

Population presets (``walk720``, ``walk720_nobody`` and ``counter720_alike``, each with ``_white``,
``_black``, ``_asian`` or ``_indian``) break the rule that a camera's people are UTKFace's mix: every
person is drawn from one of the dataset's race groups (``POPULATIONS``, its own labels), on the plain
preset's paths; an ``_alike`` newcomer is then the same gender, nearest age and the same group as the
person who left (a shop in Tokyo, Lagos or Mumbai, where the mix made most look-alikes differ in more).

``groups720`` (and ``_nobody``) breaks the rule that everyone walks alone: people walk through in twos
and threes abreast at one speed (friends, couples, a parent with a child), faces 1.25-2.2 chip sides
apart, a spacing that swings by 15% over seconds, never overlapping; a child's face (12 or under) is
0.75 of its group's size and lower (``cctv_people._groups``). Neighbours share a velocity, so motion
alone cannot tell them apart after a missed face, and a neighbour's body overlaps the region below
a face. ``*_close`` (``groups720_close``, ``groups720_nobody_close``): the same groups (drawn from the same
random streams) walking closer, 0.55-1.3 chip sides apart, swinging by 35%: one member is
partly behind another (the larger face in front) for seconds at a time, at one speed, where crossing
walkers hide each other for a few frames; its GT has the ``occluded`` column as ``cross`` has.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

# UTKFace's race labels (``labels.csv``; the third field of a file name), the groups a population preset
# draws every person from: the dataset's own labels, estimated from the photos and checked by a person
POPULATIONS = {"white": 0, "black": 1, "asian": 2, "indian": 3}


@dataclass(frozen=True)
class Preset:
    """One kind of clip. Sizes are GT box widths in px; speeds in px per frame."""

    name: str
    width: int
    height: int
    seconds: float
    people: int
    face_px: tuple[float, float]
    speed_px: tuple[float, float]
    mode: Literal["walk", "static", "counter", "queue", "cross", "group"]
    replace_share: float = 0.2  # share of people who vanish mid-frame and are replaced at that spot
    bodies: bool = True  # a torso in the person's clothing colour below each face
    same_clothes: bool = False  # everyone wears the same dark coat
    textures: int = 0  # still face-like patterns in the scene (no GT rows)
    poster: bool = False  # one real face pasted still for the whole clip (no GT rows)
    screen: bool = False  # a wall screen showing an advert of real faces that move (no GT rows)
    masks: float = 0.0  # share of people wearing a surgical mask (face_worlds.masked)
    sunglasses: float = 0.0  # share of people wearing dark sunglasses (face_worlds.sunglasses)
    prints: float = 0.0  # share of people (with bodies) whose shirt is printed with a face, not theirs
    pitch: float = 0.0  # degrees a camera mounted high looks down at the faces (face_worlds.from_above)
    head_turn: float = 0.0  # degrees people turn their heads to each side and back (face_worlds.turned)
    sway: float = 0.05  # counter/queue: how far standing people sway (share of their face size)
    alike: bool = False  # a newcomer at a vacated spot: the same gender and about the same age
    returns: float = 0.0  # share of people who are an earlier person coming back (``Person.same_as``)
    away: float = 0.0  # share of standing people who turn away for seconds (no face, body stays)
    spot_gap_s: tuple[float, float] = (0.0, 0.0)  # counter: seconds between one person and the next
    abreast: tuple[float, float] = (1.25, 2.2)  # group: face centres apart across the walk, chip sides
    abreast_swing: float = 0.15  # group: the share that spacing swings by over seconds
    population: str = ""  # every person from one of UTKFace's race groups (``POPULATIONS``); "" = the mix
    fps: int = 25
    crf: int = 29

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def overlapping(self) -> bool:
        """Whether faces may overlap: rendered far to near, with the GT's ``occluded`` column."""
        return self.mode == "cross" or (
            self.mode == "group" and self.abreast[0] * (1 - self.abreast_swing) < 1.05
        )

    @property
    def stream(self) -> str:
        """Key of the preset's random streams (people, scene, noise): its name; an ``alike``, ``away``,
        ``masks``, ``sunglasses``, ``prints``, ``above``, ``heads``, ``returns`` or population preset
        shares its plain preset's (``gap_alike``: the counter's), so the two clips differ only in the
        newcomers' faces, the turned-away spells, the time between visits, the masks, sunglasses or
        shirt prints, the angle faces are seen at, the heads' turns, the faces of people who return
        or, for a population preset (``_white``, ``_black``, ``_asian``, ``_indian``), every face."""
        name = self.name.removesuffix("_masks").removesuffix("_sunglasses").removesuffix("_above")
        name = name.removesuffix("_prints").removesuffix("_close").removesuffix("_heads")
        name = name.removesuffix("_returns")
        for group in POPULATIONS:
            name = name.removesuffix("_" + group)
        return name.removesuffix("_alike").removesuffix("_away").removesuffix("_gap")


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("walk720", 1280, 720, 30, 34, (24, 160), (5, 14), "walk"),
        Preset("static720", 1280, 720, 30, 30, (40, 160), (0, 1.2), "static"),
        Preset("walk1080", 1920, 1080, 16, 26, (24, 160), (7, 20), "walk"),
        Preset("static1080", 1920, 1080, 16, 20, (40, 160), (0, 1.8), "static"),
        Preset("walk4k", 3840, 2160, 6, 22, (32, 320), (10, 28), "walk", crf=30),
        Preset("walk720_nobody", 1280, 720, 30, 34, (24, 160), (5, 14), "walk", bodies=False),
        Preset("static720_nobody", 1280, 720, 30, 30, (40, 160), (0, 1.2), "static", bodies=False),
        Preset("walk720_sameclothes", 1280, 720, 30, 34, (24, 160), (5, 14), "walk", same_clothes=True),
        Preset("counter720", 1280, 720, 30, 24, (80, 160), (0, 0.3), "counter", same_clothes=True),
        Preset("queue720", 1280, 720, 30, 6, (48, 96), (0, 0.1), "queue"),
        # the queue standing 5x stiller (1% of a face size): breaks the static rule's assumption
        Preset("queue720_still", 1280, 720, 30, 6, (48, 96), (0, 0.1), "queue", sway=0.01),
        Preset("textures720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", textures=6),
        Preset("poster720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", poster=True),
        # walkers plus a wall screen whose advert shows a real face every 3-6 s, drifting and zooming
        Preset("screen720", 1280, 720, 30, 20, (24, 160), (5, 14), "walk", screen=True),
        # walkers who pass in front of one another (faces overlap): with and without bodies
        Preset("cross720", 1280, 720, 30, 30, (32, 128), (5, 12), "cross", replace_share=0.0),
        Preset(
            "cross720_nobody", 1280, 720, 30, 30, (32, 128), (5, 12), "cross", replace_share=0.0, bodies=False
        ),
        # people who walk through together, 2-3 abreast at one speed (friends, couples, a parent with a
        # child): neighbours a chip side or two apart with one velocity; with and without bodies
        Preset("groups720", 1280, 720, 30, 34, (32, 128), (4, 10), "group", replace_share=0.0),
        Preset(
            "groups720_nobody",
            1280,
            720,
            30,
            34,
            (32, 128),
            (4, 10),
            "group",
            replace_share=0.0,
            bodies=False,
        ),
        # a crowd: 120 walkers in 30 s, faces 24-72 px, 15-18 in view at once on average (walk720: 4-5)
        Preset("crowd720", 1280, 720, 30, 120, (24, 72), (4, 10), "walk"),
        Preset("tiny", 320, 240, 2, 3, (40, 60), (3, 6), "walk"),  # for tests
    )
}


def _variant(base: str, suffix: str, **changes: Any) -> Preset:
    """``base`` with ``changes``, named ``base + suffix`` (its random streams are the base's:
    ``Preset.stream``)."""
    return replace(PRESETS[base], name=base + suffix, **changes)


PRESETS.update(
    (p.name, p)
    for p in (
        # newcomers at vacated spots of the same gender and nearest age as the person who left
        _variant("counter720", "_alike", alike=True),
        _variant("walk720_nobody", "_alike", alike=True),
        # standing people who turn away (look down, talk to someone behind) for 2.5-6 s and back
        _variant("queue720", "_away", away=1.0),
        _variant("counter720", "_away", away=1.0),
        _variant("static720", "_away", away=0.5),
        _variant("walk720", "_away", away=0.5),  # walkers who look aside (a shop window) while walking
        # half the people in surgical masks (a pharmacy, a hospital, winter): faces the presets never had
        _variant("walk720", "_masks", masks=0.5),
        _variant("counter720", "_masks", masks=0.5),
        # half the people in dark sunglasses (outdoors, a shop entrance in summer): the eyes hidden,
        # which the identity descriptor and the frontal check both look at
        _variant("walk720", "_sunglasses", sunglasses=0.5),
        _variant("walk720_nobody", "_sunglasses", sunglasses=0.5),
        _variant("counter720", "_sunglasses", sunglasses=0.5),
        _variant("static720_nobody", "_sunglasses", sunglasses=0.5),  # no clothes to disagree
        # people who come back: each person (drawn at 0.4, where someone has left the view 0.5 s or more
        # before) is an earlier person again, its face and clothes (a shop floor, an aisle, a corridor)
        _variant("walk720", "_returns", returns=0.4),
        _variant("static720", "_returns", returns=0.4),
        # half the people in a shirt printed with a face (a band, a film, a cartoon face on a T-shirt):
        # a face that walks with its wearer, never a person (no GT rows)
        _variant("walk720", "_prints", prints=0.5),
        _variant("static720", "_prints", prints=0.5),
        # groups walking close: one member falls partly behind another (the nearer, larger face in
        # front) for seconds at a time, at one speed: a longer hiding than crossing walkers'
        _variant("groups720", "_close", abreast=(0.55, 1.3), abreast_swing=0.35),
        _variant("groups720_nobody", "_close", abreast=(0.55, 1.3), abreast_swing=0.35),
        # heads that move: everyone looks around while walking or standing, turning up to 30 degrees
        # to each side and back every 2-5 s and tilting a third of that (``Preset.head_turn``): the
        # presets' faces were one photo held still, frame after frame
        _variant("walk720", "_heads", head_turn=30.0),
        _variant("walk720_nobody", "_heads", head_turn=30.0),
        _variant("static720", "_heads", head_turn=30.0),
        _variant("counter720", "_heads", head_turn=30.0),
        _variant("queue720", "_heads", head_turn=30.0),
        _variant("queue720_still", "_heads", head_turn=30.0),  # as still as a poster, but looking around
        # a camera mounted high: every face seen 40 degrees from above (a flat warp, an upper bound)
        _variant("walk720", "_above", pitch=40.0),
        _variant("static720", "_above", pitch=40.0),
        # the next person steps up 2.5-8 s after the previous one left (a still track waits 10 s for
        # its person to turn back): the same gender and nearest age, no body below the face; 60 s
        _variant(
            "counter720",
            "_gap_alike",
            seconds=60,
            bodies=False,
            same_clothes=False,
            alike=True,
            spot_gap_s=(2.5, 8.0),
        ),
    )
)

# one population at a camera (a shop in Lagos, Tokyo or Mumbai): every person of the clip from one
# UTKFace race group, on the plain preset's paths (its random streams); a newcomer of an ``_alike``
# preset is then of that group too
# a counter for 2 minutes, 96 people: a camera that has seen more people than a 30-s clip holds
PRESETS["counter720_long_alike"] = _variant("counter720", "_long_alike", seconds=120, people=96, alike=True)
PRESETS.update(
    (p.name, p)
    for base in ("walk720", "walk720_nobody", "counter720_alike", "counter720_long_alike")
    for group in POPULATIONS
    for p in (_variant(base, "_" + group, population=group),)
)
