"""Training throughput: images/s for each model at its default size and batch, through the
studio's training step (data from files through the real pipeline, the recipe's update, the
finite check, EMA), beside the same architecture in a plain PyTorch loop (DCGAN-tutorial style:
tensors already in memory, no channels-last, no fused optimizer, no frozen critic in the
generator step). The two are timed in alternating rounds in the same run; medians are reported.

    python bench/train.py [--steps 3] [--rounds 3] [--models dcgan,wgan-unet] [--out DIR]

Also the WGAN-GP U-Net at 32x32 in seconds per iteration (one generator update with its five
critic updates, and with one) against the published 12 s (laptop i7) and 1.3 s (RTX 3070 Ti).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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


def studio(model: str, data: Path, out: Path, warmup: int, **kw) -> tuple[Callable, dict]:
    """The studio's training step (`Trainer.train_step`: data from files through the real
    pipeline, the recipe's update, finite check, EMA) after `warmup` steps of a real run."""
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
    r = t.recipe
    for n in r.nets.values():
        n.train()
    info = {
        "batch": t.opts.batch,
        "size": t.opts.size,
        "n_critic": int(r.options.get("n_critic") or 1),
        "channels_last": t.channels_last,
        "device": str(t.device),
        "images_per_step": r.images_per_step(t.opts.batch),
    }
    return t.train_step, info


def plain(
    model: str, warmup: int, size: int, batch: int, device: str, width: float = 1.0, **kw
) -> tuple[Callable, dict]:
    """The same recipe the way the DCGAN tutorial trains: real batches already in memory, plain
    Adam, every network's weight gradients computed in every backward."""
    import training.recipe as recipe_mod
    from training import dual as dual_mod
    from training import gan
    from training import vaegan as vaegan_mod
    from training.zoo import MODELS, build

    def plain_adam(params, lr, betas, device):
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=False)

    mods = [recipe_mod, gan, dual_mod, vaegan_mod]
    spec = MODELS[model]
    opts = {"model": model, "size": size, "batch": batch, "lr": spec.lr, "width": width, **kw}
    with _plainly(mods, adam=plain_adam):
        torch.manual_seed(0)
        r = build(opts, torch.device(device))
    for n in r.nets.values():
        n.train()
    real = torch.rand(batch, 3, size, size, device=device) * 2 - 1

    if model == "dcgan":  # the tutorial's own step, literally
        G, D = r.nets["G"], r.nets["D"]
        oG, oD = r.optims["G"], r.optims["D"]
        crit = torch.nn.BCEWithLogitsLoss()

        def step():
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
        count = itertools.count()

        def step():
            with _plainly(mods):  # frozen() inside the recipe's step is a no-op here too
                r.step(lambda: real, next(count))

    for _ in range(warmup):
        step()
    return step, {"images_per_step": r.images_per_step(batch)}


def _no_freeze(*nets):
    return contextlib.nullcontext()


@contextlib.contextmanager
def _plainly(mods, adam=None):
    """Inside: `frozen()` does nothing in the recipe modules `mods` (and `adam()` is `adam`)."""
    names = {"frozen": _no_freeze, **({"adam": adam} if adam else {})}
    saved = [(m, k, getattr(m, k)) for m in mods for k in names]
    for m, k, _ in saved:
        setattr(m, k, names[k])
    try:
        yield
    finally:
        for m, k, old in saved:
            setattr(m, k, old)


def measure(
    steps: dict[str, Callable], n: int, rounds: int, sync: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds per step of each step function, timed in alternating rounds of `n` steps (so a
    busy moment of a shared machine falls on both sides alike)."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            sync()
            times[name].append((time.perf_counter() - t0) / n)
    return times


# Benchmark entries: name → (model, options). The WGAN-GP U-Net twice: five critic updates per
# generator update (Gulrajani et al.) and one (the alternation the U-Net paper describes).
ENTRIES = {
    "dcgan": ("dcgan", {}),
    "dcgan128": ("dcgan128", {}),
    "wgan-unet": ("wgan-unet", {}),
    "wgan-unet/n_critic=1": ("wgan-unet", {"n_critic": 1}),
    "vaegan": ("vaegan", {}),
    "dual": ("dual", {}),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3, help="alternating studio/plain rounds")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", default=",".join(ENTRIES), help=f"of: {', '.join(ENTRIES)}")
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
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "device": device,
            "cuda": torch.cuda.get_device_name() if device == "cuda" else None,
        },
        "timing": {"steps_per_round": args.steps, "rounds": args.rounds, "figure": "median"},
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "data").mkdir()
        data = photos(Path(tmp) / "data")
        for name in [m for m in args.models.split(",") if m]:
            model, extra = ENTRIES[name]
            spec, w = MODELS[model], widths.get(model, 1.0)
            run_dir = Path(tmp) / name.replace("/", "_")
            ours, o_info = studio(  # the model's own batch (not the CPU default): like for like
                model, data, run_dir, args.warmup, device=device, width=w, batch=spec.batch, **extra
            )
            base, b_info = plain(model, args.warmup, spec.size, spec.batch, device, w, **extra)
            times = measure({"studio": ours, "plain": base}, args.steps, args.rounds, sync)
            s, b = statistics.median(times["studio"]), statistics.median(times["plain"])
            ratios = [p / q for p, q in zip(times["plain"], times["studio"], strict=True)]
            entry = {
                "studio": {
                    "images_per_s": o_info["images_per_step"] / s,
                    "s_per_step": s,
                    "s_per_step_rounds": times["studio"],
                    **o_info,
                },
                "plain": {
                    "images_per_s": b_info["images_per_step"] / b,
                    "s_per_step": b,
                    "s_per_step_rounds": times["plain"],
                },
                "ratio": b / s,
                "ratio_rounds": ratios,
                "width": w,
            }
            results["models"][name] = entry
            print(
                f"{name:22s} {spec.size:4d}px x{w:g} batch {spec.batch:4d}: studio"
                f" {entry['studio']['images_per_s']:7.1f} img/s ({s:.2f} s/step), plain"
                f" {entry['plain']['images_per_s']:7.1f} img/s ({b:.2f} s/step) → {b / s:.2f}x"
                f" (rounds {', '.join(f'{x:.2f}' for x in ratios)})",
                flush=True,
            )
        unet = {k: v for k, v in results["models"].items() if k.startswith("wgan-unet")}
        if unet:
            i7 = PUBLISHED_UNET_S_PER_ITER["Intel i7-1260P"]
            results["unet_32px_s_per_iteration"] = {
                "published": PUBLISHED_UNET_S_PER_ITER,
                **{
                    k: {
                        "s": v["studio"]["s_per_step"],
                        "batch": v["studio"]["batch"],
                        "n_critic": v["studio"]["n_critic"],
                        "speedup_vs_i7": i7 / v["studio"]["s_per_step"],
                    }
                    for k, v in unet.items()
                },
            }
            for v in unet.values():
                st = v["studio"]
                print(
                    f"WGAN-GP U-Net 32x32, batch {st['batch']}, {st['n_critic']} critic + 1"
                    f" generator update: {st['s_per_step']:.2f} s/iteration vs published 12 s"
                    f" (i7) and 1.3 s (RTX 3070 Ti): {i7 / st['s_per_step']:.1f}x the laptop i7"
                )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "train.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
