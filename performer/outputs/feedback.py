"""OSC out, so the composition can listen to the stage: scene and cue on change, fps once a
second, the face present or lost on change, and the face's features every frame, in the
stage's own addresses and in FaceOSC's (so FaceOSC / Wekinator patches work unchanged); with
`audio_features`, the sound's features every frame, each onset and the tempo when it moves.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from performer.core.health import OK, PartHealth
from performer.inputs.osc.receiver import RateLimitedLog

log = logging.getLogger("stage.feedback")

# Our feature names (and the names other trackers use) → one canonical name.
_ALIASES: dict[str, tuple[str, ...]] = {
    "x": ("x", "center_x", "centre_x", "face_x"),
    "y": ("y", "center_y", "centre_y", "face_y"),
    "size": ("size", "face_size", "scale"),
    "yaw": ("yaw", "head_yaw"),
    "pitch": ("pitch", "head_pitch"),
    "roll": ("roll", "head_roll"),
    "mouth_open": ("mouth_open", "mouth", "jaw_open"),
    "smile": ("smile", "mouth_width"),
    "eye_left": ("eye_left", "left_eye", "eye_open_left", "eye_l"),
    "eye_right": ("eye_right", "right_eye", "eye_open_right", "eye_r"),
    "brow_left": ("brow_left", "left_brow", "brow_raise_left", "brow", "brow_raise"),
    "brow_right": ("brow_right", "right_brow", "brow_raise_right", "brow", "brow_raise"),
}

# FaceOSC address ← how it is made from the stage's features (inputs/face/features.py ranges),
# into the ranges FaceOSC itself reports (documented in the README).
FACEOSC_TABLE: tuple[tuple[str, str], ...] = (
    ("/found", "1 while a face is found, else 0"),
    ("/pose/position", "320 + 320·x, 240 − 240·y (pixels of a 640x480 frame, y down)"),
    ("/pose/scale", "4 · 2^size"),
    ("/pose/orientation", "pitch, yaw, roll in radians"),
    ("/gesture/mouth/width", "15 + 3·smile"),
    ("/gesture/mouth/height", "1 + 6·mouth_open"),
    ("/gesture/eyebrow/left", "7.5 + brow"),
    ("/gesture/eyebrow/right", "7.5 + brow"),
    ("/gesture/eye/left", "2 + eye_l"),
    ("/gesture/eye/right", "2 + eye_r"),
    ("/gesture/jaw", "20 + 4·mouth_open"),
)

# The sound's features sent every frame as /stage/audio/<name> (inputs/audio/features.py).
AUDIO_FEATURES = ("level", "db", "low", "mid", "high", "centroid", "flux")
TEMPO_STEP = 0.5  # bpm: /stage/audio/tempo when the tracked tempo moved this much


def canonical(features: Mapping[str, float]) -> dict[str, float]:
    """The features under canonical names (first alias present wins); non-finite values out."""
    out = {}
    for name, aliases in _ALIASES.items():
        for a in aliases:
            v = features.get(a)
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[name] = float(v)
                break
    return out


def faceosc_messages(
    features: Mapping[str, float] | None, found: bool
) -> list[tuple[str, list[float | int]]]:
    """FaceOSC's messages for a plain dict of feature name → float (ours or close aliases);
    only those whose inputs are present. `found` False sends just `/found 0`."""
    msgs: list[tuple[str, list[float | int]]] = [("/found", [int(bool(found))])]
    if not found or not features:
        return msgs
    f = canonical(features)
    if "x" in f and "y" in f:
        msgs.append(("/pose/position", [320.0 + 320.0 * f["x"], 240.0 - 240.0 * f["y"]]))
    if "size" in f:
        msgs.append(("/pose/scale", [4.0 * 2.0 ** max(min(f["size"], 4.0), -4.0)]))
    if all(k in f for k in ("pitch", "yaw", "roll")):
        msgs.append(("/pose/orientation", [math.radians(f[k]) for k in ("pitch", "yaw", "roll")]))
    if "smile" in f:
        msgs.append(("/gesture/mouth/width", [15.0 + 3.0 * f["smile"]]))
    if "mouth_open" in f:
        msgs.append(("/gesture/mouth/height", [1.0 + 6.0 * f["mouth_open"]]))
    for side in ("left", "right"):
        if f"brow_{side}" in f:
            msgs.append((f"/gesture/eyebrow/{side}", [7.5 + f[f"brow_{side}"]]))
    for side in ("left", "right"):
        if f"eye_{side}" in f:
            msgs.append((f"/gesture/eye/{side}", [2.0 + f[f"eye_{side}"]]))
    if "mouth_open" in f:
        msgs.append(("/gesture/jaw", [20.0 + 4.0 * f["mouth_open"]]))
    return msgs


def message(address: str, args: Sequence[object]) -> OscMessage:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build()


def encode(address: str, args: Sequence[object]) -> bytes:
    return message(address, args).dgram


def bundle(messages: Sequence[OscMessage]) -> bytes:
    """Messages in one OSC bundle, to be acted on at once (timetag "immediately")."""
    b = OscBundleBuilder(IMMEDIATELY)
    for m in messages:
        b.add_content(m)
    return b.build().dgram


MAX_DATAGRAM = 8192  # bytes; well under UDP's limit and what Max's udpreceive takes at once


def _parts(messages: list[OscMessage]) -> Iterator[list[OscMessage]]:
    part: list[OscMessage] = []
    size = 16  # "#bundle\0" + timetag
    for m in messages:
        if part and size + 4 + m.size > MAX_DATAGRAM:
            yield part
            part, size = [], 16
        part.append(m)
        size += 4 + m.size
    if part:
        yield part


class Feedback:
    """Sends the stage's state to `host:port` over UDP; never blocks, never raises on send.
    Inside `frame()`, what is sent goes out at its end as one datagram (an OSC bundle)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9001,
        face_features: bool = False,
        faceosc: bool = False,
        clock: Callable[[], float] = time.monotonic,
        audio_features: bool = False,
    ) -> None:
        self.target = (host, int(port))
        self.face_features, self.faceosc, self.clock = face_features, faceosc, clock
        self.audio_features = audio_features
        self._audio_seen: object = None  # the last audio reading whose onsets were sent
        self._tempo_sent = 0.0
        self._sock: socket.socket | None = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM
        )
        self._sock.setblocking(False)
        self._last: dict[str, tuple] = {}
        self._fps_at = clock()
        self.sent = 0  # messages
        self.datagrams = 0
        self.failed = 0
        self._batch: list[OscMessage] | None = None
        self._log = RateLimitedLog(log, interval=5.0)

    def send(self, address: str, *args: object) -> None:
        if self._sock is None:
            return
        if self._batch is not None:
            self._batch.append(message(address, args))
            return
        self._send(encode(address, args), 1)

    def _send(self, dgram: bytes, count: int) -> None:
        try:
            self._sock.sendto(dgram, self.target)
            self.sent += count
            self.datagrams += 1
        except (OSError, ValueError) as e:  # nobody listening, buffer full, bad host
            self.failed += count
            self._log.warning("send", f"OSC feedback to {self.target[0]}:{self.target[1]}: {e}")

    @contextmanager
    def frame(self) -> Iterator[None]:
        """Collect what is sent inside into one datagram: a bundle (one message alone goes as
        it is), split where it would pass MAX_DATAGRAM bytes."""
        self._batch = batch = []
        try:
            yield
        finally:
            self._batch = None
            if self._sock is not None:
                for part in _parts(batch):
                    self._send(part[0].dgram if len(part) == 1 else bundle(part), len(part))

    def changed(self, address: str, *args: object) -> None:
        """Send only when the value differs from the last sent at this address."""
        if self._last.get(address) != args:
            self._last[address] = args
            self.send(address, *args)

    def state(self, scene: int, scene_name: str, cue: int, **extra: float | int) -> None:
        """Scene and cue (and e.g. tempo, blackout, record) on change."""
        self.changed("/stage/scene", scene, scene_name)
        self.changed("/stage/cue", cue)
        for name, value in extra.items():
            self.changed(f"/stage/{name}", value)

    def fps(self, fps: float) -> None:
        """Once a second."""
        now = self.clock()
        if now - self._fps_at >= 1.0:
            self._fps_at = now
            self.send("/stage/fps", float(round(fps, 2)))

    def face(self, present: bool | None, features: Mapping[str, float] | None = None) -> None:
        """Presence on change (None: the show has no face source); features every frame."""
        if present is None:
            return
        self.changed("/stage/face/present", int(present))
        if self.face_features and present and features:
            for name, value in features.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.send(f"/stage/face/{name}", float(value))
        if self.faceosc:
            for address, args in faceosc_messages(features, present):
                self.send(address, *args)

    def audio(self, features: Mapping[str, float] | None) -> None:
        """With `audio_features`: the features every frame, `/stage/audio/onset STRENGTH` once
        per new reading with onsets, `/stage/audio/tempo BPM` when it moved by TEMPO_STEP."""
        if not self.audio_features or not features:
            return
        for name in AUDIO_FEATURES:
            value = features.get(name)
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.send(f"/stage/audio/{name}", float(value))
        seen = features.get("time", id(features))  # the same reading stays in the frame info
        if seen != self._audio_seen:
            self._audio_seen = seen
            if features.get("onsets", features.get("onset", 0.0)):
                strength = features.get("onset_strength", 1.0)
                self.send("/stage/audio/onset", float(strength))
        bpm = features.get("tempo", 0.0)
        if bpm > 0 and abs(bpm - self._tempo_sent) >= TEMPO_STEP:
            self._tempo_sent = bpm
            self.send("/stage/audio/tempo", float(round(bpm, 2)))

    def close(self) -> None:
        """Close the socket; safe to call twice."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class FeedbackOutput:
    """OSC feedback as a show output: after every frame, the scene and cue (on change), fps
    (once a second), the face and the sound; health reports when the loop asks (`send_health`)."""

    name = "feedback"
    wants_pixels = False

    def __init__(self, feedback: Feedback) -> None:
        self.feedback = feedback

    def open(self, size: tuple[int, int], fps: float) -> None:
        pass

    def present(self, frame: Any) -> None:
        info, fb = frame.info, self.feedback
        with fb.frame():  # one datagram a frame
            fb.state(
                info["scene"],
                info["scene_name"],
                info["cue"],
                tempo=info["tempo"],
                blackout=info["blackout"],
                record=info["record"],
            )
            fb.fps(info["fps"])
            fb.face(info["face_present"], info["face_features"])
            fb.audio(info.get("audio"))

    def send(self, address: str, *args: object) -> None:
        self.feedback.send(address, *args)

    def health(self) -> PartHealth:
        """Always ok: UDP feedback to a patch that is not listening is not a fault."""
        fb = self.feedback
        return PartHealth(OK, "", {"sent": fb.sent, "unsent": fb.failed})

    def close(self) -> None:
        self.feedback.close()
