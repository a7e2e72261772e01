"""An NVlabs network pickle → an ordinary latent-stage checkpoint (kind "stylegan2"/"stylegan3").

The pickle is read as data (`reader`), the network rebuilt as our own module from its init
kwargs and its weights loaded strictly; the checkpoint then loads like every other kind, with
`weights_only=True`, and `generator(z)` plays the chosen ψ and class.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from torch import nn

from models.checkpoint import save_checkpoint
from models.registry import MAX_PARAMETERS, ConfigError, parameter_count
from models.stylegan import stylegan2
from models.stylegan.reader import NetworkData, NetworkPickleError, read_network_pickle

STYLEGAN2_MODULES = ("training.networks_stylegan2", "training.networks")  # stylegan3 / ada repos
STYLEGAN3_MODULES = ("training.networks_stylegan3",)


def import_network(
    pkl: str | os.PathLike,
    out: str | os.PathLike,
    *,
    psi: float = 1.0,
    class_index: int | None = None,
    which: str = "G_ema",
) -> Path:
    """Write the pickle's generator `which` as a checkpoint at `out` (atomically); its
    `generator(z)` uses truncation ψ = `psi` and, for a conditional network, class
    `class_index` (required there). NetworkPickleError (naming the pickle) for anything the
    stage cannot play: not a StyleGAN2/3 generator, unsupported options, sizes out of bounds."""
    pkl = Path(pkl)
    networks = read_network_pickle(pkl)
    if which not in networks:
        raise NetworkPickleError(
            f"{pkl}: no {which!r} network in it (it has {', '.join(sorted(networks))})"
        )
    net = networks[which]
    if net.class_name != "Generator":
        raise NetworkPickleError(
            f"{pkl}: {which} is a {net.class_name[:60]} ({net.module}), not a generator"
        )
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi):
        raise NetworkPickleError(f"{pkl}: truncation ψ must be a finite number, got {psi!r}")
    _check_class(pkl, net, class_index)
    if net.module in STYLEGAN2_MODULES:
        kind, config = "stylegan2", _stylegan2_config(pkl, net, psi, class_index)
        build = stylegan2.Generator
    elif net.module in STYLEGAN3_MODULES:
        kind, config, build = _stylegan3(pkl, net, psi, class_index)
    else:
        raise NetworkPickleError(
            f"{pkl}: {which} is not a StyleGAN2 or StyleGAN3 generator (module {net.module})"
        )
    if config.img_channels != 3:
        raise NetworkPickleError(
            f"{pkl}: {which} makes {config.img_channels}-channel images; the stage plays RGB"
        )
    size = parameter_count(kind, config, ["G"])
    if size > MAX_PARAMETERS:
        raise NetworkPickleError(f"{pkl}: {size:,} parameters (at most {MAX_PARAMETERS:,})")
    G = _loaded(pkl, which, build(config), net)
    train = {
        "source": pkl.name,
        "network": which,
        "module": net.module,
        "truncation_psi": float(psi),
        "class_index": class_index,
    }
    return save_checkpoint(out, kind, config, {"G": G}, train=train)


def _check_class(pkl: Path, net: NetworkData, class_index: int | None) -> None:
    c_dim = net.init_kwargs.get("c_dim", 0)
    if not isinstance(c_dim, int) or c_dim < 0:
        raise NetworkPickleError(f"{pkl}: a malformed c_dim {c_dim!r}")
    if c_dim and class_index is None:
        raise NetworkPickleError(
            f"{pkl}: a conditional network ({c_dim} classes): choose one, class 0…{c_dim - 1}"
        )
    if class_index is not None and not (
        isinstance(class_index, int) and not isinstance(class_index, bool)
    ):
        raise NetworkPickleError(f"{pkl}: class must be a whole number, got {class_index!r}")
    if class_index is not None and not 0 <= class_index < c_dim:
        classes = f"its classes are 0…{c_dim - 1}" if c_dim else "it is unconditional"
        raise NetworkPickleError(f"{pkl}: no class {class_index}: {classes}")


def _stylegan2_config(
    pkl: Path, net: NetworkData, psi: float, class_index: int | None
) -> stylegan2.StyleGAN2Config:
    try:
        return stylegan2.StyleGAN2Config.from_init_kwargs(
            net.init_kwargs, truncation_psi=float(psi), class_index=class_index
        )
    except (ConfigError, ValueError, TypeError) as e:
        raise NetworkPickleError(f"{pkl}: StyleGAN2 generator: {e}") from None


def _stylegan3(pkl: Path, net: NetworkData, psi: float, class_index: int | None) -> tuple:
    """("stylegan3", config, Generator) from models/stylegan/stylegan3.py, when it is there."""
    try:
        from models.stylegan import stylegan3
    except ModuleNotFoundError as e:
        if e.name != "models.stylegan.stylegan3":
            raise
        raise NetworkPickleError(f"{pkl}: StyleGAN3 networks are not supported yet") from None
    try:
        config = stylegan3.StyleGAN3Config.from_init_kwargs(net.init_kwargs)
        names = {f.name for f in dataclasses.fields(config)}
        playback: dict[str, Any] = {"truncation_psi": float(psi), "class_index": class_index}
        playback = {k: v for k, v in playback.items() if k in names}
        config = dataclasses.replace(config, **playback).bounded()
    except (ConfigError, ValueError, TypeError) as e:
        raise NetworkPickleError(f"{pkl}: StyleGAN3 generator: {e}") from None
    return "stylegan3", config, stylegan3.Generator


def _loaded(pkl: Path, which: str, G: nn.Module, net: NetworkData) -> nn.Module:
    """G with the pickle's weights, every name and shape checked (strict)."""
    try:
        G.load_state_dict(net.state, strict=True)
    except RuntimeError as e:
        first = " ".join(str(e).split())[:300]
        message = f"{pkl}: {which}'s weights do not fit its config: {first}"
        raise NetworkPickleError(message) from None
    return G.eval().requires_grad_(False)
