"""VAE-GAN recipe (Larsen et al. 2016, with a WGAN-GP critic), arranged to reconstruct after
little compute.

Who learns from what (the paper's split): the encoder from the KL and the reconstruction terms
only — never from the adversarial loss, which would teach it to hide the picture from the
critic; the decoder from the reconstruction terms and the adversarial loss, on reconstructions
and on samples from the prior; the critic from the Wasserstein loss alone (the reconstruction
terms never train it). Reconstruction is measured in pixels (L1: it carries the picture
before the critic's features mean much, and keeps an evening's reconstruction faithful;
`--weights rec=0` is Larsen's recipe without it) and in the critic's features at several levels
(the learned similarity, as a perceptual loss); the KL is warmed up from 0. The critic sees
everything through DiffAugment, so a few hundred frames of one performer do not teach it to
memorise them. The encoder is averaged (EMA) like the decoder, so the exported pair match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from models.vaegan import Critic, Decoder, Encoder, VAEGANConfig
from training import losses as L
from training.recipe import Recipe, adam, frozen

# Override with --weights k=v,...; `--weights adv=0,feat=0` is a pixel VAE (no critic at all).
# The KL is summed over z and the reconstruction averaged over pixels, so the KL weight must be
# small: at 0.01 the encoder gave up (posterior collapse: every picture decoded to the same
# average); at 1e-4 it carries the picture and prior samples are still varied.
#   kl    KL weight (reached after `kl_warmup` steps, from 0)
#   rec   pixel L1
#   feat  critic features, levels 1 … feature_level, each normalised (Larsen's Dis_l)
#   adv   Wasserstein loss for the decoder (reconstructions and prior samples)
#   aug   DiffAugment strength for what the critic sees (0: none)
#   lr_vae  the encoder's and decoder's learning rate ÷ the critic's (--lr): the VAE learns
#         5x faster than the critic (pixel VAE, held-out face MSE after 100 steps at 64 px:
#         0.036 at 1x, 0.012 at 5x, 0.012 at 10x with a noisier raw encoder)
#   gp_every  the gradient penalty (the costly double backward) every k-th critic step, k
#         times as strong (lazy regularisation, as StyleGAN2 does with R1)
WEIGHTS = {
    "kl": 1e-4,
    "kl_warmup": 500.0,
    "rec": 1.0,
    "feat": 0.5,
    "adv": 0.01,
    "aug": 1.0,
    "lr_vae": 5.0,
    "gp_every": 4.0,
}


def vaegan_config(
    size: int, width: float = 1.0, z_dim: int | None = None, upsample: str = "transposed"
) -> VAEGANConfig:
    return VAEGANConfig(
        z_dim=z_dim or 128,
        image_size=size,
        ch=max(1, round(64 * width)),
        max_ch=max(1, round(512 * width)),
        upsample=upsample,
    )


class VAEGANRecipe(Recipe):
    kind = "vaegan"
    generators = ("G", "E")  # both averaged: the stage plays the EMA encoder → EMA decoder

    def __init__(self, config: VAEGANConfig, options: dict[str, Any], device: torch.device) -> None:
        super().__init__(config, options, device)
        self.nets = {"G": Decoder(config), "E": Encoder(config), "D": Critic(config)}
        for n in self.nets.values():
            n.to(device)
        self.w = {**WEIGHTS, **options.get("weights", {})}
        unknown = set(self.w) - set(WEIGHTS)
        if unknown:
            raise ValueError(
                f"vaegan: unknown --weights {', '.join(sorted(unknown))};"
                f" known: {', '.join(WEIGHTS)}"
            )
        lr = float(options["lr"])
        lr_vae = lr * self.w["lr_vae"]
        self.optims = {
            "G": adam(self.nets["G"].parameters(), lr_vae, (0.5, 0.999), device),
            "E": adam(self.nets["E"].parameters(), lr_vae, (0.5, 0.999), device),
            "D": adam(self.nets["D"].parameters(), lr, (0.0, 0.9), device),
        }
        # a pixel VAE (no adversarial and no feature term) trains no critic at all
        self.uses_critic = self.w["adv"] > 0 or self.w["feat"] > 0
        self.n_critic = int(options.get("n_critic") or 1) if self.uses_critic else 0
        options["n_critic"] = max(1, self.n_critic)
        self.last_gp = torch.zeros((), device=device)

    def images_per_step(self, batch: int) -> int:
        return batch * max(1, self.n_critic)

    def _fakes(
        self, real: torch.Tensor, prior: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstructions of `real` followed by `prior` samples from the prior (the decoder
        sees posterior and prior codes in one batch); μ, log σ²."""
        E, G = self.nets["E"], self.nets["G"]
        mu, logvar = E(real)
        z = L.reparameterize(mu, logvar)
        zs = torch.cat([z, self.z(prior)]) if prior > 0 else z
        return G(zs), mu, logvar

    def _critic_input(self, x: torch.Tensor) -> torch.Tensor:
        return L.diff_augment(x, self.w["aug"])

    def step(self, next_batch: Callable[[], torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        D = self.nets["D"]
        logs: dict[str, torch.Tensor] = {}
        real = None
        for i in range(self.n_critic):
            real = next_batch()
            n = real.shape[0]
            with torch.no_grad(), self.autocast():  # half reconstructions, half prior samples
                fake = self._fakes(real[: n // 2 or 1], n - (n // 2 or 1))[0]
            r_in, f_in = self._critic_input(real), self._critic_input(fake)
            with self.autocast():
                w = L.wgan_critic_loss(D(r_in), D(f_in))
            every = max(1, round(self.w["gp_every"]))
            if (step * self.n_critic + i) % every == 0:  # lazy: every k-th, k times the weight
                gp = L.gradient_penalty(D, r_in, f_in, L.GP_LAMBDA * every)
                self.last_gp = gp.detach() / every
                self.update(w + gp, "D")
            else:
                self.update(w, "D")
            gp = self.last_gp
            logs.update(d=(w + gp).detach(), wasserstein=(-w).detach(), gp=gp.detach())
        if real is None:
            real = next_batch()
        n = real.shape[0]
        kl_w = self.w["kl"] * min(1.0, (step + 1) / max(1.0, self.w["kl_warmup"]))
        with frozen(D), self.autocast():
            fake, mu, logvar = self._fakes(real, n // 2 if self.w["adv"] > 0 else 0)
            recon = fake[:n]
            kl = L.kl_divergence(mu, logvar)
            rec = L.recon_loss(recon, real)
            shared = kl_w * kl + self.w["rec"] * rec
            if self.w["feat"] > 0:
                feat = L.feature_recon_loss(D.feature_levels, recon, real)
                shared = shared + self.w["feat"] * feat
                logs["feat"] = feat.detach()
            adv = None
            if self.w["adv"] > 0:
                adv = L.wgan_generator_loss(D(self._critic_input(fake)))
                logs["g"] = adv.detach()
        self._update_split(shared, None if adv is None else self.w["adv"] * adv)
        logs.update(kl=kl.detach(), rec=rec.detach())
        return logs

    def _update_split(self, shared: torch.Tensor, decoder_only: torch.Tensor | None) -> None:
        """Step the encoder on `shared` and the decoder on `shared + decoder_only` (the
        adversarial term never reaches the encoder): one graph, two backward passes."""
        G = self.nets["G"]
        for n in ("E", "G"):
            self.optims[n].zero_grad(set_to_none=True)
        scale = self.scaler.scale if self.scaler is not None else (lambda t: t)
        scale(shared).backward(retain_graph=decoder_only is not None)
        if decoder_only is not None:
            scale(decoder_only).backward(inputs=[p for p in G.parameters() if p.requires_grad])
        self.step_optimizers(("E", "G"))

    def sample(self, gens: dict[str, nn.Module], z: torch.Tensor) -> torch.Tensor:
        return gens["G"](z)

    @torch.no_grad()
    def reconstruct(
        self, x: torch.Tensor, G: nn.Module | None = None, E: nn.Module | None = None
    ) -> torch.Tensor:
        """Encoder mean → decoder: the stage's live-video path."""
        mu, _ = (E or self.nets["E"])(x)
        return (G or self.nets["G"])(mu)
