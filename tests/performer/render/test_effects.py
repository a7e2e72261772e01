"""The effect shelf: each program of shaders/ checked on small synthetic images against a
numpy reference (or a property: symmetry, mean, accumulation), its defaults leaving the
picture alone, and `stage check` accepting a show whose chain uses every one of them.

A 64x64 frame drawn into a 64x64 output with nearest upscaling reaches the effects
unresampled, so a pass's output can be compared pixel for pixel with numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from performer.render.display import Display
from performer.render.shaders import check_shader, shader_params

SHADERS = Path(__file__).resolve().parents[3] / "shaders"
N = 64
EFFECTS = [
    "feedback",
    "displace",
    "kaleido",
    "mirror",
    "bloom",
    "chroma",
    "edges",
    "gradient",
    "posterize",
    "pixelate",
    "grain",
    "hue",
    "strobe",
]
NEAREST = {"upscale.filter": 0.0}


def display(chain: list[str]) -> Display:
    return Display(width=N, height=N, chain=chain, shader_dir=SHADERS, headless=True)


def run(
    chain: list[str], frame: np.ndarray, params: dict[str, float], time: float = 0.0
) -> np.ndarray:
    with display(chain) as d:
        d.draw(frame, {**NEAREST, **params}, time)
        return d.read_pixels().astype(float)


def smooth() -> np.ndarray:
    """A smooth colourful 64x64 image (row 0 = top)."""
    y, x = np.mgrid[0:N, 0:N].astype(np.float32)
    rgb = np.stack([x / (N - 1), y / (N - 1), 0.5 + 0.4 * np.sin(x / 7 + y / 11)], axis=-1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def noisy(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (N, N, 3), dtype=np.uint8)


def flat(value: int) -> np.ndarray:
    return np.full((N, N, 3), value, np.uint8)


def err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, float) - np.asarray(b, float))


# --- every program ----------------------------------------------------------------------


@pytest.mark.parametrize("name", EFFECTS)
def test_effect_compiles_and_defaults_leave_the_picture(name: str) -> None:
    assert check_shader(name, SHADERS) is None
    specs = shader_params(name, SHADERS)
    assert specs and all(s.min <= s.default <= s.max for s in specs.values())
    frame = noisy(1)
    # At the defaults the pass is skipped or the identity; nudged off its bypass values
    # (amount a hair above 0, segments/levels 1, size a hair above 1) it really draws and
    # must still be (near) the identity.
    params = {}
    for key, spec in specs.items():
        if spec.default == 0.0 and spec.max > 0 and key in ("amount", "segments", "levels"):
            params[f"{name}.{key}"] = 1e-4 if key == "amount" else 1.0
        elif key == "size" and spec.default == 1.0:
            params[f"{name}.{key}"] = 1.0 + 1e-4  # pixelate: runs, still 1 px blocks
        elif key in ("x", "shift"):
            params[f"{name}.{key}"] = 1e-4  # mirror off, hue turned by a hair
    assert err(run([name], frame, {}), run([], frame, {})).max() == 0  # skipped, or identity
    frame = smooth()  # a hair of displacement on a noisy image would be a visible change
    assert err(run([name], frame, params), run([], frame, {})).max() <= 1  # runs: identity


# --- one by one -------------------------------------------------------------------------


def test_feedback_accumulates_the_previous_frame() -> None:
    white, black = flat(255), flat(0)
    p = {**NEAREST, "feedback.amount": 0.8}
    with display(["feedback"]) as d:
        d.draw(white, p, 0.0)
        d.draw(black, p, 1 / 60)
        assert err(d.read_pixels(), 0.8 * 255).max() <= 2
        d.draw(black, p, 2 / 60)
        assert err(d.read_pixels(), 0.64 * 255).max() <= 2
    # Mixed (blend=1) it is a running average: a constant frame converges to itself.
    grey = flat(200)
    with display(["feedback"]) as d:
        for i in range(40):
            d.draw(grey, {**p, "feedback.blend": 1.0}, i / 60)
        assert err(d.read_pixels(), 200).max() <= 2
    # Offset: last frame's white square reappears moved right by a quarter of the image.
    square = flat(0)
    square[24:40, 8:24] = 255
    q = {**p, "feedback.offset_x": 0.25}
    with display(["feedback"]) as d:
        d.draw(square, q, 0.0)
        d.draw(black, q, 1 / 60)
        out = d.read_pixels().astype(float)
        moved = np.zeros((N, N))
        moved[24:40, 24:40] = 0.8 * 255
        assert err(out[..., 0], moved).max() <= 2
    # Zoom in: a centred square grows by the zoom factor each frame.
    centred = flat(0)
    centred[24:40, 24:40] = 255
    z = {**p, "feedback.zoom": 2.0}
    with display(["feedback"]) as d:
        d.draw(centred, z, 0.0)
        d.draw(black, z, 1 / 60)
        lit = d.read_pixels()[..., 0] > 100
        rows, cols = np.nonzero(lit)
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (16, 47, 16, 47)


def test_displace_moves_pixels_and_keeps_flat_fields() -> None:
    frame = smooth()
    plain = run([], frame, {})
    moved = run(["displace"], frame, {"displace.amount": 0.1})
    assert err(moved, plain).mean() > 2  # noise pushes pixels about
    # Only moves pixels: a flat field stays flat, and nothing new is invented.
    assert err(run(["displace"], flat(90), {"displace.amount": 0.2}), 90).max() <= 1
    # The noise drifts with time (speed), and stands still at speed 0.
    later = run(["displace"], frame, {"displace.amount": 0.1}, time=3.0)
    assert err(later, moved).mean() > 1
    still = {"displace.amount": 0.1, "displace.speed": 0.0}
    assert err(run(["displace"], frame, still), run(["displace"], frame, still, 3.0)).max() == 0
    # By luminance, along angle 0: a pixel reads (l - 0.5) * 2 * amount to its right, so a
    # black one (l = 0) reads `amount` (here 4 px) to its left.
    stripes = np.zeros((N, N, 3), np.uint8)
    stripes[:, ::8] = (255, 0, 0)  # red: luminance 0.21, pushes left by 0.58 * amount
    luma = {"displace.amount": 0.0625, "displace.luma": 1.0, "displace.angle": 0.0}
    out = run(["displace"], stripes, luma)
    # A black pixel reads 4 px to its left: columns 4, 12, ... see the red of 0, 8, ...
    assert out[:, 4::8, 0].min() > 200 and out[:, 5::8, 0].max() < 30


def test_kaleido_is_symmetric() -> None:
    frame = smooth()
    out = run(["kaleido"], frame, {"kaleido.segments": 4})
    assert err(out, run([], frame, {})).mean() > 5  # it did something
    # Four mirrored wedges on a square: symmetric under 90 degree turns and reflections.
    assert err(out, np.rot90(out)).mean() < 1.0
    assert err(out, out[:, ::-1]).mean() < 1.0
    assert err(out, out[::-1]).mean() < 1.0
    six = run(["kaleido"], frame, {"kaleido.segments": 6, "kaleido.rotate": 15})
    assert err(six, out).mean() > 2


def test_mirror_reflects_half_onto_the_other() -> None:
    frame = noisy(2)
    out = run(["mirror"], frame, {"mirror.x": 1})
    assert err(out[:, :32], frame[:, :32]).max() == 0  # left half kept
    assert err(out, out[:, ::-1]).max() == 0  # right half its reflection
    out = run(["mirror"], frame, {"mirror.x": -1})
    assert err(out[:, 32:], frame[:, 32:]).max() == 0 and err(out, out[:, ::-1]).max() == 0
    out = run(["mirror"], frame, {"mirror.y": 1})
    assert err(out[:32], frame[:32]).max() == 0  # top half kept (row 0 = top)
    assert err(out, out[::-1]).max() == 0
    quad = run(["mirror"], frame, {"mirror.x": 1, "mirror.y": -1})
    assert err(quad[32:, :32], frame[32:, :32]).max() == 0
    assert err(quad, quad[::-1, ::-1]).max() == 0 and err(quad, quad[:, ::-1]).max() == 0


def test_bloom_brightens_around_a_bright_spot() -> None:
    frame = flat(0)
    frame[30:34, 30:34] = 255
    params = {"bloom.amount": 2.0, "bloom.threshold": 0.5, "bloom.radius": 6}
    out = run(["bloom"], frame, params)[..., 0]
    assert out[30:34, 30:34].min() == 255
    assert out[32, 37] > 8 and out[27, 32] > 8  # glow around the spot
    assert out[32, 37] > out[32, 39] >= out[32, 45]  # fading with distance
    assert out[:, :15].max() == 0 and out[2, 2] == 0  # nothing far away
    # Below the threshold nothing glows: a dim image is untouched.
    dim = (noisy(3) // 3).astype(np.uint8)  # all < 0.34
    assert err(run(["bloom"], dim, params), dim).max() <= 1


def test_chroma_offsets_red_and_blue() -> None:
    frame = noisy(4)
    out = run(["chroma"], frame, {"chroma.amount": 3})
    inner = slice(4, -4)
    assert err(out[:, inner, 0], frame[:, 7:-1, 0]).max() <= 1  # red from 3 px right
    assert err(out[..., 1], frame[..., 1]).max() <= 1  # green stays
    assert err(out[:, inner, 2], frame[:, 1:-7, 2]).max() <= 1  # blue from 3 px left
    # angle 90: red from 3 px up (GL y up = image row - 3), blue from below.
    out = run(["chroma"], frame, {"chroma.amount": 3, "chroma.angle": 90})
    assert err(out[inner, :, 0], frame[1:-7, :, 0]).max() <= 1
    assert err(out[inner, :, 2], frame[7:-1, :, 2]).max() <= 1


def sobel_reference(frame: np.ndarray, gain: float = 1.0) -> np.ndarray:
    lum = frame.astype(float) @ np.array([0.2126, 0.7152, 0.0722]) / 255
    p = np.pad(lum, 1, mode="edge")

    def at(dy: int, dx: int) -> np.ndarray:
        return p[1 + dy : 1 + dy + N, 1 + dx : 1 + dx + N]

    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    gy = (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1)) - (at(1, -1) + 2 * at(1, 0) + at(1, 1))
    return np.clip(gain * np.hypot(gx, gy) / 4, 0, 1) * 255


def test_edges_outline_a_step() -> None:
    step = flat(0)
    step[:, 32:] = 255
    out = run(["edges"], step, {"edges.amount": 1})
    want = sobel_reference(step)
    assert err(out[..., 0], want).max() <= 1
    assert out[:, 31:33].min() == 255 and out[:, :30].max() == 0 and out[:, 34:].max() == 0
    # On a general image too (half gain), and as ink over the picture.
    frame = smooth()
    frame[20:44, 20:44] = (250, 250, 250)
    out = run(["edges"], frame, {"edges.amount": 1, "edges.gain": 0.5})
    assert err(out[..., 1], sobel_reference(frame, 0.5)).max() <= 2
    ink = run(["edges"], frame, {"edges.amount": 1, "edges.outline": 1})
    e = sobel_reference(frame)[..., None] / 255
    assert err(ink, frame * (1 - e)).max() <= 2


def test_gradient_maps_a_ramp_through_three_colours() -> None:
    grey = np.linspace(0, 255, N).round().astype(np.uint8)
    ramp = np.broadcast_to(grey[None, :, None], (N, N, 3)).copy()  # black left, white right
    lo, mid, hi = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.5])
    params = {"gradient.amount": 1.0, "gradient.midpoint": 0.4}
    for key, colour in (("shadow", lo), ("mid", mid), ("highlight", hi)):
        params.update({f"gradient.{key}_{c}": v for c, v in zip("rgb", colour, strict=True)})
    out = run(["gradient"], ramp, params)
    lum = ramp[..., :1].astype(float) / 255
    t_lo, t_hi = np.clip(lum / 0.4, 0, 1), np.clip((lum - 0.4) / 0.6, 0, 1)
    want = np.where(lum < 0.4, lo + (mid - lo) * t_lo, mid + (hi - mid) * t_hi) * 255
    assert err(out, want).max() <= 2
    assert err(out[:, 0], lo * 255).max() <= 1 and err(out[:, -1], hi * 255).max() <= 1
    # Half amount: halfway between the picture and the map.
    half = run(["gradient"], ramp, {**params, "gradient.amount": 0.5})
    assert err(half, (want + ramp) / 2).max() <= 2


def test_posterize_rounds_to_levels() -> None:
    frame = noisy(5)
    for levels in (2, 4, 7):
        out = run(["posterize"], frame, {"posterize.levels": levels})
        steps = levels - 1
        want = np.floor(frame / 255 * steps + 0.5) / steps * 255
        near_edge = np.abs((frame / 255 * steps) % 1 - 0.5) < 1e-3
        assert err(out, want)[~near_edge].max() <= 1
        assert len(np.unique(out.round())) <= levels


def test_pixelate_makes_blocks_of_the_mean() -> None:
    frame = noisy(6)
    for size in (2, 4, 8, 16):
        out = run(["pixelate"], frame, {"pixelate.size": size})
        b = N // size
        means = frame.astype(float).reshape(b, size, b, size, 3).mean(axis=(1, 3))
        want = np.repeat(np.repeat(means, size, 0), size, 1)
        assert err(out, want).max() <= 2, size
    # Odd and large sizes: still flat blocks (approximate means).
    out = run(["pixelate"], frame, {"pixelate.size": 32})
    assert err(out[:32, :32], out[0, 0]).max() == 0
    assert err(out[:32, :32].mean(), frame[:32, :32].mean()).max() < 8


def test_grain_changes_with_time_and_keeps_the_mean() -> None:
    grey = flat(128)
    p = {"grain.amount": 0.4}
    a = run(["grain"], grey, p, time=1.0)
    b = run(["grain"], grey, p, time=1.0 + 1 / 60)
    assert a.std() > 8 and b.std() > 8  # visible grain
    assert abs(a.mean() - 128) < 1 and abs(b.mean() - 128) < 1  # brightness kept
    assert err(a, b).mean() > 8  # a fresh grain each frame
    assert err(a, run(["grain"], grey, p, time=1.0)).max() == 0  # same time, same grain
    assert np.abs(a[..., 0] - a[..., 2]).max() == 0  # monochrome by default
    colour = run(["grain"], grey, {**p, "grain.colour": 1.0}, time=1.0)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 4
    coarse = run(["grain"], grey, {**p, "grain.size": 4}, time=1.0)
    assert err(coarse[:4, :4], coarse[0, 0]).max() == 0  # 4x4 px grains (grid at 0, 0)


def hue_reference(rgb: np.ndarray, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    k = np.full(3, 1 / np.sqrt(3))
    c = rgb.astype(float) / 255
    out = c * np.cos(a) + np.cross(k, c) * np.sin(a) + k * (c @ k)[..., None] * (1 - np.cos(a))
    return np.clip(out, 0, 1) * 255


def test_hue_rotates_colours() -> None:
    red = np.zeros((N, N, 3), np.uint8)
    red[..., 0] = 255
    assert err(run(["hue"], red, {"hue.shift": 120}), (0, 255, 0)).max() <= 1
    assert err(run(["hue"], red, {"hue.shift": -120}), (0, 0, 255)).max() <= 1
    frame = smooth()
    assert err(run(["hue"], frame, {"hue.shift": 47}), hue_reference(frame, 47)).max() <= 2
    # Greys stay put; speed turns it over time (60 deg/s for 2 s = 120 deg).
    assert err(run(["hue"], flat(77), {"hue.shift": 90}), 77).max() <= 1
    assert err(run(["hue"], red, {"hue.speed": 60}, time=2.0), (0, 255, 0)).max() <= 1


def test_strobe_flashes_to_white() -> None:
    frame = noisy(7)
    assert run(["strobe"], frame, {"strobe.amount": 1}).min() == 255
    half = run(["strobe"], frame, {"strobe.amount": 0.5})
    assert err(half, (frame.astype(float) + 255) / 2).max() <= 1
    red = run(["strobe"], frame, {"strobe.amount": 1, "strobe.g": 0, "strobe.b": 0})
    assert err(red, (255, 0, 0)).max() == 0


# --- the whole shelf in a show ------------------------------------------------------------


def test_stage_check_accepts_a_chain_of_every_effect(tmp_path: Path, capsys) -> None:
    from performer.cli import main as stage_main
    from tests.performer.test_stage import tiny_show

    chain = "[" + ", ".join(f'"{n}"' for n in EFFECTS) + "]"
    params = {
        "feedback.amount": 0.5,
        "displace.amount": 0.02,
        "kaleido.segments": 6,
        "mirror.x": 1,
        "bloom.amount": 1,
        "chroma.amount": 2,
        "edges.amount": 0.3,
        "gradient.amount": 0.5,
        "posterize.levels": 8,
        "pixelate.size": 2,
        "grain.amount": 0.1,
        "hue.speed": 30,
        "strobe.amount": 0.0,
    }
    table = "\n".join(f'"{k}" = {v}' for k, v in params.items())
    show = tiny_show(tmp_path, chain=chain)
    text = show.read_text().replace("\n[osc]\n", f"\n[shaders.params]\n{table}\n[osc]\n", 1)
    show.write_text(text)
    assert stage_main(["check", str(show)]) == 0, capsys.readouterr()
    # ... and the whole chain draws.
    with display(EFFECTS) as d:
        d.draw(smooth(), {**NEAREST, **params}, 0.5)
        assert d.read_pixels().std() > 5
