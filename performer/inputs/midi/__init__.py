"""MIDI controllers as a show input: `[[midi.map]]` controls become the stage's own cues.

Each map answers on a synthetic address (`/midi/cc/<channel>/<n>`, `/midi/note/<channel>/<n>`,
channel `any` when the map takes every channel) in an `AddressSpace` the Stage builds from the
maps (`make_space`), so a controller goes through the same range → curve → `to` scaling,
trigger edges, switches and scene knobs as an `[[osc.map]]`.

A CC sends its value (0..127); a 14-bit pair `(msb << 7) | lsb` (0..16383; the high byte
resets the low one, as the MIDI spec has it); a relative encoder its accumulated value, which
starts in the middle of `range` and stays inside it. A note sends the top of `range` (or its
velocity, with `velocity`) when pressed: a trigger fires once per press; with `gate` the
release sends the bottom of `range` (a switch off, a parameter back down); without, a switch
target toggles per press and other targets hold the pressed value.

With `[midi] clock = true`, MIDI clock (24 a quarter note) sets the tempo: the median of the
recent beat-long intervals, sent as a `tempo` cue when it moves by TEMPO_STEP bpm or more; start,
continue and stop restart the measurement.

MIDI learn (`learn(address)`, the Stage's `l` key): the next CC or note pressed is mapped onto
the address (a parameter over its range, a latent direction over -3..3), acts at once (the space
is rebuilt) and is appended to the presets file beside the show, from which every later start
reads it back (`presets=`); a learned map replaces the one on the same controller.

The sources (sources.py) publish `(t, message)` from their own threads into a queue; `poll`
drains it on the render thread, so the space and the per-control state have one user.
"""

from __future__ import annotations

import logging
import queue
import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from performer.core.control import Cue
from performer.core.health import FAILED, PartHealth
from performer.inputs import Reading
from performer.inputs.midi.sources import (
    MidiFileSource,
    MidiPortSource,
    Unavailable,
    no_system_line,
)
from performer.inputs.osc.space import SWITCHES, TRIGGERS, AddressSpace, OscInputError
from performer.show.midi import MidiMap, MidiSpec, load_learned, merge_learned, save_midi_map
from performer.show.osc import OscMapping

__all__ = ["MidiFileSource", "MidiInput", "MidiPortSource", "no_system_line"]

log = logging.getLogger("stage.midi")

MAX_PER_POLL = 4096  # messages taken per frame (more wait for the next one)
CLOCKS_PER_BEAT = 24
CLOCK_WINDOW = 72  # clock times kept (three beats): the tempo is the median of the beat-long
# spans between them (one clock's jitter is a few percent of its interval, a beat's is not)
CLOCK_GAP = 1.0  # seconds without clock: the measurement starts again
TEMPO_STEP = 0.5  # bpm a measured tempo must move by to be sent


class _Control:
    """One map and what it remembers between messages."""

    def __init__(self, m: MidiMap) -> None:
        self.map = m
        self.msb = 0
        self.lsb = 0
        lo, hi = m.range
        self.value = (lo + hi) / 2  # a relative encoder's accumulated value
        self.on = False  # a toggled switch


class MidiInput:
    """The Input for `[midi]`: `MidiInput(spec, make_space)`, where `make_space(maps)` builds
    the stage's AddressSpace with those `OscMapping`s. `source` (tests) replaces the one the
    spec names: a port (substring or "all") or a MIDI file. `presets`: the presets file beside
    the show, where MIDI learn saves its maps and from which they are read back."""

    name = "midi"

    def __init__(
        self,
        spec: MidiSpec,
        make_space: Callable[[Sequence[OscMapping]], AddressSpace],
        *,
        source: Any = None,
        io: Any = None,
        presets: Path | None = None,
    ) -> None:
        self.make_space = make_space
        self.presets = presets
        self.learning: str | None = None  # the address MIDI learn waits to map
        self.learned = ""  # the latest learn's line, for the HUD
        self.controls: dict[tuple[str, int | None, int], _Control] = {}
        self.lsbs: dict[tuple[int | None, int], _Control] = {}
        self._build(replace(spec, maps=merge_learned(spec.maps, load_learned(presets))))
        self.inbox: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
        self.messages = 0
        self.cues = 0
        self.errors = 0
        self.last = ""  # the latest control moved, for the HUD
        self.error = ""  # the latest message the space refused
        self.tempo: float | None = None  # measured from MIDI clock
        self._sent_tempo: float | None = None
        self._clocks: list[float] = []  # the latest clock times
        if source is None:
            file = spec.file
            if file is not None:
                try:
                    source = MidiFileSource(file, self.publish, loop=spec.loop)
                except Exception as e:  # no mido, or a file that is not MIDI: no MIDI in
                    source = Unavailable(f"cannot play {file.name}: {type(e).__name__}: {e}")
            else:
                source = MidiPortSource(spec.port, self.publish, io=io)
        self.source = source
        self.source.start()

    def _build(self, spec: MidiSpec) -> None:
        """The address space and per-control state for `spec`'s maps."""
        self.spec = spec
        self.space = self.make_space(spec.osc_maps())
        for problem in self.space.problems:
            log.error("MIDI: %s (mapping skipped)", problem.replace("osc.map", "midi.map"))
        self.controls = {}
        self.lsbs = {}
        for m in spec.maps:
            control = _Control(m)
            kind, number = ("cc", m.cc) if m.cc is not None else ("note", m.note)
            self.controls[(kind, m.channel, int(number))] = control  # type: ignore[arg-type]
            if m.cc_lsb is not None:
                self.lsbs[(m.channel, m.cc_lsb)] = control

    def learn(self, address: str) -> str:
        """Arm MIDI learn: the next CC (or note pressed) is mapped onto `address`; a HUD line."""
        method = self.space.methods.get(address)
        if method is None or method.kind in ("map", "z"):
            return f"MIDI learn: cannot map {address}"
        self.learning = address
        self.learned = f"MIDI learn: move a knob for {address}"
        return self.learned

    def _learn(self, message: Any) -> bool:
        """The armed learn takes `message` when it is a CC or a note pressed (True: taken)."""
        address = self.learning
        if address is None:
            return False
        if message.type == "control_change":
            kind, number = "CC", message.control
        elif message.type == "note_on" and message.velocity > 0:
            kind, number = "note", message.note
        else:
            return False
        self.learning = None
        method = self.space.methods.get(address)
        to = None  # the space's own default for other targets
        if method is not None and method.kind == "param" and method.spec is not None:
            to = (float(method.spec.min), float(method.spec.max))
        elif method is not None and method.kind == "offset":
            to = (-3.0, 3.0)
        channel = message.channel + 1
        m = MidiMap(
            address,
            cc=number if kind == "CC" else None,
            note=number if kind == "note" else None,
            channel=channel,
            to=to,
        )
        self._build(replace(self.spec, maps=merge_learned(self.spec.maps, (m,))))
        self.learned = f"MIDI learn: {kind} {number} ch {channel} → {address}"
        if self.presets is not None:
            try:
                save_midi_map(self.presets, m)
            except OSError as e:
                self.learned += f" (not saved: {e})"
        log.info("%s", self.learned)
        return True

    def publish(self, t: float, message: Any) -> None:
        """A source's message (any thread)."""
        self.inbox.put((t, message))

    # -- the render thread
    def poll(self, t: float, dt: float) -> tuple[list[Cue], list[Reading]]:
        cues: list[Cue] = []
        for _ in range(MAX_PER_POLL):
            try:
                at, message = self.inbox.get_nowait()
            except queue.Empty:
                break
            self.messages += 1
            if not self._learn(message):
                cues += self._message(at, message)
        self.cues += len(cues)
        return [replace(c, source="midi") for c in cues], []

    def _message(self, at: float, message: Any) -> list[Cue]:
        kind = message.type
        if kind in ("clock", "start", "continue", "stop"):
            return self._clock(at, kind) if self.spec.clock else []
        if kind == "control_change":
            return self._cc(message.channel + 1, message.control, message.value)
        if kind in ("note_on", "note_off"):
            pressed = kind == "note_on" and message.velocity > 0
            return self._note(message.channel + 1, message.note, pressed, message.velocity)
        return []

    def _find(self, kind: str, channel: int, number: int) -> list[_Control]:
        found = (self.controls.get((kind, ch, number)) for ch in (channel, None))
        return [c for c in found if c is not None]

    def _cc(self, channel: int, number: int, value: int) -> list[Cue]:
        cues: list[Cue] = []
        for c in self._find("cc", channel, number):
            m = c.map
            self.last = f"CC {number} ch {channel} = {value}"
            if m.relative:
                lo, hi = sorted(m.range)
                c.value = min(max(c.value + _step(m.relative, value), lo), hi)
                cues += self._send(m, c.value)
            elif m.cc_lsb is not None:
                c.msb, c.lsb = value, 0
                cues += self._send(m, (c.msb << 7) | c.lsb)
            else:
                cues += self._send(m, value)
        for c in filter(None, (self.lsbs.get((channel, number)), self.lsbs.get((None, number)))):
            c.lsb = value
            self.last = f"CC {c.map.cc}+{number} ch {channel} = {(c.msb << 7) | c.lsb}"
            cues += self._send(c.map, (c.msb << 7) | c.lsb)
        return cues

    def _note(self, channel: int, number: int, pressed: bool, velocity: int) -> list[Cue]:
        cues: list[Cue] = []
        for c in self._find("note", channel, number):
            m = c.map
            lo, hi = m.range
            self.last = f"note {number} ch {channel} {'on' if pressed else 'off'}"
            target = self._target_kind(m)
            if m.gate or target in TRIGGERS:  # a trigger's release resets its edge only
                cues += self._send(m, (velocity if m.velocity else hi) if pressed else lo)
            elif target in SWITCHES:
                if pressed:
                    c.on = not c.on
                    cues += self._send(m, hi if c.on else lo)
            elif pressed:
                cues += self._send(m, velocity if m.velocity else hi)
        return cues

    def _target_kind(self, m: MidiMap) -> str:
        method = self.space.methods.get(m.address)
        if method is None or method.kind != "map":
            return ""
        return self.space.maps[int(method.key)][1].kind

    def _send(self, m: MidiMap, value: float) -> list[Cue]:
        if m.address not in self.space.methods:
            return []  # a mapping the space refused (logged once at the start)
        try:
            cues, _ = self.space.handle(m.address, [value])
        except OscInputError as e:
            self.errors += 1
            self.error = str(e).replace(m.address, f"{m.address} ({m.target})")
            return []
        return cues

    def _clock(self, at: float, kind: str) -> list[Cue]:
        if kind != "clock":
            self._clocks = []
            return []
        if self._clocks and not 0 < at - self._clocks[-1] <= CLOCK_GAP:
            self._clocks = []  # stopped, or out of order: measure again
        self._clocks = (self._clocks + [at])[-CLOCK_WINDOW:]
        t = self._clocks
        beats = [t[i] - t[i - CLOCKS_PER_BEAT] for i in range(CLOCKS_PER_BEAT, len(t))]
        if not beats:
            return []
        self.tempo = 60.0 / statistics.median(beats)
        if self._sent_tempo is not None and abs(self.tempo - self._sent_tempo) < TEMPO_STEP:
            return []
        self._sent_tempo = self.tempo
        cues, _ = self.space.handle("/stage/tempo", [self.tempo])
        return cues

    # -- the Stage's other questions
    def health(self) -> PartHealth:
        report = self.source.health()
        figures = {
            **report.figures,
            "messages": float(self.messages),
            "cues": float(self.cues),
            "errors": float(self.errors),
        }
        if self.tempo is not None:
            figures["tempo"] = round(self.tempo, 2)
        detail = report.detail
        if self.error and report.state != FAILED:
            detail = f"{detail}; last refused: {self.error}" if detail else self.error
        return PartHealth(report.state, detail, figures)

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        return {"midi": self.health}

    def hud_lines(self) -> list[str]:
        line = f"MIDI: {self.source.describe()}"
        if self.last:
            line += f" · {self.last}"
        if self.spec.clock and self.tempo is not None:
            line += f" · clock {self.tempo:.1f} bpm"
        return [line, self.learned] if self.learned else [line]

    def close(self) -> None:
        self.source.close()


def _step(encoding: str, value: int) -> int:
    """A relative encoder's message as a step (+ clockwise)."""
    if encoding == "offset":
        return value - 64
    if encoding == "signed":
        return -(value - 64) if value >= 64 else value
    return value - 128 if value >= 64 else value  # two's complement
