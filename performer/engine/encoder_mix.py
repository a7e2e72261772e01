"""Live video through a VAE-GAN: a camera picture → the encoder's mean → mixed into the latent.

The engine calls `mix_video` on its worker, just before decoding, when the show's `video.mix`
parameter is above 0 and the checkpoint has an encoder ("E": x in [-1, 1] → (mu, logvar)).
"""

from __future__ import annotations

import weakref

import numpy as np
import torch
import torch.nn.functional as F

from performer.core.latent import slerp


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
    a = z[0].float().cpu().numpy()
    b = mu[0].float().cpu().numpy()
    return torch.from_numpy(slerp(a, b, float(amount))).to(z.device, z.dtype).view(1, -1)
