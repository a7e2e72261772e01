"""From a checkpoint's `kind` to the classes that rebuild it.

Each kind names its Config dataclass and the networks ("parts") a checkpoint of that kind
may hold. `G` is always the image generator the stage decodes with.

A checkpoint's config is untrusted input: `config_from_dict` bounds every size in it (widths,
z_dim, image size, layer counts) before a dataclass is made, and `parameter_count` sizes the
networks on the meta device (no memory) so a loader can refuse one too big before building it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from models import dcgan, dcgan128, dual, unet, vaegan
from models.layers import UPSAMPLE
from models.stylegan import stylegan2


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
    # an imported NVlabs StyleGAN2(-ADA) network pickle (models/stylegan/convert.py): G only
    "stylegan2": ModelKind("stylegan2", stylegan2.StyleGAN2Config, {"G": stylegan2.Generator}),
    # "stylegan3" is registered at the end of this file when models/stylegan/stylegan3.py exists
}


# Bounds on a config's whole-number fields, inclusive (a list's bound applies to each entry).
# Every size field of every Config is here (a test checks): add a new one with its bound.
LIMITS: dict[str, tuple[int, int]] = {
    "z_dim": (1, 4096),
    "w_dim": (1, 4096),
    "embed_dim": (1, 4096),
    "ch": (1, 4096),
    "max_ch": (1, 4096),
    "widths": (1, 4096),
    "critic_widths": (1, 4096),
    "channels": (1, 16),
    "image_size": (4, 2048),
    "mapping_layers": (1, 32),
    "feature_level": (0, 16),
    **stylegan2.LIMITS,
}
MAX_LAYERS = 12  # entries in a widths list
# A config's text fields and the values each may take. Absent from an older checkpoint, a field
# takes its dataclass default ("upsample": "transposed", what every model was before it existed).
CHOICES: dict[str, tuple[str, ...]] = {"upsample": UPSAMPLE}
MAX_PARAMETERS = 2 * 10**9  # in the networks a checkpoint would build


class ConfigError(ValueError):
    """A config value out of bounds; the message names the key (`config.z_dim = …`)."""


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
    """The kind's Config from plain data, every value checked against its bounds first
    (ConfigError names the key); unknown keys and the dataclass's own checks raise ValueError."""
    cls = kind_of(kind).config
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{kind} config: unknown keys {unknown}")
    for key, value in data.items():
        check_value(key, value)
    return cls(**data)


def check_value(key: str, value: Any) -> None:
    """Raise ConfigError unless `value` is a sane `config.<key>`: a size field a whole number
    within LIMITS (each entry of a list, and at most MAX_LAYERS of them); a float finite; a
    text field one of its CHOICES. None passes (an optional size left out): a Config says which
    of its fields may be None."""
    if value is None:
        return
    if key in CHOICES:
        if not isinstance(value, str) or value not in CHOICES[key]:
            choices = ", ".join(CHOICES[key])
            raise ConfigError(f"config.{key} = {_show(value)} is not one of {choices}")
        return
    if key in LIMITS:
        if isinstance(value, (list, tuple)):
            if len(value) > MAX_LAYERS:
                raise ConfigError(f"config.{key} has {len(value)} entries (at most {MAX_LAYERS})")
            for i, item in enumerate(value):
                _check_int(f"{key}[{i}]", item, LIMITS[key])
        else:
            _check_int(key, value, LIMITS[key])
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config.{key} = {value} is not a finite number")


def _check_int(name: str, value: Any, bounds: tuple[int, int]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"config.{name} = {_show(value)} is not a whole number")
    low, high = bounds
    if value > high:
        raise ConfigError(f"config.{name} = {_show(value)} is out of range (at most {high})")
    if value < low:
        raise ConfigError(f"config.{name} = {_show(value)} is out of range (at least {low})")


def _show(value: Any) -> str:
    """A value for a message, cut short (a sender controls it)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parameter_count(kind: str, config: Any, parts: Iterable[str] | None = None) -> int:
    """The parameters (weights and buffers) the networks of `parts` (default: all the kind's)
    would hold, counted by building them on the meta device: shapes only, no memory. Bound the
    config's values first (`config_from_dict`): the build's time grows with its layer count."""
    k = kind_of(kind)
    names = list(k.parts) if parts is None else [p for p in parts if p in k.parts]
    total = 0
    with torch.device("meta"), _NoRandomInit():
        for name in names:
            net = k.parts[name](config)
            total += sum(t.numel() for t in (*net.parameters(), *net.buffers()))
    return total


class _NoRandomInit(TorchFunctionMode):
    """(Meta builds only.) Random initialisation skipped: meta tensors hold no values, and
    torch's meta kernels for random ops import sympy, a second's start-up, for nothing."""

    FILLS = frozenset(
        [
            "normal_",
            "uniform_",
            "trunc_normal_",
            "kaiming_normal_",
            "kaiming_uniform_",
            "xavier_normal_",
            "xavier_uniform_",
            "orthogonal_",
            "sparse_",
            "random_",
            "bernoulli_",
        ]
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in self.FILLS:
            return args[0] if args else kwargs["tensor"]
        if name in ("randn", "rand"):
            kwargs.pop("generator", None)
            return torch.empty(*args, **kwargs)
        if name in ("randn_like", "rand_like"):
            return torch.empty_like(*args, **kwargs)
        return func(*args, **kwargs)


def _register_stylegan3() -> None:
    """Hook: "stylegan3" (part "G") once models/stylegan/stylegan3.py exists. That module
    defines StyleGAN3Config and Generator(config), and may define LIMITS: its size fields,
    added here (a key already here keeps its bound; the module's own check applies its own)."""
    try:
        from models.stylegan import stylegan3
    except ModuleNotFoundError as e:
        if e.name != "models.stylegan.stylegan3":
            raise
        return
    for key, bounds in getattr(stylegan3, "LIMITS", {}).items():
        LIMITS.setdefault(key, bounds)
    KINDS["stylegan3"] = ModelKind(
        "stylegan3", stylegan3.StyleGAN3Config, {"G": stylegan3.Generator}
    )


_register_stylegan3()
