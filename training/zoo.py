"""The models `stage train` knows: name → Config builder, recipe, default batch and learning
rate (from the papers: DCGAN Adam 1e-4 at batch 128; WGAN-GP Adam 1e-4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from training.dual import DualRecipe, dual_config
from training.gan import GANRecipe, dcgan128_config, dcgan_config, unet_config
from training.recipe import Recipe
from training.vaegan import VAEGANRecipe, vaegan_config


@dataclass(frozen=True)
class ModelSpec:
    config: Callable[..., Any]  # (size, width, z_dim) → Config
    recipe: Callable[[Any, dict[str, Any], torch.device], Recipe]
    batch: int
    lr: float
    size: int


MODELS: dict[str, ModelSpec] = {
    "dcgan": ModelSpec(dcgan_config, lambda c, o, d: GANRecipe("dcgan", c, o, d), 128, 1e-4, 64),
    "dcgan128": ModelSpec(
        dcgan128_config, lambda c, o, d: GANRecipe("dcgan128", c, o, d), 64, 2e-4, 128
    ),
    "wgan-unet": ModelSpec(
        unet_config, lambda c, o, d: GANRecipe("wgan-unet", c, o, d), 64, 1e-4, 32
    ),
    "vaegan": ModelSpec(vaegan_config, VAEGANRecipe, 64, 1e-4, 128),
    "dual": ModelSpec(dual_config, DualRecipe, 16, 2e-4, 64),
}


# The models whose config builder takes `upsample` ("transposed" | "resize"; models/layers.py).
UPSAMPLING = ("dcgan", "dcgan128", "vaegan")


def build(options: dict[str, Any], device: torch.device) -> Recipe:
    """The recipe for `options["model"]`, its networks initialised from the current RNG."""
    spec = MODELS[options["model"]]
    upsample = options.get("upsample") or "transposed"
    extra = {} if upsample == "transposed" else {"upsample": upsample}
    if extra and options["model"] not in UPSAMPLING:
        raise ValueError(
            f"{options['model']}: --upsample {upsample} is for {', '.join(UPSAMPLING)} only"
        )
    config = spec.config(
        int(options["size"]), float(options.get("width", 1.0)), options.get("z_dim"), **extra
    )
    return spec.recipe(config, options, device)
