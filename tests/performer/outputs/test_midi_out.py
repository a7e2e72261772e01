"""MIDI-out feedback with a stand-in port system: values echoed on change only (through the
map's curve and range), the current scene's pad lit, a controller plugged in late, unplugged
and back, and no MIDI system as one clear line."""

from __future__ import annotations

import mido
import pytest

from performer.core.health import DEGRADED, OFF, OK
from performer.outputs import Frame, OutputUnavailable, midi_out
from performer.outputs.midi_out import MidiFeedbackOutput, controller_value
from performer.render.shaders import ParamSpec
from performer.show.midi import MidiMap, MidiSpec


class Port:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[mido.Message] = []
        self.closed = False

    def send(self, message: mido.Message) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> dict[str, Port]:
    opened: dict[str, Port] = {}

    def open_output(name: str) -> Port:
        opened[name] = Port(name)
        return opened[name]

    names = ["Midi Through:0", "nanoKONTROL2 MIDI 1", "Launchpad X"]
    monkeypatch.setattr(mido, "get_output_names", lambda: names)
    monkeypatch.setattr(mido, "open_output", open_output)
    return opened


SAT = "/stage/param/grade.saturation"


def frame(i: int, scene: int = 0, **params: float) -> Frame:
    return Frame(i, i / 60, None, {"scene": scene, "params": params})


def test_values_are_echoed_on_change_only(ports: dict[str, Port]) -> None:
    spec = MidiSpec(
        port="nano",
        maps=(
            MidiMap(SAT, cc=7, channel=2, to=(0.0, 2.0), feedback=True),
            MidiMap("/stage/param/grade.hue", cc=8, feedback=True),  # its range from params
            MidiMap("/stage/param/grade.gain", cc=9),  # no feedback
        ),
    )
    out = MidiFeedbackOutput(spec, params={"grade.hue": ParamSpec(0.0, -1.0, 1.0)}, io=mido)
    assert out.wants_pixels is False
    out.open((64, 64), 60.0)
    port = ports["nanoKONTROL2 MIDI 1"]
    out.present(frame(0, **{"grade.saturation": 1.0, "grade.hue": 1.0, "grade.gain": 0.5}))
    assert [(m.channel, m.control, m.value) for m in port.sent] == [(1, 7, 64), (0, 8, 127)]
    port.sent.clear()
    out.present(frame(1, **{"grade.saturation": 1.001, "grade.hue": 1.0, "grade.gain": 0.9}))
    assert port.sent == []  # less than a step
    out.present(frame(2, **{"grade.saturation": 0.0, "grade.hue": 1.0}))
    assert [(m.control, m.value) for m in port.sent] == [(7, 0)]
    assert out.health().state == OK and out.health().figures["messages"] == 3
    out.close()
    assert port.closed and out.health().state == OFF
    out.close()


def test_curves_and_fourteen_bits_invert() -> None:
    quad = MidiMap(SAT, cc=1, to=(0.0, 4.0), curve="quadratic")
    quarter = 32  # 127 / 4, rounded
    assert controller_value(quad, 0.25, (0.0, 4.0)) == quarter  # 4 * 0.25² = 0.25
    exp = MidiMap(SAT, cc=1, to=(1.0, 100.0), curve="exponential")
    assert controller_value(exp, 100**0.25, (1.0, 100.0)) == quarter
    down = MidiMap(SAT, cc=1, to=(2.0, 0.0), curve="smooth")
    assert controller_value(down, 2 - 2 * 0.15625, (2.0, 0.0)) == quarter  # 0.25²(3 - 0.5)
    assert controller_value(down, 5.0, (2.0, 0.0)) == 0  # out of range: clamped
    wide = MidiMap(SAT, cc=1, cc_lsb=33, range=(0.0, 16383.0))
    assert controller_value(wide, 0.5, (0.0, 1.0)) == 8192


def test_fourteen_bit_pair_sends_both_halves(ports: dict[str, Port]) -> None:
    m = MidiMap(SAT, cc=1, cc_lsb=33, range=(0.0, 16383.0), to=(0.0, 1.0), feedback=True)
    out = MidiFeedbackOutput(MidiSpec(port="nano", maps=(m,)), io=mido)
    out.open((64, 64), 60.0)
    out.present(frame(0, **{"grade.saturation": 0.5}))
    sent = ports["nanoKONTROL2 MIDI 1"].sent
    assert [(s.control, s.value) for s in sent] == [(1, 64), (33, 0)]


def test_scene_pad_is_lit(ports: dict[str, Port]) -> None:
    out = MidiFeedbackOutput(MidiSpec(scene_notes=(36, 37, 38)), port="launch", io=mido)
    out.open((64, 64), 60.0)
    port = ports["Launchpad X"]
    out.present(frame(0, scene=1))
    assert [(m.type, m.note, m.velocity) for m in port.sent] == [
        ("note_on", 36, 0),
        ("note_on", 37, 127),
        ("note_on", 38, 0),
    ]
    port.sent.clear()
    out.present(frame(1, scene=1))
    assert port.sent == []  # no change: nothing
    out.present(frame(2, scene=2))
    assert [m.velocity for m in port.sent] == [0, 0, 127]


def test_all_skips_midi_through(ports: dict[str, Port]) -> None:
    out = MidiFeedbackOutput(MidiSpec(scene_notes=(36,)), io=mido)
    out.open((64, 64), 60.0)
    assert list(ports) == ["nanoKONTROL2 MIDI 1"]


def test_no_midi_system_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(midi_out, "_default_io", lambda: "ALSA sequencer not available")
    out = MidiFeedbackOutput(MidiSpec(scene_notes=(36,)))
    with pytest.raises(OutputUnavailable) as e:
        out.open((64, 64), 60.0)
    assert str(e.value) == "MIDI out: no MIDI system here (ALSA sequencer not available)"
    out.present(frame(0))  # never opened: nothing, no error
    out.close()


def test_a_failing_port_system_and_a_missing_port(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[str]:
        raise OSError("MidiOutAlsa::initialize: error creating ALSA sequencer client object.")

    monkeypatch.setattr(mido, "get_output_names", broken)
    with pytest.raises(OutputUnavailable, match="^MIDI out: no MIDI system here"):
        MidiFeedbackOutput(MidiSpec(scene_notes=(36,)), io=mido).open((64, 64), 60.0)


def test_a_controller_plugged_in_late_or_replugged_is_found(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    names: list[str] = ["Launchpad X"]
    opened: list[Port] = []

    def open_output(name: str) -> Port:
        opened.append(Port(name))
        return opened[-1]

    monkeypatch.setattr(mido, "get_output_names", lambda: list(names))
    monkeypatch.setattr(mido, "open_output", open_output)
    now = [100.0]
    spec = MidiSpec(port="nano", scene_notes=(36, 37))
    out = MidiFeedbackOutput(spec, io=mido, rescan=2.0, clock=lambda: now[0])
    out.open((1, 1), 1.0)  # not there yet: said once, the show goes on
    assert "MIDI out: no output port matching 'nano' (have: Launchpad X)" in caplog.text
    assert out.health().state == DEGRADED and not opened
    out.present(frame(0, scene=1))
    names.append("nanoKONTROL2 MIDI 1")  # plugged in
    now[0] += 1.0
    out.present(frame(1, scene=1))
    assert not opened  # looked for again only every 2 s
    now[0] += 1.0
    out.present(frame(2, scene=1))
    assert [p.name for p in opened] == ["nanoKONTROL2 MIDI 1"] and out.health().state == OK
    assert [(m.note, m.velocity) for m in opened[0].sent] == [(36, 0), (37, 127)]
    names.remove("nanoKONTROL2 MIDI 1")  # unplugged
    now[0] += 2.0
    out.present(frame(3, scene=1))
    assert opened[0].closed and out.health().state == DEGRADED
    assert "MIDI out: lost nanoKONTROL2 MIDI 1 (unplugged)" in caplog.text
    names.append("nanoKONTROL2 MIDI 1")  # back: it gets the whole state again
    now[0] += 2.0
    out.present(frame(4, scene=1))
    assert len(opened) == 2 and [(m.note, m.velocity) for m in opened[1].sent] == [
        (36, 0),
        (37, 127),
    ]


def test_a_port_failing_under_a_send_is_dropped_not_the_show(ports: dict[str, Port]) -> None:
    out = MidiFeedbackOutput(MidiSpec(port="nano", scene_notes=(36,)), io=mido)
    out.open((1, 1), 1.0)
    port = ports["nanoKONTROL2 MIDI 1"]

    def gone(message: mido.Message) -> None:
        raise OSError("device vanished")

    port.send = gone  # type: ignore[method-assign]
    out.present(frame(0, scene=0))  # no exception: the output waits for the port again
    assert port.closed and out.port is None and out.health().state == DEGRADED
