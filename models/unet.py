"""WGAN-GP with a U-Net generator (Bojescu & Șolcă): a noise image in, a same-shape image out.

Down path: two 3x3 convs + leaky ReLU, then max pooling; up path: a 2x2 transposed conv, the
skip connection concatenated, two 3x3 convs. The latent z is the noise image, flattened.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 32
    channels: int = 3
    widths: tuple[int, ...] = (32, 64, 128)  # U-Net levels; the bottleneck has 2x the last
    critic_widths: tuple[int, ...] = (64, 128, 256, 512)
    slope: float = 0.2

    def __post_init__(self) -> None:
        for name in ("widths", "critic_widths"):
            object.__setattr__(self, name, tuple(int(w) for w in getattr(self, name)))
        if not self.widths or not self.critic_widths or min(*self.widths, *self.critic_widths) < 1:
            raise ValueError(f"UNetConfig: bad widths {self.widths} / {self.critic_widths}")
        for ws in (self.widths, self.critic_widths):
            if self.image_size % 2 ** len(ws) or self.image_size < 2 ** len(ws):
                raise ValueError(
                    f"UNetConfig: image_size {self.image_size} must be a multiple of"
                    f" 2^{len(ws)} for widths {ws}"
                )

    @property
    def z_dim(self) -> int:
        return self.channels * self.image_size**2


def _double_conv(c_in: int, c_out: int, slope: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, 1, 1),
        nn.LeakyReLU(slope, inplace=True),
        nn.Conv2d(c_out, c_out, 3, 1, 1),
        nn.LeakyReLU(slope, inplace=True),
    )


class Generator(nn.Module):
    """Noise (N, z_dim) or (N, C, S, S) → image (N, C, S, S) in [-1, 1]."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        w, s = config.widths, config.slope
        c = [config.channels, *w]
        self.down = nn.ModuleList(_double_conv(a, b, s) for a, b in zip(c, c[1:], strict=False))
        self.pool = nn.MaxPool2d(2)
        self.mid = _double_conv(w[-1], 2 * w[-1], s)
        ups, convs, c_in = [], [], 2 * w[-1]
        for c_skip in reversed(w):
            ups.append(nn.ConvTranspose2d(c_in, c_skip, 2, 2))
            convs.append(_double_conv(2 * c_skip, c_skip, s))
            c_in = c_skip
        self.up, self.up_conv = nn.ModuleList(ups), nn.ModuleList(convs)
        self.to_rgb = nn.Conv2d(w[0], config.channels, 1)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, s = self.config.channels, self.config.image_size
        x = z.reshape(z.shape[0], c, s, s)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.mid(x)
        for up, conv, skip in zip(self.up, self.up_conv, reversed(skips), strict=True):
            x = conv(torch.cat([up(x), skip], dim=1))
        return torch.tanh(self.to_rgb(x))


class Critic(nn.Module):
    """CNN critic 64-128-256-512 (4x4, stride 2, leaky ReLU, no batch norm) → score (N,)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        c = [config.channels, *config.critic_widths]
        layers: list[nn.Module] = []
        for a, b in zip(c, c[1:], strict=False):
            layers += [nn.Conv2d(a, b, 4, 2, 1), nn.LeakyReLU(config.slope, inplace=True)]
        self.body = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.critic_widths)
        self.head = nn.Linear(c[-1] * side * side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)
