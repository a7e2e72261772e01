"""Every model family: shapes, output range, the stage's generator contract, registry and
checkpoint round trip, config validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from models import dcgan128, dual, unet, vaegan
from models.checkpoint import load_checkpoint, save_checkpoint
from models.registry import KINDS

TINY = {
    "dcgan128": dcgan128.DCGAN128Config(z_dim=8, widths=(16, 8, 8, 4), image_size=32),
    "vaegan": vaegan.VAEGANConfig(z_dim=8, image_size=32, ch=4, max_ch=16),
    "wgan-unet": unet.UNetConfig(image_size=16, widths=(4, 8), critic_widths=(4, 8, 8, 8)),
    "dual": dual.DualConfig(z_dim=8, w_dim=8, mapping_layers=2, image_size=16, ch=4, max_ch=8),
}


@pytest.mark.parametrize("kind", sorted(TINY))
def test_generator_contract_and_round_trip(kind: str, tmp_path: Path):
    torch.manual_seed(0)
    config = TINY[kind]
    parts = {name: cls(config).eval() for name, cls in KINDS[kind].parts.items()}
    G = parts["G0" if kind == "dual" else "G"]
    z = torch.randn(3, G.z_dim)
    x = G(z)
    s = config.image_size
    assert x.shape == (3, 3, s, s) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert float(x.std()) > 0
    critic = parts["D"](x)
    assert critic.shape == (3,)
    path = save_checkpoint(tmp_path / f"{kind}.pt", kind, config, parts)
    loaded = load_checkpoint(path, parts=("G", "E"))
    if kind == "dual":
        assert set(loaded.parts) == {"G"}  # the G = G0 copy the stage plays
        both = load_checkpoint(path, parts=("G0", "G1"), required=("G0", "G1"))
        assert torch.equal(both.parts["G1"](z), parts["G1"](z))
    else:
        assert torch.equal(loaded.generator(z), G(z))
    assert loaded.config == config


def test_vaegan_encoder_and_features():
    c = TINY["vaegan"]
    mu, logvar = vaegan.Encoder(c)(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert mu.shape == logvar.shape == (2, 8)
    feats = vaegan.Critic(c).features(torch.zeros(2, 3, 32, 32))
    assert feats.shape == (2, 16, 4, 4)  # after 3 levels: 32 → 4, ch 4 → 16
    assert vaegan.VAEGANConfig(image_size=256).levels == 6


def test_unet_latent_is_the_noise_image():
    c = TINY["wgan-unet"]
    G = unet.Generator(c).eval()
    assert G.z_dim == 3 * 16 * 16
    z = torch.randn(2, G.z_dim)
    assert torch.equal(G(z), G(z.view(2, 3, 16, 16)))


def test_dcgan128_dropout_only_in_training():
    c = dcgan128.DCGAN128Config(widths=(8, 8, 8, 8), image_size=32, dropout=0.5)
    D = dcgan128.Discriminator(c)
    assert sum(isinstance(m, torch.nn.Dropout) for m in D.modules()) == 2
    x = torch.rand(4, 3, 32, 32)
    torch.manual_seed(0)
    D.train()
    assert not torch.equal(D(x), D(x))  # training: a fresh dropout mask each call
    D.eval()
    assert torch.equal(D(x), D(x))  # evaluation: no dropout, the same answer
    plain = dcgan128.Discriminator(dataclasses.replace(c, dropout=0.0)).train()
    assert torch.equal(plain(x), plain(x))  # the training-mode difference is the dropout's


@pytest.mark.parametrize(
    "make",
    [
        lambda: vaegan.VAEGANConfig(image_size=100),
        lambda: unet.UNetConfig(image_size=20),
        lambda: dual.DualConfig(image_size=6),
        lambda: dcgan128.DCGAN128Config(widths=(8, 8)),
    ],
)
def test_bad_configs_are_errors(make):
    with pytest.raises(ValueError):
        make()
