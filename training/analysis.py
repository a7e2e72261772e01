"""Latent analysis (`stage analyze CKPT`): interpolation grids and video, vector arithmetic,
principal latent directions (GANSpace-style, ranked by their measured effect on the picture
against a random direction, saved into the checkpoint as named directions the stage's nudge keys
use), a showability sheet of seeds with the best picked as presets, and what the
critic's/encoder's conv layers respond to in an image.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


@dataclass
class Effect:
    name: str  # the saved name: pcN by rank of effect, weak-pcN when below the random baseline
    component: str  # the PCA component it came from (pc1 = most variance)
    effect: float  # mean |Δ pixel| per unit step, in the generator's output range ([-1, 1])
    vs_random: float  # effect / the random unit direction's


@torch.no_grad()
def direction_effect(G: nn.Module, d: torch.Tensor, zs: torch.Tensor, step: float = 1.0) -> float:
    """Mean absolute pixel change per unit step along `d` (central difference ±step) over the
    latents `zs`, in the generator's output units."""
    u = d / d.norm().clamp_min(1e-8)
    hi, lo = decode(G, zs + step * u), decode(G, zs - step * u)
    return float((hi - lo).abs().mean()) / (2 * step)


@torch.no_grad()
def rank_directions(
    G: nn.Module,
    directions: dict[str, torch.Tensor],
    seeds: int = 4,
    randoms: int = 4,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], list[Effect], float]:
    """Measure each direction's effect on the picture over `seeds` latents (seed_vector
    convention), against the mean of `randoms` random unit directions. Returns the directions
    renamed by rank (pc1 = largest effect; `weak-pcN` when below the random baseline), the
    table, and the baseline."""
    zs = torch.stack([seed_z(s, G.z_dim) for s in range(seeds)])
    gen = torch.Generator().manual_seed(seed + 7919)
    rand = [torch.randn(G.z_dim, generator=gen) for _ in range(randoms)]
    baseline = float(np.mean([direction_effect(G, r, zs) for r in rand]))
    measured = sorted(
        ((direction_effect(G, d, zs), k, d) for k, d in directions.items()),
        key=lambda t: -t[0],
    )
    ranked: dict[str, torch.Tensor] = {}
    table: list[Effect] = []
    for i, (eff, comp, d) in enumerate(measured):
        ratio = eff / baseline if baseline > 0 else float("inf")
        name = f"pc{i + 1}" if ratio >= 1.0 else f"weak-pc{i + 1}"
        ranked[name] = d
        table.append(Effect(name, comp, eff, ratio))
    return ranked, table, baseline


def effects_table(table: list[Effect], baseline: float) -> str:
    lines = [f"{'direction':<12}{'component':<11}{'effect':>9}{'vs random':>11}"]
    lines += [f"{e.name:<12}{e.component:<11}{e.effect:>9.4f}{e.vs_random:>10.2f}x" for e in table]
    lines.append(f"{'random':<23}{baseline:>9.4f}{1.0:>10.2f}x")
    return "\n".join(lines)


_PRINCIPAL = re.compile(r"^(weak-)?pc\d+$")


def save_directions(
    path: Path, directions: dict[str, torch.Tensor], replace_principal: bool = False
) -> Path:
    """Add (or replace) named directions in a checkpoint file, atomically. With
    `replace_principal`, earlier pcN / weak-pcN directions are removed first (a new ranking)."""
    data = read_checkpoint(path)
    old = dict(data.get("directions") or {})
    if replace_principal:
        old = {k: v for k, v in old.items() if not _PRINCIPAL.match(k)}
    data["directions"] = {**old, **{k: v.float() for k, v in directions.items()}}
    return atomic_torch_save(data, path)


def image_stats(images: np.ndarray) -> list[dict[str, float]]:
    """Per uint8 RGB image (N, H, W, 3): mean brightness (0–255), Hasler–Süsstrunk
    colourfulness, and RMS distance to the nearest other image (pixels in [0, 1], so 0 = a copy,
    1 = black vs white)."""
    x = images.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    axes = (1, 2)
    colour = np.sqrt(rg.std(axes) ** 2 + yb.std(axes) ** 2) + 0.3 * np.sqrt(
        rg.mean(axes) ** 2 + yb.mean(axes) ** 2
    )
    flat = torch.from_numpy(x.reshape(len(x), -1) / 255.0)
    if len(x) > 1:
        dist = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
        dist.fill_diagonal_(float("inf"))
        nearest = dist.min(1).values.numpy()
    else:
        nearest = np.zeros(len(x))
    return [
        {"brightness": float(x[i].mean()), "colourfulness": float(colour[i]), "nearest": float(n)}
        for i, n in enumerate(nearest)
    ]


def pick_score(stats: list[dict[str, float]]) -> list[float]:
    """Showability: the mean of brightness, colourfulness and nearest-distance, each divided by
    its largest value on the sheet (bright, colourful and unlike the others score high)."""
    keys = ("brightness", "colourfulness", "nearest")
    top = {k: max((s[k] for s in stats), default=0.0) or 1.0 for k in keys}
    return [sum(s[k] / top[k] for k in keys) / len(keys) for s in stats]


def _label(img: np.ndarray, lines: list[str], size: int = 160) -> np.ndarray:
    import cv2

    tile = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    band = np.full((14 * len(lines) + 4, size, 3), 0, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(
            band,
            text,
            (3, 13 + 14 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.38,
            (235, 235, 235),
            1,
            cv2.LINE_AA,
        )
    return np.concatenate([tile, band])


def showability_sheet(G: nn.Module, seeds: list[int]) -> tuple[np.ndarray, list[dict[str, float]]]:
    """A labelled grid of `seeds` (seed_vector convention) and each seed's stats and score."""
    imgs = artifacts.to_uint8(decode(G, torch.stack([seed_z(s, G.z_dim) for s in seeds])))
    stats = image_stats(imgs)
    for s, st, score in zip(seeds, stats, pick_score(stats), strict=True):
        st.update(seed=s, score=score)
    tiles = np.stack(
        [
            _label(
                img,
                [
                    f"seed {st['seed']}  score {st['score']:.2f}",
                    f"bright {st['brightness']:.0f}  colour {st['colourfulness']:.0f}",
                    f"nearest {st['nearest']:.3f}",
                ],
            )
            for img, st in zip(imgs, stats, strict=True)
        ]
    )
    return artifacts.grid(tiles), stats


def write_picks(path: Path, stats: list[dict[str, float]], k: int, checkpoint: Path) -> Path:
    """The `k` best-scoring seeds as presets-style `[[scenes]]` (never a show file)."""
    best = sorted(stats, key=lambda s: -s["score"])[: max(0, k)]
    lines = [
        f"# stage analyze --pick {k}: the best anchors of {checkpoint.name}, best first.",
        "# score = mean of brightness, colourfulness and distance to the nearest other sample,",
        "# each divided by its largest value on the sheet. Copy the scenes you like into a show.",
    ]
    for s in best:
        lines += [
            "",
            "[[scenes]]",
            f'name = "seed-{s["seed"]}"',
            f"seed = {s['seed']}",
            f"# score {s['score']:.3f}, brightness {s['brightness']:.0f},"
            f" colourfulness {s['colourfulness']:.1f}, nearest {s['nearest']:.3f}",
        ]
    return artifacts.write_text(path, "\n".join(lines) + "\n")


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
    dirs, table, baseline = rank_directions(nets.gens[gen_name], dirs)
    rows = []
    for d in dirs.values():  # each direction: -3σ ... +3σ around seed 0
        rows.append(torch.stack([zs[0] + a * d * 3 for a in np.linspace(-1, 1, 7)]))
    imgs = decode(nets.gens[gen_name], torch.cat(rows))
    written.append(artifacts.write_png(out / "directions.png", artifacts.grid(imgs, 7), up))
    print(effects_table(table, baseline))
    effects = {
        "unit": "mean |pixel change| per unit step, generator output range [-1, 1]",
        "random": baseline,
        "directions": [vars(e) for e in table],
    }
    written.append(artifacts.write_text(out / "directions.json", json.dumps(effects, indent=2)))
    if args.save:
        save_directions(nets.path, dirs, replace_principal=True)
        print(f"saved {len(dirs)} directions ({', '.join(dirs)}) into {nets.path}")
    sheet, pick = int(getattr(args, "sheet", 0) or 0), int(getattr(args, "pick", 0) or 0)
    if sheet or pick:
        fig, stats = showability_sheet(nets.gens[gen_name], list(range(max(sheet, pick))))
        if sheet:
            written.append(artifacts.write_png(out / "sheet.png", fig))
        if pick:
            picks = nets.path.with_name(f"{nets.path.stem}.picks.toml")
            written.append(write_picks(picks, stats, pick, nets.path))
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
