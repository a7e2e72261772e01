"""Self-describing checkpoints: `{"format", "kind", "config", "train", "step", "state", ...}`.

Enough to rebuild every network with no other file. Written atomically (temp file + rename),
read with `torch.load(weights_only=True)`; every failure is a CheckpointError naming the file.
A checkpoint is untrusted input: its config is bounded key by key, and the networks it asks for
are sized on the meta device, before any of them is built.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.registry import (
    MAX_PARAMETERS,
    ConfigError,
    config_from_dict,
    config_to_dict,
    kind_of,
    parameter_count,
)

FORMAT = 1


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable, truncated or not ours; the message names it."""


@dataclass
class Loaded:
    """A checkpoint rebuilt: its networks in eval mode, plus what the stage needs to play it."""

    path: Path
    kind: str
    config: Any
    parts: dict[str, nn.Module]
    step: int = 0
    train: dict[str, Any] = field(default_factory=dict)
    directions: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def generator(self) -> nn.Module:
        return self.parts["G"]


def save_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: Any,
    parts: Mapping[str, nn.Module | Mapping[str, torch.Tensor]],
    *,
    step: int = 0,
    train: Mapping[str, Any] | None = None,
    directions: Mapping[str, torch.Tensor] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    kind_of(kind)
    state = {
        name: {
            k: v.detach().cpu()
            for k, v in (p.state_dict() if isinstance(p, nn.Module) else p).items()
        }
        for name, p in parts.items()
    }
    payload: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "config": config_to_dict(config),
        "train": dict(train or {}),
        "step": int(step),
        "state": state,
        "directions": {k: v.detach().cpu().float() for k, v in (directions or {}).items()},
    }
    payload.update(extra or {})
    return atomic_torch_save(payload, path)


def atomic_torch_save(payload: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temp file in the target's folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict, validated; tensors on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as e:  # torch raises RuntimeError, EOFError, UnpicklingError, zipfile errors...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated, corrupt or not a torch file): {first}"
        ) from None
    if not isinstance(data, dict) or "format" not in data or "kind" not in data:
        raise CheckpointError(
            f"{path}: a torch file, but not a latent-stage checkpoint (no 'format'/'kind' keys)"
        )
    if data["format"] != FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {data['format']!r}; this stage reads {FORMAT}"
        )
    for key, typ in (("config", dict), ("state", dict)):
        if not isinstance(data.get(key), typ):
            raise CheckpointError(f"{path}: checkpoint has no {key!r} dict")
    try:
        kind_of(data["kind"])
    except KeyError as e:
        raise CheckpointError(f"{path}: {e.args[0]}") from None
    return data


def load_checkpoint(
    path: str | os.PathLike, parts: Iterable[str] | None = None, required: Iterable[str] = ("G",)
) -> Loaded:
    """Rebuild the networks of a checkpoint (all of them, or those of `parts` it has), in eval
    mode on the CPU. A `required` part that is missing is an error. A config out of bounds, or
    one whose networks would be too big, is refused before anything is built."""
    path = Path(path)
    data = read_checkpoint(path)
    kind = kind_of(data["kind"])
    wanted = list(data["state"]) if parts is None else list(parts)
    # optimizer or EMA entries of a training checkpoint are not networks
    names = [n for n in wanted if n in kind.parts and n in data["state"]]
    try:
        config = config_from_dict(kind.name, data["config"])
        size = parameter_count(kind.name, config, names)
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as e:
        raise CheckpointError(f"{path}: bad {kind.name} config: {e}") from None
    if size > MAX_PARAMETERS:
        raise CheckpointError(
            f"{path}: its config would build {size:,} parameters ({', '.join(names)});"
            f" at most {MAX_PARAMETERS:,}"
        )
    built: dict[str, nn.Module] = {}
    for name in names:
        net = kind.parts[name](config)
        try:
            net.load_state_dict(data["state"][name])
        except RuntimeError as e:
            raise CheckpointError(f"{path}: {name} weights do not fit its config: {e}") from None
        built[name] = net.eval().requires_grad_(False)
    for name in required:
        if name not in built:
            raise CheckpointError(f"{path}: no {name!r} network in this {kind.name} checkpoint")
    return Loaded(
        path=path,
        kind=kind.name,
        config=config,
        parts=built,
        step=int(data.get("step", 0)),
        train=dict(data.get("train", {})),
        directions=dict(data.get("directions", {})),
    )
