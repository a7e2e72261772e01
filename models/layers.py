"""Shared building blocks for the generators and critics.

Small helpers only: weight init in the DCGAN style and the up/down conv blocks that the
model families build on.
"""

from __future__ import annotations

from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def up_block(c_in: int, c_out: int, *, first: bool = False, slope: float = 0.2) -> nn.Sequential:
    """Transposed conv (4x4) → batch norm → leaky ReLU. `first` maps a 1x1 z to 4x4 (stride 1,
    no padding); otherwise the block doubles the resolution (stride 2, padding 1)."""
    stride, pad = (1, 0) if first else (2, 1)
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(slope, inplace=True),
    )


def down_block(c_in: int, c_out: int, *, norm: bool = True, slope: float = 0.2) -> nn.Sequential:
    """Conv (4x4, stride 2, padding 1) → optional batch norm → leaky ReLU; halves resolution."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(slope, inplace=True))
    return nn.Sequential(*layers)
