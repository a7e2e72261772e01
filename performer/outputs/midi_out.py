"""MIDI-out feedback: the show's state sent back to the controller, so motor faders and LED rings
follow what the stage plays and the current scene's pad is lit.

A state output (`wants_pixels = False`). For each `[[midi.map]]` with `feedback = true`, the
mapped parameter's value (`frame.info["params"]`) is scaled back through the map (`to` →
`range`, the inverse of its curve) and sent as a CC when it moved by a controller step or more
(a 14-bit pair as its two CCs); with `[midi] scene_notes`, a scene change sends note on
(velocity 127) for the current scene's pad and velocity 0 for every other. The first frame sends
everything.

The sends are made inline on the render thread: a few short messages, only on change, and a
port's `send` is a non-blocking write to the MIDI system (no FrameWorker needed).

Hot-plug: a controller that is not there when the show starts (or is unplugged during it) is
looked for again every RESCAN seconds, between frames; when it (re)appears it is sent the
whole state again. Only a missing MIDI system (or a file as the port) closes the output.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from performer.core.health import DEGRADED, FAILED, OFF, OK, PartHealth
from performer.inputs.midi.sources import IGNORED, RESCAN, _default_io
from performer.inputs.osc.space import _curve
from performer.outputs import Frame, OutputUnavailable
from performer.render.shaders import ParamSpec
from performer.show.midi import MidiMap, MidiSpec

log = logging.getLogger("stage.midi")

PARAM = "/stage/param/"


def controller_value(m: MidiMap, value: float, to: tuple[float, float]) -> int:
    """The controller value (in the map's `range`) that the map turns into `value`."""
    lo, hi = to
    if m.curve == "linear" or lo == hi:
        u = (value - lo) / (hi - lo) if hi != lo else 0.0  # (read_midi refuses lo == hi)
    else:  # the other curves rise from lo to hi: bisect
        a, b = 0.0, 1.0
        rising = hi > lo
        for _ in range(40):
            mid = (a + b) / 2
            if (_curve(m.curve, mid, lo, hi) < value) == rising:
                a = mid
            else:
                b = mid
        u = (a + b) / 2
    u = min(max(u, 0.0), 1.0) if math.isfinite(u) else 0.0
    r0, r1 = m.range
    return round(r0 + (r1 - r0) * u)


class MidiFeedbackOutput:
    """MIDI out for `[midi]` feedback: `port` (a substring of an output's name; default the
    spec's port, "all": the first controller) opened at `open` through mido, and looked for
    again every `rescan` seconds while it is missing. `params` gives the ranges of maps without
    `to` (the stage's parameter specs). `io` is mido or a stand-in with `get_output_names` and
    `open_output`; `clock` is time.monotonic or a test's."""

    name = "midi-out"
    wants_pixels = False

    def __init__(
        self,
        spec: MidiSpec,
        *,
        port: str | None = None,
        params: Mapping[str, ParamSpec] | None = None,
        io: Any = None,
        rescan: float = RESCAN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.rescan, self.clock = rescan, clock
        self.next_scan = 0.0
        self.pattern = port if port is not None else spec.port
        self.io = io
        self.system: Any = None  # the MIDI system (io) once open has found one
        self.maps: list[tuple[MidiMap, str, tuple[float, float]]] = []
        for m in spec.maps:
            if not (m.feedback and m.cc is not None and m.target.startswith(PARAM)):
                continue
            key = m.target.removeprefix(PARAM)
            p = (params or {}).get(key)
            to = m.to or ((p.min, p.max) if p is not None else None)
            if to is None:
                log.warning("MIDI out: CC %s → %s has no known range (give `to`)", m.cc, m.target)
                continue
            self.maps.append((m, key, to))
        self.port: Any = None
        self.port_name = ""
        self._message: Any = None  # mido.Message (or the stand-in io's)
        self.sent_values: dict[int, int] = {}  # map index → the controller value sent
        self.scene: int | None = None
        self.messages = 0
        self.closed = False

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Open the port; OutputUnavailable only when there is no MIDI system (or the port is
        a file). A controller not plugged in yet is said once and looked for again."""
        io = _default_io() if self.io is None else self.io
        if isinstance(io, str):
            raise OutputUnavailable(f"MIDI out: no MIDI system here ({io})")
        if self.pattern.lower().endswith((".mid", ".midi", ".smf")):
            raise OutputUnavailable("MIDI out: the MIDI in is a file; feedback needs a port")
        try:
            names = list(io.get_output_names())
        except Exception as e:  # rtmidi raises when the system has no MIDI at all
            raise OutputUnavailable(f"MIDI out: no MIDI system here ({e})") from None
        self.system = io
        self._message = getattr(io, "Message", None) or _mido_message()
        why = self._connect(names)
        if why:
            log.warning("%s; looking for it every %g s", why, self.rescan)
        self.next_scan = self.clock() + self.rescan

    def wanted(self, names: list[str]) -> list[str]:
        """The output ports `port` names, best first."""
        if self.pattern.lower() == "all":
            return [n for n in names if not any(word in n for word in IGNORED)]
        return [n for n in names if self.pattern.lower() in n.lower()]

    def _connect(self, names: list[str]) -> str:
        """Open the first wanted port of `names`; "" on success, else why not."""
        wanted = self.wanted(names)
        if not wanted:
            have = f" (have: {', '.join(names)})" if names else ""
            return f"MIDI out: no output port matching '{self.pattern}'{have}"
        try:
            self.port = self.system.open_output(wanted[0])
        except Exception as e:
            return f"MIDI out: cannot open {wanted[0]}: {e}"
        self.port_name = wanted[0]
        self.sent_values.clear()  # a controller (re)plugged gets the whole state
        self.scene = None
        log.info("MIDI out: feedback to %s", self.port_name)
        return ""

    def _lost(self, why: str) -> None:
        log.warning(
            "MIDI out: lost %s (%s); looking for it every %g s", self.port_name, why, self.rescan
        )
        port, self.port = self.port, None
        self._close_port(port)

    def _scan(self) -> None:
        """Between frames, every `rescan` s: a missing controller plugged in, or ours gone."""
        now = self.clock()
        if now < self.next_scan or self.closed or self.system is None:
            return
        self.next_scan = now + self.rescan
        try:
            names = list(self.system.get_output_names())
        except Exception as e:
            log.debug("MIDI out: listing ports: %s", e)
            return
        if self.port is None:
            self._connect(names)
        elif self.port_name not in names:
            self._lost("unplugged")

    def present(self, frame: Frame) -> None:
        self._scan()
        if self.port is None:
            return
        try:
            self._present(frame)
        except Exception as e:  # a port that vanished under a send
            self._lost(f"{type(e).__name__}: {e}")

    def _present(self, frame: Frame) -> None:
        params = frame.info.get("params") or {}
        for i, (m, key, to) in enumerate(self.maps):
            value = params.get(key)
            if value is None:
                continue
            x = controller_value(m, float(value), to)
            if self.sent_values.get(i) == x:
                continue
            self.sent_values[i] = x
            channel = (m.channel or 1) - 1
            if m.cc_lsb is not None:
                self._send("control_change", channel=channel, control=m.cc, value=x >> 7 & 127)
                self._send("control_change", channel=channel, control=m.cc_lsb, value=x & 127)
            else:
                self._send("control_change", channel=channel, control=m.cc, value=x & 127)
        scene = frame.info.get("scene")
        if self.spec.scene_notes and isinstance(scene, int) and scene != self.scene:
            for i, note in enumerate(self.spec.scene_notes):
                self._send("note_on", note=note, velocity=127 if i == scene else 0)
            self.scene = scene

    def _send(self, kind: str, **fields: int) -> None:
        self.port.send(self._message(kind, **fields))
        self.messages += 1

    def health(self) -> PartHealth:
        figures = {"messages": float(self.messages)}
        if self.closed:
            return PartHealth(OFF, "closed", figures)
        if self.port is None and self.system is not None:
            return PartHealth(DEGRADED, f"no controller matching '{self.pattern}'", figures)
        if self.port is None:
            return PartHealth(FAILED, "not open", figures)
        return PartHealth(OK, self.port_name, figures)

    def close(self) -> None:
        self.closed = True
        port, self.port = self.port, None
        self._close_port(port)

    def _close_port(self, port: Any) -> None:
        if port is not None:
            try:
                port.close()
            except Exception as e:  # a vanished device may not close cleanly
                log.debug("MIDI out: closing %s: %s", self.port_name, e)


def _mido_message() -> Any:
    import mido

    return mido.Message
