"""Live video through a VAE-GAN: a camera picture → the encoder's mean → mixed into the latent.

The engine calls `mix_video` on its worker, just before decoding, when the show's `video.mix`
parameter is above 0 and the checkpoint has an encoder ("E": x in [-1, 1] → (mu, logvar)).
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """performer.core.latent.slerp on the generator's device, without a host round trip or a
    sync (both branches computed, chosen by `where`): directions spherically, norms linearly."""
    t = min(max(float(t), 0.0), 1.0)
    a, b = a.double(), b.double()  # as the numpy version: sin(omega) near pi stays exact
    na, nb = a.norm(), b.norm()
    ua, ub = a / na.clamp_min(1e-8), b / nb.clamp_min(1e-8)
    omega = torch.acos((ua * ub).sum().clamp(-1.0, 1.0))
    s = torch.sin(omega)
    s = torch.where(s == 0, torch.ones_like(s), s)  # (only where `near` takes over)
    near = omega < 1e-4  # nearly parallel: a straight line is exact enough
    wa = torch.where(near, torch.full_like(omega, 1 - t), torch.sin((1 - t) * omega) / s)
    wb = torch.where(near, torch.full_like(omega, t), torch.sin(t * omega) / s)
    out = (wa * ua + wb * ub) * ((1 - t) * na + t * nb)
    return torch.where((na < 1e-8) | (nb < 1e-8), (1 - t) * a + t * b, out).float()


def to_input(image: np.ndarray, size: int, device: torch.device, dtype: torch.dtype):
    """HxWx3 uint8 RGB → 1x3xSxS in [-1, 1] (area-averaged down, bilinear up)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    x = x.permute(2, 0, 1)[None].to(dtype) / 127.5 - 1.0
    if x.shape[-2:] != (size, size):
        mode = "area" if min(x.shape[-2:]) >= size else "bilinear"
        x = F.interpolate(x, size=(size, size), mode=mode)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cpu" else x


# encoder → (the last picture, its code): a camera picture is encoded once, however many
# frames decode it (holding the picture keeps its identity from being reused)
_last: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encode(encoder: torch.nn.Module, image: np.ndarray, size: int, like: torch.Tensor):
    """The encoder's mean for a picture, as a (1, dim) tensor on `like`'s device and dtype."""
    last = _last.get(encoder)
    if last is not None and last[0] is image:
        return last[1]
    out = encoder(to_input(image, size, like.device, like.dtype))
    mu = (out[0] if isinstance(out, (tuple, list)) else out).reshape(1, -1)
    _last[encoder] = (image, mu)
    return mu


def mix_video(
    encoder: torch.nn.Module,
    z: torch.Tensor,
    video: tuple[np.ndarray, float],
    size: int,
) -> torch.Tensor:
    """`z` (1, dim) moved toward the picture's code by `video`'s mix (0 … 1, spherically)."""
    image, amount = video
    mu = encode(encoder, image, size, z)
    if mu.shape[1] != z.shape[1]:
        raise ValueError(
            f"the encoder gives a {mu.shape[1]}-d code, the generator takes {z.shape[1]}"
        )
    if amount >= 1.0:
        return mu
    return slerp(z[0], mu[0], float(amount)).to(z.dtype).view(1, -1)
