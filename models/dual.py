"""Data-free dual generators ("(un)stable equilibrium", Broad & Grierson): two style-based
generators (mapping network + modulated convolutions, StyleGAN2-style) sharing one latent
space, and one discriminator that tells which generator made an image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DualConfig:
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    image_size: int = 64
    ch: int = 32  # channels at the output resolution; doubles per halving, up to max_ch
    max_ch: int = 256
    channels: int = 3
    embed_dim: int = 128  # discriminator embedding (the generators' distance space)

    def __post_init__(self) -> None:
        n = math.log2(self.image_size / 4) if self.image_size >= 8 else 0
        if n != int(n) or n < 1:
            raise ValueError(f"DualConfig: image_size must be 4·2^k ≥ 8, got {self.image_size}")
        if min(self.z_dim, self.w_dim, self.mapping_layers, self.ch, self.max_ch) < 1:
            raise ValueError("DualConfig: sizes must be ≥ 1")

    def width(self, res: int) -> int:
        return min(self.max_ch, self.ch * self.image_size // res)

    @property
    def resolutions(self) -> list[int]:
        return [4 * 2**i for i in range(int(math.log2(self.image_size / 4)) + 1)]


class ModulatedConv(nn.Module):
    """3x3 (or 1x1) conv whose weights are scaled per input channel by a style from w, then
    (optionally) demodulated to unit output variance. Equalized learning rate."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, k: int = 3, demod: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.affine = nn.Linear(w_dim, c_in)
        nn.init.ones_(self.affine.bias)
        self.gain, self.demod, self.pad = 1.0 / math.sqrt(c_in * k * k), demod, k // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c, h, wd = x.shape
        style = self.affine(w)  # (N, c_in)
        weight = self.weight[None] * self.gain * style[:, None, :, None, None]
        if self.demod:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        out = F.conv2d(
            x.reshape(1, n * c, h, wd),
            weight.reshape(-1, c, *weight.shape[3:]),
            padding=self.pad,
            groups=n,
        )
        return out.view(n, -1, h, wd) + self.bias.view(1, -1, 1, 1)


class StyleGenerator(nn.Module):
    """z (N, z_dim) → mapping → w; a learned 4x4 constant, per resolution two modulated convs,
    a skip ToRGB summed up the resolutions → tanh image (N, 3, S, S). No noise inputs: the same
    z always gives the same image (the stage needs that)."""

    def __init__(self, config: DualConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        for i in range(config.mapping_layers):
            layers += [nn.Linear(config.z_dim if i == 0 else config.w_dim, config.w_dim)]
            layers.append(nn.LeakyReLU(0.2))
        self.mapping = nn.Sequential(*layers)
        res = config.resolutions
        self.const = nn.Parameter(torch.randn(1, config.width(4), 4, 4))
        self.convs = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        c_prev = config.width(4)
        for r in res:
            c = config.width(r)
            first = ModulatedConv(c_prev, c, config.w_dim)
            self.convs.append(nn.ModuleList([first, ModulatedConv(c, c, config.w_dim)]))
            self.to_rgb.append(ModulatedConv(c, config.channels, config.w_dim, k=1, demod=False))
            c_prev = c

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def map(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1)
        return self.mapping(z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.map(z)
        x = self.const.expand(z.shape[0], -1, -1, -1)
        rgb = None
        for i, ((c1, c2), to_rgb) in enumerate(zip(self.convs, self.to_rgb, strict=True)):
            if i:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = F.leaky_relu(c1(x, w), 0.2) * math.sqrt(2)
            x = F.leaky_relu(c2(x, w), 0.2) * math.sqrt(2)
            y = to_rgb(x, w)
            rgb = y if rgb is None else y + F.interpolate(rgb, scale_factor=2, mode="bilinear")
        return torch.tanh(rgb)


class DualDiscriminator(nn.Module):
    """Image → (embedding (N, embed_dim), logit (N,)): the logit says "generator 1 made this"."""

    def __init__(self, config: DualConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Conv2d(config.channels, config.width(config.image_size), 1)]
        for r in reversed(config.resolutions[1:]):
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(config.width(r), config.width(r // 2), 4, 2, 1)]
        layers.append(nn.LeakyReLU(0.2))
        self.body = nn.Sequential(*layers)
        self.embed = nn.Linear(config.width(4) * 16, config.embed_dim)
        self.head = nn.Linear(config.embed_dim, 1)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(self.body(x).flatten(1))
        return e, self.head(F.leaky_relu(e, 0.2)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]
