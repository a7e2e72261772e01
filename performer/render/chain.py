"""One shader chain's render targets and the bookkeeping that lets a frame skip work.

A chain (the programs between `upscale` and `present`) keeps a framebuffer per pass — a
ping-pong pair where the pass reads its own last output (trails, feedback) — at the effects'
working size, for as long as it plays. Each pass remembers what it last drew from (the
serial number of its input and its parameter values): a pass that reads neither time nor its
own history, whose input and parameters did not change, is not drawn again — on software GL
a repeated image then costs almost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import moderngl

from performer.render.shaders import Program

MIX_FRAG = """#version 330 core
// b over a at u_weight; a sits in b's frame at u_rect (x, y, w, h in b's uv), black around
// it: a model crossfade keeps the outgoing picture's aspect; a chain dissolve uses (0,0,1,1).
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_a;
uniform sampler2D u_b;
uniform vec4 u_rect;
uniform float u_weight;
void main() {
    vec2 p = (v_uv - u_rect.xy) / u_rect.zw;
    bool inside = all(greaterThanEqual(p, vec2(0.0))) && all(lessThanEqual(p, vec2(1.0)));
    vec3 a = inside ? texture(u_a, p).rgb : vec3(0.0);
    f_color = vec4(mix(a, texture(u_b, v_uv).rgb, u_weight), 1.0);
}
"""


def smoothstep(u: float) -> float:
    """The fades' easing: 0 → 0, 1 → 1, flat at both ends."""
    u = min(max(u, 0.0), 1.0)
    return u * u * (3.0 - 2.0 * u)


def fit(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[int, int, int, int]:
    """Viewport (x, y, w, h) of `inner`'s aspect ratio, as large as fits, centred in `outer`."""
    scale = min(outer[0] / inner[0], outer[1] / inner[1])
    w = min(outer[0], max(1, round(inner[0] * scale)))
    h = min(outer[1], max(1, round(inner[1] * scale)))
    return (outer[0] - w) // 2, (outer[1] - h) // 2, w, h


def letterbox_rect(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[float, ...]:
    """`fit` in `outer`'s texture coordinates: where a picture of size `inner` sits in
    `outer`'s frame at its own aspect (the display letterboxes the same way)."""
    x, y, w, h = fit(inner, outer)
    return x / outer[0], y / outer[1], w / outer[0], h / outer[1]


def pass_key(program: Program, values: tuple[float, ...], source: int) -> tuple | None:
    """What a pass's output depends on (its source and its parameters' `values`), or None
    when it must be drawn every frame (it reads the time or its own last output)."""
    if program.u_time is not None or program.uses_previous:
        return None
    return (source, *values)


@dataclass
class ChainTargets:
    """The framebuffers of one chain at one working size."""

    names: tuple[str, ...]
    targets: list[list[moderngl.Framebuffer]]
    write: list[int] = field(default_factory=list)  # which of a pair the pass writes next
    stale: list[bool] = field(default_factory=list)  # skipped: its feedback history is old
    keys: list[tuple | None] = field(default_factory=list)  # what each pass last drew from
    serials: list[int] = field(default_factory=list)  # each pass output's serial number
    used: int = 0  # the draw in which the chain last ran

    def __post_init__(self) -> None:
        n = len(self.names)
        self.write, self.stale = [0] * n, [False] * n
        self.keys, self.serials = [None] * n, [0] * n

    @classmethod
    def make(
        cls,
        names: tuple[str, ...],
        programs: Mapping[str, Program],
        framebuffer: Callable[[str], moderngl.Framebuffer],
    ) -> ChainTargets:
        """8-bit between passes (llvmpipe's fast path); 16-bit float where a pass feeds back
        into itself, or a decaying trail would get stuck at a faint 8-bit residue."""
        targets = [
            [framebuffer("f2"), framebuffer("f2")]
            if programs[name].uses_previous
            else [framebuffer("f1")]
            for name in names
        ]
        return cls(names, targets)

    def last_written(self, i: int) -> moderngl.Texture:
        pair = self.targets[i]
        return pair[0 if len(pair) == 1 else 1 - self.write[i]].color_attachments[0]

    def release(self) -> None:
        for pair in self.targets:
            for fbo in pair:
                fbo.color_attachments[0].release()
                fbo.release()
        self.targets = []
