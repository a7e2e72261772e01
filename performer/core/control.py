"""Cues in, show state out: which scene and cue, where the latent goes, what the shaders get.

`Controller.apply(cue)` is the one place a cue (from a key, OSC or a replayed log) changes
the show; `params()` blends the scene's shader parameters through fades. Pure: no clocks,
no GL, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from performer.core.automation import (
    AUTOMATION_ACTIONS,
    ENGINE_PARAMS,
    Automation,
    automate,
    drive,
)
from performer.core.latent import LatentState, Target, orthonormal_directions, seed_vector
from performer.inputs.face.mapping import FaceControl
from performer.show import Scene, Show


@dataclass(frozen=True)
class Cue:
    """One discrete instruction to the show. `action` is one of ACTIONS; `args` its values."""

    action: str
    args: tuple = ()
    source: str = "key"


# action → what the app does with it besides the controller (None: the controller handles it)
ACTIONS = {
    "next": "go to the next cue",
    "prev": "go to the previous cue",
    "cue": "go to cue N (0-based)",
    "scene": "go to scene N (0-based) or by name",
    "nudge": "move along latent direction K by an amount",
    "random": "jump to a new random point",
    "freeze": "freeze / unfreeze drift",
    "save": "save the current point as a new scene in the presets file",
    "fullscreen": "toggle fullscreen",
    "hud": "toggle the HUD",
    "reload": "reload shaders from disk",
    "quit": "end the show",
    # from OSC (performer/inputs/osc/space.py); parameters hold until the next scene change
    "param": "set a shader or engine parameter: name, value [, ramp seconds or '8b']",
    "tempo": "set the tempo in bpm",
    "beat": "a beat: taps the tempo",
    "blackout": "fade to black (1) or back (0) [, fade]",
    "flash": "flash the strobe to full, falling back over [release seconds or '1b']",
    "z": "set the latent anchor to a vector",
    "offset": "set the offset along latent direction (name or 1-based number) to a value",
    "face": "face control on (1) / off (0)",
    "calibrate": "calibrate the face's neutral pose",
    "record": "start (1) / stop (0) recording a take",
}
APP_ACTIONS = frozenset(
    {
        "save",
        "fullscreen",
        "hud",
        "reload",
        "quit",
        "face",
        "calibrate",
        "record",
        "follow",
        "learn",
    }
)


# engine parameters whose default means "off": a scene that does not name one has it off
_OFF = {k: spec.default for k, spec in ENGINE_PARAMS.items() if k.startswith("bend.")}


@dataclass
class Controller:
    """Applies cues to a show's state."""

    show: Show
    z_dims: Mapping[str, int]  # model name → latent size
    directions: Mapping[str, np.ndarray] = field(default_factory=dict)  # model → (K, dim) rows
    direction_names: Mapping[str, Sequence[str]] = field(default_factory=dict)  # model → names
    cue_index: int = 0
    random_count: int = 0
    face: FaceControl | None = None  # the performer's face (performer/inputs/face/rig.py sets it)

    def __post_init__(self) -> None:
        self.face_features: Mapping[str, float] | None = None  # the face's latest reading
        self.readings: dict[str, object] = {}  # other inputs' latest readings, by kind
        self.scene_index = self.show.cues[self.cue_index]
        self.latent = LatentState(self.target_for(self.scene))
        self._params_from: dict[str, float] = {}
        self.auto = Automation(self.show.tempo)  # tempo, OSC parameter overrides, blackout
        if self.cue_index < len(self.show.cue_steps):  # the first cue's own parameters
            self.auto.scene_changed(self.show.cue_steps[self.cue_index].params)
        for model, dim in self.z_dims.items():
            if model not in self.directions:
                self.directions = {
                    **self.directions,
                    model: orthonormal_directions(dim, self.show.rehearsal.directions),
                }

    @property
    def scene(self) -> Scene:
        return self.show.scenes[self.scene_index]

    @property
    def model(self) -> str:
        return self.scene.model

    def target_for(self, scene: Scene) -> Target:
        dim = self.z_dims[scene.model]
        seed = scene.seed if scene.seed is not None else self.scene_index
        anchor = np.asarray(scene.z, np.float32) if scene.z is not None else seed_vector(seed, dim)
        if anchor.shape[0] != dim:  # a vector for another model: pad or cut, never crash a show
            anchor = np.resize(anchor, dim).astype(np.float32)
        return Target(anchor, scene.drift.speed, scene.drift.amplitude, walk_seed=seed)

    def go_to_scene(
        self, index: int, fade: float | str | None = None, params: Mapping | None = None
    ) -> None:
        """Fade to a scene; `fade` in seconds or beats ("8b"); `params` a cue step's own."""
        index %= len(self.show.scenes)
        seconds = None if fade is None else self.auto.seconds(fade)
        self._params_from = self.auto.overlay(self._blend(), output=False)
        self.auto.scene_changed(params)
        before = self.model
        self.scene_index = index
        scene = self.scene
        self.latent.go(
            self.target_for(scene),
            scene.fade if seconds is None else seconds,
            cut=scene.model != before,  # another model: the stage crossfades images instead
        )
        if self.face is not None:  # the scene's face mappings take over over the same fade
            self.face.switch(scene.face, scene.fade if seconds is None else seconds)

    def go_to_cue(self, index: int) -> None:
        self.cue_index = index % len(self.show.cues)
        steps = self.show.cue_steps
        step = steps[self.cue_index] if self.cue_index < len(steps) else None
        if step is None:
            self.go_to_scene(self.show.cues[self.cue_index])
        else:
            self.go_to_scene(self.show.cues[self.cue_index], step.fade_arg, step.params)
            if step.flash is not None:  # the cue lands with a flash
                automate(self, "flash", (step.flash,))

    def apply(self, cue: Cue) -> bool:
        """Apply a cue; returns True when the app must act on it (APP_ACTIONS)."""
        a, args = cue.action, cue.args
        if a in APP_ACTIONS:
            return True
        if a == "next":
            self.go_to_cue(self.cue_index + 1)
        elif a == "prev":
            self.go_to_cue(self.cue_index - 1)
        elif a == "cue":
            self.go_to_cue(int(args[0]))
        elif a == "scene":
            ref = args[0]
            index = self.show.scene_index(ref) if isinstance(ref, str) else int(ref)
            self.go_to_scene(index, args[1] if len(args) > 1 else None)
        elif a == "nudge":
            dirs = self.directions[self.model]
            self.latent.nudge(dirs[int(args[0]) % len(dirs)], float(args[1]))
        elif a == "random":
            self.random_count += 1
            dim = self.z_dims[self.model]
            anchor = seed_vector(1_000_003 + self.random_count, dim)
            t = self.latent.target
            self.latent.go(Target(anchor, t.speed, t.amplitude, t.walk_seed), fade=1.0)
        elif a == "freeze":
            self.latent.frozen = not self.latent.frozen
        elif a in AUTOMATION_ACTIONS:
            automate(self, a, args)
        else:
            raise ValueError(f"unknown cue action {a!r}")
        return False

    def read(self, kind: str, value: object) -> None:
        """An input's continuous reading (the latest wins): "face" → its smoothed features, or
        None while the face is lost; any other kind is kept by kind."""
        if kind == "face":
            self.face_features = value  # type: ignore[assignment]
        else:  # others (audio features …) steer through their mappings' cues; kept for display
            self.readings[kind] = value

    def toggle_face(self, args: tuple) -> str:
        """The "face" cue: face control [0|1] (no argument: flip); a line for the HUD."""
        if self.face is None:
            return "no [face] here"
        return self.face.toggle_cue(args)

    def add_scene(self, scene: Scene) -> None:
        """A scene saved in rehearsal joins the show (after its own)."""
        self.show = replace(self.show, scenes=self.show.scenes + (scene,))

    def step(self, dt: float) -> np.ndarray:
        self.auto.step(dt)
        drive(self.auto, self.latent, self.params())
        self.latent.step(dt)
        if self.face is not None:  # the face's move, eased in and out (inputs/face/mapping.py)
            self.face.observe(self.face_features)
            self.face.step(dt)
            return self.latent.z() + self.face.offset(self.model, self.z_dims[self.model])
        return self.latent.z()

    def params(self) -> dict[str, float]:
        """Shader and engine parameters now: the scenes' blend, then OSC overrides, blackout."""
        out = self.auto.overlay(self._blend())
        return out if self.face is None else self.face.apply_params(out)

    def style(self) -> dict[str, object]:
        """What a StyleGAN generator plays now (the engine ignores it for other kinds): "psi",
        the truncation (None: the checkpoint's own ψ); "mix_z", the latent of the scene's `mix`
        scene (None: no mixing); "mix", how far its layers are taken over (0 … 1); "crossover",
        the first w layer taken from it (None: half the layers). For every kind: "bend", the
        `bend.*` parameters set now without their prefix (engine/bending.py; empty: no bending),
        and "bend_seed", the show clock in ms (bend.noise: the same frame, the same noise)."""
        p = self.params()
        scene = self.scene
        mix_z = None
        if scene.mix is not None:
            names = [s.name for s in self.show.scenes]
            if scene.mix in names:
                other = self.show.scenes[names.index(scene.mix)]
                anchor = self.target_for(other).anchor
                mix_z = np.resize(anchor, self.z_dims[self.model]).astype(np.float32)
        crossover = p.get("style.crossover")
        return {
            "psi": p.get("truncation.psi"),
            "mix_z": mix_z,
            "mix": p.get("style.mix", 1.0) if mix_z is not None else 0.0,
            "crossover": None if crossover is None else int(round(crossover)),
            "bend": {k[5:]: float(v) for k, v in p.items() if k.startswith("bend.")},
            "bend_seed": int(round(self.auto.clock * 1000)),
        }

    def _blend(self) -> dict[str, float]:
        """Show defaults, overlaid by the scene's (and its cue's), ramped through a fade."""
        target = {**self.show.params, **self.scene.params, **self.auto.cue_params}
        u = self.latent.fade_progress
        if u >= 1.0 or not self._params_from:
            return target
        keys = set(target) | set(self._params_from)
        out = {}
        for k in keys:
            off = _OFF.get(k)  # a bend one side does not name fades from / to "off"
            a = self._params_from.get(k, target.get(k) if off is None else off)
            b = target.get(k, a if off is None else off)
            out[k] = a + (b - a) * u
        return out
