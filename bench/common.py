"""What the stage benchmarks share: a DCGAN-sized generator that needs no training (smooth,
calibrated weights), a show file around its checkpoint, and writing the figures as JSON.

Models are imported inside the functions: a benchmark imports `performer` (its thread policy)
before anything loads torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WIDTHS = {  # DCGAN-sized generators, ≈3.5 M parameters each
    64: (640, 320, 160, 80),
    128: (512, 256, 128, 64, 32),
    256: (512, 256, 128, 64, 32, 16),
}


def generator(size: int) -> Any:
    """A DCGAN generator for `size` px whose images look like something without training."""
    from models.dcgan import DCGANConfig, Generator
    from models.seed import calibrate, smooth_init

    return calibrate(smooth_init(Generator(DCGANConfig(widths=WIDTHS[size]))))


def write_show(workdir: Path, name: str, size: int, output: tuple[int, int], body: str) -> Path:
    """`workdir/name.toml`: the generator's checkpoint as model "g", 60 fps at `output`, the
    grade → trails chain, then `body` (scenes, [face], [osc] ...)."""
    from models.checkpoint import save_checkpoint

    G = generator(size)
    ckpt = save_checkpoint(workdir / f"{name}.pt", "dcgan", G.config, {"G": G})
    show = workdir / f"{name}.toml"
    show.write_text(f"""
[models.g]
checkpoint = "{ckpt.name}"
[output]
width = {output[0]}
height = {output[1]}
fps = 60
[shaders]
chain = ["grade", "trails"]
[shaders.params]
"trails.decay" = 0.5
{body}""")
    return show


def save_results(out: Path, name: str, results: dict) -> Path:
    """`out/name` as indented JSON; says where."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return path
