"""MIDI and audio as inputs of a running show: a .mid file's CC ramp moves a shader parameter
and its notes step the cue list; a click track's onsets step it too — all as cues in the event
log, with the same addresses OSC uses."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import mido
import numpy as np

from performer.show import load_show
from performer.stage import RunOptions, Stage
from tests.performer.test_show_goes_on import write_show


def with_scenes(tmp_path: Path, extra: str) -> Path:
    show = write_show(tmp_path, fps=30)
    text = show.read_text().replace("chain = []", 'chain = ["grade"]')
    show.write_text(
        text + '[[scenes]]\nname = "two"\nseed = 2\nfade = 0.1\n'
        '[[scenes]]\nname = "three"\nseed = 3\nfade = 0.1\n' + extra
    )
    return show


def cues(record: Path, source: str) -> list[dict]:
    lines = record.with_suffix(".events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return [e for e in events if e["kind"] == "cue" and e.get("source") == source]


def test_a_midi_file_drives_a_parameter_and_the_cue_list(tmp_path):
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))  # 120 bpm: 480 ticks = 0.5 s
    for value in range(0, 128, 8):  # a CC ramp over 0.8 s
        track.append(mido.Message("control_change", control=1, value=value, time=24))
    track.append(mido.Message("note_on", note=60, velocity=100, time=24))
    track.append(mido.Message("note_off", note=60, velocity=0, time=48))
    mid.save(tmp_path / "ramp.mid")
    show = with_scenes(
        tmp_path,
        '[midi]\nport = "ramp.mid"\n'
        '[[midi.map]]\ncc = 1\ntarget = "/stage/param/grade.saturation"\nto = [0.0, 2.0]\n'
        '[[midi.map]]\nnote = 60\ntarget = "/stage/cue/next"\n',
    )
    record = tmp_path / "take.mp4"
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=2.5, record=record))
    try:
        stage.run()
        cue_index = stage.controller.cue_index
    finally:
        stage.close()
    midi = cues(record, "midi")
    values = [e["args"][1] for e in midi if e["action"] == "param"]
    assert len(values) >= 8 and values == sorted(values)  # the ramp, in order
    assert values[-1] > 1.7  # (it holds until the note's scene change, as OSC's does)
    assert [e["action"] for e in midi].count("next") == 1 and cue_index == 1


def click_track(path: Path, bpm: float, seconds: float, rate: int = 44100) -> Path:
    samples = np.zeros(int(seconds * rate), np.float32)
    click = (np.sin(2 * np.pi * 1000 * np.arange(441) / rate) * np.hanning(441)).astype(np.float32)
    for start in np.arange(0.25, seconds - 0.05, 60 / bpm):
        i = int(start * rate)
        samples[i : i + len(click)] += 0.8 * click
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype(np.int16).tobytes())
    return path


def test_a_click_track_steps_the_cue_list(tmp_path):
    click_track(tmp_path / "clicks.wav", bpm=60, seconds=4.0)  # clicks at 0.25, 1.25, 2.25 …
    show = with_scenes(
        tmp_path,
        '[audio]\nsource = "clicks.wav"\n'
        '[[audio.map]]\nfeature = "onset"\ntarget = "/stage/cue/next"\n',
    )
    record = tmp_path / "take.mp4"
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=3.6, record=record))
    try:
        summary = stage.run()
    finally:
        stage.close()
    nexts = [e for e in cues(record, "audio") if e["action"] == "next"]
    assert 3 <= len(nexts) <= 4, nexts  # one per click heard (3 or 4 within 3.6 s)
    assert summary["health"]["audio"]["state"] == "ok"
