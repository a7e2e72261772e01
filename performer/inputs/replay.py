"""`stage replay`: a recorded performance rendered again. `stage run --record OUT.mp4` logs every
cue (keys, OSC, the cue list's own), every face reading and the sound's readings (once a frame)
to OUT.events.jsonl; replaying plays them into the same show, offline (a fixed time step, every
frame decoded), at any size — the concert rendered again at full quality afterwards, or after a
model or shader was changed.

Cues land on the first frame at or after their time (within a frame of the performance);
face readings are the logged smoothed features, so the face steers exactly as it did; audio
readings come back as readings (OSC feedback, the HUD), their cues are logged as cues already.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from pathlib import Path

from performer.core.control import Cue
from performer.core.health import OK, PartHealth
from performer.inputs import Reading
from performer.outputs.record import read_events

log = logging.getLogger("stage.replay")

# Cues that acted on the room, not the picture: not repeated in a replay.
SKIPPED = {"record", "save", "hud", "fullscreen", "reload"}
TAIL_S = 1.0  # rendered after the last event of a log with no "end" (a show that crashed)


class ReplayError(Exception):
    """The event log cannot be replayed; the message names the file and line."""


class Performance:
    """A performance's events in time order: cues, face and audio readings and where it
    ended."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            events = read_events(self.path)
        except (OSError, ValueError) as e:
            raise ReplayError(f"{self.path}: cannot read the event log: {e}") from None
        self.cues: list[tuple[float, Cue]] = []
        self.faces: list[tuple[float, dict[str, float] | None]] = []
        self.sounds: list[tuple[float, dict[str, float]]] = []
        self.show: Path | None = None  # the show file it was played from
        end = None
        for i, e in enumerate(events, start=1):
            try:
                t, kind = float(e["t"]), e["kind"]
                if kind == "cue" and e["action"] not in SKIPPED:
                    args = tuple(e.get("args", ()))
                    self.cues.append((t, Cue(str(e["action"]), args, str(e.get("source", "")))))
                elif kind == "face":
                    data = {k: float(v) for k, v in e.items() if k not in ("t", "kind", "lost")}
                    self.faces.append((t, None if e.get("lost") else data))
                elif kind == "audio":
                    sound = {k: float(v) for k, v in e.items() if k not in ("t", "kind")}
                    self.sounds.append((t, sound))
                elif kind == "end":
                    end = t
                elif kind == "start":
                    self.show = Path(e["show"]) if e.get("show") else None
            except (KeyError, TypeError, ValueError) as err:
                raise ReplayError(f"{self.path}:{i}: not a performance's event: {err}") from None
        if not events:
            raise ReplayError(f"{self.path}: no events (was it written by `stage run --record`?)")
        last = max((float(e.get("t", 0.0)) for e in events), default=0.0)
        self.end = end if end is not None else last + TAIL_S
        self.cues.sort(key=lambda tc: tc[0])  # stable: same-time cues keep their order
        self.faces.sort(key=lambda tf: tf[0])
        self.sounds.sort(key=lambda ts: ts[0])
        self._cue_times = [t for t, _ in self.cues]
        self._face_times = [t for t, _ in self.faces]
        self._sound_times = [t for t, _ in self.sounds]
        self._next_cue = 0

    @property
    def has_face(self) -> bool:
        return bool(self.faces)

    def cues_until(self, t: float) -> list[Cue]:
        """The cues due by show time `t` not handed out yet, in order."""
        stop = bisect.bisect_right(self._cue_times, t + 1e-9)
        due = [cue for _, cue in self.cues[self._next_cue : stop]]
        self._next_cue = max(self._next_cue, stop)
        return due

    def face_at(self, t: float) -> tuple[int, dict[str, float] | None]:
        """How many face readings are due by show time `t`, and the one in effect (None: no
        face yet, or lost)."""
        n = bisect.bisect_right(self._face_times, t + 1e-9)
        return n, (self.faces[n - 1][1] if n else None)

    def sound_at(self, t: float, since: int) -> tuple[int, dict[str, float] | None]:
        """How many audio readings are due by show time `t`, and those after the first `since`
        as one: the newest's values, their onsets added up and the largest onset strength
        (None: no new reading)."""
        n = bisect.bisect_right(self._sound_times, t + 1e-9)
        new = [values for _, values in self.sounds[since:n]]
        if not new:
            return n, None
        merged = dict(new[-1])
        if any("onsets" in v for v in new):
            merged["onsets"] = sum(v.get("onsets", 0.0) for v in new)
            merged["onset_strength"] = max(v.get("onset_strength", 0.0) for v in new)
        return n, merged


class ReplayInput:
    """A performance as the show's one input: its cues, and its face and audio readings
    (logged again by the replay's own event log: a replay replays). No camera, no tracker, no
    keys, no sound."""

    name = "replay"

    def __init__(self, performance: Performance) -> None:
        self.performance = performance
        self._due = 0
        self._sound_due = 0
        self.sound: dict[str, float] | None = None  # the newest audio reading (the HUD's)

    def poll(self, t: float, dt: float) -> tuple[list[Cue], list[Reading]]:
        cues = self.performance.cues_until(t)
        due, features = self.performance.face_at(t)
        readings = [Reading("face", features, "replay")] if due != self._due else []
        self._due = due
        self._sound_due, sound = self.performance.sound_at(t, self._sound_due)
        if sound is not None:
            self.sound = sound
            readings.append(Reading("audio", sound, "replay"))
        return cues, readings

    def cue(self, action: str, args: tuple) -> str:
        if action == "calibrate":  # the logged features are already calibrated
            return "face: calibrated (as in the performance)"
        return ""

    def hud_lines(self) -> list[str]:
        lines = [f"replaying {self.performance.path.name}"]
        if self.sound is not None:
            s = self.sound
            line = f"audio {s.get('db', 0.0):.0f} dB"
            if s.get("tempo", 0.0) > 0:
                line += f"  {s['tempo']:.0f} bpm"
            lines.append(line)
        return lines

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        """No camera, no tracker: the performance's own readings, always well."""
        return {"replay": lambda: PartHealth(OK, f"replayed from {self.performance.path.name}")}

    def close(self) -> None:
        pass


def check_target(performance: Performance, record: Path | None) -> None:
    """Refuse to write the replay's own event log over the performance's."""
    if record is not None and (
        record.with_suffix(".events.jsonl").resolve() == performance.path.resolve()
    ):
        raise ReplayError(
            f"--record {record}: that is the performance's own recording; choose another file"
        )
