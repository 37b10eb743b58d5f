"""Tracking: who each face is, from frame to frame, and what each person is.

The tracker (one per source) and the per-person answer built on it, in the order a frame meets them:

- ``persons.PersonTracks``: per source, feeds each frame's faces to its ``tracker.Tracker``, fuses
  each person's age and gender (``fusion``) and reports a person when its track ends (the tracks
  CSV's rows, ``static`` and ``no_face`` included); ``static.StaticRule`` decides which ended tracks
  never moved (a poster, a screen, a pattern).
- ``tracker.Tracker``: the state kept from frame to frame (the live tracks, ids, counters), one
  ``Tracker.update`` a frame.
- ``track``: a track's record (``Track``) and the tracker's settings (``TrackerParams``).
- ``states``: each live track's state, computed once a frame (followed, missed, re-identification
  window, late, tentative), and its lifetime.
- ``policy``: the gate and its decision table (state x cue -> limit -> refused), and the identity
  veto's questions.
- ``association``: the named cost terms and the marked steps that pair detections with tracks.
- ``kalman``: the motion model; ``appearance``: the body colour below a face and the scene behind
  it; ``identity``: dlib's face descriptor (the veto); ``gallery``: what a track keeps of its faces
  and the descriptor's answer about them; ``gender``: a person's gender read a second time, from the
  descriptor.
"""
