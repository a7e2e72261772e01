"""What the StyleGAN2 and StyleGAN3 generators (`stylegan2`, `stylegan3`) share, as the same
arithmetic in both: the Generator's glue (a synthesis network, then a mapping network for the ws
it takes), the mapping network's 2nd-moment normalisation, upfirdn2d's zero insertion and
padding, and how a config value is shown in a message. What only looks alike stays in each
module: the mapping networks' dtype, class and truncation handling, the filters, the noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class GeneratorBase(nn.Module):
    """NVlabs' Generator: `synthesis(ws)` then `mapping(z, c, ψ, cutoff)` built from one config,
    in that order (the original's, so a seeded init draws the same weights), with its sizes as
    attributes. Each kind's subclass has its own `forward` (they treat noise_mode differently)."""

    def __init__(
        self,
        config: Any,
        synthesis: Callable[[Any], nn.Module],
        mapping: Callable[[Any, int], nn.Module],
    ) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = synthesis(config)
        self.num_ws = self.synthesis.num_ws
        self.mapping = mapping(config, self.num_ws)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x over the root of its mean square along dim 1 (the mapping network's z and embedding)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def insert_zeros_and_pad(x: torch.Tensor, up: int, padding: Sequence[int]) -> torch.Tensor:
    """upfirdn2d before its filter: up-sample (N, C, H, W) by inserting up − 1 zeros after each
    pixel, then pad as [x0, x1, y0, y1] (negative: crop)."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    return x


def brief(value: object) -> str:
    """A value for a message, cut short (it comes from a file)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
