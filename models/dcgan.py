"""DCGAN generator and discriminator (Radford et al.; Beyers & Loane's art variant).

G: a 100-d z from N(0, 1) → transposed-conv stack (4x4 kernels; first stride 1 to 4x4, then
stride 2) with batch norm and leaky ReLU 0.2 → tanh image. D mirrors it. Widths configurable:
the published G is 1024-512-256-128-3 at 64 px; one more width doubles the resolution.
`upsample="resize"` swaps each stride-2 transposed conv for nearest x2 + 3x3 conv (Odena et al.).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.layers import check_upsample, dcgan_init, down_block, up_block, up_conv


@dataclass(frozen=True)
class DCGANConfig:
    z_dim: int = 100
    widths: tuple[int, ...] = (1024, 512, 256, 128)  # G, from z to image; D uses it reversed
    channels: int = 3
    slope: float = 0.2
    upsample: str = "transposed"  # or "resize" (nearest x2 + 3x3 conv); see models/layers.py

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.z_dim < 1 or not self.widths or min(self.widths) < 1:
            raise ValueError(f"DCGANConfig: bad z_dim/widths: {self.z_dim}, {self.widths}")
        check_upsample(self.upsample, "DCGANConfig")

    @property
    def image_size(self) -> int:
        return 4 * 2 ** len(self.widths)


class Generator(nn.Module):
    """z (N, z_dim) → image (N, channels, S, S) in [-1, 1], S = 4·2^len(widths)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        blocks = [up_block(config.z_dim, w[0], first=True, slope=config.slope)]
        up = config.upsample
        blocks += [
            up_block(a, b, slope=config.slope, upsample=up) for a, b in zip(w, w[1:], strict=False)
        ]
        self.body = nn.Sequential(*blocks)
        self.to_rgb = up_conv(w[-1], config.channels, up)
        self.apply(dcgan_init)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.body(z.view(z.shape[0], -1, 1, 1))
        return torch.tanh(self.to_rgb(x))


class Discriminator(nn.Module):
    """Image → one logit per image (a final linear layer; the sigmoid lives in the loss)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w = tuple(reversed(config.widths))
        blocks = [down_block(config.channels, w[0], norm=False, slope=config.slope)]
        blocks += [down_block(a, b, slope=config.slope) for a, b in zip(w, w[1:], strict=False)]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(w[-1] * 4 * 4, 1)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)
