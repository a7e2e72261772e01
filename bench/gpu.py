"""GPU figures for StyleGAN generators, each step of a frame's way measured apart: decode
(frames per second at 256/512/1024 px, StyleGAN2 and StyleGAN3-T configs, random weights, half
precision and channels-last as the engine places them), the decoded frame's copy to the host
through the engine's pinned buffer, and its upload into the display's texture (direct and
through a pixel buffer object, on whatever GL the machine has — llvmpipe where there is no GPU).
Without a CUDA device only the uploads are measured.

    python bench/gpu.py [--frames 50] [--out bench/results]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import save_results  # noqa: E402
from models.stylegan import stylegan2, stylegan3  # noqa: E402
from performer.engine.worker import Engine  # noqa: E402


def networks(res: int) -> dict[str, torch.nn.Module]:
    base = 32768 if res >= 512 else 16384
    sg2 = stylegan2.StyleGAN2Config(
        z_dim=512, w_dim=512, img_resolution=res, mapping_layers=8, channel_base=base,
        channel_max=512,
    )  # fmt: skip
    sg3 = stylegan3.StyleGAN3Config(
        z_dim=512, w_dim=512, img_resolution=res, mapping_layers=2, channel_base=base,
        channel_max=512,
    )  # fmt: skip
    return {f"sg2-{res}px": stylegan2.Generator(sg2), f"sg3t-{res}px": stylegan3.Generator(sg3)}


def uploads(frames: int) -> dict:
    """Milliseconds to upload a res×res frame into the display's source texture and have the GL
    take it (glFinish), direct and through a pixel buffer object."""
    from performer.render.display import Display
    from performer.show import DEFAULT_SHADER_DIR

    out: dict = {}
    for mode in ("direct", "pbo"):
        with Display(
            width=256,
            height=256,
            chain=[],
            shader_dir=DEFAULT_SHADER_DIR,
            headless=True,
            upload=mode,
        ) as d:
            with d._current():
                renderer = d._ctx.info["GL_RENDERER"]
            for res in (256, 512, 1024):
                frame = np.random.default_rng(0).integers(0, 255, (res, res, 3), np.uint8)
                with d._current():
                    d._upload(frame)
                    d._ctx.finish()
                    t0 = time.perf_counter()
                    for _ in range(frames):
                        d._upload(frame)  # writeable: uploaded every time
                    d._ctx.finish()
                out.setdefault(mode, {})[res] = round((time.perf_counter() - t0) / frames * 1e3, 3)
    out["gl_renderer"] = renderer
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args()
    up = uploads(args.frames)
    print(
        f"upload into the texture ({up['gl_renderer']}), ms: "
        + ", ".join(
            f"{res} px direct {up['direct'][res]} / pbo {up['pbo'][res]}"
            for res in (256, 512, 1024)
        )
    )
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device here; decode and copy not measured")
        save_results(args.out, "gpu.json", {"device": None, "upload_ms": up})
        return 0
    results: dict = {
        "device": torch.cuda.get_device_name(0),
        "frames": args.frames,
        "nets": {},
        "upload_ms": up,
    }
    print(f"{'network':<14} {'fps':>7} {'ms/frame':>9} {'to host ms':>11}")
    for res in (256, 512, 1024):
        for name, G in networks(res).items():
            engine = Engine({}, device="cuda")
            G = engine._place(G.eval())
            z = torch.randn(1, G.z_dim, device="cuda", dtype=engine.dtype)
            with torch.inference_mode():
                for _ in range(3):
                    G(z)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(args.frames):
                    x = G(z)
                torch.cuda.synchronize()
                infer = (time.perf_counter() - t0) / args.frames
                img = ((x[0].float() + 1) * 127.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
                engine._to_host(img)  # the pinned buffer, allocated once
                t0 = time.perf_counter()
                for _ in range(args.frames):
                    host = engine._to_host(img)
                host_ms = (time.perf_counter() - t0) / args.frames * 1000
            assert isinstance(host, np.ndarray) and host.shape == (res, res, 3)
            results["nets"][name] = {
                "fps": round(1 / infer, 1),
                "ms_per_frame": round(infer * 1000, 2),
                "to_host_ms": round(host_ms, 3),
            }
            print(f"{name:<14} {1 / infer:7.1f} {infer * 1000:9.2f} {host_ms:11.3f}")
            del G
            torch.cuda.empty_cache()
    save_results(args.out, "gpu.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
