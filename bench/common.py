"""What the stage benchmarks share: a DCGAN-sized generator that needs no training (smooth,
calibrated weights), a show file around its checkpoint, and writing the figures as JSON.

Models are imported inside the functions: a benchmark imports `performer` (its thread policy)
before anything loads torch.
"""

from __future__ import annotations

import json
import os
import threading
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


def thread_cpu() -> dict[int, tuple[str, float]]:
    """Every thread of this process: native id → (name, CPU seconds so far). Python threads
    by their name; native ones (Mesa's llvmpipe rasterizers, torch's OpenMP and MediaPipe's
    workers) by the kernel's."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(tid)] = (names.get(int(tid), comm), (int(fields[11]) + int(fields[12])) / tick)
    return out


CPU_PARTS = {  # thread name prefix → what it does for the show
    "engine": "decode",
    "face-": "track",
    "camera": "camera",
    "MainThread": "loop + draw",
    "llvmpipe": "draw (GL rasterizer)",
}


def cpu_shares(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float
) -> dict[str, float]:
    """Where the CPU went between two `thread_cpu` snapshots, in cores (1.0 = one core busy
    the whole time), by part; threads no part names are "other" (torch's OpenMP workers,
    MediaPipe's, the OSC receiver …)."""
    used: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        spent = cpu - before.get(tid, (name, 0.0))[1]
        part = next((p for k, p in CPU_PARTS.items() if name.startswith(k)), "other")
        used[part] = used.get(part, 0.0) + spent
    return {part: round(v / seconds, 2) for part, v in sorted(used.items()) if v > 0}
