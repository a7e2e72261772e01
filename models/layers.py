"""Shared building blocks for the generators and critics.

Small helpers only: weight init in the DCGAN style and the up/down conv blocks that the
model families build on.

Up-sampling comes two ways (a model's config field `upsample`): "transposed", the papers'
4x4 stride-2 transposed convolution, or "resize", Odena et al. 2016 ("Deconvolution and
checkerboard artifacts"): nearest-neighbour x2 then a 3x3 convolution, which cannot leave the
2x2-periodic grid uneven kernel overlap paints. `up_conv` makes either one module with its own
4-D weight whose output is the up-sampled feature map, so the layer count and order (network
bending's view of a generator) are the same in both modes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UPSAMPLE = ("transposed", "resize")  # a model config's `upsample` choices


def check_upsample(value: object, owner: str) -> None:
    """ValueError unless `value` is one of UPSAMPLE (the message names the owner config)."""
    if not isinstance(value, str) or value not in UPSAMPLE:
        text = repr(value)
        text = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"{owner}: upsample must be one of {', '.join(UPSAMPLE)}, got {text}")


class ResizeConv2d(nn.Conv2d):
    """Nearest-neighbour x2 up-sampling, then a 3x3 convolution (padding 1): every output pixel
    sees the same number of input taps, so no checkerboard at any weights."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True) -> None:
        super().__init__(c_in, c_out, 3, 1, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def up_conv(c_in: int, c_out: int, upsample: str = "transposed", bias: bool = False) -> nn.Module:
    """A x2 up-sampling convolution: ConvTranspose2d(4, 2, 1) or ResizeConv2d (3x3)."""
    if upsample == "resize":
        return ResizeConv2d(c_in, c_out, bias=bias)
    check_upsample(upsample, "up_conv")
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def up_block(
    c_in: int,
    c_out: int,
    *,
    first: bool = False,
    slope: float = 0.2,
    upsample: str = "transposed",
) -> nn.Sequential:
    """Up-sampling conv → batch norm → leaky ReLU. `first` maps a 1x1 z to 4x4 (a transposed
    conv, stride 1, no padding, in either mode: on a 1x1 input it is a dense projection, no
    overlap); otherwise the block doubles the resolution (`up_conv` of the `upsample` mode)."""
    if first:
        conv: nn.Module = nn.ConvTranspose2d(c_in, c_out, 4, 1, 0, bias=False)
    else:
        conv = up_conv(c_in, c_out, upsample)
    return nn.Sequential(
        conv,
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
