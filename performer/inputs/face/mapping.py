"""Face features → movement in latent space and shader parameters, as pure math.

A mapping: feature → dead zone, curve, gain, clamp → a latent direction or a parameter.
`FaceControl` eases the face in and out (found / lost) and cross-fades mapping sets per scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from performer.core.latent import smoothstep
from performer.inputs.face.features import FEATURES

TARGETS = ("direction", "principal", "scenes", "param")


@dataclass(frozen=True)
class FaceMapping:
    """One line of a mapping table. `ref`: for "direction" a checkpoint direction's name or a
    1-based number (as the nudge keys count), for "principal" k (1-based), for "scenes" the
    pair (from, to), for "param" a "program.param" or engine parameter name."""

    feature: str
    target: str
    ref: str | int | tuple[str, str]
    gain: float = 1.0
    dead_zone: float = 0.0  # in the feature's normalised units (see `normalised`)
    curve: float = 1.0  # exponent on the magnitude: > 1 gentle near rest, < 1 eager
    clamp: tuple[float, float] | None = None  # bounds on the output

    @property
    def label(self) -> str:
        ref = "→".join(self.ref) if isinstance(self.ref, tuple) else self.ref
        return f"{self.feature}→{self.target}:{ref}"


def normalised(feature: str, value: float) -> float:
    """A feature's value as (value − rest) / scale: about [-1, 1] (yaw 90° → 1, eyes shut → -1)."""
    spec = FEATURES[feature]
    return (value - spec.rest) / spec.scale


def shape(value: float, m: FaceMapping) -> float:
    """The mapping's output for a feature value: dead zone (continuous: the output starts
    from 0 at its edge), curve, gain, clamp."""
    u = normalised(m.feature, value)
    a = abs(u)
    if a <= m.dead_zone:
        return 0.0 if m.clamp is None else min(max(0.0, m.clamp[0]), m.clamp[1])
    a = (a - m.dead_zone) / (1.0 - m.dead_zone) if m.dead_zone < 1.0 else 0.0
    out = math.copysign(a**m.curve, u) * m.gain
    if m.clamp is not None:
        out = min(max(out, m.clamp[0]), m.clamp[1])
    return out


class Envelope:
    """A level in [0, 1] that ramps toward on/off over `ease_in` / `ease_out` seconds;
    `level` is smoothstepped, so the contribution starts and stops without a kink."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def step(self, on: bool, dt: float, ease_in: float, ease_out: float) -> float:
        dt = max(float(dt), 0.0)
        if on:
            self.value = 1.0 if ease_in <= 0 else min(1.0, self.value + dt / ease_in)
        else:
            self.value = 0.0 if ease_out <= 0 else max(0.0, self.value - dt / ease_out)
        if self.value < 1e-9 or self.value > 1 - 1e-9:  # land exactly (float steps do not)
            self.value = float(round(self.value))
        return self.level

    @property
    def level(self) -> float:
        return smoothstep(self.value)


# mapping, model name → the latent vector it moves along (None: not available for this model)
Resolver = Callable[[FaceMapping, str], np.ndarray | None]
OFF = ""  # a scene's mapping set name that means "the face steers nothing here"


@dataclass(frozen=True)
class ParamRange:
    default: float
    min: float
    max: float


class FaceControl:
    """The face's part in the show, per frame: `observe(features)`, `step(dt)`, then read
    `offset(model)` (added to the latent) and `apply_params(params)`. Pure: no clocks."""

    def __init__(
        self,
        sets: Mapping[str, Sequence[FaceMapping]],
        default: str | None,
        resolve: Resolver,
        *,
        ease_in: float = 0.5,
        ease_out: float = 1.0,
        params: Mapping[str, ParamRange] | None = None,
        enabled: bool = True,
    ) -> None:
        self.sets = {k: tuple(v) for k, v in sets.items()}
        self.default = default if default in self.sets else next(iter(self.sets), OFF)
        self.resolve = resolve
        self.ease_in, self.ease_out = ease_in, ease_out
        self.param_ranges = dict(params or {})
        self.enabled = enabled
        self.presence = Envelope()
        self.features: dict[str, float] = {}  # the latest seen; held while the face is lost
        self.present = False
        self.active = self.default  # the set now in use
        self._from: str | None = None  # the set being faded out, during a switch
        self._switch = 1.0  # switch progress, 0 → 1
        self._switch_s = 0.0
        self._vectors: dict[tuple[int, str], np.ndarray | None] = {}

    # -- inputs
    def observe(self, features: Mapping[str, float] | None) -> None:
        """This frame's smoothed features, or None when there is no face."""
        self.present = features is not None
        if features is not None:
            self.features = dict(features)

    def toggle(self, on: bool | None = None) -> bool:
        """Face control on / off (None: flip); it eases in and out like a found / lost face."""
        self.enabled = (not self.enabled) if on is None else bool(on)
        return self.enabled

    def toggle_cue(self, args: tuple) -> str:
        """The "face" cue: [0|1] (no argument: flip). Returns a line for the HUD."""
        try:
            on = None if not args else bool(float(args[0]))
        except (TypeError, ValueError):
            return f"ignored face {args!r}: expected 0 or 1"
        return f"face control {'on' if self.toggle(on) else 'off'}"

    def switch(self, name: str | None, fade: float) -> None:
        """The scene changed: use mapping set `name` (None: the show's default, OFF: none),
        cross-fading from the current set over `fade` seconds."""
        name = self.default if name is None else name
        if name == self.active:
            return
        self._from, self.active = self.active, name
        self._switch, self._switch_s = (0.0, float(fade)) if fade > 0 else (1.0, 0.0)

    def step(self, dt: float) -> None:
        self.presence.step(self.present and self.enabled, dt, self.ease_in, self.ease_out)
        if self._switch < 1.0:
            self._switch = min(1.0, self._switch + max(dt, 0.0) / self._switch_s)
            if self._switch >= 1.0:
                self._from = None

    @property
    def in_use(self) -> bool:
        """Whether the face steers anything now: a set with mappings is playing, or fading
        out during a scene change."""
        fading = self._from is not None and self._switch < 1.0
        sets = (self.active, self._from) if fading else (self.active,)
        return any(self.sets.get(name) for name in sets if name is not None)

    # -- outputs
    @property
    def level(self) -> float:
        """How much the face steers now, 0 … 1."""
        return self.presence.level

    def _weights(self) -> list[tuple[str, float]]:
        level = self.presence.level
        if level <= 0.0:
            return []
        if self._from is None:
            return [(self.active, level)]
        u = smoothstep(self._switch)
        return [(self._from, level * (1 - u)), (self.active, level * u)]

    def _vector(self, m: FaceMapping, model: str) -> np.ndarray | None:
        key = (id(m), model)
        if key not in self._vectors:
            v = self.resolve(m, model)
            self._vectors[key] = None if v is None else np.asarray(v, np.float32)
        return self._vectors[key]

    def outputs(self, name: str) -> list[tuple[FaceMapping, float]]:
        """Each mapping of a set with its output now (before the ease level)."""
        out = []
        for m in self.sets.get(name, ()):
            value = self.features.get(m.feature)
            out.append((m, 0.0 if value is None else shape(value, m)))
        return out

    def offset(self, model: str, dim: int) -> np.ndarray:
        """The face's move in the latent space of `model` (a `dim`-vector)."""
        total = np.zeros(dim, np.float32)
        for name, weight in self._weights():
            for m, amount in self.outputs(name):
                if m.target == "param" or amount == 0.0:
                    continue
                v = self._vector(m, model)
                if v is not None and v.shape[0] == dim:
                    total += (weight * amount) * v
        return total

    def apply_params(self, params: Mapping[str, float]) -> dict[str, float]:
        """`params` with the face's parameter mappings added, clamped to each one's range."""
        out = dict(params)
        for name, weight in self._weights():
            for m, amount in self.outputs(name):
                if m.target != "param" or amount == 0.0:
                    continue
                key = str(m.ref)
                spec = self.param_ranges.get(key)
                base = out.get(key, spec.default if spec else 0.0)
                value = base + weight * amount
                if spec is not None:
                    value = min(max(value, spec.min), spec.max)
                out[key] = value
        return out


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-8)
