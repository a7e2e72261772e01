"""What a composition automates on top of the scenes: tempo, beats, parameter overrides, blackout,
flashes.

Pure, like `control`: time is the sum of the `dt`s it is stepped by, so a show replays exactly.
The `Controller` owns one `Automation` and hands it the cues that are not about scenes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from performer.core.latent import smoothstep
from performer.render.shaders import ParamSpec

# Parameters the engine reads (not a shader): set by OSC, a cue step or the show like any other.
ENGINE_PARAMS: dict[str, ParamSpec] = {
    "latent.speed": ParamSpec(default=1.0, min=0.0, max=10.0),  # × the scene's drift speed
    "latent.amplitude": ParamSpec(default=1.0, min=0.0, max=4.0),  # × the scene's drift amplitude
    "latent.per_beat": ParamSpec(default=0.0, min=0.0, max=4.0),  # >0: drift in cycles per beat
    "video.mix": ParamSpec(default=0.0, min=0.0, max=1.0),  # camera through the VAE (face_rig)
    # StyleGAN generators (engine/worker.py): truncation ψ (unset: the checkpoint's own ψ),
    # and style mixing with a scene's `mix` scene: the amount, the first w layer taken over
    "truncation.psi": ParamSpec(default=1.0, min=0.0, max=1.5),
    "style.mix": ParamSpec(default=1.0, min=0.0, max=1.0),
    "style.crossover": ParamSpec(default=4.0, min=0.0, max=32.0),  # unset: num_ws // 2
    # network bending (engine/bending.py, every kind): ops on the feature maps at `bend.layer`
    # (0 … 1: the depth along the generator's conv layers); each op's default is "off"
    "bend.layer": ParamSpec(default=0.5, min=0.0, max=1.0),
    "bend.translate_x": ParamSpec(default=0.0, min=-1.0, max=1.0),  # fraction of the map, wraps
    "bend.translate_y": ParamSpec(default=0.0, min=-1.0, max=1.0),
    "bend.rotate": ParamSpec(default=0.0, min=-180.0, max=180.0),  # degrees
    "bend.scale": ParamSpec(default=1.0, min=0.25, max=4.0),  # zoom about the centre
    "bend.flip": ParamSpec(default=0.0, min=0.0, max=1.0),  # ≥ 0.5: left-right
    "bend.invert": ParamSpec(default=0.0, min=0.0, max=1.0),  # blend toward −x
    "bend.erode": ParamSpec(default=0.0, min=0.0, max=1.0),  # blend toward the 3×3 min
    "bend.dilate": ParamSpec(default=0.0, min=0.0, max=1.0),  # blend toward the 3×3 max
    "bend.multiply": ParamSpec(default=1.0, min=-4.0, max=4.0),  # gain
    "bend.threshold": ParamSpec(default=0.0, min=0.0, max=1.0),  # blend toward mean ± std
    "bend.ablate": ParamSpec(default=0.0, min=0.0, max=1.0),  # fraction of channels zeroed
    "bend.isolate": ParamSpec(default=1.0, min=0.0, max=1.0),  # fraction of channels kept
    "bend.noise": ParamSpec(default=0.0, min=0.0, max=4.0),  # × the map's std, per frame
}
MASTER = "present.master"  # the output's brightness (present.glsl); blackout multiplies it
BLACKOUT_FADE = 1.0  # seconds, when a blackout cue names no fade
FLASH = "strobe.amount"  # a flash drives the strobe program (shaders/strobe.glsl)
FLASH_RELEASE = 0.25  # seconds a flash takes to fall back, when it names no release
TEMPO_RANGE = (20.0, 999.0)

_BEATS = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(b|beat|beats)\s*$", re.IGNORECASE)


def parse_beats(value: object) -> float | None:
    """`"8b"`, `"8 beats"` → 8.0; anything else → None."""
    if isinstance(value, str) and (m := _BEATS.match(value)):
        return float(m.group(1))
    return None


@dataclass
class Tempo:
    """Beats per minute, set outright or tapped with beats (the median of the last intervals)."""

    bpm: float = 120.0
    last_beat: float | None = None
    intervals: list[float] = field(default_factory=list)

    def set(self, bpm: float) -> None:
        self.bpm = min(max(float(bpm), TEMPO_RANGE[0]), TEMPO_RANGE[1])
        self.intervals.clear()

    def beat(self, now: float) -> None:
        """A beat arrived at `now`: taps between 20 and 999 bpm refine the tempo; a longer gap
        starts counting afresh."""
        if self.last_beat is not None:
            gap = now - self.last_beat
            if 60.0 / TEMPO_RANGE[1] <= gap <= 60.0 / TEMPO_RANGE[0]:
                self.intervals = (self.intervals + [gap])[-4:]
                ordered = sorted(self.intervals)
                self.bpm = 60.0 / ordered[len(ordered) // 2]
            else:
                self.intervals.clear()
        self.last_beat = now

    def seconds(self, beats: float) -> float:
        return float(beats) * 60.0 / self.bpm


@dataclass
class Ramp:
    """A value moving from `start` to `end` over `duration` seconds from `t0` (smoothstep)."""

    start: float
    end: float
    t0: float = 0.0
    duration: float = 0.0

    def at(self, now: float) -> float:
        if self.duration <= 0 or now >= self.t0 + self.duration:
            return self.end
        return self.start + (self.end - self.start) * smoothstep((now - self.t0) / self.duration)


class Flash:
    """A flash: full on the first frame after it is fired, then falling back to nothing over
    `release` seconds (quadratically: a light's fast fall, then its glow)."""

    def __init__(self) -> None:
        self.fired: float | None = None  # the clock of its first frame
        self.release = 0.0
        self.pending = False

    def fire(self, release: float) -> None:
        self.release, self.pending = max(float(release), 0.0), True

    def step(self, clock: float) -> None:
        if self.pending:  # the frame after the cue shows it at full, however long the frame
            self.fired, self.pending = clock, False

    def level(self, clock: float) -> float:
        if self.fired is None:
            return 0.0
        elapsed = clock - self.fired
        if elapsed <= 0.0:
            return 1.0
        if elapsed >= self.release:
            return 0.0
        return (1.0 - elapsed / self.release) ** 2


class Automation:
    """Tempo, OSC parameter overrides (held until the next scene change), a cue's own parameters,
    the blackout fade and flashes."""

    def __init__(self, bpm: float = 120.0) -> None:
        self.clock = 0.0
        self.tempo = Tempo()
        self.tempo.set(bpm)
        self.overrides: dict[str, Ramp] = {}
        self.cue_params: dict[str, float] = {}
        self.blackout = Ramp(0.0, 0.0)
        self.flash = Flash()

    def step(self, dt: float) -> None:
        self.clock += max(float(dt), 0.0)
        self.flash.step(self.clock)

    def seconds(self, fade: object) -> float:
        """A fade given as seconds (a number) or beats (`"8b"`), in seconds at the current tempo."""
        beats = parse_beats(fade)
        if beats is not None:
            return self.tempo.seconds(beats)
        if isinstance(fade, str):
            fade = fade.strip().removesuffix("s")
        seconds = float(fade)  # type: ignore[arg-type]
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a fade must be seconds ≥ 0 or beats like '8b', got {fade!r}")
        return seconds

    def set_param(
        self, name: str, value: float, ramp: float = 0.0, current: float | None = None
    ) -> None:
        """Override a parameter until the next scene change, ramping from its `current` value
        over `ramp` seconds."""
        start = value if current is None else current
        self.overrides[name] = Ramp(start, float(value), self.clock, ramp)

    def set_blackout(self, on: bool, fade: float = BLACKOUT_FADE) -> None:
        level = self.blackout.at(self.clock)
        self.blackout = Ramp(level, 1.0 if on else 0.0, self.clock, max(fade, 0.0))

    @property
    def blacked_out(self) -> bool:
        return self.blackout.end >= 1.0

    def scene_changed(self, cue_params: Mapping[str, float] | None = None) -> None:
        """A new scene takes over from the overrides (it fades from their values)."""
        self.overrides.clear()
        self.cue_params = dict(cue_params or {})

    def overlay(self, params: Mapping[str, float], output: bool = True) -> dict[str, float]:
        """`params` with the overrides on top; with `output`, also a flash and the blackout."""
        out = dict(params)
        for name, ramp in self.overrides.items():
            out[name] = ramp.at(self.clock)
        if output:
            flash = self.flash.level(self.clock)
            if flash > 0.0:
                out[FLASH] = max(out.get(FLASH, 0.0), flash)
            level = self.blackout.at(self.clock)
            if level > 0.0:
                out[MASTER] = out.get(MASTER, 1.0) * (1.0 - level)
        return out

    def drift_rate(self, params: Mapping[str, float], scene_speed: float) -> float:
        """The drift's phase rate: the scene's speed, or cycles per beat at the tempo, × speed."""
        per_beat = params.get("latent.per_beat", 0.0)
        rate = per_beat * self.tempo.bpm / 60.0 if per_beat > 0 else scene_speed
        return rate * params.get("latent.speed", 1.0)


# Cue actions the automation layer applies to a Controller (see control.Controller.apply).
AUTOMATION_ACTIONS = frozenset({"param", "tempo", "beat", "blackout", "flash", "z", "offset"})


def automate(c: Any, action: str, args: tuple) -> None:
    """Apply one of AUTOMATION_ACTIONS to Controller `c`; ValueError/IndexError on bad args."""
    auto: Automation = c.auto
    if action == "param":  # name, value [, ramp seconds | "8b"]
        name, value = str(args[0]), float(args[1])
        ramp = auto.seconds(args[2]) if len(args) > 2 else 0.0
        current = auto.overlay(c._blend(), output=False).get(name) if ramp > 0 else None
        auto.set_param(name, value, ramp, current)  # ramps from where it is (not blacked out)
    elif action == "tempo":
        auto.tempo.set(float(args[0]))
    elif action == "beat":
        auto.tempo.beat(auto.clock)
    elif action == "blackout":  # on [, fade]
        auto.set_blackout(bool(args[0]), auto.seconds(args[1]) if len(args) > 1 else BLACKOUT_FADE)
    elif action == "flash":  # [release seconds | "1b"]
        auto.flash.fire(auto.seconds(args[0]) if args else FLASH_RELEASE)
    elif action == "z":  # a whole latent vector: the anchor, padded or cut to the model's size
        dim = c.z_dims[c.model]
        z = np.resize(np.asarray(args, np.float32), dim).astype(np.float32)
        c.latent.target = replace(c.latent.target, anchor=z)
    elif action == "offset":  # direction (name or 1-based number), value: set the offset along it
        dirs = c.directions[c.model]
        k = direction_index(args[0], c.direction_names.get(c.model, ()), len(dirs))
        d = dirs[k]
        here = float(np.dot(c.latent.offset, d)) / max(float(np.dot(d, d)), 1e-12)
        c.latent.nudge(d, float(args[1]) - here)
    else:
        raise ValueError(f"unknown automation action {action!r}")


def direction_index(ref: object, names: Sequence[str], count: int) -> int:
    """A direction by its checkpoint name, or by number 1..count (as the rehearsal keys count)."""
    if isinstance(ref, str) and ref in names:
        return list(names).index(ref)
    k = int(ref)  # type: ignore[call-overload]
    if not 1 <= k <= count:
        raise ValueError(f"no latent direction {ref!r}: use 1..{count} or a name in {list(names)}")
    return k - 1


def drive(auto: Automation, latent: Any, params: Mapping[str, float]) -> None:
    """Engine parameters → the latent walk, once a frame before it steps."""
    latent.rate = auto.drift_rate(params, latent.target.speed)
    latent.amplitude_scale = params.get("latent.amplitude", 1.0)
