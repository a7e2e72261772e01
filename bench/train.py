"""Training throughput: images/s for each model at its default size and batch, through the
studio's real loop (data from files, decoded in a worker), beside the same architecture in a
plain PyTorch loop (DCGAN-tutorial style: tensors already in memory, no data workers, no
channels-last, no fused optimizer, no frozen critic in the generator step) in the same run.

    python bench/train.py [--steps 4] [--models dcgan,wgan-unet] [--out bench/results]

Also the WGAN-GP U-Net at 32x32 in seconds per iteration (one generator update and its five
critic updates) against the published 12 s (laptop i7) and 1.3 s (RTX 3070 Ti).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

PUBLISHED_UNET_S_PER_ITER = {"Intel i7-1260P": 12.0, "RTX 3070 Ti": 1.3}


def photos(folder: Path, count: int = 24) -> Path:
    """scikit-image's photographs (and crops of them) as JPEG/PNG files: a small real dataset."""
    import cv2
    import skimage.data as d

    names = [
        "astronaut",
        "coffee",
        "chelsea",
        "rocket",
        "immunohistochemistry",
        "hubble_deep_field",
    ]
    imgs = [getattr(d, n)()[..., :3] for n in names]
    for i in range(count):
        img = imgs[i % len(imgs)]
        h, w = img.shape[:2]
        y, x = (i * 37) % (h // 4), (i * 53) % (w // 4)
        crop = img[y : y + 3 * h // 4, x : x + 3 * w // 4]
        ext = ".jpg" if i % 2 else ".png"
        cv2.imwrite(str(folder / f"{i:03d}{ext}"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return folder


def studio(model: str, data: Path, out: Path, steps: int, warmup: int, **kw) -> dict:
    """images/s of the studio's loop (timed after `warmup` steps, data pipeline included)."""
    from training.loop import Trainer, TrainOptions

    opts = TrainOptions(
        model=model,
        out=str(out),
        data=str(data),
        steps=warmup,
        log_every=10**6,
        sample_every=10**6,
        eval_every=10**6,
        ckpt_every=10**6,
        metrics_images=8,
        **kw,
    )
    t = Trainer(opts)
    t.run()  # warm-up: allocations, worker start, first batches
    t.opts.steps = warmup + steps
    t._loader_iter = None  # restarts workers at the current position
    t0 = time.perf_counter()
    t.run()
    dt = time.perf_counter() - t0
    r = t.recipe
    return {
        "images_per_s": r.images_per_step(t.opts.batch) * steps / dt,
        "s_per_step": dt / steps,
        "batch": t.opts.batch,
        "size": t.opts.size,
        "n_critic": int(r.options.get("n_critic") or 1),
        "device": str(t.device),
    }


def plain(
    model: str, steps: int, warmup: int, size: int, batch: int, device: str, width: float = 1.0
) -> dict:
    """The same recipe the way the DCGAN tutorial trains: real batches already in memory, plain
    Adam, every network's weight gradients computed in every backward."""
    import training.recipe as recipe_mod
    from training import gan
    from training.zoo import MODELS, build

    def plain_adam(params, lr, betas, device):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=False)

    from training import dual as dual_mod
    from training import vaegan as vaegan_mod

    mods = [recipe_mod, gan, dual_mod, vaegan_mod]
    originals = [(m, m.adam, m.frozen) for m in mods]
    try:
        for m in mods:
            m.adam, m.frozen = plain_adam, lambda *nets: contextlib.nullcontext()
        spec = MODELS[model]
        opts = {"model": model, "size": size, "batch": batch, "lr": spec.lr, "width": width}
        torch.manual_seed(0)
        r = build(opts, torch.device(device))
        for n in r.nets.values():
            n.train()
        real = torch.rand(batch, 3, size, size, device=device) * 2 - 1

        if model == "dcgan":  # the tutorial's own step, literally
            G, D = r.nets["G"], r.nets["D"]
            oG, oD = r.optims["G"], r.optims["D"]
            crit = torch.nn.BCEWithLogitsLoss()

            def step(i):
                D.zero_grad()
                out = D(real)
                crit(out, torch.ones_like(out)).backward()
                fake = G(torch.randn(batch, r.z_dim, device=device))
                out = D(fake.detach())
                crit(out, torch.zeros_like(out)).backward()
                oD.step()
                G.zero_grad()
                out = D(fake)
                crit(out, torch.ones_like(out)).backward()
                oG.step()
        else:

            def step(i):
                r.step(lambda: real, i)

        for i in range(warmup):
            step(i)
        t0 = time.perf_counter()
        for i in range(steps):
            step(warmup + i)
        dt = time.perf_counter() - t0
        return {"images_per_s": r.images_per_step(batch) * steps / dt, "s_per_step": dt / steps}
    finally:
        for m, a, f in originals:
            m.adam, m.frozen = a, f


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", default="dcgan,dcgan128,wgan-unet,vaegan,dual")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--widths",
        default="dcgan=0.5",
        help="channel scale per model; DCGAN at 0.5 is the PyTorch tutorial's 512-256-128-64",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    from training.zoo import MODELS

    widths = {k: float(v) for k, v in (kv.split("=") for kv in args.widths.split(",") if kv)}
    device = (
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "device": device,
            "cuda": torch.cuda.get_device_name() if device == "cuda" else None,
        },
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "data").mkdir()
        data = photos(Path(tmp) / "data")
        for model in [m for m in args.models.split(",") if m]:
            spec = MODELS[model]
            w = widths.get(model, 1.0)
            ours = studio(
                model, data, Path(tmp) / model, args.steps, args.warmup, device=device, width=w
            )
            base = plain(model, args.steps, args.warmup, spec.size, spec.batch, device, w)
            ratio = ours["images_per_s"] / base["images_per_s"]
            results["models"][model] = {"studio": ours, "plain": base, "ratio": ratio, "width": w}
            print(
                f"{model:10s} {spec.size:4d}px x{w:g} batch {spec.batch:4d}: studio"
                f" {ours['images_per_s']:8.1f} img/s ({ours['s_per_step']:.2f} s/step), plain"
                f" {base['images_per_s']:8.1f} img/s  → {ratio:.2f}x",
                flush=True,
            )
        if "wgan-unet" in results["models"]:
            s = results["models"]["wgan-unet"]["studio"]["s_per_step"]
            results["unet_32px_s_per_iteration"] = {
                "ours": s,
                "batch": results["models"]["wgan-unet"]["studio"]["batch"],
                "published": PUBLISHED_UNET_S_PER_ITER,
                "speedup_vs_i7": PUBLISHED_UNET_S_PER_ITER["Intel i7-1260P"] / s,
            }
            print(
                f"WGAN-GP U-Net 32x32: {s:.3f} s/iteration (5 critic + 1 generator update, batch"
                f" {results['unet_32px_s_per_iteration']['batch']}) vs published 12 s (i7) and"
                f" 1.3 s (RTX 3070 Ti): {12.0 / s:.0f}x the laptop i7"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "train.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
