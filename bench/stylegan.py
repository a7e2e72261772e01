"""CPU milliseconds per frame (batch 1) of StyleGAN generators as the stage plays them.

StyleGAN2 at 64/128/256 px in the common config (channel_max 512; channel_base 16384, 32768 from
256 px) and a small one (channel_base 4096, channel_max 128), random weights (time only), and the
StyleGAN3-T fixture imported from its pickle. Figures printed and saved as JSON, never asserted.

    python bench/stylegan.py [--frames 4] [--out bench/results]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import save_results  # noqa: E402
from models.checkpoint import load_checkpoint  # noqa: E402
from models.stylegan.convert import import_network  # noqa: E402
from models.stylegan.stylegan2 import Generator, StyleGAN2Config  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "stylegan" / "sg3t-tiny-32.pkl"


def configs() -> dict[str, StyleGAN2Config]:
    out = {}
    for res in (64, 128, 256):
        base = 32768 if res >= 256 else 16384
        out[f"sg2-common-{res}px"] = StyleGAN2Config(
            z_dim=512,
            w_dim=512,
            img_resolution=res,
            mapping_layers=8,
            channel_base=base,
            channel_max=512,
        )
        out[f"sg2-small-{res}px"] = StyleGAN2Config(
            z_dim=512,
            w_dim=512,
            img_resolution=res,
            mapping_layers=2,
            channel_base=4096,
            channel_max=128,
        )
    return out


@torch.inference_mode()
def ms_per_frame(G: torch.nn.Module, frames: int) -> float:
    """Median milliseconds for G(z) at batch 1 (after two warm-up frames), channels-last as the
    engine places it."""
    G = G.eval().to(memory_format=torch.channels_last)
    z = torch.randn(1, G.z_dim)
    for _ in range(2):
        G(z)
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        G(z)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=4, help="timed frames per network")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args()
    results: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
        },
        "frames": args.frames,
        "ms_per_frame": {},
    }
    nets = {name: (lambda c=cfg: Generator(c)) for name, cfg in configs().items()}
    if FIXTURE.is_file():
        tmp = Path(tempfile.mkdtemp())
        ckpt = import_network(FIXTURE, tmp / "sg3t.pt")
        nets["sg3t-fixture-32px"] = lambda: load_checkpoint(ckpt, parts=("G",)).generator
    print(f"{'network':<22} {'params':>8} {'ms/frame':>9}")
    for name, build in nets.items():
        G = build()
        params = sum(t.numel() for t in G.parameters())
        ms = ms_per_frame(G, args.frames)
        results["ms_per_frame"][name] = {"ms": round(ms, 1), "params_m": round(params / 1e6, 2)}
        print(f"{name:<22} {params / 1e6:7.2f}M {ms:9.1f}")
        del G
    save_results(args.out, "stylegan.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
