"""OSC out: what reaches a listening socket, on change, once a second, in FaceOSC's scheme."""

import math
import socket

import pytest
from pythonosc.osc_packet import OscPacket

from performer.outputs.feedback import (
    AUDIO_FEATURES,
    FACEOSC_TABLE,
    Feedback,
    FeedbackOutput,
    faceosc_messages,
)

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


def received(
    s: socket.socket, wait: float = 0.3, datagrams: list | None = None
) -> list[tuple[str, list]]:
    """Every message that reached `s` (bundles opened), in order; `datagrams` collects how
    many messages each datagram held."""
    out = []
    s.settimeout(wait)
    try:
        while True:
            packet = OscPacket(s.recv(65535))
            out += [(m.message.address, m.message.params) for m in packet.messages]
            if datagrams is not None:
                datagrams.append(len(packet.messages))
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


def sound(time: float, onsets: float = 0.0, tempo: float = 0.0) -> dict[str, float]:
    """An audio reading's values as AudioInput makes them."""
    values = {name: 0.25 for name in AUDIO_FEATURES} | {"db": -20.0, "centroid_hz": 900.0}
    strength = 0.75 if onsets else 0.0
    return values | {"time": time, "onsets": onsets, "onset_strength": strength, "tempo": tempo}


def audio_frames(fb: Feedback, listener, readings: list[dict]) -> list[tuple[str, list]]:
    """Each reading through the output as one frame's info, with what a listener got."""
    out = FeedbackOutput(fb)
    info = {"scene": 0, "scene_name": "a", "cue": 0, "tempo": 120.0, "blackout": 0}
    info |= {"record": 0, "fps": 60.0, "face_present": None, "face_features": None}
    got = []
    try:
        for values in readings:
            out.present(type("Frame", (), {"info": {**info, "audio": values}})())
            got += received(listener, 0.001)
        got += received(listener)
    finally:
        out.close()
    return got


def test_audio_features_onsets_and_tempo_when_asked(listener):
    a, b, c = sound(0.01), sound(0.02, onsets=2.0, tempo=120.0), sound(0.03, tempo=120.3)
    readings = [a, a, b, b, c, sound(0.04, tempo=121.0)]  # b stays two frames: one onset sent
    got = audio_frames(Feedback(*listener.getsockname(), audio_features=True), listener, readings)
    addresses = [address for address, _ in got]
    for name in AUDIO_FEATURES:
        assert addresses.count(f"/stage/audio/{name}") == 6  # every frame
    assert ("/stage/audio/db", [-20.0]) in got
    assert "/stage/audio/centroid_hz" not in addresses
    assert [args for address, args in got if address == "/stage/audio/onset"] == [[0.75]]
    tempos = [args for address, args in got if address == "/stage/audio/tempo"]
    assert tempos == [[120.0], [121.0]]  # 120.3 is within half a bpm of 120


def test_no_audio_features_unless_asked(listener):
    readings = [sound(0.01, onsets=1.0, tempo=120.0), None]
    got = audio_frames(Feedback(*listener.getsockname()), listener, readings)
    assert got and not [address for address, _ in got if address.startswith("/stage/audio/")]


def test_nobody_listening_never_raises():
    fb = Feedback("127.0.0.1", 9)  # discard port: nothing listens
    for _ in range(50):
        fb.send("/stage/fps", 60.0)
    fb.close()
    fb.send("/stage/fps", 60.0)  # after close: ignored


def test_a_frame_is_one_datagram(listener):
    """Through the output, a frame's scene, fps, face features and FaceOSC messages (~25)
    leave as one OSC bundle, not a datagram each."""
    fb = Feedback(*listener.getsockname(), face_features=True, faceosc=True)
    out = FeedbackOutput(fb)
    info = {"scene": 0, "scene_name": "a", "cue": 0, "tempo": 120.0, "blackout": 0}
    info |= {"record": 0, "fps": 60.0, "face_present": True, "face_features": FACE}
    datagrams: list[int] = []
    got = []
    try:
        for _ in range(5):
            out.present(type("Frame", (), {"info": info})())
            got += received(listener, 0.05, datagrams)
    finally:
        out.close()
    assert len(datagrams) == 5 and min(datagrams) > 20  # one bundle a frame
    assert fb.datagrams == 5 and fb.sent == sum(datagrams)
    assert [a for a, _ in got].count("/stage/face/mouth_open") == 5
