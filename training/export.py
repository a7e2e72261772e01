"""`stage export runs/NAME --out models/checkpoints/NAME.pt`: the stage checkpoint of a run —
the EMA generator(s) (plus a VAE-GAN's encoder, its EMA where the run kept one), in eval mode,
nothing else: no critic (`stage analyze` finds it in the run recorded as `train.source`).
"""

from __future__ import annotations

import os
from pathlib import Path

from models.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from models.registry import config_from_dict, kind_of


def run_checkpoint(run: str | os.PathLike) -> Path:
    """A run folder's training checkpoint (or the file itself)."""
    run = Path(run)
    path = run / "last.pt" if run.is_dir() else run
    if not path.is_file():
        raise CheckpointError(f"{path}: no training checkpoint here (is {run} a run folder?)")
    return path


def export(run: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the stage checkpoint of `run` to `out`; returns `out`."""
    src = run_checkpoint(run)
    data = read_checkpoint(src)
    kind = kind_of(data["kind"])
    config = config_from_dict(kind.name, data["config"])
    state = data["state"]
    gens = ["G0", "G1"] if kind.name == "dual" else ["G"]
    parts = {}
    for g in gens:
        key = f"{g}_ema" if f"{g}_ema" in state else g
        if key not in state:
            raise CheckpointError(f"{src}: no {g!r} generator weights to export")
        net = kind.parts[g](config)
        net.load_state_dict(state[key])
        parts[g] = net.eval()
    if kind.name == "dual":
        parts["G"] = parts["G0"]  # the single-generator stage plays G0 as it is
    if "E" in kind.parts and ("E_ema" in state or "E" in state):
        enc = kind.parts["E"](config)  # the averaged encoder where the run kept one
        enc.load_state_dict(state["E_ema" if "E_ema" in state else "E"])
        parts["E"] = enc.eval()
    options = data.get("train", {}).get("options", {})
    train = {
        "source": str(src),
        "options": options,
        "ema": any(f"{g}_ema" in state for g in gens),
        "command": _command(options),
    }
    return save_checkpoint(
        out,
        kind.name,
        config,
        parts,
        step=int(data.get("step", 0)),
        train=train,
        directions=data.get("directions") or {},
    )


def _command(options: dict) -> str:
    """The `stage train` command line that reproduces the run (for the checkpoint's record)."""
    if not options:
        return ""
    keys = ("data", "size", "steps", "batch", "lr", "seed", "width", "z_dim", "mode", "resize")
    args = [f"--{k.replace('_', '-')} {options[k]}" for k in keys if options.get(k) is not None]
    return f"stage train {options.get('model')} {' '.join(args)} --out {options.get('out')}"
