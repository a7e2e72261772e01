"""From a checkpoint's `kind` to the classes that rebuild it.

Each kind names its Config dataclass and the networks ("parts") a checkpoint of that kind
may hold. `G` is always the image generator the stage decodes with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from models import dcgan, dcgan128, dual, unet, vaegan


@dataclass(frozen=True)
class ModelKind:
    name: str
    config: type
    parts: dict[str, Callable[[Any], nn.Module]]


KINDS: dict[str, ModelKind] = {
    "dcgan": ModelKind(
        "dcgan", dcgan.DCGANConfig, {"G": dcgan.Generator, "D": dcgan.Discriminator}
    ),
    "dcgan128": ModelKind(
        "dcgan128",
        dcgan128.DCGAN128Config,
        {"G": dcgan128.Generator, "D": dcgan128.Discriminator},
    ),
    # G = decoder (what the stage plays), E = encoder (live video → z), D = WGAN-GP critic
    "vaegan": ModelKind(
        "vaegan",
        vaegan.VAEGANConfig,
        {"G": vaegan.Decoder, "E": vaegan.Encoder, "D": vaegan.Critic},
    ),
    "wgan-unet": ModelKind("wgan-unet", unet.UNetConfig, {"G": unet.Generator, "D": unet.Critic}),
    # G0, G1 = the two generators (one latent space, side-by-side playback), D = discriminator.
    # Exports also store G = a copy of G0 so a single-generator stage plays them as they are.
    "dual": ModelKind(
        "dual",
        dual.DualConfig,
        {
            "G0": dual.StyleGenerator,
            "G1": dual.StyleGenerator,
            "G": dual.StyleGenerator,
            "D": dual.DualDiscriminator,
        },
    ),
}


def kind_of(name: str) -> ModelKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown model kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A Config dataclass as plain primitives (tuples become lists), ready for a checkpoint."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def config_from_dict(kind: str, data: dict[str, Any]) -> Any:
    cls = kind_of(kind).config
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{kind} config: unknown keys {unknown}")
    return cls(**data)
