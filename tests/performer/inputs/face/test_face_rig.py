"""The face rig tracks only while something needs the face: a scene's mapping set playing,
live video cropped to the face (for a second after it last asked), or `always` (the face sent
over OSC, a rehearsal)."""

from __future__ import annotations

import time

from performer.inputs.face.mapping import OFF, FaceControl, FaceMapping
from performer.inputs.face.rig import FaceRig
from performer.inputs.face.test_source import TEST_FACE
from performer.show.face import FaceSpec


def test_the_tracker_idles_while_nothing_needs_the_face():
    sets = {"look": (FaceMapping("yaw", "param", "grade.saturation"),)}
    control = FaceControl(sets, "look", lambda m, model: None)
    rig = FaceRig(FaceSpec(camera=TEST_FACE, refine=False), control, camera=str(TEST_FACE))
    try:
        deadline = time.monotonic() + 10
        while rig.camera.latest() is None:
            assert time.monotonic() < deadline, "no camera frame"
            time.sleep(0.02)
        rig.poll(0.0, 0.0)
        assert rig.tracker.wanted  # the show's default set plays
        control.switch(OFF, 0.0)  # a scene with no mapping
        rig.poll(0.0, 0.0)
        assert not rig.tracker.wanted
        assert "tracker idle: no scene's face mapping plays" in rig.hud_lines()[1]
        assert rig.video({"video.mix": 0.0}) is None  # no video asked: still idle
        rig.poll(0.0, 0.0)
        assert not rig.tracker.wanted
        assert rig.video({"video.mix": 0.8}) is not None  # live video follows the face
        rig.poll(0.0, 0.0)
        assert rig.tracker.wanted
        rig._video_face_at -= 2.0  # a second after video last asked
        rig.poll(0.0, 0.0)
        assert not rig.tracker.wanted
        rig.always = True  # the face goes out over OSC, or a rehearsal shows it
        rig.poll(0.0, 0.0)
        assert rig.tracker.wanted
    finally:
        rig.close()
