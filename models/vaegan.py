"""VAE-GAN (Larsen et al. 2016 with a WGAN-GP critic): encoder image → (μ, log σ²), decoder
z → image (the stage's generator), critic image → score, whose inner features give the
learned similarity for reconstruction. Resolution 32 ... 512 px by the number of blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from models.layers import check_upsample, up_conv


@dataclass(frozen=True)
class VAEGANConfig:
    z_dim: int = 128
    image_size: int = 128
    ch: int = 64  # channels at the first (largest) encoder/critic level; doubles per level
    max_ch: int = 512
    channels: int = 3
    slope: float = 0.2
    feature_level: int = 3  # critic level whose activations measure reconstruction (Larsen: 3)
    upsample: str = "transposed"  # decoder: or "resize" (nearest x2 + 3x3 conv; models/layers.py)

    def __post_init__(self) -> None:
        n = math.log2(self.image_size / 4) if self.image_size >= 8 else 0
        if n != int(n) or n < 1:
            raise ValueError(
                "VAEGANConfig: image_size must be 4·2^k ≥ 8 (32, 64, 128, 256 ...),"
                f" got {self.image_size}"
            )
        if min(self.z_dim, self.ch, self.max_ch) < 1:
            raise ValueError("VAEGANConfig: z_dim, ch and max_ch must be ≥ 1")
        check_upsample(self.upsample, "VAEGANConfig")

    @property
    def levels(self) -> int:
        return int(math.log2(self.image_size / 4))

    def widths(self) -> list[int]:
        """Channels after each stride-2 level of the encoder/critic, large image to 4x4."""
        return [min(self.max_ch, self.ch * 2**i) for i in range(self.levels)]


def _down(c_in: int, c_out: int, slope: float, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(slope, inplace=True))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Image (N, 3, S, S) in [-1, 1] → (μ, log σ²), each (N, z_dim)."""

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths()
        blocks = [_down(config.channels, w[0], config.slope, norm=False)]
        blocks += [_down(a, b, config.slope, norm=True) for a, b in zip(w, w[1:], strict=False)]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(w[-1] * 16, 2 * config.z_dim)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x).flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    """z (N, z_dim) → image (N, 3, S, S) in [-1, 1]: the generator the stage plays."""

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        self.config = config
        w = list(reversed(config.widths()))
        self.fc = nn.Sequential(
            nn.Linear(config.z_dim, w[0] * 16, bias=False),
            nn.BatchNorm1d(w[0] * 16),
            nn.LeakyReLU(config.slope, inplace=True),
        )
        ups: list[nn.Module] = []
        for a, b in zip(w, w[1:], strict=False):
            ups += [up_conv(a, b, config.upsample), nn.BatchNorm2d(b)]
            ups.append(nn.LeakyReLU(config.slope, inplace=True))
        ups.append(up_conv(w[-1], config.channels, config.upsample, bias=True))
        self.body = nn.Sequential(*ups)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z.reshape(z.shape[0], -1)).view(z.shape[0], -1, 4, 4)
        return torch.tanh(self.body(x))


class Critic(nn.Module):
    """WGAN-GP critic: image → unbounded score (N,). No batch norm (the gradient penalty is
    per sample). `features` is the learned similarity space for reconstruction."""

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths()
        c = [config.channels, *w]
        self.blocks = nn.ModuleList(
            _down(a, b, config.slope, norm=False) for a, b in zip(c, c[1:], strict=False)
        )
        self.head = nn.Linear(w[-1] * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return self.head(x.flatten(1)).squeeze(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations after `feature_level` blocks (clamped to the critic's depth)."""
        for b in self.blocks[: max(1, min(self.config.feature_level, len(self.blocks)))]:
            x = b(x)
        return x

    def feature_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each of the first `feature_level` blocks (a perceptual loss's
        levels: fine detail to parts)."""
        out = []
        for b in self.blocks[: max(1, min(self.config.feature_level, len(self.blocks)))]:
            x = b(x)
            out.append(x)
        return out
