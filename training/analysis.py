"""Latent analysis (`stage analyze CKPT`): interpolation grids and video, vector arithmetic,
principal latent directions (GANSpace-style, saved into the checkpoint as named directions the
stage's nudge keys use), and what the critic's/encoder's conv layers respond to in an image.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint import CheckpointError, atomic_torch_save, read_checkpoint
from models.registry import config_from_dict, kind_of
from models.seeds import seed_vector
from training import artifacts
from training.export import run_checkpoint

# the layer whose activations the PCA runs on, per kind (GANSpace: an early layer)
PCA_LAYER = {
    "dcgan": "body.0",
    "dcgan128": "fc",
    "vaegan": "fc",
    "wgan-unet": "mid",
    "dual": "mapping",
    "stylegan2": "mapping",  # GANSpace in w (the mapped ws), regressed to z
    "stylegan3": "mapping",
}


@dataclass
class Networks:
    path: Path
    kind: str
    config: Any
    gens: dict[str, nn.Module]  # "G" (or "G0", "G1"), EMA weights where the file has them
    others: dict[str, nn.Module] = field(default_factory=dict)  # "D", "E" when present
    data: dict[str, Any] = field(default_factory=dict)


def open_networks(path: str | os.PathLike) -> Networks:
    """Every network of a stage or training checkpoint (or run folder), in eval mode."""
    path = run_checkpoint(path)
    data = read_checkpoint(path)
    kind = kind_of(data["kind"])
    config = config_from_dict(kind.name, data["config"])
    state = data["state"]
    names = ["G0", "G1"] if kind.name == "dual" else ["G"]
    nets: dict[str, nn.Module] = {}
    for name in [*names, "D", "E"]:
        key = f"{name}_ema" if f"{name}_ema" in state else name
        if key not in state or name not in kind.parts:
            continue
        net = kind.parts[name](config)
        try:
            net.load_state_dict(state[key])
        except RuntimeError as e:
            raise CheckpointError(f"{path}: {name} weights do not fit its config: {e}") from None
        nets[name] = net.eval().requires_grad_(False)
    gens = {n: nets.pop(n) for n in names if n in nets}
    if not gens:
        raise CheckpointError(f"{path}: no generator in this {kind.name} checkpoint")
    return Networks(path, kind.name, config, gens, nets, data)


def seed_z(seed: int, dim: int) -> torch.Tensor:
    """The z of "seed N", exactly as shows draw it (`seed = N`): models.seeds.seed_vector."""
    return torch.from_numpy(seed_vector(seed, dim))


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (scaled between the two norms); linear when nearly parallel."""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega) < 1e-4:
        return torch.lerp(a, b, t)
    s = torch.sin(omega)
    u = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / s
    return u * torch.lerp(na, nb, t)


def interpolate(
    zs: list[torch.Tensor], steps: int, mode: str = "slerp", loop: bool = True
) -> torch.Tensor:
    """Rows of `steps` latents from each z to the next (the last back to the first)."""
    pairs = list(zip(zs, zs[1:] + zs[:1] if loop else zs[1:], strict=False))
    ts = np.linspace(0.0, 1.0, steps, endpoint=False)
    rows = [
        torch.stack(
            [slerp(a, b, float(t)) if mode == "slerp" else torch.lerp(a, b, float(t)) for t in ts]
        )
        for a, b in pairs
    ]
    return torch.cat(rows)


@torch.no_grad()
def decode(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    return torch.cat([G(c) for c in z.split(64)])


@torch.no_grad()
def principal_directions(
    G: nn.Module, kind: str, count: int = 8, samples: int = 1024, seed: int = 0
) -> dict[str, torch.Tensor]:
    """GANSpace (Härkönen et al. 2020): PCA of an early layer's activations over random z, then
    the z-space direction of each component by least squares (z ≈ U·coordinates). Named
    pc1 ... pcK, strongest first, unit length."""
    layer = dict(G.named_modules()).get(PCA_LAYER.get(kind, ""))
    if layer is None:
        raise ValueError(f"{kind}: no layer {PCA_LAYER.get(kind)!r} to analyse")
    feats: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: feats.append(o.detach().flatten(1).float()))
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.z_dim, generator=gen)
    try:
        decode(G, z)
    finally:
        hook.remove()
    acts = torch.cat(feats)
    count = max(1, min(count, samples - 1, acts.shape[1]))
    mean = acts.mean(0, keepdim=True)
    _, _, v = torch.pca_lowrank(acts - mean, q=count, center=False, niter=4)
    coords = (acts - mean) @ v  # (N, K)
    coords = coords / coords.std(0, keepdim=True).clamp_min(1e-8)
    u = torch.linalg.lstsq(coords, z).solution  # (K, z_dim)
    return {f"pc{i + 1}": d / d.norm().clamp_min(1e-8) for i, d in enumerate(u)}


def save_directions(path: Path, directions: dict[str, torch.Tensor]) -> Path:
    """Add (or replace) named directions in a checkpoint file, atomically."""
    data = read_checkpoint(path)
    data["directions"] = {
        **(data.get("directions") or {}),
        **{k: v.float() for k, v in directions.items()},
    }
    return atomic_torch_save(data, path)


def conv_responses(net: nn.Module, image: torch.Tensor, per_layer: int = 16) -> np.ndarray:
    """One row per conv layer: the `per_layer` most active channels' maps for `image` (1, 3,
    S, S), each normalised and upsampled to S — what the layers respond to (cf. the deconvnet
    figure of Zeiler & Fergus, here as activation maps)."""
    maps: list[torch.Tensor] = []
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    hooks = [
        c.register_forward_hook(lambda m, i, o: maps.append(o.detach().float())) for c in convs
    ]
    try:
        with torch.no_grad():
            net(image)
    finally:
        for h in hooks:
            h.remove()
    size = image.shape[-1]
    tiles = []
    for act in maps:
        a = F.leaky_relu(act[0], 0.0)
        top = a.mean((1, 2)).argsort(descending=True)[:per_layer]
        sel = F.interpolate(a[top][:, None], size=(size, size), mode="nearest")[:, 0]
        lo = sel.flatten(1).min(1).values[:, None, None]
        hi = sel.flatten(1).max(1).values[:, None, None]
        sel = (sel - lo) / (hi - lo).clamp_min(1e-8)
        tiles.append(
            torch.cat([sel, torch.zeros(per_layer - len(sel), size, size)])
            if len(sel) < per_layer
            else sel
        )
    if not tiles:
        return np.zeros((size, size, 3), np.uint8)
    grey = (torch.stack(tiles).flatten(0, 1) * 255).to(torch.uint8)[..., None].expand(-1, -1, -1, 3)
    return artifacts.grid(grey.numpy(), cols=per_layer)


def _image(path: Path | None, size: int) -> torch.Tensor:
    """The analysis image: a file (centre-cropped, resized) or scikit-image's astronaut."""
    import cv2

    if path is not None:
        from training.data import read_image

        img = read_image(Path(path))
        if img is None:
            raise ValueError(f"{path}: not a readable image")
    else:
        try:
            from skimage import data as skdata

            img = skdata.astronaut()
        except ImportError:
            img = np.full((size, size, 3), 128, np.uint8)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    img = cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def analyze(args: argparse.Namespace) -> list[Path]:
    """Every analysis figure for `args.checkpoint`; returns the files written."""
    nets = open_networks(args.checkpoint)
    out = Path(args.out) if args.out else nets.path.parent / f"{nets.path.stem}-analysis"
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()] or [0, 1]
    written: list[Path] = []
    first = next(iter(nets.gens.values()))
    zs = [seed_z(s, first.z_dim) for s in seeds]
    up = 256
    for name, G in nets.gens.items():
        tag = "" if len(nets.gens) == 1 else f"-{name}"
        for mode in ("slerp", "lerp"):
            imgs = decode(G, interpolate(zs, args.steps, mode))
            written.append(
                artifacts.write_png(
                    out / f"interpolation-{mode}{tag}.png", artifacts.grid(imgs, args.steps), up
                )
            )
        frames = artifacts.to_uint8(decode(G, interpolate(zs, max(2, args.steps * 6), "slerp")))
        k = max(1, -(-up // frames.shape[1]))
        frames = frames.repeat(k, axis=1).repeat(k, axis=2)
        written.append(artifacts.write_video(out / f"interpolation{tag}.mp4", frames, fps=24))
        z1, z2 = seed_z(seeds[0], first.z_dim), seed_z(seeds[1 % len(seeds)] + 1000, first.z_dim)
        z3s = [seed_z(2000 + i, first.z_dim) for i in range(4)]
        rows = [torch.stack([z1, z2, z3, z1 - z2 + z3]) for z3 in z3s]
        imgs = decode(G, torch.cat(rows))
        written.append(
            artifacts.write_png(out / f"arithmetic{tag}.png", artifacts.grid(imgs, 4), up)
        )
    gen_name = "G0" if nets.kind == "dual" else "G"
    dirs = principal_directions(nets.gens[gen_name], nets.kind, args.directions, args.samples)
    rows = []
    for d in dirs.values():  # each direction: -3σ ... +3σ around seed 0
        rows.append(torch.stack([zs[0] + a * d * 3 for a in np.linspace(-1, 1, 7)]))
    imgs = decode(nets.gens[gen_name], torch.cat(rows))
    written.append(artifacts.write_png(out / "directions.png", artifacts.grid(imgs, 7), up))
    if args.save:
        save_directions(nets.path, dirs)
        print(f"saved {len(dirs)} directions ({', '.join(dirs)}) into {nets.path}")
    size = int(getattr(nets.config, "image_size", 64))
    for name in ("D", "E"):
        if name in nets.others:
            fig = conv_responses(nets.others[name], _image(args.image, size))
            written.append(artifacts.write_png(out / f"responses-{name}.png", fig, 512))
    if not nets.others:
        print(
            f"{nets.path}: no critic or encoder in this file; layer responses need a run's last.pt"
        )
    return written
