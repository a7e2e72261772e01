"""The band's sound as a show input: features over a click track, a silence and a sweep; the
file source on a stepped clock; AudioInput's mappings as cues; no sound card; the show file."""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from performer.core.health import FAILED, OK
from performer.inputs.audio import AudioInput, shape
from performer.inputs.audio.features import FeatureConfig, Features, estimate_tempo
from performer.inputs.audio.sources import AudioUnavailable, DeviceSource, FileSource, Ring
from performer.inputs.osc.space import AddressSpace
from performer.render.shaders import ParamSpec
from performer.show import _Lines, _Reader
from performer.show.audio import AudioMap, AudioSpec, read_audio

SR = 44_100
HOP = 512
PARAMS = {"grade.saturation": ParamSpec(1.0, 0.0, 3.0)}


def clicks(bpm: float = 120.0, seconds: float = 10.0, start: float = 0.25) -> tuple:
    """A click track: short decaying 1 kHz blips over faint noise; (samples, click times)."""
    x = np.zeros(int(SR * seconds), np.float32)
    times = np.arange(start, seconds - 0.05, 60.0 / bpm)
    n = int(0.01 * SR)
    blip = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.003 * SR))
    for t in times:
        i = int(t * SR)
        x[i : i + n] += blip
    x += 0.001 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    return x, times


def analyse(x: np.ndarray) -> tuple[Features, list[dict]]:
    f = Features(FeatureConfig(sample_rate=SR, hop=HOP))
    return f, [f.push(x[i : i + HOP]) for i in range(0, len(x) - HOP + 1, HOP)]


def write_wav(path: Path, x: np.ndarray) -> Path:
    wavfile.write(str(path), SR, (np.clip(x, -1, 1) * 32767).astype(np.int16))
    return path


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def space_factory(maps):
    space = AddressSpace(lambda: ["a", "b"], lambda: 3, PARAMS, ["pc1"], maps)
    assert not space.problems, space.problems
    return space


def play(
    audio: AudioInput,
    source: FileSource,
    clock: Clock,
    seconds: float,
    fps: float = 60,
    stamps: list | None = None,
):
    """Drive source → analyzer → poll by hand, a frame at a time; all cues and readings.
    `stamps`: gets (poll t, cue) for each cue."""
    cues, readings = [], []
    for _ in range(int(seconds * fps)):
        clock.t += 1.0 / fps
        source.pump()
        while audio.analyzer.step():
            pass
        more, read = audio.poll(clock.t, 1.0 / fps)
        if stamps is not None:
            stamps += [(clock.t, c) for c in more]
        cues += more
        readings += read
    return cues, readings


# ---------------------------------------------------------------------------- features


def test_click_track_onsets_and_tempo():
    x, times = clicks(120.0)
    f, _ = analyse(x)
    onsets = np.array(f.onsets)
    tolerance = (HOP + 2 * HOP) / SR  # one hop + one frame
    found = sum(bool(np.any(np.abs(onsets - t) <= tolerance)) for t in times)
    extra = sum(not np.any(np.abs(times - o) <= tolerance) for o in onsets)
    assert found >= 0.9 * len(times), (found, len(times), onsets)
    assert extra <= 0.05 * len(times), onsets
    assert abs(f.tempo - 120.0) <= 1.0 and f.confidence >= 0.5, (f.tempo, f.confidence)
    assert len(f.beats) >= 10
    assert np.allclose(np.diff(f.beats)[-5:], 0.5, atol=0.03)


@pytest.mark.parametrize("bpm", [90.0, 150.0, 174.0])
def test_tempo_at_other_tempi(bpm):
    x, _ = clicks(bpm)
    f, _ = analyse(x)
    assert abs(f.tempo - bpm) <= 1.0, f.tempo


@pytest.mark.parametrize("bpm", [90.0, 120.0, 174.0])
def test_tempo_octave_is_the_pulse_not_its_half_or_double(bpm):
    x, _ = clicks(bpm)
    f, _ = analyse(x)
    assert abs(f.tempo - bpm) <= 1.0 and f.confidence >= 0.5, (f.tempo, f.confidence)


def test_a_feature_smoothed_on_its_own():
    x = np.zeros(SR, np.float32)
    x[SR // 2 :] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR)
    slow = FeatureConfig(sample_rate=SR, hop=HOP, smoothing=(("level", 0.5, 0.5),))
    plain = Features(FeatureConfig(sample_rate=SR, hop=HOP))
    own = Features(slow)
    step = (SR // 2) // HOP + 3  # a few hops after the tone starts
    for i in range(0, step * HOP, HOP):
        a, b = plain.push(x[i : i + HOP]), own.push(x[i : i + HOP])
    assert a["level"] > 0.8 and b["level"] < 0.3  # level follows slowly, on its own
    assert abs(a["db"] - b["db"]) < 1e-9  # the others keep the default pair


def test_silence_has_no_onsets():
    f, out = analyse(np.zeros(SR * 3, np.float32))
    assert f.onsets == [] and f.beats == []
    assert out[-1]["level"] == 0.0 and out[-1]["db"] == -60.0
    assert estimate_tempo(np.zeros(1000), SR / HOP) == (0.0, 0.0)


def test_sweep_moves_the_centroid_up():
    t = np.arange(SR * 4) / SR
    freq = 200.0 * (5000.0 / 200.0) ** (t / 4)  # exponential sweep 200 Hz → 5 kHz
    x = (0.3 * np.sin(2 * np.pi * np.cumsum(freq) / SR)).astype(np.float32)
    _, out = analyse(x)
    centroid = np.array([o["centroid"] for o in out])[50:]  # after the first 0.6 s
    hz = np.array([o["centroid_hz"] for o in out])[50:]
    assert np.all(np.diff(centroid) >= -1e-3)  # monotonic, allowing smoothing
    assert hz[0] < 400 and hz[-1] > 3000
    assert out[-1]["level"] > 0.6  # -10 dB or so
    low, high = out[20], out[-1]
    assert low["low"] > low["high"] and high["high"] > high["low"]


# ---------------------------------------------------------------------------- sources


def test_file_source_delivers_samples_in_order(tmp_path):
    x = (np.arange(SR) % 1000 / 1000.0 - 0.5).astype(np.float32)
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "ramp.wav", x), clock=clock)
    src.pump()  # the clock's start
    got = []
    for _ in range(50):
        clock.t += 0.013
        assert src.pump() >= 0
        while (block := src.ring.read(HOP)) is not None:
            got.append(block)
    got = np.concatenate(got)
    expect = (x * 32767).astype(np.int16) / 32767.0
    assert len(got) >= int(0.6 * SR) - HOP
    assert np.allclose(got, expect[: len(got)], atol=1e-6)
    clock.t += 10
    src.pump()
    assert src.state == "ended" and src.pos == len(x)


def test_ring_skips_ahead_when_the_reader_falls_behind():
    ring = Ring(1000)
    ring.write(np.arange(1500, dtype=np.float32))
    block = ring.read(100)
    assert block[0] == 500 and ring.dropped == 500
    assert ring.read(1000) is None


def test_no_sound_card_is_one_line_and_failed(caplog):
    try:
        DeviceSource().close()
    except AudioUnavailable:
        pass
    else:
        pytest.skip("this machine has a sound input")
    with caplog.at_level(logging.ERROR, logger="stage.audio"):
        audio = AudioInput(AudioSpec(device="Scarlett 2i2"), space_factory)
    lines = [r.getMessage() for r in caplog.records if r.name == "stage.audio"]
    assert len(lines) == 1 and "show goes on" in lines[0] and "\n" not in lines[0], lines
    health = audio.health_sources()["audio"]()
    assert health.state == FAILED and health.detail
    assert audio.poll(0.0, 0.016) == ([], [])
    assert audio.hud_lines()[0].startswith("audio unavailable")
    audio.close()
    audio.close()


# ---------------------------------------------------------------------------- the input


def test_level_mapping_follows_a_loudness_ramp(tmp_path):
    t = np.arange(SR * 3) / SR
    x = (np.sin(2 * np.pi * 440 * t) * 10 ** ((-50 + 50 * t / 3) / 20)).astype(np.float32)
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "ramp.wav", x), clock=clock)
    spec = AudioSpec(maps=(AudioMap("level", "/stage/param/grade.saturation", to=(0.0, 2.0)),))
    audio = AudioInput(spec, space_factory, source=src, start=False)
    cues, readings = play(audio, src, clock, 3.2)
    values = [c.args[1] for c in cues if c.action == "param"]
    assert all(c.args[0] == "grade.saturation" and c.source == "audio" for c in cues)
    assert len(values) > 100
    assert values[-1] > 1.7 and values[5] < 0.5
    assert np.all(np.diff(values) > -0.02)  # follows the ramp up
    assert readings and readings[-1].kind == "audio" and "level" in readings[-1].value
    assert audio.health().state == OK
    assert "dB" in audio.hud_lines()[0]
    audio.close()


def test_onset_mapping_fires_next_once_per_click(tmp_path):
    x, times = clicks(120.0, seconds=6.0)
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "clicks.wav", x), clock=clock)
    spec = AudioSpec(
        tempo="follow",
        maps=(
            AudioMap("onset", "/stage/cue/next"),
            AudioMap("beat", "/stage/beat", beats=4),
        ),
    )
    audio = AudioInput(spec, space_factory, source=src, start=False)
    cues, _ = play(audio, src, clock, 6.2)
    nexts = [c for c in cues if c.action == "next"]
    assert abs(len(nexts) - len(times)) <= 1, (len(nexts), len(times))
    assert len(audio.analyzer.features.beats) // 4 == sum(c.action == "beat" for c in cues)
    tempi = [c.args[0] for c in cues if c.action == "tempo"]
    assert tempi and abs(tempi[-1] - 120) <= 1.0
    assert any("bpm" in line for line in audio.hud_lines())
    audio.close()


def test_onset_envelope_flashes_a_param(tmp_path):
    x, times = clicks(120.0, seconds=3.0)  # a click every 0.5 s
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "clicks.wav", x), clock=clock)
    target = "/stage/param/grade.saturation"
    flash = AudioMap("onset", target, to=(0.5, 2.5), envelope=(0.1, 0.2))
    audio = AudioInput(AudioSpec(maps=(flash,)), space_factory, source=src, start=False)
    stamps: list = []
    play(audio, src, clock, 3.5, stamps=stamps)
    assert stamps and all(c.action == "param" and c.source == "audio" for _, c in stamps)
    assert all(c.args[0] == "grade.saturation" for _, c in stamps)
    ups = [(t, c) for t, c in stamps if c.args[1] == 2.5]
    downs = [(t, c) for t, c in stamps if c.args[1] == 0.5]
    assert len(ups) + len(downs) == len(stamps)
    assert abs(len(ups) - len(times)) <= 1, (len(ups), len(times))
    assert all(c.args[2] == 0.1 for _, c in ups) and all(c.args[2] == 0.2 for _, c in downs)
    # up, down, up, down...: each release at the first poll 0.1 s (of poll time) after its attack
    assert [c.args[1] for _, c in stamps] == [2.5, 0.5] * len(ups)
    frame = 1.0 / 60
    for (t_up, _), (t_down, _) in zip(ups, downs, strict=True):
        assert t_up + 0.1 <= t_down < t_up + 0.1 + frame + 1e-9, (t_up, t_down)
    audio.close()


def test_onset_during_the_envelope_starts_it_again(tmp_path):
    x, times = clicks(120.0, seconds=2.0)  # clicks every 0.5 s, attack 0.7 s: never released
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "clicks.wav", x), clock=clock)
    target = "/stage/param/grade.saturation"
    flash = AudioMap("onset", target, envelope=(0.7, 0.0))  # `to`: the param's range 0..3
    audio = AudioInput(AudioSpec(maps=(flash,)), space_factory, source=src, start=False)
    stamps: list = []
    play(audio, src, clock, 2.0, stamps=stamps)
    assert abs(len(stamps) - len(times)) <= 1 and all(c.args[1:] == (3.0, 0.7) for _, c in stamps)
    last = stamps[-1][0]
    more: list = []
    play(audio, src, clock, 1.0, stamps=more)  # the file has ended: no new sound, the clock goes on
    assert [c.args[1:] for _, c in more] == [(0.0, 0.0)]  # one release, after the last onset
    assert last + 0.7 <= more[0][0] < last + 0.7 + 1 / 60 + 1e-9
    audio.close()


def test_beat_envelope_and_instant_attack(tmp_path):
    x, _ = clicks(120.0, seconds=6.0)
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "clicks.wav", x), clock=clock)
    target = "/stage/param/grade.saturation"
    flash = AudioMap("beat", target, to=(1.0, 2.0), beats=2, envelope=(0.0, 0.3))
    audio = AudioInput(AudioSpec(maps=(flash,)), space_factory, source=src, start=False)
    stamps: list = []
    play(audio, src, clock, 6.2, stamps=stamps)
    beats = len(audio.analyzer.features.beats) // 2
    assert beats >= 3
    # attack 0: the release comes in the same poll, right after
    assert [c.args[1:] for _, c in stamps] == [(2.0, 0.0), (1.0, 0.3)] * beats
    assert all(a == b for (a, _), (b, _) in zip(stamps[::2], stamps[1::2], strict=True))
    audio.close()


def test_input_with_threads_runs_and_closes(tmp_path):
    x, _ = clicks(120.0, seconds=1.0)
    spec = AudioSpec(file=write_wav(tmp_path / "c.wav", x))
    audio = AudioInput(spec, space_factory)
    assert audio.health().state == OK
    audio.close()
    audio.close()


class Now:
    """A current scene stand-in: only its `audio` key matters."""

    def __init__(self, audio=None) -> None:
        self.audio = audio


def test_scene_chooses_the_audio_mapping_set(tmp_path):
    t = np.arange(SR * 2) / SR
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    clock = Clock()
    src = FileSource(write_wav(tmp_path / "tone.wav", x), clock=clock)
    target = "/stage/param/grade.saturation"
    spec = AudioSpec(
        maps=(AudioMap("level", target, to=(0.0, 1.0)),),
        mappings={"loud": (AudioMap("level", target, to=(2.0, 3.0)),)},
    )
    now = Now()
    audio = AudioInput(spec, space_factory, lambda: now, source=src, start=False)
    cues, _ = play(audio, src, clock, 0.5)
    assert cues and all(c.args[1] <= 1.0 for c in cues)  # the default set: [[audio.map]]
    now.audio = "loud"
    cues, _ = play(audio, src, clock, 0.1)
    assert cues and all(c.args[1] >= 2.0 for c in cues)  # the new set at once, the old one not
    now.audio = ""
    cues, _ = play(audio, src, clock, 0.3)
    assert cues == []  # none
    now.audio = None
    cues, _ = play(audio, src, clock, 0.1)
    assert cues and all(c.args[1] <= 1.0 for c in cues)
    audio.close()
    named = dataclasses.replace(spec, mapping="loud")
    audio = AudioInput(named, space_factory, lambda: Now(), source=src, start=False)
    assert audio._current()[0][1].to == (2.0, 3.0)  # `[audio] mapping`: the default set
    audio.close()


def test_gain_and_dead_zone_shape_the_value():
    target = "/stage/param/grade.saturation"
    m = AudioMap("level", target, gain=2.0, dead_zone=0.1)
    assert shape(0.3, m, (0.0, 1.0)) == pytest.approx(0.6)
    assert shape(0.04, m, (0.0, 1.0)) == 0.0  # 0.08: within the dead zone
    assert shape(0.06, m, (0.0, 1.0)) == pytest.approx(0.12)
    down = AudioMap("level", target, dead_zone=0.1)
    assert shape(0.95, down, (1.0, 0.0)) == 1.0  # a falling range's bottom is its first end
    assert shape(0.5, AudioMap("level", target), (0.0, 1.0)) == 0.5


# ---------------------------------------------------------------------------- show file


def read(text: str, base: Path) -> tuple[AudioSpec | None, list[str]]:
    problems: list[str] = []
    data = tomllib.loads(text)
    return read_audio(_Reader(_Lines(text), problems), data.get("audio"), base), problems


def test_show_section_reads(tmp_path):
    write_wav(tmp_path / "band.wav", np.zeros(100, np.float32))
    spec, problems = read(
        """
[audio]
source = "band.wav"
channel = 2
tempo = "follow"
bands = [30, 200, 3000, 9000]
attack = 0.02

[[audio.map]]
feature = "level"
target = "/stage/param/grade.saturation"
to = [0.5, 2.0]
curve = "smooth"

[[audio.map]]
feature = "beat"
target = "/stage/cue/next"
beats = 4
""",
        tmp_path,
    )
    assert problems == []
    assert spec.file == (tmp_path / "band.wav").resolve() and spec.device is None
    assert spec.channel == 2 and spec.tempo == "follow" and spec.bands[1] == 200
    assert spec.maps[0] == AudioMap(
        "level", "/stage/param/grade.saturation", None, (0.5, 2.0), "smooth"
    )
    assert spec.maps[1].beats == 4
    assert read("", tmp_path)[0] is None
    assert read('[audio]\nsource = "Scarlett"', tmp_path)[0].device == "Scarlett"
    assert read("[audio]\nsource = 3", tmp_path)[0].device == 3


def test_show_section_errors_name_key_and_line(tmp_path):
    _, problems = read(
        """
[audio]
source = "missing.wav"
tempo = "guess"
bands = [300, 200]

[[audio.map]]
feature = "loudness"
target = "/stage/param/x"

[[audio.map]]
feature = "level"
target = "stage/param/x"
beats = 2
""",
        tmp_path,
    )
    text = "\n".join(problems)
    assert "audio.source (line 3): no sound file" in text
    assert "audio.tempo (line 4)" in text
    assert "audio.bands (line 5)" in text
    assert "audio.map[0].feature (line 8)" in text
    assert "audio.map[1].target (line 13)" in text
    assert "audio.map[1].beats (line 14)" in text
    assert "WAV" in read('[audio]\nsource = "band.mp3"', tmp_path)[1][0]


def test_show_sets_smoothing_gain_and_dead_zone(tmp_path):
    spec, problems = read(
        """
[audio]
mapping = "verse"

[audio.smoothing]
low = [0.005, 0.4]

[[audio.map]]
feature = "level"
target = "/stage/param/grade.saturation"
gain = 1.5
dead_zone = 0.05

[[audio.mappings.verse]]
feature = "low"
target = "/stage/param/grade.saturation"

[[audio.mappings.quiet]]
feature = "onset"
target = "/stage/cue/next"
""",
        tmp_path,
    )
    assert problems == []
    assert spec.maps[0].gain == 1.5 and spec.maps[0].dead_zone == 0.05
    assert spec.mapping == "verse" and set(spec.mappings) == {"verse", "quiet"}
    assert spec.set_for(None) == spec.mappings["verse"]
    assert spec.set_for("") == () and spec.set_for("quiet")[0].feature == "onset"
    assert spec.smoothing == {"low": (0.005, 0.4)}


def test_show_sets_errors_name_key_and_line(tmp_path):
    _, problems = read(
        """
[audio]
mapping = "chorus"

[audio.smoothing]
level = [0.1]
tempo = [0.1, 0.2]

[[audio.map]]
feature = "level"
target = "/stage/param/x"
dead_zone = 2

[[audio.map]]
feature = "onset"
target = "/stage/cue/next"
gain = 2

[[audio.mappings.verse]]
feature = "low"
target = "/stage/param/x"
gain = "loud"
""",
        tmp_path,
    )
    text = "\n".join(problems)
    assert "audio.mapping (line 3): no audio mapping set 'chorus'" in text
    assert "audio.smoothing.level (line 6)" in text
    assert "audio.smoothing.tempo (line 7)" in text
    assert "audio.map[0].dead_zone (line 12)" in text
    assert "audio.map[1].gain (line 17)" in text
    assert "audio.mappings.verse[0].gain (line 22)" in text


def test_show_envelope_reads_and_errors_name_key_and_line(tmp_path):
    spec, problems = read(
        """
[audio]

[[audio.map]]
feature = "onset"
target = "/stage/param/grade.saturation"
to = [0.5, 2.5]
envelope = [0.05, 0.4]
""",
        tmp_path,
    )
    assert problems == []
    assert spec.maps[0].envelope == (0.05, 0.4) and spec.maps[0].to == (0.5, 2.5)
    spec, problems = read(
        """
[audio]

[[audio.map]]
feature = "level"
target = "/stage/param/grade.saturation"
envelope = [0.1, 0.1]

[[audio.map]]
feature = "onset"
target = "/stage/cue/next"
envelope = [0.1, 0.1]

[[audio.map]]
feature = "beat"
target = "/stage/param/grade.saturation"
envelope = [0.1, 11]

[[audio.map]]
feature = "onset"
target = "/stage/param/grade.saturation"
envelope = [-0.1, 0.2]

[[audio.mappings.verse]]
feature = "onset"
target = "/stage/param/grade.saturation"
envelope = 0.5
""",
        tmp_path,
    )
    text = "\n".join(problems)
    assert 'audio.map[0].envelope (line 7): only a feature = "onset" or "beat"' in text
    assert "audio.map[1].envelope (line 12): an envelope moves a parameter" in text
    assert "audio.map[2].envelope (line 17): expected [attack, release]" in text
    assert "audio.map[3].envelope (line 22)" in text
    assert "audio.mappings.verse[0].envelope (line 27)" in text
    assert spec.maps == () and spec.mappings["verse"] == ()
