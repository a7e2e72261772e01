"""DCGAN, the 128 px variant (Karavoussanos): a fully connected layer, then four transposed
convolutions; the discriminator has four strided convolutions, dropout in two of them.

G: z (N(0, 1)) → FC → (w0, S/16, S/16) → three up blocks (ReLU, batch norm) → RGB, tanh.
`upsample="resize"` swaps each transposed conv for nearest x2 + 3x3 conv (Odena et al.).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.layers import check_upsample, dcgan_init, up_conv


@dataclass(frozen=True)
class DCGAN128Config:
    z_dim: int = 100
    widths: tuple[int, ...] = (512, 256, 128, 64)  # FC output, then each transposed conv's input
    image_size: int = 128
    channels: int = 3
    dropout: float = 0.3  # in D's second and fourth conv layers
    slope: float = 0.2
    upsample: str = "transposed"  # or "resize" (nearest x2 + 3x3 conv); see models/layers.py

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 4 or min(self.widths) < 1 or self.z_dim < 1:
            raise ValueError(f"DCGAN128Config: need 4 widths ≥ 1, got {self.widths}")
        if self.image_size % 16 or self.image_size < 16:
            raise ValueError(
                f"DCGAN128Config: image_size must be a multiple of 16, got {self.image_size}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"DCGAN128Config: dropout must be in [0, 1), got {self.dropout}")
        check_upsample(self.upsample, "DCGAN128Config")


class Generator(nn.Module):
    """z (N, z_dim) → image (N, channels, S, S) in [-1, 1]."""

    def __init__(self, config: DCGAN128Config) -> None:
        super().__init__()
        self.config = config
        w, s = config.widths, config.image_size // 16
        self.fc = nn.Sequential(
            nn.Linear(config.z_dim, w[0] * s * s, bias=False),
            nn.BatchNorm1d(w[0] * s * s),
            nn.ReLU(inplace=True),
        )
        ups: list[nn.Module] = []
        for a, b in zip(w, w[1:], strict=False):
            ups += [up_conv(a, b, config.upsample), nn.BatchNorm2d(b)]
            ups.append(nn.ReLU(inplace=True))
        ups.append(up_conv(w[-1], config.channels, config.upsample, bias=True))
        self.body = nn.Sequential(*ups)
        self.apply(dcgan_init)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size // 16
        x = self.fc(z.reshape(z.shape[0], -1)).view(z.shape[0], -1, s, s)
        return torch.tanh(self.body(x))


class Discriminator(nn.Module):
    """Image → one logit (sigmoid in the loss). Widths are G's reversed."""

    def __init__(self, config: DCGAN128Config) -> None:
        super().__init__()
        self.config = config
        w = tuple(reversed(config.widths))
        layers: list[nn.Module] = []
        c_in = config.channels
        for i, c in enumerate(w):
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(config.slope, inplace=True))
            if i in (1, 3) and config.dropout:
                layers.append(nn.Dropout(config.dropout))
            c_in = c
        self.body = nn.Sequential(*layers)
        s = config.image_size // 16
        self.head = nn.Linear(w[-1] * s * s, 1)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)
