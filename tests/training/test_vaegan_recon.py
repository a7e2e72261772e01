"""The VAE-GAN recipe: who learns from what (the encoder never from the adversarial term, the
critic never from reconstruction), the pixel-VAE setting trains no critic, DiffAugment, and a
tiny model that reconstructs better than the mean image after a few dozen CPU steps."""

from __future__ import annotations

import copy

import pytest
import torch

from training import losses as L
from training.vaegan import VAEGANRecipe, vaegan_config


def _recipe(**weights: float) -> VAEGANRecipe:
    torch.manual_seed(0)
    options = {"lr": 1e-3, "weights": weights, "n_critic": None}
    return VAEGANRecipe(vaegan_config(16, 0.125, 8), options, torch.device("cpu"))


def _batches(x: torch.Tensor):
    return lambda: x


def _changed(before: torch.nn.Module, after: torch.nn.Module) -> bool:
    return any(
        not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)
    )


def test_the_encoder_never_learns_from_the_adversarial_term():
    r = _recipe(kl=0.0, rec=0.0, feat=0.0, adv=1.0)  # only the adversarial term
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    E0, G0 = copy.deepcopy(r.nets["E"]), copy.deepcopy(r.nets["G"])
    r.nets["E"].eval()  # batch norm's running statistics aside: weights only
    logs = r.step(_batches(x), 0)
    assert {"d", "wasserstein", "gp", "g", "kl", "rec"} <= set(logs)
    assert _changed(G0, r.nets["G"])  # the decoder learns from it ...
    assert not _changed(E0, r.nets["E"])  # ... the encoder does not


def test_reconstruction_terms_reach_both_but_never_the_critic():
    r = _recipe(adv=0.0, feat=1.0)  # reconstruction in the critic's features, no adversary
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    E0, G0 = copy.deepcopy(r.nets["E"]), copy.deepcopy(r.nets["G"])
    D0 = copy.deepcopy(r.nets["D"])
    lr = r.optims["D"].param_groups[0]["lr"]
    r.optims["D"].param_groups[0]["lr"] = 0.0  # the critic's own update off: only leaks show
    r.step(_batches(x), 0)
    r.optims["D"].param_groups[0]["lr"] = lr
    assert _changed(E0, r.nets["E"]) and _changed(G0, r.nets["G"])
    assert not _changed(D0, r.nets["D"])


def test_a_pixel_vae_trains_no_critic():
    r = _recipe(adv=0.0, feat=0.0)
    D0 = copy.deepcopy(r.nets["D"])
    calls = []
    x = torch.rand(4, 3, 16, 16) * 2 - 1

    def batch():
        calls.append(1)
        return x

    logs = r.step(batch, 0)
    assert len(calls) == 1 and "d" not in logs and "g" not in logs
    assert not _changed(D0, r.nets["D"])


def test_unknown_weights_are_named():
    with pytest.raises(ValueError, match="advv"):
        _recipe(advv=0.0)


def test_diff_augment_keeps_shape_layout_and_gradients():
    x = torch.rand(4, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    assert L.diff_augment(x, 0.0) is x
    x.requires_grad_()
    y = L.diff_augment(x)
    assert y.shape == x.shape and y.is_contiguous(memory_format=torch.channels_last)
    y.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    same = torch.rand(2, 3, 16, 16)
    assert not torch.equal(L.diff_augment(same), same)


def test_feature_loss_levels_are_normalised():
    from models.vaegan import Critic

    D = Critic(vaegan_config(32, 0.125))
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert len(D.feature_levels(x)) == 3
    assert float(L.feature_recon_loss(D.feature_levels, x, x).detach()) == 0.0
    far = float(L.feature_recon_loss(D.feature_levels, -x, x).detach())
    assert 0.1 < far < 10.0  # each level relative to its target's size


def test_a_tiny_vaegan_reconstructs_better_than_the_mean_image():
    """Eight distinct pictures (colour blocks), 16 px: after 60 steps the live path (encoder
    mean → decoder, eval mode) reconstructs them better than their mean image does."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    blocks = torch.rand(8, 3, 2, 2, generator=gen) * 2 - 1
    x = torch.nn.functional.interpolate(blocks, size=(16, 16), mode="nearest")
    r = _recipe()
    for n in r.nets.values():
        n.train()
    for step in range(60):
        r.step(_batches(x), step)
    for n in r.nets.values():
        n.eval()
    recon = r.reconstruct(x)
    mse = float((recon - x).square().mean())
    mean = float((x.mean(0, keepdim=True) - x).square().mean())
    assert mse < 0.5 * mean, (mse, mean)
