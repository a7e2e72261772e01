"""Cues in, show state out: which scene and cue, where the latent goes, what the shaders get.

`Controller.apply(cue)` is the one place a cue (from a key, OSC or a replayed log) changes
the show; `params()` blends the scene's shader parameters through fades. Pure: no clocks,
no GL, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from performer.latent import LatentState, Target, orthonormal_directions, seed_vector
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
}
APP_ACTIONS = frozenset({"save", "fullscreen", "hud", "reload", "quit"})


@dataclass
class Controller:
    """Applies cues to a show's state."""

    show: Show
    z_dims: Mapping[str, int]  # model name → latent size
    directions: Mapping[str, np.ndarray] = field(default_factory=dict)  # model → (K, dim) rows
    cue_index: int = 0
    random_count: int = 0

    def __post_init__(self) -> None:
        self.scene_index = self.show.cues[self.cue_index]
        self.latent = LatentState(self.target_for(self.scene))
        self._params_from: dict[str, float] = {}
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
        anchor = (
            np.asarray(scene.z, np.float32) if scene.z is not None else seed_vector(scene.seed, dim)
        )
        if anchor.shape[0] != dim:  # a vector for another model: pad or cut, never crash a show
            anchor = np.resize(anchor, dim).astype(np.float32)
        seed = scene.seed if scene.seed is not None else self.scene_index
        return Target(anchor, scene.drift.speed, scene.drift.amplitude, walk_seed=seed)

    def go_to_scene(self, index: int, fade: float | None = None) -> None:
        index %= len(self.show.scenes)
        self._params_from = self.params()
        self.scene_index = index
        scene = self.scene
        self.latent.go(self.target_for(scene), scene.fade if fade is None else fade)

    def go_to_cue(self, index: int) -> None:
        self.cue_index = index % len(self.show.cues)
        self.go_to_scene(self.show.cues[self.cue_index])

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
            self.go_to_scene(index, float(args[1]) if len(args) > 1 else None)
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
        else:
            raise ValueError(f"unknown cue action {a!r}")
        return False

    def step(self, dt: float) -> np.ndarray:
        self.latent.step(dt)
        return self.latent.z()

    def params(self) -> dict[str, float]:
        """Shader parameters now: show defaults, overlaid by the scene's, ramped through a fade."""
        target = {**self.show.params, **self.scene.params}
        u = self.latent.fade_progress
        if u >= 1.0 or not self._params_from:
            return target
        keys = set(target) | set(self._params_from)
        out = {}
        for k in keys:
            a = self._params_from.get(k, target.get(k))
            b = target.get(k, a)
            out[k] = a + (b - a) * u
        return out
