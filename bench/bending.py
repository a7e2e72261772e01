"""Milliseconds per frame (batch 1) of the stage's 128 px DCGAN through the engine with network
bending: none (no bend parameters), off (every op at its default after bending was on: the hook
removed), one op (rotate) and every op at once, at the middle layer. Figures printed and saved as
JSON, never asserted.

    python bench/bending.py [--frames 30] [--device auto] [--out bench/results]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import performer  # noqa: E402, F401 (the thread policy, before torch loads)
from bench.common import generator, save_results  # noqa: E402

ALL_OPS = {
    "translate_x": 0.25,
    "translate_y": 0.1,
    "rotate": 30.0,
    "scale": 1.5,
    "flip": 1.0,
    "ablate": 0.25,
    "isolate": 0.75,
    "invert": 0.5,
    "multiply": 1.5,
    "threshold": 0.5,
    "erode": 0.5,
    "dilate": 0.5,
    "noise": 0.5,
}


def main() -> int:
    import numpy as np
    import torch

    from models.checkpoint import Loaded
    from performer.engine.worker import Engine

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=30, help="timed frames per case")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args()

    G = generator(128).eval()
    engine = Engine({"g": Loaded(Path("bench.pt"), "dcgan", G.config, {"G": G})}, args.device)
    engine.warm_up(frames=2)
    z = np.random.default_rng(0).standard_normal(engine.z_dims["g"]).astype(np.float32)
    off = {"psi": None, "mix_z": None, "mix": 0.0, "bend": {"layer": 0.5}}
    cases = {
        "none": None,
        "one_op_rotate": {**off, "bend": {"layer": 0.5, "rotate": 30.0}},
        "all_ops": {**off, "bend": {"layer": 0.5, **ALL_OPS}},
        "off_after_on": off,
    }
    results: dict[str, object] = {
        "model": "dcgan 128 px (bench/common.py widths)",
        "device": str(engine.device),
        "threads": engine.threads,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "frames": args.frames,
        "layers": None,
        "ms_per_frame": {},
    }
    for name, style in cases.items():
        for i in range(3):  # warm-up (the first bent decode makes the one dry run)
            engine.generate("g", z, style={**style, "bend_seed": i} if style else None)
        times = []
        for i in range(args.frames):
            s = {**style, "bend_seed": i} if style else None
            t0 = time.perf_counter()
            engine.generate("g", z, style=s)
            times.append(time.perf_counter() - t0)
        ms = float(np.median(times) * 1000)
        results["ms_per_frame"][name] = round(ms, 3)
        print(f"{name:>14}: {ms:8.3f} ms/frame (median of {args.frames})")
    bender = engine.benders.get("g")
    if bender is not None:
        results["layers"] = [type(m).__name__ for m in bender.layers[0]]
        hooks = sum(len(m._forward_hooks) for m in G.modules())
        results["hooks_left_when_off"] = hooks
        print(f"layers: {results['layers']}; hooks left when off: {hooks}")
    save_results(args.out, "bending.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
