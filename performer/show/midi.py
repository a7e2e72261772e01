"""The show file's MIDI side: the `[midi]` section and its `[[midi.map]]` controls.

```toml
[midi]
port = "nanoKONTROL"       # a substring of the input's name, "all" (default), or a .mid file
clock = true               # the tempo follows MIDI clock (24 a quarter note)
loop = false               # a .mid file starts again at its end
scene_notes = [36, 37, 38] # MIDI out: the pad of scene i lit (note on, velocity 127), others off

[[midi.map]]
cc = 7                     # or `note = 36`; 0..127
channel = 1                # 1..16; default: any channel
target = "/stage/param/grade.saturation"
to = [0.0, 2.0]            # default: the target's own range
curve = "linear"
range = [0, 127]           # the controller's values read (default 0..127; 0..16383 with cc_lsb)
cc_lsb = 39                # the second controller of a 14-bit pair (cc the high 7 bits)
relative = true            # an endless encoder: true / "twos" (1 up, 127 down), "offset"
                           # (65 up, 63 down), "signed" (1 up, 65 down)
gate = true                # notes: press on, release off (default: a press is a trigger)
velocity = true            # notes: the velocity is the value (default: range's top)
feedback = true            # MIDI out: the parameter's value sent back on this CC when it moves
                           # (a motor fader, an LED ring); a `cc` map onto /stage/param/...
```

Maps learned in rehearsal (MIDI learn) are appended to the presets file beside the show as
`[[midi.map]]` tables (`save_midi_map`, the show file is never written) and read back at the
start (`load_learned`); a learned map replaces one on the same controller.

Each map becomes an `OscMapping` on a synthetic address (`MidiMap.address`), so it goes through
the stage's own `AddressSpace` like an `[[osc.map]]`. Read through `show.py`'s `_Reader`
(passed in): every problem names its key path and line.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from performer.show.osc import CURVES, OscMapping, _address, _pair
from performer.show.presets import append_table

log = logging.getLogger("stage.midi")

RELATIVE = ("twos", "offset", "signed")
MIDI_FILE_SUFFIXES = (".mid", ".midi", ".smf")


@dataclass(frozen=True)
class MidiMap:
    """One controller or note, mapped onto a stage address (`target`)."""

    target: str
    cc: int | None = None
    note: int | None = None
    channel: int | None = None  # 1..16; None: any channel
    range: tuple[float, float] = (0.0, 127.0)
    to: tuple[float, float] | None = None
    curve: str = "linear"
    gate: bool = False
    velocity: bool = False
    relative: str = ""  # "" (absolute) or one of RELATIVE
    cc_lsb: int | None = None
    feedback: bool = False  # MIDI out: the target's value echoed on this CC

    @property
    def address(self) -> str:
        """The synthetic OSC address this map answers on: `/midi/cc/1/7`, `/midi/note/any/36`."""
        kind, number = ("cc", self.cc) if self.cc is not None else ("note", self.note)
        return f"/midi/{kind}/{self.channel or 'any'}/{number}"

    def osc(self) -> OscMapping:
        return OscMapping(self.address, self.target, (), self.range, self.to, self.curve)


@dataclass(frozen=True)
class MidiSpec:
    port: str = "all"  # a substring of an input's name, "all", or a MIDI file's path
    clock: bool = False
    loop: bool = False
    maps: tuple[MidiMap, ...] = ()
    scene_notes: tuple[int, ...] = ()  # MIDI out: the note of each scene's pad (by index)

    @property
    def wants_feedback(self) -> bool:
        """Whether the show asks for MIDI out (a `feedback` map or `scene_notes`)."""
        return bool(self.scene_notes) or any(m.feedback for m in self.maps)

    @property
    def file(self) -> Path | None:
        """The MIDI file to play as if live, when `port` names one."""
        return Path(self.port) if self.port.lower().endswith(MIDI_FILE_SUFFIXES) else None

    def osc_maps(self) -> tuple[OscMapping, ...]:
        """The maps as the AddressSpace takes them (`make_space(spec.osc_maps())`)."""
        return tuple(m.osc() for m in self.maps)


def read_midi(r: Any, data: Any, base: Path | None = None) -> MidiSpec | None:
    """The `[midi]` section (None: the show has none). A file `port` is resolved against `base`
    (the show file's folder) and must exist."""
    if data is None:
        return None
    p = "midi"
    midi = r.table(data, p)
    r.unknown(midi, p, {"port", "clock", "loop", "map", "scene_notes"})
    d = MidiSpec()
    port = r.get(midi, p, "port", "string", d.port)
    if not port or not port.strip():
        r.problem(f"{p}.port", 'expected a port name (a part of it), "all" or a .mid file')
        port = d.port
    if port.lower().endswith(MIDI_FILE_SUFFIXES):
        file = Path(port).expanduser()
        if base is not None and not file.is_absolute():
            file = (base / file).resolve()
        if not file.is_file():
            r.problem(f"{p}.port", f"no MIDI file {file}")
        port = str(file)
    maps: list[MidiMap] = []
    raw = midi.get("map", [])
    if not isinstance(raw, list):
        r.problem(f"{p}.map", "expected [[midi.map]] tables")
        raw = []
    seen: dict[str, str] = {}
    for i, m in enumerate(raw):
        q = f"{p}.map[{i}]"
        mapping = _map(r, m, q)
        if mapping is None:
            continue
        taken = [mapping.address]
        if mapping.cc_lsb is not None:
            taken.append(f"/midi/cc/{mapping.channel or 'any'}/{mapping.cc_lsb}")
        for address in taken:
            if address in seen:
                r.problem(q, f"{_what(address)} is already mapped by {seen[address]}")
            seen.setdefault(address, q)
        maps.append(mapping)
    return MidiSpec(
        port=port,
        clock=r.get(midi, p, "clock", "bool", d.clock),
        loop=r.get(midi, p, "loop", "bool", d.loop),
        maps=tuple(maps),
        scene_notes=_notes(r, midi.get("scene_notes", []), f"{p}.scene_notes"),
    )


def _notes(r: Any, value: Any, p: str) -> tuple[int, ...]:
    if isinstance(value, list) and all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 127 for n in value
    ):
        return tuple(value)
    r.problem(p, f"expected a list of notes (0..127), one per scene, got {value!r}")
    return ()


def _what(address: str) -> str:
    _, _, kind, channel, number = address.split("/")
    where = "any channel" if channel == "any" else f"channel {channel}"
    return f"{'CC' if kind == 'cc' else 'note'} {number} on {where}"


def _map(r: Any, m: Any, p: str) -> MidiMap | None:
    m = r.table(m, p)
    known = {"cc", "note", "channel", "target", "to", "curve", "range", "gate", "velocity"}
    r.unknown(m, p, known | {"relative", "cc_lsb", "feedback"})
    ok = True
    cc = r.get(m, p, "cc", "int", None, lo=0, hi=127)
    note = r.get(m, p, "note", "int", None, lo=0, hi=127)
    if ("cc" in m) == ("note" in m):
        r.problem(p, "give either `cc` or `note` (0..127)")
        ok = False
    elif cc is None and note is None:
        ok = False  # out of range: already said
    channel = r.get(m, p, "channel", "int", None, lo=1, hi=16)
    target = r.get(m, p, "target", "string")
    if target is not None and not (target.startswith("/stage/") and _address(target)):
        r.problem(f"{p}.target", f"expected a stage address (/stage/...), got {target!r}")
        ok = False
    curve = r.get(m, p, "curve", "string", "linear", choices=CURVES) or "linear"
    to = _pair(r, m, p, "to")
    if curve == "exponential" and to is not None and to[0] * to[1] <= 0:
        r.problem(f"{p}.to", "an exponential curve needs both ends above (or below) zero")
        ok = False
    gate = r.get(m, p, "gate", "bool", False)
    velocity = r.get(m, p, "velocity", "bool", False)
    cc_lsb = r.get(m, p, "cc_lsb", "int", None, lo=0, hi=127)
    relative = _relative(r, m.get("relative", False), f"{p}.relative")
    if note is not None:
        for key in ("relative", "cc_lsb"):
            if key in m:
                r.problem(f"{p}.{key}", "is for a controller (`cc`), not a note")
                ok = False
    if cc is not None:
        for key in ("gate", "velocity"):
            if key in m:
                r.problem(f"{p}.{key}", "is for a note, not a controller (`cc`)")
                ok = False
        if cc_lsb is not None and (cc_lsb == cc or relative):
            r.problem(f"{p}.cc_lsb", "a 14-bit pair needs two controllers and is not relative")
            ok = False
    feedback = r.get(m, p, "feedback", "bool", False)
    if feedback and (cc is None or relative or not (target or "").startswith("/stage/param/")):
        r.problem(f"{p}.feedback", "is for an absolute `cc` map onto a /stage/param/... target")
        ok = False
    default = (0.0, 16383.0) if cc_lsb is not None else (0.0, 127.0)
    span = _pair(r, m, p, "range") or default
    if not ok or target is None:
        return None
    return MidiMap(
        target, cc, note, channel, span, to, curve, gate, velocity, relative, cc_lsb, feedback
    )


def _relative(r: Any, value: Any, p: str) -> str:
    if value is False:
        return ""
    if value is True:
        return "twos"
    if isinstance(value, str) and value in RELATIVE:
        return value
    r.problem(p, f"expected true, false or one of {', '.join(map(repr, RELATIVE))}, got {value!r}")
    return ""


# ------------------------------------------------------------------ learned maps (presets)

PRESETS_HEADER = (
    "# Saved in rehearsal: scenes (key p) and MIDI-learned controls (key l). They follow the\n"
    "# show's own; copy them into the show file to keep them there.\n"
)


def map_to_toml(m: MidiMap) -> str:
    """A [[midi.map]] table for a presets file."""
    lines = ["[[midi.map]]"]
    lines.append(f"cc = {m.cc}" if m.cc is not None else f"note = {m.note}")
    if m.channel is not None:
        lines.append(f"channel = {m.channel}")
    lines.append('target = "' + m.target.replace("\\", "\\\\").replace('"', '\\"') + '"')
    if m.to is not None:
        lines.append(f"to = [{m.to[0]:.9g}, {m.to[1]:.9g}]")
    if m.curve != "linear":
        lines.append(f'curve = "{m.curve}"')
    default = (0.0, 16383.0) if m.cc_lsb is not None else (0.0, 127.0)
    if m.range != default:
        lines.append(f"range = [{m.range[0]:.9g}, {m.range[1]:.9g}]")
    flags = {"gate": m.gate, "velocity": m.velocity, "feedback": m.feedback}
    lines += [f"{key} = true" for key, on in flags.items() if on]
    if m.relative:
        lines.append(f'relative = "{m.relative}"')
    if m.cc_lsb is not None:
        lines.append(f"cc_lsb = {m.cc_lsb}")
    return "\n".join(lines) + "\n"


def save_midi_map(presets: Path, m: MidiMap) -> None:
    """Append a learned map to the presets file, atomically (temp file + rename), as
    `save_preset` does with scenes. The show file itself is never written."""
    append_table(presets, map_to_toml(m), PRESETS_HEADER)


def load_learned(presets: Path | None) -> tuple[MidiMap, ...]:
    """The `[[midi.map]]` tables of the presets file, in order (a later one on the same
    controller replaces an earlier one). A broken file or map is logged and skipped: the show
    goes on with its own maps."""
    if presets is None or not presets.is_file():
        return ()
    from performer.show import _Lines, _Reader  # (show/__init__ imports this module)

    try:
        text = presets.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        log.error("MIDI: learned maps not read: %s: %s", presets.name, e)
        return ()
    problems: list[str] = []
    r = _Reader(_Lines(text), problems)
    midi = r.table(data.get("midi", {}), "midi")
    raw = midi.get("map", [])
    if not isinstance(raw, list):
        r.problem("midi.map", "expected [[midi.map]] tables")
        raw = []
    learned: list[MidiMap] = []
    for i, table in enumerate(raw):
        m = _map(r, table, f"midi.map[{i}]")
        if m is not None:
            learned = [k for k in learned if not same_control(k, m)] + [m]
    for problem in problems:
        log.error("MIDI: %s: %s (skipped)", presets.name, problem)
    return tuple(learned)


def same_control(a: MidiMap, b: MidiMap) -> bool:
    """Whether `b` takes over `a`'s controller: the same CC (or note) on the same channel, or
    `a` on any channel."""
    return (a.cc, a.note) == (b.cc, b.note) and a.channel in (b.channel, None)


def merge_learned(maps: tuple[MidiMap, ...], learned: tuple[MidiMap, ...]) -> tuple[MidiMap, ...]:
    """The show's maps with the learned ones added, each replacing the maps on its control."""
    out = list(maps)
    for m in learned:
        out = [k for k in out if not same_control(k, m)] + [m]
    return tuple(out)
