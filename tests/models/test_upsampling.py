"""Resize-then-convolve up-sampling (models/layers.py) as a model option: shapes for every
family and size, old checkpoints (no `upsample` field) load as the transposed model they were,
a resize generator has no checkerboard at init, seeding and training plumbing take it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from models import dcgan, dcgan128, vaegan
from models.checkpoint import load_checkpoint, save_checkpoint
from models.layers import ResizeConv2d
from models.registry import ConfigError, config_from_dict, parameter_count

FAMILIES = {  # kind → (config for a size, generator class)
    "dcgan": (
        lambda s, up: dcgan.DCGANConfig(z_dim=8, widths=(8, 4, 4)[: _n(s)], upsample=up),
        dcgan.Generator,
    ),
    "dcgan128": (
        lambda s, up: dcgan128.DCGAN128Config(
            z_dim=8, widths=(8, 8, 4, 4), image_size=s, upsample=up
        ),
        dcgan128.Generator,
    ),
    "vaegan": (
        lambda s, up: vaegan.VAEGANConfig(z_dim=8, image_size=s, ch=4, max_ch=8, upsample=up),
        vaegan.Decoder,
    ),
}


def _n(size: int) -> int:
    return {16: 2, 32: 3}[size]


def build(kind: str, size: int, upsample: str, seed: int = 0) -> nn.Module:
    make, cls = FAMILIES[kind]
    torch.manual_seed(seed)
    return cls(make(size, upsample)).eval()


@pytest.mark.parametrize("kind", sorted(FAMILIES))
@pytest.mark.parametrize("size", [16, 32])
def test_shapes_and_sizes_in_both_modes(kind: str, size: int):
    z = torch.randn(2, 8)
    for up in ("transposed", "resize"):
        G = build(kind, size, up)
        assert G(z).shape == (2, 3, size, size)
        convs = [m for m in G.modules() if isinstance(m, ResizeConv2d)]
        assert bool(convs) == (up == "resize")
        real = sum(t.numel() for t in (*G.parameters(), *G.buffers()))
        assert parameter_count(kind, G.config, ["G"]) == real


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_an_old_checkpoint_loads_as_the_transposed_model_it_was(kind: str, tmp_path: Path):
    G = build(kind, 16, "transposed", seed=3)
    path = save_checkpoint(tmp_path / "g.pt", kind, G.config, {"G": G})
    data = torch.load(path, weights_only=True)
    del data["config"]["upsample"]  # written before the field existed
    torch.save(data, path)
    loaded = load_checkpoint(path)
    assert loaded.config.upsample == "transposed"
    assert list(loaded.generator.state_dict()) == list(G.state_dict())
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), G(z))
    ups = [m for m in loaded.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert all(m.kernel_size == (4, 4) for m in ups) and len(ups) >= 2


def test_a_resize_checkpoint_round_trips_and_bad_values_are_refused(tmp_path: Path):
    G = build("dcgan", 16, "resize")
    loaded = load_checkpoint(save_checkpoint(tmp_path / "r.pt", "dcgan", G.config, {"G": G}))
    assert loaded.config.upsample == "resize"
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(loaded.generator(z), G(z))
    for bad in ("bilinear", 3, "x" * 10_000):
        with pytest.raises(ConfigError, match="config.upsample"):
            config_from_dict("dcgan", {"upsample": bad})
        with pytest.raises(ValueError, match="upsample"):
            dataclasses.replace(G.config, upsample=bad)


def nyquist_fraction(images: torch.Tensor) -> float:
    """The 2x2-periodic component's share of the non-DC power."""
    x = images.double() - images.double().mean(dim=(2, 3), keepdim=True)
    p = torch.fft.fft2(x).abs().square().mean(dim=(0, 1))
    h, w = p.shape
    nyq = p[h // 2, 0] + p[0, w // 2] + p[h // 2, w // 2]
    return float(nyq / (p.sum() - p[0, 0]))


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_a_resize_generator_has_no_checkerboard_at_init(kind: str):
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        grid = nyquist_fraction(build(kind, 32, "transposed")(z))
        smooth = nyquist_fraction(build(kind, 32, "resize")(z))
    assert smooth < 0.1 * grid, (smooth, grid)


def test_a_resize_dcgan_can_be_seeded():
    from models.seed import calibrate, smooth_init

    torch.manual_seed(0)
    G = calibrate(
        smooth_init(
            dcgan.Generator(dcgan.DCGANConfig(z_dim=8, widths=(8, 4, 4), upsample="resize"))
        )
    )
    with torch.no_grad():
        x = G(torch.randn(8, 8, generator=torch.Generator().manual_seed(2)))
    assert torch.isfinite(x).all() and x.std() > 0.1
    assert (x[0] - x[1]).abs().mean() > 0.01  # each z its own picture


def test_the_training_option_reaches_the_config():
    from training.__main__ import build_parser
    from training.loop import TrainOptions
    from training.zoo import build as build_recipe

    args = build_parser().parse_args(["train", "dcgan", "--out", "x", "--upsample", "resize"])
    assert args.upsample == "resize" and TrainOptions(model="dcgan", out="x").upsample == (
        "transposed"
    )
    options = {"model": "dcgan", "size": 16, "width": 0.05, "lr": 1e-4, "upsample": "resize"}
    recipe = build_recipe(options, torch.device("cpu"))
    assert recipe.config.upsample == "resize"
    assert isinstance(recipe.nets["G"].to_rgb, ResizeConv2d)
    with pytest.raises(ValueError, match="upsample"):
        build_recipe({**options, "model": "wgan-unet", "size": 16}, torch.device("cpu"))
