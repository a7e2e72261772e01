"""Adversarial recipes with one generator and one discriminator: DCGAN (64 px, published
widths), DCGAN128 (FC + four transposed convs) with binary cross-entropy, and the U-Net
generator with a WGAN-GP critic (n_critic critic updates per generator update; the last critic
batch's fakes also serve the generator update, one generator forward fewer, as the DCGAN
tutorial shares them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from models import dcgan, dcgan128, unet
from training import losses as L
from training.recipe import Recipe, adam, frozen


def _scaled(widths: tuple[int, ...], scale: float) -> tuple[int, ...]:
    return tuple(max(1, round(w * scale)) for w in widths)


def dcgan_config(
    size: int, width: float = 1.0, z_dim: int | None = None, upsample: str = "transposed"
) -> dcgan.DCGANConfig:
    """The published DCGAN widths (1024-512-256-128 at 64 px; one more per doubling, capped at
    1024), times `width`; `upsample`: "transposed" (the paper's) or "resize"."""
    n = size.bit_length() - 3
    if size < 8 or 4 * 2**n != size:
        raise ValueError(f"dcgan: --size must be 4·2^k (16, 32, 64, 128 ...), got {size}")
    widths = tuple(min(1024, 128 * 2 ** (n - 1 - i)) for i in range(n))
    return dcgan.DCGANConfig(z_dim=z_dim or 100, widths=_scaled(widths, width), upsample=upsample)


def dcgan128_config(
    size: int, width: float = 1.0, z_dim: int | None = None, upsample: str = "transposed"
) -> dcgan128.DCGAN128Config:
    return dcgan128.DCGAN128Config(
        z_dim=z_dim or 100,
        widths=_scaled((512, 256, 128, 64), width),
        image_size=size,
        upsample=upsample,
    )


# The U-Net's levels (the bottleneck has twice the last). The paper gives none; 32-64-128 at
# 32 px trains 2x faster per iteration on a CPU than 64-128-256 (--width 2), which changes little
# at this size. The critic is the paper's 64-128-256-512.
UNET_WIDTHS = (32, 64, 128)


def unet_config(size: int, width: float = 1.0, z_dim: int | None = None) -> unet.UNetConfig:
    if z_dim:
        raise ValueError(
            "wgan-unet: the latent is the noise image (3·size²); --z-dim does not apply"
        )
    return unet.UNetConfig(
        image_size=size,
        widths=_scaled(UNET_WIDTHS, width),
        critic_widths=_scaled((64, 128, 256, 512), width),
    )


class GANRecipe(Recipe):
    """G and D; loss "bce" (DCGAN) or "wgan-gp"."""

    def __init__(
        self, kind: str, config: Any, options: dict[str, Any], device: torch.device
    ) -> None:
        super().__init__(config, options, device)
        self.kind = kind
        mod = {"dcgan": dcgan, "dcgan128": dcgan128}.get(kind)
        if mod is not None:
            self.nets = {"G": mod.Generator(config), "D": mod.Discriminator(config)}
            self.loss = "bce"
            betas = (0.5, 0.999)
        else:
            self.nets = {"G": unet.Generator(config), "D": unet.Critic(config)}
            self.loss = "wgan-gp"
            betas = (0.0, 0.9)
        for n in self.nets.values():
            n.to(device)
        lr = float(options["lr"])
        self.optims = {k: adam(n.parameters(), lr, betas, device) for k, n in self.nets.items()}
        self.n_critic = int(options.get("n_critic") or (5 if self.loss == "wgan-gp" else 1))
        options["n_critic"] = self.n_critic

    def step(self, next_batch: Callable[[], torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        out: dict[str, torch.Tensor] = {}
        if self.loss == "bce":  # the tutorial's order: one G forward shared by both updates
            real = next_batch()
            with self.autocast():
                fake = G(self.z(real.shape[0]))
                d_loss = L.bce_discriminator_loss(D(real), D(fake.detach()))
            self.update(d_loss, "D")
            with frozen(D), self.autocast():
                g_loss = L.bce_generator_loss(D(fake))
            self.update(g_loss, "G")
            return {"d": d_loss.detach(), "g": g_loss.detach()}
        for i in range(self.n_critic):
            real = next_batch()
            last = i == self.n_critic - 1  # its fakes serve the generator update too
            with torch.set_grad_enabled(last), self.autocast():
                fake = G(self.z(real.shape[0]))
            with self.autocast():
                w = L.wgan_critic_loss(D(real), D(fake.detach()))
            gp = L.gradient_penalty(D, real, fake)
            self.update(w + gp, "D")
        with frozen(D), self.autocast():
            g_loss = L.wgan_generator_loss(D(fake))
        self.update(g_loss, "G")
        out.update(
            d=(w + gp).detach(), wasserstein=(-w).detach(), gp=gp.detach(), g=g_loss.detach()
        )
        return out
