"""Scenes anchored on a picture: a VAE-GAN's encoder gives the latent a scene starts from.

`image = "photo.png"` in a scene whose model has an encoder ("E") becomes the scene's `z`: the
picture, centre-cropped square and scaled to the encoder's input, encoded once when the show
opens (the encoder's mean). A VAE-GAN's decoder draws its best pictures near the codes of real
ones; its prior samples (seeds) can be far from them, so an artist's own photograph is the
surer start — and the drift, the face and the keys move from there.

A picture that cannot be used (no encoder, unreadable) is a problem for `stage check`; a show
that plays anyway falls back to the scene's number as its seed, with one line in the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from performer.engine.encoder_mix import to_input
from performer.show import Show


class AnchorError(ValueError):
    """A picture that cannot anchor a scene; the message names the picture."""


def read_picture(path: Path) -> np.ndarray:
    """The picture at `path` as HxWx3 uint8 RGB, centre-cropped square."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AnchorError(f"cannot read {path} as a picture")
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.cvtColor(image[y : y + s, x : x + s], cv2.COLOR_BGR2RGB)


@torch.no_grad()
def encode_picture(model: Any, path: Path) -> tuple[float, ...]:
    """The encoder's mean for the picture at `path` (a loaded checkpoint with an "E" part)."""
    encoder = model.parts.get("E")
    if encoder is None:
        raise AnchorError(
            f"{path.name}: model {model.path.name} ({model.kind}) has no encoder; a picture"
            " anchors a VAE-GAN's scene (use `seed` or `z` here)"
        )
    generator = model.parts["G"]
    param = next(generator.parameters())
    size = int(generator(torch.zeros(1, generator.z_dim, device=param.device)).shape[-1])
    x = to_input(read_picture(path), size, param.device, param.dtype)
    out = encoder(x)
    mu = (out[0] if isinstance(out, (tuple, list)) else out).reshape(-1)
    return tuple(float(v) for v in mu.float().cpu())


def anchor_scenes(show: Show, models: Mapping[str, Any]) -> tuple[Show, list[str]]:
    """`show` with every `image` scene's `z` set from its picture, and the problems (each
    naming the scene); a scene with a problem keeps no `z` (it falls back to a seed)."""
    scenes, problems = list(show.scenes), []
    for i, scene in enumerate(scenes):
        if scene.image is None or scene.z is not None or scene.model not in models:
            continue
        try:
            z = encode_picture(models[scene.model], scene.image)
        except (AnchorError, OSError, cv2.error) as e:
            problems.append(f"scenes[{i}].image ({scene.name}): {e}")
            continue
        scenes[i] = dataclasses.replace(scene, z=z)
    return dataclasses.replace(show, scenes=tuple(scenes)), problems
