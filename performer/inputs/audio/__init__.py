"""The band's sound as a show input: a source (a WAV file played as if live, or a sound card)
into a ring, analysed hop by hop on a worker thread (features.py), turned into readings and,
through the stage's address space, into cues.

`AudioInput(spec, make_space, scene)`: `make_space(maps)` builds the stage's `AddressSpace` with
every mapping set of the show as `OscMapping`s on synthetic addresses (`[[audio.map]]`:
`/audio/<feature>/<i>`; `[[audio.mappings.NAME]]`: `/audio/NAME/<feature>/<i>`). `scene()` is
the current Scene: its `audio` key picks the set each poll (None: the default set, "": none);
on a change the old set's mappings stop and the new set's send their values at once.
Each poll sends every continuous mapping of the set its feature's newest value (times `gain`,
values within `dead_zone` of the range's bottom as the bottom; when it changed), fires
`onset` mappings once per onset and `beat` mappings every `beats` beats, and with
`tempo = "follow"` sends `/stage/tempo` when the tracked tempo (confidence ≥ 0.5) moved by
0.5 bpm or more. An onset/beat mapping onto a parameter with `envelope = [attack, release]`
flashes it instead: a poll with onsets (or its beat) sends the top of `to` with `attack` as the
ramp, and the first poll whose show time `t` is `attack` seconds on sends the bottom with
`release` (a new onset before then starts it again; several in one poll, once; a due release
comes on polls without new sound and after a change of set too).
Readings: `Reading("audio", features)` once per new analysis, with `time` (seconds of audio),
`onsets` (how many onsets since the last poll: none is missed between frames) and
`onset_strength` (the largest flux among them; 0 with none).

No sound (no PortAudio, no device, an unreadable file): one clear line in the log, health
`failed`, and the show goes on without it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from performer.core.health import FAILED, OK, PartHealth
from performer.inputs import Reading
from performer.inputs.audio.features import Features, config_for, unit_range
from performer.inputs.audio.sources import AudioUnavailable, DeviceSource, FileSource
from performer.show.osc import OscMapping

if TYPE_CHECKING:
    from performer.core.control import Cue
    from performer.inputs.osc.space import AddressSpace
    from performer.show.audio import AudioMap, AudioSpec

log = logging.getLogger("stage.audio")

TEMPO_CONFIDENCE = 0.5
TEMPO_STEP = 0.5  # bpm
METER = 8  # cells in the HUD's level meter


class Analyzer:
    """The worker: takes hops from a source's ring, computes features, keeps the newest and the
    onsets and beats since the last `latest()`."""

    def __init__(self, source: Any, features: Features) -> None:
        self.source, self.features = source, features
        self.lock = threading.Lock()
        self.current: dict[str, float] | None = None
        self.time = 0.0
        self.onsets: list[float] = []
        self.strengths: list[float] = []  # the flux at each onset in `onsets`
        self.taken_strengths: list[float] = []  # those of the onsets the last `latest()` took
        self.beats: list[float] = []
        self.hops = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, timeout: float = 0.0) -> bool:
        """Analyse one hop if it is there; False if not."""
        block = self.source.ring.read(self.features.config.hop, timeout)
        if block is None:
            return False
        out = self.features.push(block)
        with self.lock:
            self.current, self.time = out, self.features.time
            if out["onset"]:
                self.onsets.append(self.time)
                self.strengths.append(float(out["flux"]))
            if out["beat"]:
                self.beats.append(self.time)
            self.hops += 1
        return True

    def latest(self) -> tuple[float, dict[str, float] | None, list[float], list[float]]:
        """(time, newest features, onsets since the last call, beats since the last call)."""
        with self.lock:
            onsets, beats = self.onsets, self.beats
            self.taken_strengths = self.strengths
            self.onsets, self.beats, self.strengths = [], [], []
            return self.time, self.current, onsets, beats

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audio-features", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step(timeout=0.05)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None


def shape(value: float, entry: AudioMap, range_: tuple[float, float]) -> float:
    """A feature's value as its mapping reads it: times `gain`, and within `dead_zone` of the
    range's bottom (or past it) as the bottom."""
    value *= entry.gain
    bottom, top = range_
    above = (value - bottom) * (1.0 if top >= bottom else -1.0)  # how far past the bottom
    if entry.dead_zone > 0 and above <= entry.dead_zone:
        value = bottom
    return value


def open_source(spec: AudioSpec) -> FileSource | DeviceSource:
    """The spec's source, not yet started. Raises AudioUnavailable."""
    if spec.file is not None:
        return FileSource(spec.file, spec.channel, loop=spec.loop)
    return DeviceSource(spec.device, spec.channel)


class AudioInput:
    """The Input protocol over the band's sound (see the module's docstring). `scene`: the
    current Scene (None: always the default set). `source` and `start` are for tests: a
    prepared source, and whether to start the threads."""

    name = "audio"

    def __init__(
        self,
        spec: AudioSpec,
        make_space: Callable[[Sequence[OscMapping]], AddressSpace],
        scene: Callable[[], Any] | None = None,
        source: Any = None,
        start: bool = True,
    ) -> None:
        self.spec = spec
        self.scene = scene
        self.error = ""
        self.source: Any = None
        self.analyzer: Analyzer | None = None
        # each set by name (None: the [[audio.map]] entries): its (OscMapping, AudioMap) pairs
        self.sets: dict[str | None, list[tuple[OscMapping, AudioMap]]] = {}
        paths: list[str] = []  # each mapping's key path in the show file, in `self.maps` order
        named: list[tuple[str | None, tuple[AudioMap, ...]]] = [(None, spec.maps)]
        for name, entries in [*named, *spec.mappings.items()]:
            prefix = "/audio" if name is None else f"/audio/{name}"
            where = "audio.map" if name is None else f"audio.mappings.{name}"
            pairs = self.sets[name] = []
            for i, m in enumerate(entries):
                osc = OscMapping(
                    f"{prefix}/{m.feature}/{i}",
                    m.target,
                    range=m.range or unit_range(m.feature),
                    to=m.to,
                    curve=m.curve,
                )
                pairs.append((osc, m))
                paths.append(f"{where}[{i}]")
        self.maps = [osc for pairs in self.sets.values() for osc, _ in pairs]
        self.space = make_space(self.maps)
        for problem in self.space.problems:
            for k, osc in enumerate(self.maps):
                problem = problem.replace(f"osc.map[{k}] ({osc.address})", paths[k])
            log.error("audio: %s (mapping skipped)", problem)
        # envelope mappings: address -> (param address, bottom, top, attack, release)
        self.flashes: dict[str, tuple[str, float, float, float, float]] = {}
        for osc, m in (pair for pairs in self.sets.values() for pair in pairs):
            method = self.space.methods.get(osc.address)
            if m.envelope is not None and method is not None and method.kind == "map":
                bottom, top = self.space.maps[int(method.key)][2]
                self.flashes[osc.address] = (m.target, bottom, top, *m.envelope)
        self.releases: dict[str, float] = {}  # a flash's address -> when its release is due
        self.active: str | None = self._set_name()
        self.sent: dict[str, float] = {}
        self.beat_count = 0
        self.tempo_sent = 0.0
        self.last: dict[str, float] | None = None
        self.onset_shown = 0.0  # when the HUD last saw an onset (seconds of audio)
        self.read_time = -1.0
        try:
            self.source = source if source is not None else open_source(spec)
        except AudioUnavailable as e:
            self.error = str(e)
            log.error("audio: %s; the show goes on without it", e)
            return
        smoothing = {"attack": spec.attack, "release": spec.release}
        config = config_for(self.source.sample_rate, spec.bands, smoothing, spec.smoothing)
        self.analyzer = Analyzer(self.source, Features(config))
        if start:
            self.source.start()
            self.analyzer.start()

    def _set_name(self) -> str | None:
        """The current scene's set: a name, None for [[audio.map]], "" for none."""
        chosen = getattr(self.scene(), "audio", None) if self.scene is not None else None
        if chosen is None:
            return self.spec.mapping  # (None: the [[audio.map]] entries)
        return chosen

    def _current(self) -> list[tuple[OscMapping, AudioMap]]:
        """The mappings of the current scene's set (a change of set starts the new one)."""
        name = self._set_name()
        if name != self.active:
            self.active = name
            shown = "none" if name == "" else repr(name or "[[audio.map]]")
            log.info("audio: mapping set %s", shown)
            for osc, _ in self.sets.get(name, []):
                self.sent.pop(osc.address, None)  # the new set sends its values at once
        return self.sets.get(name, [])

    # -- the Input protocol
    def poll(self, t: float, dt: float) -> tuple[list[Cue], list[Reading]]:
        if self.analyzer is None:
            return [], []
        cues, readings = self._read(t)
        return cues + self._release(t), readings

    def _read(self, t: float) -> tuple[list[Cue], list[Reading]]:
        """The newest analysis (if new) as cues and a reading."""
        assert self.analyzer is not None
        now, features, onsets, beats = self.analyzer.latest()
        if features is None or now == self.read_time:
            return [], []
        self.read_time = now
        self.last = features
        if onsets:
            self.onset_shown = now
        cues: list[Cue] = []
        first = self.beat_count + 1  # the beats this poll brings are numbered first..count
        self.beat_count += len(beats)
        for m, entry in self._current():
            if entry.feature == "onset":
                cues += self._fire(m.address, len(onsets), t)
            elif entry.feature == "beat":
                every = entry.beats
                hits = sum(1 for k in range(first, self.beat_count + 1) if k % every == 0)
                cues += self._fire(m.address, hits, t)
            else:
                value = shape(float(features[entry.feature]), entry, m.range)
                if self.sent.get(m.address) != value:
                    self.sent[m.address] = value
                    cues += self._send(m.address, [value])
        if self.spec.tempo == "follow" and features["confidence"] >= TEMPO_CONFIDENCE:
            bpm = features["tempo"]
            if abs(bpm - self.tempo_sent) >= TEMPO_STEP:
                self.tempo_sent = bpm
                cues += self._send("/stage/tempo", [round(bpm, 2)])
        strength = max(self.analyzer.taken_strengths, default=0.0)
        values = {**features, "time": now, "onsets": float(len(onsets)), "onset_strength": strength}
        return cues, [Reading("audio", values, "audio")]

    def _fire(self, address: str, times: int, t: float) -> list[Cue]:
        flash = self.flashes.get(address)
        if flash is not None:  # an envelope: (re)start it once, whatever the count
            if not times:
                return []
            target, _, top, attack, _ = flash
            self.releases[address] = t + attack
            return self._send(target, [top, attack])
        cues: list[Cue] = []
        for _ in range(times):
            cues += self._send(address, [1.0])
            cues += self._send(address, [0.0])  # the release: re-arms a trigger's edge
        return cues

    def _release(self, t: float) -> list[Cue]:
        """The flashes whose attack is over by show time `t`, back to their bottom."""
        cues: list[Cue] = []
        for address, due in list(self.releases.items()):
            if t >= due:
                del self.releases[address]
                target, bottom, _, _, release = self.flashes[address]
                cues += self._send(target, [bottom, release])
        return cues

    def _send(self, address: str, args: list[float]) -> list[Cue]:
        try:
            cues, _ = self.space.handle(address, args)
        except Exception as e:  # a mapping the space refuses: skip it, say so once
            if address not in self.sent:
                log.error("audio: %s: %s", address, e)
                self.sent[address] = float("nan")
            return []
        return [dataclasses.replace(c, source="audio") for c in cues]

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        return {"audio": self.health}

    def health(self) -> PartHealth:
        if self.analyzer is None:
            return PartHealth(FAILED, self.error)
        src = self.source
        figures = {"hops": float(self.analyzer.hops), "dropped": float(src.ring.dropped)}
        return PartHealth(OK, f"{src.kind} {src.name} {src.state}", figures)

    def hud_lines(self) -> list[str]:
        if self.analyzer is None:
            return [f"audio unavailable: {self.error}"]
        f = self.last
        if f is None:
            return [f"audio {self.source.name}: waiting for sound"]
        cells = round(f["level"] * METER)
        line = f"audio {'▮' * cells}{'▯' * (METER - cells)} {f['db']:.0f} dB"
        if self.read_time - self.onset_shown < 0.1:
            line += "  onset!"
        if f["tempo"] > 0:
            line += f"  {f['tempo']:.0f} bpm ({f['confidence']:.1f})"
        return [line]

    def close(self) -> None:
        if self.analyzer is not None:
            self.analyzer.close()
        if self.source is not None:
            self.source.close()
