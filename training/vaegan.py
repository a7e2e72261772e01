"""VAE-GAN recipe: encoder + decoder trained on KL, pixel reconstruction and reconstruction in
the critic's feature space (Larsen et al. 2016), plus the Wasserstein loss of a WGAN-GP critic
that sees real images against reconstructions and samples from the prior.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from models.vaegan import Critic, Decoder, Encoder, VAEGANConfig
from training import losses as L
from training.recipe import Recipe, adam, frozen

# Override with --weights k=v,... The KL is summed over z and the reconstruction averaged over
# pixels, so the KL weight must be small: at 0.01 the encoder gave up (posterior collapse: σ ≈
# 0.97, KL ≈ 7 nats, every picture decoded to the same average); at 1e-4 it carries the picture
# (KL ≈ 150 nats, σ ≈ 0.26) and prior samples are as varied.
WEIGHTS = {"kl": 1e-4, "rec": 1.0, "feat": 0.1, "adv": 0.01}


def vaegan_config(size: int, width: float = 1.0, z_dim: int | None = None) -> VAEGANConfig:
    return VAEGANConfig(
        z_dim=z_dim or 128,
        image_size=size,
        ch=max(1, round(64 * width)),
        max_ch=max(1, round(512 * width)),
    )


class VAEGANRecipe(Recipe):
    kind = "vaegan"
    exported_raw = ("E",)

    def __init__(self, config: VAEGANConfig, options: dict[str, Any], device: torch.device) -> None:
        super().__init__(config, options, device)
        self.nets = {"G": Decoder(config), "E": Encoder(config), "D": Critic(config)}
        for n in self.nets.values():
            n.to(device)
        lr = float(options["lr"])
        self.optims = {
            "G": adam(self.nets["G"].parameters(), lr, (0.5, 0.999), device),
            "E": adam(self.nets["E"].parameters(), lr, (0.5, 0.999), device),
            "D": adam(self.nets["D"].parameters(), lr, (0.0, 0.9), device),
        }
        self.w = {**WEIGHTS, **options.get("weights", {})}
        self.n_critic = int(options.get("n_critic") or 1)
        options["n_critic"] = self.n_critic

    def _fakes(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstructions of the first half of the batch and prior samples for the rest."""
        E, G = self.nets["E"], self.nets["G"]
        mu, logvar = E(real)
        z = L.reparameterize(mu, logvar)
        half = real.shape[0] // 2 or 1
        zs = torch.cat([z[:half], self.z(real.shape[0] - half)])
        return G(zs), mu, logvar

    def step(self, next_batch: Callable[[], torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        D = self.nets["D"]
        for _ in range(self.n_critic):
            real = next_batch()
            with torch.no_grad(), self.autocast():
                fake, _, _ = self._fakes(real)
            with self.autocast():
                w = L.wgan_critic_loss(D(real), D(fake))
            gp = L.gradient_penalty(D, real, fake)
            self.update(w + gp, "D")
        half = real.shape[0] // 2 or 1
        with frozen(D), self.autocast():
            fake, mu, logvar = self._fakes(real)
            kl = L.kl_divergence(mu, logvar)
            rec = L.recon_loss(fake[:half], real[:half])
            feat = L.feature_recon_loss(D.features, fake[:half], real[:half])
            adv = L.wgan_generator_loss(D(fake))
            total = (
                self.w["kl"] * kl
                + self.w["rec"] * rec
                + self.w["feat"] * feat
                + self.w["adv"] * adv
            )
        self.update(total, "G", "E")
        return {
            "d": (w + gp).detach(),
            "wasserstein": (-w).detach(),
            "gp": gp.detach(),
            "kl": kl.detach(),
            "rec": rec.detach(),
            "feat": feat.detach(),
            "g": adv.detach(),
        }

    def sample(self, gens: dict[str, nn.Module], z: torch.Tensor) -> torch.Tensor:
        return gens["G"](z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, G: nn.Module | None = None) -> torch.Tensor:
        """Encoder mean → decoder: the stage's live-video path."""
        mu, _ = self.nets["E"](x)
        return (G or self.nets["G"])(mu)
