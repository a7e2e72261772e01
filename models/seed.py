"""Seed checkpoints: deterministic, untrained generators the default show can play at once.

A real checkpoint file made on first run (same save/load path as any other). A DCGAN with
its usual random init decodes every z to the same colour noise; here each upsampling layer is
a smooth (bilinear) kernel times a random channel mix, and batch norm is calibrated on random
z, so every z gives its own soft colour field. Trained checkpoints from `stage train` replace these.
"""

from __future__ import annotations

from pathlib import Path

import torch

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.layers import ResizeConv2d

# file name → (config, seed). 128 px, ≈3.6 M parameters: the DCGAN size the stage is tuned for.
# Named for what they show (soft colour fields) and their size; they are kind "dcgan" (the
# DCGAN of models/dcgan.py at 128 px), not the "dcgan128" kind. The older names still work.
SEEDS: dict[str, tuple[DCGANConfig, int]] = {
    "seed-fields-128px.pt": (DCGANConfig(widths=(512, 256, 128, 64, 32)), 0),
    "seed-fields-64px.pt": (DCGANConfig(widths=(256, 128, 64, 32)), 0),
    "seed-dcgan-128.pt": (DCGANConfig(widths=(512, 256, 128, 64, 32)), 0),  # older name
    "seed-dcgan-64.pt": (DCGANConfig(widths=(256, 128, 64, 32)), 0),  # older name
}


def is_seed(path: Path) -> bool:
    return path.name in SEEDS


def calibrate(G: Generator, seed: int = 0, batches: int = 4) -> Generator:
    """Give an untrained generator full-contrast output: batch-norm statistics averaged over
    random z, and the output layer scaled so pre-tanh values have unit spread (not ≈0, grey)."""
    gen = torch.Generator().manual_seed(seed)
    z_dim = G.config.z_dim
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:  # cumulative averages over the calibration batches
        m.reset_running_stats()
        m.momentum = None
    G.train()
    with torch.no_grad():
        for _ in range(batches):
            G(torch.randn(16, z_dim, generator=gen))
        G.eval()
        pre = G.to_rgb(G.body(torch.randn(16, z_dim, 1, 1, generator=gen)))
        G.to_rgb.weight /= pre.std().clamp_min(1e-6)
    for m in norms:
        m.momentum = 0.1
    return G


def smooth_init(G: Generator, detail: float = 0.0) -> Generator:
    """Each x2 up-sampling conv becomes a bilinear upsampling kernel times a random
    channel-mixing matrix (plus a little per-tap noise, `detail`): low-frequency structure.
    A transposed conv (4x4) takes the kernel [1 3 3 1]/4 per axis; a resize conv (nearest x2,
    then 3x3) takes [1 2 1]/4, which after the nearest copy is the same bilinear filter."""
    t = torch.tensor([0.25, 0.75, 0.75, 0.25])
    r = torch.tensor([0.25, 0.5, 0.25])
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, ResizeConv2d):
                c_out, c_in, kh, kw = m.weight.shape
                mix = (torch.randn(c_in, c_out) / c_in**0.5).t()
                kernel = torch.outer(r, r)
            elif isinstance(m, torch.nn.ConvTranspose2d) and m.stride == (2, 2):
                c_in, c_out, kh, kw = m.weight.shape
                mix = torch.randn(c_in, c_out) / c_in**0.5
                kernel = torch.outer(t, t)
            else:  # the first block (1x1 z → 4x4) keeps its random init
                continue
            noise = detail * torch.randn(*mix.shape, kh, kw)
            m.weight.copy_(mix[:, :, None, None] * (kernel + noise))
    return G


def make_seed_checkpoint(path: Path) -> Path:
    """Build the seed generator named by `path`'s file name and save it there."""
    config, seed = SEEDS[path.name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = calibrate(smooth_init(Generator(config)), seed)
    return save_checkpoint(
        path,
        "dcgan",
        config,
        {"G": G},
        train={
            "note": "seed checkpoint: untrained; smooth init, batch-norm calibrated",
            "seed": seed,
        },
    )


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:] or SEEDS:
        out = Path(name) if "/" in name else Path(__file__).parent / "checkpoints" / name
        print(make_seed_checkpoint(out))
