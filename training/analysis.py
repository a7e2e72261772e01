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
def direction_latents(
    G: nn.Module, E: nn.Module | None, samples: int = 1024, seed: int = 0
) -> torch.Tensor:
    """The latents the directions are found and measured at: random z for a GAN; for a VAE-GAN
    (an encoder), the encoder's codes of the decoder's own samples — where its pictures' codes
    lie, which its prior samples can miss (the shows anchor VAE-GAN scenes on pictures)."""
    z = torch.randn(samples, G.z_dim, generator=torch.Generator().manual_seed(seed))
    if E is None:
        return z
    return torch.cat([E(decode(G, c))[0] for c in z.split(128)]).float()


@torch.no_grad()
def principal_directions(
    G: nn.Module,
    kind: str,
    count: int = 8,
    samples: int = 1024,
    seed: int = 0,
    z: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """GANSpace (Härkönen et al. 2020): PCA of an early layer's activations over random z (or
    the latents `z`), then the z-space direction of each component by least squares
    (z ≈ U·coordinates). Named pc1 ... pcK, strongest first, unit length."""
    layer = dict(G.named_modules()).get(PCA_LAYER.get(kind, ""))
    if layer is None:
        raise ValueError(f"{kind}: no layer {PCA_LAYER.get(kind)!r} to analyse")
    feats: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda m, i, o: feats.append(o.detach().flatten(1).float()))
    if z is None:
        z = torch.randn(samples, G.z_dim, generator=torch.Generator().manual_seed(seed))
    samples = len(z)
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
    at: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], list[Effect], float]:
    """Measure each direction's effect on the picture over `seeds` latents (seed_vector
    convention; or the latents `at`), against the mean of `randoms` random unit directions.
    Returns the directions renamed by rank (pc1 = largest effect; `weak-pcN` when below the
    random baseline), the table, and the baseline."""
    zs = at if at is not None else torch.stack([seed_z(s, G.z_dim) for s in range(seeds)])
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


# -- deconvnet (Zeiler & Fergus 2014): a channel's top activations projected back to pixels


@dataclass
class Projection:
    layer: int  # conv layer (0 = the first)
    channel: int
    image: int  # which image of the batch held the activation
    y: int  # where in the layer's map
    x: int
    value: float  # the activation
    pixels: torch.Tensor  # (3, S, S): the projection into the input's space


def _conv_trace(net: nn.Module, x: torch.Tensor) -> tuple[list[nn.Conv2d], list, list]:
    """Run `net` on `x`; for each Conv2d in the order they ran: the layer, its input's shape and
    the activation after it (the output of the last module before the next conv: after its
    normalisation and nonlinearity)."""
    order: list[tuple[nn.Module, torch.Tensor, tuple[int, ...]]] = []
    leaves = [m for m in net.modules() if not list(m.children())]
    hooks = [
        m.register_forward_hook(
            lambda m, i, o: (
                order.append((m, o.detach().clone(), tuple(i[0].shape)))
                if isinstance(o, torch.Tensor) and i and isinstance(i[0], torch.Tensor)
                else None
            )
        )
        for m in leaves
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    convs: list[nn.Conv2d] = []
    shapes: list[tuple[int, ...]] = []
    acts: list[torch.Tensor] = []
    for m, out, shape in order:
        if isinstance(m, nn.Conv2d):
            convs.append(m)
            shapes.append(shape)
            acts.append(out)
        elif acts and out.dim() == 4 and out.shape == acts[-1].shape:
            acts[-1] = out  # batch norm, activation: the map the next layer sees
    if not convs:
        raise ValueError(f"{type(net).__name__}: no convolutions for a deconvnet")
    return convs, shapes, acts


@torch.no_grad()
def project_down(
    convs: list[nn.Conv2d], shapes: list[tuple[int, ...]], layer: int, fmap: torch.Tensor
) -> torch.Tensor:
    """A (1, C, h, w) map at the output of conv `layer` → (1, 3, S, S) input space: at each
    layer rectified (ReLU, as on the way up) then through the transposed convolution with the
    same weights (no pooling switches: the networks down-sample with strided convolutions)."""
    y = fmap.float()
    for conv, shape in zip(
        reversed(convs[: layer + 1]), reversed(shapes[: layer + 1]), strict=True
    ):
        y = F.relu(y)
        k, s, p, d = conv.kernel_size, conv.stride, conv.padding, conv.dilation
        if isinstance(p, str):
            raise ValueError(f"deconvnet: padding={p!r} convolutions are not supported")
        extra = []
        for i in range(2):
            base = (y.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1
            extra.append(max(0, min(shape[2 + i] - base, s[i] - 1)))
        y = F.conv_transpose2d(
            y,
            conv.weight.float(),
            stride=s,
            padding=p,
            output_padding=tuple(extra),
            groups=conv.groups,
            dilation=d,
        )
    return y


@torch.no_grad()
def deconvnet(
    net: nn.Module, images: torch.Tensor, layer: int, channel: int, top: int = 1
) -> list[Projection]:
    """The `top` strongest activations of `channel` at conv `layer` over the batch `images`,
    each alone (every other activation zeroed) projected back to pixel space."""
    convs, shapes, acts = _conv_trace(net, images)
    if not 0 <= layer < len(convs):
        raise ValueError(
            f"deconvnet: layer {layer} of {len(convs)} conv layers (0 … {len(convs) - 1})"
        )
    a = F.relu(acts[layer][:, channel].float())  # (N, h, w)
    n, h, w = a.shape
    values, flat = a.flatten().topk(max(1, min(top, a.numel())))
    out = []
    for v, i in zip(values.tolist(), flat.tolist(), strict=True):
        b, rem = divmod(i, h * w)
        y, x = divmod(rem, w)
        fmap = torch.zeros(1, *acts[layer].shape[1:])
        fmap[0, channel, y, x] = v
        pixels = project_down(convs, shapes, layer, fmap)[0]
        out.append(Projection(layer, channel, b, y, x, v, pixels))
    return out


def _zoom(tiles: torch.Tensor, energy: torch.Tensor, size: int) -> torch.Tensor:
    """Crop `tiles` (K, 3, S, S) to the square around where `energy` (S, S) is nonzero (the
    receptive field actually used), scaled back up to size x size."""
    ys, xs = torch.nonzero(energy > 0.01 * energy.max(), as_tuple=True)
    if len(ys) == 0:
        return tiles
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(y1 - y0, x1 - x0, 4)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    top = min(max(cy - side // 2, 0), max(0, size - side))
    left = min(max(cx - side // 2, 0), max(0, size - side))
    crop = tiles[:, :, top : top + side, left : left + side]
    return F.interpolate(crop, size=(size, size), mode="nearest")


def deconvnet_figure(
    net: nn.Module, images: torch.Tensor, channels: int = 8, layers: list[int] | None = None
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Two rows per conv layer: the projections of its `channels` most active channels' top
    activation (grey = 0), and the image that held it, kept where the projection is strong
    (Zeiler & Fergus's "corresponding image patches"); each pair zoomed to the part of the
    image the activation sees. Returns the figure and a table."""
    convs, _, acts = _conv_trace(net, images)
    layers = list(range(len(convs))) if layers is None else layers
    size = images.shape[-1]
    tiles: list[torch.Tensor] = []
    table: list[dict[str, Any]] = []
    for layer in layers:
        peak = F.relu(acts[layer].float()).amax((0, 2, 3))
        chosen = peak.argsort(descending=True)[:channels].tolist()
        proj_row, patch_row = [], []
        for c in chosen:
            (p,) = deconvnet(net, images, layer, c)
            m = p.pixels.abs().amax()
            proj = (p.pixels / m.clamp_min(1e-12)).clamp(-1, 1)
            energy = p.pixels.abs().sum(0)
            mask = (energy > 0.1 * energy.max()).float()
            mask = F.max_pool2d(mask[None, None], 3, 1, 1)[0]
            patch = images[p.image].float() * mask - (1 - mask)
            proj, patch = _zoom(torch.stack([proj, patch]), energy, size)
            proj_row.append(proj)
            patch_row.append(patch)
            table.append(
                {
                    "layer": layer,
                    "channel": c,
                    "image": p.image,
                    "y": p.y,
                    "x": p.x,
                    "activation": p.value,
                }
            )
        blank = [-torch.ones(3, size, size)] * (channels - len(chosen))
        tiles += proj_row + blank + patch_row + blank
    return artifacts.grid(torch.stack(tiles), cols=channels), table


# -- seed 000's comparison and seed 004's vector arithmetic


@torch.no_grad()
def encode(E: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The encoder's means (the stage's live-video codes) for a batch in [-1, 1]."""
    return torch.cat([E(c)[0] for c in images.split(64)])


@torch.no_grad()
def comparison(
    real: torch.Tensor,
    E: nn.Module,
    G: nn.Module,
    samples: torch.Tensor,
    vae: tuple[nn.Module, nn.Module] | None = None,
) -> tuple[torch.Tensor, list[str]]:
    """Seed 000's "Original / VAE / GAN / VAE-GAN" figure: rows of real frames, the pixel VAE's
    reconstructions (when a separate VAE run is given), this VAE-GAN's reconstructions, and its
    samples from the prior (`samples` are z's). Images (rows·N, 3, S, S) and the row names."""
    rows, names = [real], ["real"]
    size = real.shape[-1]
    if vae is not None:
        ve, vg = vae
        vs = int(getattr(getattr(vg, "config", None), "image_size", size))
        x = F.interpolate(real, size=(vs, vs), mode="area") if vs != size else real
        r = decode(vg, encode(ve, x))
        rows.append(F.interpolate(r, size=(size, size), mode="bilinear") if vs != size else r)
        names.append("VAE")
    rows.append(decode(G, encode(E, real)))
    names.append("VAE-GAN" if vae is not None else "reconstruction")
    rows.append(decode(G, samples[: len(real)]))
    names.append("samples")
    return torch.cat([r.float().clamp(-1, 1) for r in rows]), names


@torch.no_grad()
def vector_arithmetic(
    G: nn.Module,
    z_with: torch.Tensor,
    z_without: torch.Tensor,
    targets: torch.Tensor,
    scales: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed 004 / DCGAN: d = mean(with) − mean(without), then G(z + s·d) for each target z and
    scale s. Returns the images (targets·scales, 3, S, S), row by row, and d."""
    d = z_with.float().mean(0) - z_without.float().mean(0)
    zs = torch.stack([t + s * d for t in targets.float() for s in scales])
    return decode(G, zs), d


def _seed_list(text: str | None) -> list[int]:
    return [int(s) for s in str(text or "").split(",") if s.strip()]


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


def _images(folder: Path, size: int, limit: int = 64) -> torch.Tensor:
    """Up to `limit` images of a folder (sorted by name; centre-cropped, resized), [-1, 1]."""
    from training.data import scan

    files, _ = scan(Path(folder))
    if not files:
        raise ValueError(f"{folder}: no images")
    return torch.cat([_image(f, size) for f in sorted(files)[:limit]])


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
    gen_name = "G0" if nets.kind == "dual" else "G"
    G = nets.gens[gen_name]
    encoder = nets.others.get("E")
    latents = direction_latents(G, encoder, args.samples)
    if encoder is not None:
        print("directions: found and measured at the encoder's codes of the decoder's samples")
    dirs = principal_directions(G, nets.kind, args.directions, z=latents)
    dirs, table, baseline = rank_directions(G, dirs, at=latents[:4] if encoder else None)
    rows = []
    base = latents[0] if encoder is not None else zs[0]
    for d in dirs.values():  # each direction: -3σ ... +3σ around seed 0 (a VAE-GAN: a code)
        rows.append(torch.stack([base + a * d * 3 for a in np.linspace(-1, 1, 7)]))
    imgs = decode(G, torch.cat(rows))
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
    size = int(decode(G, seed_z(0, G.z_dim)[None]).shape[-1])
    data = getattr(args, "data", None)
    real = _images(data, size) if data else _image(args.image, size)
    others = dict(nets.others)
    if "D" not in others:
        critic, source = _critic_from_source(nets)
        if critic is not None:
            others["D"] = critic
            print(f"the critic for the deconvnet: from {source}, the run this export came from")
    if "E" in others:
        written.append(_comparison_figure(args, nets, others["E"], G, real, out))
    written += _arithmetic_figure(args, nets, others.get("E"), G, gen_name, real, out)
    for name in ("D", "E"):
        if name in others:
            fig, table = deconvnet_figure(others[name], real, int(getattr(args, "channels", 8)))
            written.append(artifacts.write_png(out / f"deconvnet-{name}.png", fig, 512))
            text = json.dumps({"net": name, "images": len(real), "top": table}, indent=2)
            written.append(artifacts.write_text(out / f"deconvnet-{name}.json", text))
    if "D" not in others:
        print(
            f"{nets.path}: no critic/discriminator here (a stage export keeps only what the stage"
            " plays); for the critic's deconvnet analyse the run itself: stage analyze runs/NAME"
        )
    return written


def _critic_from_source(nets: Networks) -> tuple[nn.Module | None, str]:
    """An export records the run checkpoint it came from: its critic, when it is still there."""
    source = str((nets.data.get("train") or {}).get("source") or "")
    if not source or not Path(source).is_file() or Path(source).resolve() == nets.path.resolve():
        return None, source
    try:
        other = open_networks(source)
    except CheckpointError:
        return None, source
    if other.kind != nets.kind or other.config != nets.config:
        return None, source
    return other.others.get("D"), source


def _comparison_figure(
    args: argparse.Namespace,
    nets: Networks,
    E: nn.Module,
    G: nn.Module,
    real: torch.Tensor,
    out: Path,
) -> Path:
    """comparison.png: real | (VAE) | VAE-GAN reconstruction | samples, one row each."""
    vae = None
    if getattr(args, "compare_vae", None):
        other = open_networks(args.compare_vae)
        if "E" not in other.others:
            raise ValueError(f"{other.path}: --compare-vae needs a run or export with an encoder")
        vae = other.others["E"], other.gens["G"]
    n = min(8, len(real))
    pick = torch.linspace(0, len(real) - 1, n).round().long()  # spread over the frames
    samples = torch.stack([seed_z(s, G.z_dim) for s in range(n)])
    imgs, names = comparison(real[pick], E, G, samples, vae)
    path = artifacts.write_png(out / "comparison.png", artifacts.grid(imgs, n), 256)
    note = "" if vae else " (a separate pixel-VAE run adds its row: --compare-vae RUN)"
    print(f"comparison.png rows: {' | '.join(names)}, seeds 0-{n - 1} for the samples{note}")
    return path


ARITHMETIC_SCALES = (0.0, 0.5, 1.0, 1.5)


def _arithmetic_figure(
    args: argparse.Namespace,
    nets: Networks,
    E: nn.Module | None,
    G: nn.Module,
    gen_name: str,
    real: torch.Tensor,
    out: Path,
) -> list[Path]:
    """arithmetic.png: the first row G(mean with), G(mean without); then one row per target:
    (the real image,) G(z + s·d) for s = 0, ½, 1, 1½ — d = mean(with) − mean(without)."""
    with_dir, without_dir = getattr(args, "with_dir", None), getattr(args, "without_dir", None)
    with_seeds = _seed_list(getattr(args, "with_seeds", None))
    without_seeds = _seed_list(getattr(args, "without_seeds", None))
    if bool(with_dir) != bool(without_dir) or bool(with_seeds) != bool(without_seeds):
        raise ValueError("vector arithmetic takes both --with and --without (or both -seeds)")
    size = real.shape[-1]
    targets_real: torch.Tensor | None = None
    if with_dir:
        if E is None:
            raise ValueError(
                f"{nets.path}: --with/--without images need an encoder (a VAE-GAN); for a GAN"
                " choose seeds: --with-seeds 1,5,9 --without-seeds 2,3"
            )
        z_with = encode(E, _images(with_dir, size))
        z_without = encode(E, _images(without_dir, size))
        # the targets: the --data images, else the images without it (to give it to them)
        targets_real = real[:6] if getattr(args, "data", None) else _images(without_dir, size, 6)
        targets = encode(E, targets_real)
        mode = "images"
    elif with_seeds:
        z_with = torch.stack([seed_z(s, G.z_dim) for s in with_seeds])
        z_without = torch.stack([seed_z(s, G.z_dim) for s in without_seeds])
        targets = torch.stack([seed_z(s, G.z_dim) for s in _seed_list(args.seeds)[:6]])
        mode = "seeds"
    else:
        print(
            "vector arithmetic: choose what has the property and what lacks it —"
            " --with DIR --without DIR (VAE-GAN) or --with-seeds 1,5,9 --without-seeds 2,3"
        )
        return []
    imgs, d = vector_arithmetic(G, z_with, z_without, targets, ARITHMETIC_SCALES)
    k = len(ARITHMETIC_SCALES)
    rows = imgs.view(len(targets), k, *imgs.shape[1:])
    if targets_real is not None:
        rows = torch.cat([targets_real[:, None].float(), rows], 1)
    cols = rows.shape[1]
    head = decode(G, torch.stack([z_with.mean(0), z_without.mean(0)]))
    head = torch.cat([head, -torch.ones(cols - 2, *head.shape[1:])])
    grid = artifacts.grid(torch.cat([head, rows.flatten(0, 1)]), cols)
    written = [artifacts.write_png(out / "arithmetic.png", grid, 256)]
    info = {
        "mode": mode,
        "with": len(z_with),
        "without": len(z_without),
        "targets": len(targets),
        "scales": list(ARITHMETIC_SCALES),
        "norm": float(d.norm()),
        "layout": "row 1: G(mean with), G(mean without); then per target: "
        + ("the image, " if targets_real is not None else "")
        + "G(z + s·d) for each scale",
    }
    written.append(artifacts.write_text(out / "arithmetic.json", json.dumps(info, indent=2)))
    name = getattr(args, "save_as", None)
    if name:
        save_directions(nets.path, {name: d / d.norm().clamp_min(1e-8)})
        print(f"saved direction {name!r} (|d| = {float(d.norm()):.2f}) into {nets.path}")
    return written
