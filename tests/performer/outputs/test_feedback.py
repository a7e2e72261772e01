"""OSC out: what reaches a listening socket, on change, once a second, in FaceOSC's scheme."""

import math
import socket

import pytest
from pythonosc.osc_message import OscMessage

from performer.outputs.feedback import FACEOSC_TABLE, Feedback, faceosc_messages

FACE = {  # performer/inputs/face/features.py's names and ranges
    "yaw": 10.0,
    "pitch": -5.0,
    "roll": 0.0,
    "x": 0.5,
    "y": 0.5,
    "size": 1.0,
    "mouth_open": 0.5,
    "smile": 1.0,
    "eye_l": 1.0,
    "eye_r": 0.0,
    "brow": -1.0,
}


@pytest.fixture
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    yield s
    s.close()


def received(s: socket.socket, wait: float = 0.3) -> list[tuple[str, list]]:
    out = []
    s.settimeout(wait)
    try:
        while True:
            m = OscMessage(s.recv(65535))
            out.append((m.address, m.params))
    except (TimeoutError, BlockingIOError):
        return out


def test_faceosc_scheme_from_a_plain_feature_dict():
    msgs = dict(faceosc_messages(FACE, True))
    assert msgs["/found"] == [1]
    assert msgs["/pose/position"] == [480.0, 120.0]  # right of and above the frame's centre
    assert msgs["/pose/scale"] == [8.0]  # twice as near
    assert msgs["/pose/orientation"] == pytest.approx([math.radians(-5), math.radians(10), 0.0])
    assert msgs["/gesture/mouth/width"] == [18.0] and msgs["/gesture/mouth/height"] == [4.0]
    assert msgs["/gesture/eyebrow/left"] == msgs["/gesture/eyebrow/right"] == [6.5]
    assert msgs["/gesture/eye/left"] == [3.0] and msgs["/gesture/eye/right"] == [2.0]
    assert msgs["/gesture/jaw"] == [22.0]
    assert set(msgs) == {a for a, _ in FACEOSC_TABLE}
    assert faceosc_messages(FACE, False) == [("/found", [0])]
    assert dict(faceosc_messages({"mouth_open": float("nan")}, True)) == {"/found": [1]}


def test_state_on_change_fps_once_a_second_and_face(listener):
    clock = {"t": 0.0}
    fb = Feedback(
        *listener.getsockname(), face_features=True, faceosc=True, clock=lambda: clock["t"]
    )
    got = []
    try:
        for frame in range(90):  # 1.5 s at 60 fps
            clock["t"] = frame / 60
            fb.state(1, "rest", 0 if frame < 45 else 1, tempo=120.0)
            fb.fps(60.0)
            fb.face(frame < 30, FACE if frame < 30 else None)
            got += received(listener, 0.001)  # a patch reads as it goes
        got += received(listener)
    finally:
        fb.close()
        fb.close()
    addresses = [a for a, _ in got]
    assert got.count(("/stage/scene", [1, "rest"])) == 1  # sent once: it never changed
    assert [args for a, args in got if a == "/stage/cue"] == [[0], [1]]
    assert addresses.count("/stage/fps") == 1 and ("/stage/fps", [60.0]) in got
    assert [args for a, args in got if a == "/stage/face/present"] == [[1], [0]]
    assert addresses.count("/stage/face/mouth_open") == 30  # every frame while present
    assert addresses.count("/pose/position") == 30 and addresses.count("/found") == 90
    assert ("/stage/tempo", [120.0]) in got


def test_nobody_listening_never_raises():
    fb = Feedback("127.0.0.1", 9)  # discard port: nothing listens
    for _ in range(50):
        fb.send("/stage/fps", 60.0)
    fb.close()
    fb.send("/stage/fps", 60.0)  # after close: ignored
