"""Network bending on tiny generators of every kind: off is bit-identical (and leaves no hook),
translate rolls the hooked layer's output, ablating every channel is zeroing the layer, each op
changes the picture, bend.layer walks the layers in forward order, noise is seeded per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models import dcgan, dcgan128, dual, unet, vaegan
from models.checkpoint import Loaded
from models.stylegan import stylegan2, stylegan3
from performer.core.automation import ENGINE_PARAMS
from performer.engine.bending import BEND_OPS, active_ops, feature_layers, layer_index
from performer.engine.worker import Engine

TINY = {
    "dcgan": lambda: dcgan.Generator(dcgan.DCGANConfig(z_dim=8, widths=(16, 8))),
    "dcgan128": lambda: dcgan128.Generator(
        dcgan128.DCGAN128Config(z_dim=8, widths=(16, 8, 8, 4), image_size=32)
    ),
    "vaegan": lambda: vaegan.Decoder(vaegan.VAEGANConfig(z_dim=8, image_size=32, ch=4, max_ch=16)),
    # resize-then-convolve up-sampling (models/layers.py): the same layers to bend
    "dcgan-resize": lambda: dcgan.Generator(
        dcgan.DCGANConfig(z_dim=8, widths=(16, 8), upsample="resize")
    ),
    "dcgan128-resize": lambda: dcgan128.Generator(
        dcgan128.DCGAN128Config(z_dim=8, widths=(16, 8, 8, 4), image_size=32, upsample="resize")
    ),
    "vaegan-resize": lambda: vaegan.Decoder(
        vaegan.VAEGANConfig(z_dim=8, image_size=32, ch=4, max_ch=16, upsample="resize")
    ),
    "wgan-unet": lambda: unet.Generator(unet.UNetConfig(image_size=16, widths=(4, 8))),
    "dual": None,  # G0 and G1
    "stylegan2": lambda: stylegan2.Generator(
        stylegan2.StyleGAN2Config(
            z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8
        )
    ),
    "stylegan3": lambda: stylegan3.Generator(
        stylegan3.StyleGAN3Config(
            z_dim=16,
            w_dim=16,
            img_resolution=16,
            channel_base=512,
            channel_max=32,
            num_layers=4,
            num_critical=2,
            conv_kernel=1,
        )
    ),
}
KINDS = sorted(TINY)
ON = {  # a value for each op that is clearly "on"
    "translate_x": 0.25,
    "translate_y": 0.25,
    "rotate": 30.0,
    "scale": 1.7,
    "flip": 1.0,
    "ablate": 0.5,
    "isolate": 0.5,
    "invert": 1.0,
    "multiply": 2.5,
    "threshold": 1.0,
    "erode": 1.0,
    "dilate": 1.0,
    "noise": 1.0,
}


def engine_for(kind: str) -> Engine:
    torch.manual_seed(0)
    if kind == "dual":
        c = dual.DualConfig(z_dim=8, w_dim=8, mapping_layers=2, image_size=16, ch=4, max_ch=8)
        g0, g1 = dual.StyleGenerator(c).eval(), dual.StyleGenerator(c).eval()
        parts = {"G": g0, "G0": g0, "G1": g1}
    else:
        parts = {"G": TINY[kind]().eval()}
    loaded = Loaded(Path(f"{kind}.pt"), kind, None, parts)
    return Engine({"m": loaded}, device="cpu", threads=1)


def style(**bend: float) -> dict:
    return {"psi": None, "mix_z": None, "mix": 0.0, "crossover": None, "bend": bend}


@torch.inference_mode()
def decode(engine: Engine, s: dict | None, seed: int = 7) -> torch.Tensor:
    z = torch.from_numpy(np.linspace(-1, 1, engine.z_dims["m"], dtype=np.float32)).view(1, -1)
    if s is not None:
        s = {**s, "bend_seed": seed}
    return engine._decode("m", z, s).clone()


def generators(engine: Engine) -> list[torch.nn.Module]:
    pair = engine.pairs.get("m")
    return list(pair) if pair is not None else [engine.generators["m"]]


def hooks(engine: Engine) -> int:
    return sum(len(m._forward_hooks) for g in generators(engine) for m in g.modules())


@pytest.fixture(scope="module", params=KINDS)
def kind_engine(request):
    return request.param, engine_for(request.param)


def test_off_is_bit_identical_and_leaves_no_hook(kind_engine):
    kind, engine = kind_engine
    plain = decode(engine, None)
    defaults = {op: spec[0] for op, spec in BEND_OPS.items()}
    assert torch.equal(decode(engine, style(layer=0.3, **defaults)), plain)
    assert "m" not in engine.benders and hooks(engine) == 0  # never bent: no dry run, no hook
    assert not torch.equal(decode(engine, style(layer=0.3, invert=1.0)), plain)
    assert hooks(engine) == len(generators(engine))  # one hook (each generator of a pair)
    assert torch.equal(decode(engine, style(layer=0.3, **defaults)), plain)
    assert hooks(engine) == 0
    assert torch.equal(decode(engine, {"bend": {}}), plain)


def test_layers_in_forward_order_and_the_layer_choice():
    G = TINY["dcgan"]()
    layers = feature_layers(G)
    assert layers == [G.body[0][0], G.body[1][0], G.to_rgb]
    U = TINY["wgan-unet"]()
    order = feature_layers(U)
    assert order[0] is U.down[0][0] and order[-1] is U.to_rgb
    assert order.index(U.mid[0]) < order.index(U.up[0]) < order.index(U.up_conv[0][0])
    assert [layer_index(u, 5) for u in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0)] == [
        0,
        0,
        1,
        2,
        3,
        4,
        4,
    ]

    engine = engine_for("dcgan")
    G = engine.generators["m"]
    for u, module in ((0.0, G.body[0][0]), (0.5, G.body[1][0]), (1.0, G.to_rgb)):
        decode(engine, style(layer=u, multiply=2.0))
        hooked = [m for m in G.modules() if m._forward_hooks]
        assert hooked == [module]


@pytest.mark.parametrize("kind", ["dcgan", "dcgan128", "vaegan"])
def test_a_resize_model_has_the_same_layers_as_a_transposed_one(kind):
    names = {}
    for mode in ("transposed", "resize"):
        G = TINY[kind if mode == "transposed" else f"{kind}-resize"]()
        where = {id(m): n for n, m in G.named_modules()}
        names[mode] = [where[id(m)] for m in feature_layers(G)]
    assert names["resize"] == names["transposed"] and len(names["resize"]) >= 3


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_layers_and_a_pair_bends_both(kind):
    engine = engine_for(kind)
    decode(engine, style(layer=1.0, invert=1.0))
    layers = engine.benders["m"].layers
    assert len(layers) == len(generators(engine)) and all(len(g) >= 3 for g in layers)
    for g, found in zip(generators(engine), layers, strict=True):
        assert found[-1]._forward_hooks and sum(len(m._forward_hooks) for m in g.modules()) == 1


def captured(engine: Engine, s: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the hooked layer's output before and after bending, the image) of generator 0."""
    before: list[torch.Tensor] = []
    after: list[torch.Tensor] = []
    engine._bend("m", s)  # the bender's hook is registered; ours go either side of it
    bender = engine.benders["m"]
    module = bender.layers[0][bender._hooked]
    handles = [
        module.register_forward_hook(lambda _m, _i, out: before.append(out.clone()), prepend=True),
        module.register_forward_hook(lambda _m, _i, out: after.append(out.clone())),
    ]
    try:
        image = decode(engine, s)
    finally:
        for h in handles:
            h.remove()
    return before[0], after[0], image


def test_translate_rolls_the_layers_output(kind_engine):
    kind, engine = kind_engine
    raw, bent, _ = captured(engine, style(layer=0.5, translate_x=0.25, translate_y=-0.5))
    _, _, h, w = raw.shape
    shifts = (int(round(-0.5 * h)), int(round(0.25 * w)))
    assert shifts != (0, 0)
    assert torch.equal(bent, torch.roll(raw, shifts=shifts, dims=(2, 3)))


def test_ablating_every_channel_is_zeroing_the_layer(kind_engine):
    kind, engine = kind_engine
    for u in (0.0, 0.5):
        _, _, ablated = captured(engine, style(layer=u, ablate=1.0))
        bender = engine.benders["m"]
        bender.remove()
        handles = [
            layers[layer_index(u, len(layers))].register_forward_hook(
                lambda _m, _i, out: torch.zeros_like(out)
            )
            for layers in bender.layers
        ]
        try:
            zeroed = decode(engine, None)
        finally:
            for h in handles:
                h.remove()
        assert torch.equal(ablated, zeroed), (kind, u)
        assert not torch.equal(zeroed, decode(engine, None))
        # isolating no channel is the same
        assert torch.equal(decode(engine, style(layer=u, isolate=0.0)), zeroed)


def test_each_op_changes_the_picture(kind_engine):
    kind, engine = kind_engine
    plain = decode(engine, None)
    for op, value in ON.items():
        bent = decode(engine, style(layer=0.5, **{op: value}))
        assert bent.shape == plain.shape and torch.isfinite(bent).all()
        assert not torch.equal(bent, plain), (kind, op)
    everything = decode(engine, style(layer=0.5, **ON))
    assert not torch.equal(everything, plain)
    assert torch.equal(decode(engine, style()), plain)


def test_noise_is_seeded_per_frame():
    engine = engine_for("dcgan")
    a = decode(engine, style(noise=1.0), seed=1)
    assert torch.equal(a, decode(engine, style(noise=1.0), seed=1))
    assert not torch.equal(a, decode(engine, style(noise=1.0), seed=2))


def test_ops_parameters_and_off_values():
    assert active_ops({op: spec[0] for op, spec in BEND_OPS.items()}) == {}
    assert active_ops({"bend.flip": 0.4, "bend.ablate": 5.0, "layer": 0.2, "x": 1}) == {
        "ablate": 1.0
    }
    for op, (default, lo, hi) in BEND_OPS.items():
        spec = ENGINE_PARAMS[f"bend.{op}"]
        assert (spec.default, spec.min, spec.max) == (default, lo, hi)
    assert ENGINE_PARAMS["bend.layer"].default == 0.5


def test_generate_bends_through_the_public_path():
    engine = engine_for("dcgan")
    z = np.linspace(-1, 1, 8, dtype=np.float32)
    plain = engine.generate("m", z, style=style())
    assert np.array_equal(plain, engine.generate("m", z))
    flipped = engine.generate("m", z, style=style(layer=1.0, flip=1.0))
    assert np.array_equal(flipped, plain[:, ::-1])  # the last layer: the image itself, mirrored


SHOW = """
[models.m]
checkpoint = "m.pt"
[shaders]
chain = ["grade"]
[[scenes]]
name = "a"
seed = 1
params = { "bend.rotate" = 0.0 }  # named here: _blend ramps only from a value it was given
[[scenes]]
name = "b"
seed = 2
fade = 2.0
params = { "bend.rotate" = 90.0, "bend.layer" = 0.25 }
"""


def test_the_controller_hands_the_bend_parameters_to_the_engine(tmp_path: Path):
    from performer.core.control import Controller, Cue
    from performer.show import load_show

    (tmp_path / "show.toml").write_text(SHOW)
    c = Controller(load_show(tmp_path / "show.toml"), {"m": 4})
    assert c.style()["bend"] == {"rotate": 0.0} and active_ops(c.style()["bend"]) == {}
    c.apply(Cue("scene", ("b",)))  # a scene's params, ramped over its fade
    c.step(1.0)
    s = c.style()
    assert 0.0 < s["bend"]["rotate"] < 90.0 and s["bend_seed"] == 1000
    c.step(1.5)
    assert c.style()["bend"] == {"rotate": 90.0, "layer": 0.25}
    c.apply(Cue("param", ("bend.flip", 1.0), source="osc"))  # /stage/param/bend.flip 1
    assert c.style()["bend"]["flip"] == 1.0
