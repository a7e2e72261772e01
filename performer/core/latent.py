"""Where the show is in latent space: anchors, drift, nudges and cross-fades, as pure math.

`LatentState.step(dt)` advances the walk; `z()` is the point to decode. Scene changes fade
by spherical interpolation from wherever the show is to the new scene. No clocks, no I/O:
the caller passes time, so a show replays exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.seeds import seed_vector as seed_vector  # re-exported: shows import it from here


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between a and b (norms interpolated linearly), t in [0, 1]."""
    t = min(max(float(t), 0.0), 1.0)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-8 or nb < 1e-8:
        return ((1 - t) * a + t * b).astype(np.float32)
    ua, ub = a / na, b / nb
    omega = math.acos(min(max(float(np.dot(ua, ub)), -1.0), 1.0))
    if omega < 1e-4:
        direction = (1 - t) * ua + t * ub
    else:
        s = math.sin(omega)
        direction = (math.sin((1 - t) * omega) * ua + math.sin(t * omega) * ub) / s
    return (direction * ((1 - t) * na + t * nb)).astype(np.float32)


def smoothstep(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def orthonormal_directions(dim: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` random orthonormal directions (rows), until analysis supplies better ones."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, min(count, dim))))
    return q.T.astype(np.float32)


@dataclass
class Walk:
    """A smooth, bounded wander: each latent dimension a sum of two slow sines with its own
    frequencies and phases. `phase` advances by speed·dt, so freezing or changing speed never
    jumps."""

    freqs: np.ndarray  # (2, dim)
    phases: np.ndarray  # (2, dim)

    @classmethod
    def for_seed(cls, seed: int, dim: int) -> Walk:
        rng = np.random.default_rng(10_007 + seed)
        return cls(rng.uniform(0.5, 1.5, (2, dim)), rng.uniform(0, 2 * math.pi, (2, dim)))

    def at(self, phase: float) -> np.ndarray:
        x = np.sin(2 * math.pi * self.freqs * phase + self.phases).sum(axis=0) / math.sqrt(2)
        return x.astype(np.float32)


@dataclass
class Target:
    """A place in latent space: an anchor plus a drift around it."""

    anchor: np.ndarray
    speed: float = 0.0
    amplitude: float = 0.0
    walk_seed: int = 0


class LatentState:
    """The show's latent point. Pure: advanced by `step(dt)`, read by `z()`."""

    def __init__(self, target: Target) -> None:
        self.dim = int(target.anchor.shape[0])
        self.target = target
        self.walk = Walk.for_seed(target.walk_seed, self.dim)
        self.phase = 0.0
        self.frozen = False
        self.rate: float | None = None  # drift phase rate overriding the target's speed (tempo)
        self.amplitude_scale = 1.0  # × the target's drift amplitude (automation)
        self.offset = np.zeros(self.dim, np.float32)  # nudges along directions, from keys/OSC
        self._from: np.ndarray | None = None  # where a latent fade started (None: a cut)
        self._fading = False
        self._fade = 0.0
        self._elapsed = 0.0

    # -- reading
    def target_z(self) -> np.ndarray:
        t = self.target
        amplitude = t.amplitude * self.amplitude_scale
        drift = amplitude * self.walk.at(self.phase) if amplitude > 0 else 0.0
        return (t.anchor + drift + self.offset).astype(np.float32)

    def z(self) -> np.ndarray:
        if self._from is None:
            return self.target_z()
        return slerp(self._from, self.target_z(), smoothstep(self.fade_progress))

    @property
    def fade_progress(self) -> float:
        """0 at the start of a fade, 1 when done (or when no fade is running)."""
        if not self._fading or self._fade <= 0:
            return 1.0
        return min(self._elapsed / self._fade, 1.0)

    # -- changing
    def step(self, dt: float) -> None:
        dt = max(float(dt), 0.0)
        if not self.frozen:
            self.phase += (self.target.speed if self.rate is None else self.rate) * dt
        if self._fading:
            self._elapsed += dt
            if self._elapsed >= self._fade:
                self._from, self._fading = None, False

    def go(self, target: Target, fade: float, cut: bool = False) -> None:
        """Move to a new target, fading from wherever the show is now over `fade` seconds.
        A `cut` (or a target in a latent space of another size: another model) jumps, but the
        fade clock still runs, for the image-space crossfade and parameter ramps."""
        here = self.z()
        dim = int(target.anchor.shape[0])
        cut = cut or dim != self.dim
        self.dim = dim
        self.target = target
        self.walk = Walk.for_seed(target.walk_seed, self.dim)
        self.offset = np.zeros(self.dim, np.float32)
        self._fading, self._fade, self._elapsed = fade > 0, max(float(fade), 0.0), 0.0
        self._from = here if self._fading and not cut else None

    def nudge(self, direction: np.ndarray, amount: float) -> None:
        self.offset = (self.offset + amount * direction).astype(np.float32)
