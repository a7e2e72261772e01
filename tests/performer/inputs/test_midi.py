"""MIDI in: a .mid file played through a stepped clock, notes as triggers and gates, 14-bit
pairs, relative encoders, MIDI clock → tempo, hot-plug with a stand-in port system, the
no-MIDI-system line, and the `[midi]` show section's errors with key path and line."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import mido
import pytest

from performer.core.health import DEGRADED, FAILED, OK
from performer.inputs.midi import MidiFileSource, MidiInput, MidiPortSource
from performer.inputs.osc.space import AddressSpace
from performer.render.shaders import ParamSpec
from performer.show import _Lines, _Reader
from performer.show.midi import MidiMap, MidiSpec, read_midi

SCENES = ["wander", "rest", "still water"]
PARAMS = {"grade.saturation": ParamSpec(1.0, 0.0, 3.0)}


def make_space(maps) -> AddressSpace:
    space = AddressSpace(lambda: SCENES, lambda: 3, PARAMS, ["1", "2", "pc1"], maps)
    assert not space.problems, space.problems
    return space


class Held:
    """A source the test publishes into by hand."""

    def __init__(self) -> None:
        self.closed = False

    def start(self) -> None: ...

    def health(self):
        from performer.core.health import PartHealth

        return PartHealth(OK, "held")

    def describe(self) -> str:
        return "held"

    def close(self) -> None:
        self.closed = True


def held(*maps: MidiMap, clock: bool = False) -> MidiInput:
    return MidiInput(MidiSpec(clock=clock, maps=maps), make_space, source=Held())


def send(midi: MidiInput, *messages: mido.Message, t: float = 0.0) -> list:
    for m in messages:
        midi.publish(t, m)
    cues, readings = midi.poll(t, 1 / 60)
    assert readings == []
    return cues


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=control, value=value, channel=channel)


def note(number: int, velocity: int = 100, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=number, velocity=velocity, channel=channel)


def test_file_cc_ramp_drives_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "ramp.mid"
    f = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))  # 120 bpm: a beat is 0.5 s
    for value in range(0, 128, 16):  # one every quarter second
        track.append(mido.Message("control_change", control=7, value=value, channel=2, time=240))
    f.tracks.append(track)
    f.save(path)
    spec = MidiSpec(
        port=str(path),
        maps=(MidiMap("/stage/param/grade.saturation", cc=7, channel=3, to=(0.0, 2.0)),),
    )
    assert spec.file == path
    midi = MidiInput(spec, make_space, source=Held())
    source = MidiFileSource(path, midi.publish, clock=lambda: 0.0, thread=False)
    values = []
    t = 0.0
    while (due := source.pump(t)) is not None or not midi.inbox.empty():
        cues, _ = midi.poll(t, 0.25)
        values += [c.args[1] for c in cues]
        assert all(c.action == "param" and c.source == "midi" for c in cues)
        t += 0.25  # a quarter second a step: the file's 0.25 s gaps
        assert due is None or due <= t + 0.25
    ramp = [v * 2.0 / 127 for v in range(0, 128, 16)]
    assert values == pytest.approx(ramp)
    assert source.played == 8
    assert midi.health().state == OK


def test_file_loops_and_other_channels_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "loop.mid"
    f = mido.MidiFile()
    track = mido.MidiTrack([cc(1, 127, channel=0), cc(1, 0, channel=5)])
    track.append(mido.MetaMessage("end_of_track", time=480))
    f.tracks.append(track)
    f.save(path)
    midi = MidiInput(
        MidiSpec(port=str(path), loop=True, maps=(MidiMap("/stage/latent/pc1", cc=1, channel=1),)),
        make_space,
        source=Held(),
    )
    source = MidiFileSource(path, midi.publish, loop=True, thread=False)
    seen = []
    for step in range(8):
        source.pump(step * 0.5)
        seen += midi.poll(step * 0.5, 0.5)[0]
    assert source.laps >= 3
    assert {c.action for c in seen} == {"offset"}
    assert all(c.args == ("pc1", 3.0) for c in seen)  # channel 6's 0 never arrives
    assert len(seen) == 8  # once a lap, eight laps in four seconds


def test_file_thread_plays_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "short.mid"
    f = mido.MidiFile()
    f.tracks.append(mido.MidiTrack([cc(7, 64)]))
    f.save(path)
    midi = MidiInput(
        MidiSpec(port=str(path), maps=(MidiMap("/stage/param/grade.saturation", cc=7),)),
        make_space,
    )
    try:
        assert isinstance(midi.source, MidiFileSource)
        midi.source._thread.join(timeout=10)  # the file ends at once
        cues, _ = midi.poll(0.0, 0.0)
        assert [c.action for c in cues] == ["param"]
    finally:
        midi.close()


def test_note_fires_one_next_per_press() -> None:
    midi = held(MidiMap("/stage/cue/next", note=36))
    cues = []
    for _ in range(3):
        cues += send(midi, note(36, 90))
        cues += send(midi, mido.Message("note_off", note=36))
        cues += send(midi, note(36, 0))  # note-on with velocity 0 is a release too
    assert [c.action for c in cues] == ["next"] * 3
    assert send(midi, note(37)) == []  # another note: nothing


def test_a_pad_mapped_to_a_flash_fires_on_every_press() -> None:
    midi = held(MidiMap("/stage/flash", note=38))
    cues = []
    for _ in range(3):
        cues += send(midi, note(38, 100))
        cues += send(midi, mido.Message("note_off", note=38))
    assert [c.action for c in cues] == ["flash"] * 3


def test_note_gate_and_toggle() -> None:
    gate = held(MidiMap("/stage/blackout", note=40, gate=True))
    assert [c.args for c in send(gate, note(40))] == [(1,)]
    assert [c.args for c in send(gate, note(40, 0))] == [(0,)]
    toggle = held(MidiMap("/stage/blackout", note=41))
    assert [c.args for c in send(toggle, note(41))] == [(1,)]
    assert send(toggle, note(41, 0)) == []
    assert [c.args for c in send(toggle, note(41))] == [(0,)]


def test_note_velocity_as_the_value() -> None:
    midi = held(MidiMap("/stage/param/grade.saturation", note=60, velocity=True, to=(0, 1)))
    (cue,) = send(midi, note(60, 127))
    assert cue.args[1] == pytest.approx(1.0)
    (cue,) = send(midi, note(60, 32))
    assert cue.args[1] == pytest.approx(32 / 127)
    assert send(midi, note(60, 0)) == []  # no gate: the value holds


def test_fourteen_bit_pair() -> None:
    midi = held(
        MidiMap("/stage/param/grade.saturation", cc=1, cc_lsb=33, range=(0, 16383), to=(0, 1))
    )
    cues = send(midi, cc(1, 64), cc(33, 5))
    assert [c.args[1] for c in cues] == pytest.approx([8192 / 16383, 8197 / 16383])
    (cue,) = send(midi, cc(33, 127))
    assert cue.args[1] == pytest.approx(8319 / 16383)
    (cue,) = send(midi, cc(1, 127))  # the high byte resets the low one
    assert cue.args[1] == pytest.approx(16256 / 16383)


def test_relative_encoder_accumulates_within_range() -> None:
    midi = held(MidiMap("/stage/latent/1", cc=16, relative="twos", to=(-1.0, 1.0)))
    values = []
    for value in (1, 1, 1, 127, 127):  # three up, two down from the middle
        values += [c.args[1] for c in send(midi, cc(16, value))]
    step = 2.0 / 127
    assert values == pytest.approx([step * k for k in (1, 2, 3, 2, 1)])
    for _ in range(10):
        send(midi, cc(16, 63))  # +63 each: pinned at the top
    (cue,) = send(midi, cc(16, 63))
    assert cue.args == ("1", 1.0)
    offset = held(MidiMap("/stage/latent/1", cc=16, relative="offset", range=(0, 10)))
    (cue,) = send(offset, cc(16, 66))  # 5 + 2 of 0..10 → 0.7 of the default -3..3
    assert cue.args[1] == pytest.approx(1.2)


def test_knob_over_scenes_fires_on_a_new_scene_only() -> None:
    midi = held(MidiMap("/stage/scene", cc=20))
    actions = [c.args for v in (0, 10, 70, 80, 127) for c in send(midi, cc(20, v))]
    assert actions == [(0,), (1,), (2,)]


def test_midi_clock_sets_the_tempo() -> None:
    midi = held(clock=True)
    interval = 60.0 / (120 * 24)
    cues = send(midi, mido.Message("start"))
    for i in range(96):
        jitter = 0.0005 if i % 2 else 0.0  # intervals alternate ± half a millisecond
        cues += send(midi, mido.Message("clock"), t=i * interval + jitter)
    tempos = [c.args[0] for c in cues if c.action == "tempo"]
    assert tempos and all(c.source == "midi" for c in cues)
    assert tempos[-1] == pytest.approx(120.0, abs=0.5)
    assert len(tempos) <= 3  # sent when it moves, not per clock
    assert "120" in midi.hud_lines()[0]
    off = held()  # clock = false: ignored
    assert [send(off, mido.Message("clock"), t=i * interval) for i in range(40)] == [[]] * 40


class FakeIO:
    """mido's port functions over a list of names that tests plug and unplug."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.opened: list[str] = []
        self.callbacks: dict[str, object] = {}

    def get_input_names(self) -> list[str]:
        return list(self.names)

    def open_input(self, name: str, callback=None):
        self.opened.append(name)
        self.callbacks[name] = callback
        io = self

        class Port:
            def close(self) -> None:
                io.callbacks.pop(name, None)

        return Port()


def test_port_by_substring_and_hot_plug() -> None:
    io = FakeIO(["Midi Through Port-0", "nanoKONTROL2 MIDI 1 20:0"])
    midi = MidiInput(
        MidiSpec(port="nanokontrol", maps=(MidiMap("/stage/cue/next", note=36),)),
        make_space,
        io=io,
    )
    source = midi.source
    try:
        assert isinstance(source, MidiPortSource)
        assert io.opened == ["nanoKONTROL2 MIDI 1 20:0"]
        io.callbacks["nanoKONTROL2 MIDI 1 20:0"](note(36))
        assert [c.action for c in midi.poll(0, 0)[0]] == ["next"]
        io.names = ["Midi Through Port-0"]  # unplugged
        source.scan()
        assert midi.health().state == DEGRADED
        assert "nanokontrol" in midi.health().detail
        io.names = ["Midi Through Port-0", "nanoKONTROL2 MIDI 1 24:0"]  # back, renumbered
        source.scan()
        assert io.opened[-1] == "nanoKONTROL2 MIDI 1 24:0"
        assert midi.health().state == OK
    finally:
        midi.close()
    assert io.callbacks == {}
    all_io = FakeIO(["Midi Through Port-0", "a", "b"])
    every = MidiPortSource("all", lambda t, m: None, io=all_io)
    every.scan()
    assert sorted(all_io.opened) == ["a", "b"]


def test_no_midi_system_is_one_line_and_failed(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def get_input_names(self):
            raise RuntimeError("MidiInAlsa::initialize: error creating ALSA sequencer client")

    caplog.set_level(logging.INFO, logger="stage.midi")
    midi = MidiInput(MidiSpec(maps=(MidiMap("/stage/cue/next", note=36),)), make_space, io=Broken())
    assert midi.poll(0, 0) == ([], [])
    assert midi.health_sources()["midi"]().state == FAILED
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "MIDI: no MIDI system here (ALSA sequencer not available): the show goes on without"
        " MIDI in; a .mid file works: --midi FILE"
    ]
    assert midi.hud_lines() == ["MIDI: no MIDI system"]
    midi.close()
    midi.close()  # safe twice
    if Path("/dev/snd/seq").exists():
        return  # a machine with a MIDI system: the stand-in above is the test
    caplog.clear()  # this machine's own (none): through the real default, without ALSA's noise
    real = MidiInput(MidiSpec(), make_space)
    assert real.health().state == FAILED
    assert len(caplog.records) == 1 and "no MIDI system here" in caplog.records[0].getMessage()
    real.close()


# ---------------------------------------------------------------------------- the show file


def read(text: str, base: Path | None = None) -> tuple[MidiSpec | None, list[str]]:
    problems: list[str] = []
    data = tomllib.loads(text)
    return read_midi(_Reader(_Lines(text), problems), data.get("midi"), base), problems


def test_show_section_reads() -> None:
    spec, problems = read(
        """
[midi]
port = "nanoKONTROL"
clock = true

[[midi.map]]
cc = 7
channel = 2
target = "/stage/param/grade.saturation"
to = [0.0, 2.0]
curve = "smooth"

[[midi.map]]
cc = 1
cc_lsb = 33
target = "/stage/latent/pc1"

[[midi.map]]
note = 36
target = "/stage/cue/next"

[[midi.map]]
cc = 16
relative = "signed"
target = "/stage/latent/1"
"""
    )
    assert problems == []
    assert spec is not None and spec.port == "nanoKONTROL" and spec.clock and not spec.loop
    a, b, c, d = spec.maps
    assert a.address == "/midi/cc/2/7" and a.to == (0.0, 2.0) and a.curve == "smooth"
    assert b.range == (0.0, 16383.0) and b.cc_lsb == 33
    assert c.address == "/midi/note/any/36" and c.range == (0.0, 127.0)
    assert d.relative == "signed"
    assert not make_space(spec.osc_maps()).problems
    assert read("")[0] is None


def test_show_section_errors_name_key_path_and_line(tmp_path: Path) -> None:
    _, problems = read(
        """
[midi]
port = "missing.mid"
clocks = true

[[midi.map]]
cc = 7
note = 3
target = "/stage/cue/next"

[[midi.map]]
cc = 200
channel = 17
target = "/elsewhere"

[[midi.map]]
note = 36
relative = true
target = "/stage/cue/next"

[[midi.map]]
cc = 9
relative = "sideways"
gate = true
target = "/stage/cue/next"

[[midi.map]]
note = 50
target = "/stage/cue/next"

[[midi.map]]
note = 50
target = "/stage/cue/prev"
""",
        tmp_path,
    )
    text = "\n".join(problems)
    assert f"midi.port (line 3): no MIDI file {tmp_path / 'missing.mid'}" in text
    assert "midi.clocks (line 4): unknown key" in text
    assert "midi.map[0] (line 6): give either `cc` or `note`" in text
    assert "midi.map[1].cc (line 12): expected int in [0, 127], got integer 200" in text
    assert "midi.map[1].channel (line 13): expected int in [1, 16]" in text
    assert "midi.map[1].target (line 14): expected a stage address" in text
    assert "midi.map[2].relative (line 18): is for a controller" in text
    assert "midi.map[3].relative (line 23): expected true, false or one of" in text
    assert "midi.map[3].gate (line 24): is for a note" in text
    assert "midi.map[5] (line 31): note 50 on any channel is already mapped by midi.map[4]" in (
        text
    )


def test_a_file_that_is_not_midi_fails_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "broken.mid"
    path.write_bytes(b"not a MIDI file at all")
    midi = MidiInput(MidiSpec(port=str(path)), make_space)
    assert midi.poll(0, 0) == ([], [])
    assert midi.health().state == FAILED and "broken.mid" in midi.health().detail
    midi.close()


# -- MIDI learn


def learning(tmp_path: Path, *maps: MidiMap) -> MidiInput:
    presets = tmp_path / "show.presets.toml"
    return MidiInput(MidiSpec(maps=maps), make_space, source=Held(), presets=presets)


def test_learn_maps_the_next_cc_and_survives_a_reload(tmp_path: Path) -> None:
    midi = learning(tmp_path)
    line = midi.learn("/stage/param/grade.saturation")
    assert line == "MIDI learn: move a knob for /stage/param/grade.saturation"
    assert midi.hud_lines()[-1] == line
    assert send(midi, note(36, 0), cc(74, 100, channel=0)) == []  # a release: not learned
    assert midi.learning is None
    assert midi.hud_lines()[-1] == "MIDI learn: CC 74 ch 1 → /stage/param/grade.saturation"
    (m,) = midi.spec.maps
    assert (m.cc, m.channel, m.to) == (74, 1, (0.0, 3.0))  # the parameter's own range
    cues = send(midi, cc(74, 127), cc(74, 0))
    assert [c.args for c in cues] == [("grade.saturation", 3.0), ("grade.saturation", 0.0)]
    assert send(midi, cc(74, 127, channel=1)) == []  # learned on channel 1 only

    again = learning(tmp_path)  # the next start: read back from the presets file
    assert again.spec.maps == (m,)
    assert [c.args for c in send(again, cc(74, 127))] == [("grade.saturation", 3.0)]


def test_learn_a_latent_direction_replaces_the_map_on_that_cc(tmp_path: Path) -> None:
    show_map = MidiMap("/stage/param/grade.saturation", cc=20)  # any channel
    other = MidiMap("/stage/cue/next", note=36)
    midi = learning(tmp_path, show_map, other)
    assert midi.learn("/stage/latent/2").startswith("MIDI learn: move a knob")
    send(midi, cc(20, 5, channel=2))
    assert midi.hud_lines()[-1] == "MIDI learn: CC 20 ch 3 → /stage/latent/2"
    assert [m.target for m in midi.spec.maps] == ["/stage/cue/next", "/stage/latent/2"]
    cues = send(midi, cc(20, 127, channel=2))
    assert [(c.action, c.args) for c in cues] == [("offset", ("2", 3.0))]
    assert midi.learn("/stage/latent/2") and send(midi, note(40)) == []  # a pad learns too
    assert midi.spec.maps[-1].note == 40 and midi.spec.maps[-1].to == (-3.0, 3.0)

    again = learning(tmp_path, show_map, other)  # the show's CC 20 is replaced on reload too
    assert [m.target for m in again.spec.maps] == [
        "/stage/cue/next",
        "/stage/latent/2",
        "/stage/latent/2",
    ]
    assert [c.args for c in send(again, cc(20, 0, channel=2))] == [("2", -3.0)]


def test_learn_refuses_an_unknown_address_and_without_presets_still_maps() -> None:
    midi = held()
    assert midi.learn("/stage/nowhere") == "MIDI learn: cannot map /stage/nowhere"
    assert midi.learning is None
    midi.learn("/stage/cue/next")
    send(midi, note(50))
    assert [c.action for c in send(midi, note(50))] == ["next"]


def test_learned_maps_live_beside_saved_scenes(tmp_path: Path) -> None:
    from performer.show import Drift, Scene, save_preset
    from performer.show.midi import load_learned, save_midi_map

    presets = tmp_path / "show.presets.toml"
    save_preset(presets, Scene("a", "m", seed=1, drift=Drift()))
    save_midi_map(presets, MidiMap("/stage/latent/1", cc=1, channel=2, to=(-3.0, 3.0)))
    save_preset(presets, Scene("b", "m", seed=2, drift=Drift()))
    data = tomllib.loads(presets.read_text())
    assert [s["name"] for s in data["scenes"]] == ["a", "b"]
    assert load_learned(presets) == (MidiMap("/stage/latent/1", cc=1, channel=2, to=(-3.0, 3.0)),)
    assert not list(tmp_path.glob(".*.tmp"))


def test_broken_learned_maps_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from performer.show.midi import load_learned

    presets = tmp_path / "p.toml"
    presets.write_text('[[midi.map]]\ncc = 300\ntarget = "/stage/cue/next"\n')
    with caplog.at_level(logging.ERROR, "stage.midi"):
        assert load_learned(presets) == ()
    assert "midi.map[0].cc (line 2)" in caplog.text
    presets.write_text("not toml [")
    assert load_learned(presets) == ()
    assert load_learned(tmp_path / "none.toml") == ()


def test_feedback_and_scene_notes_read() -> None:
    spec, problems = read(
        """
[midi]
scene_notes = [36, 37]

[[midi.map]]
cc = 7
target = "/stage/param/grade.saturation"
feedback = true
"""
    )
    assert problems == []
    assert spec is not None and spec.scene_notes == (36, 37) and spec.wants_feedback
    assert spec.maps[0].feedback
    _, problems = read(
        """
[midi]
scene_notes = [36, 200]

[[midi.map]]
note = 7
target = "/stage/cue/next"
feedback = true
"""
    )
    text = "\n".join(problems)
    assert "midi.scene_notes (line 3): expected a list of notes" in text
    assert "midi.map[0].feedback (line 8): is for an absolute `cc` map" in text
