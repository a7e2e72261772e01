"""VAE-GAN reconstruction on held-out face frames, for equal wall time: the `vaegan` recipe as
it ships, the same networks as a pixel VAE (no GAN term: `--weights adv=0,feat=0`), against the
mean-image baseline (every frame reconstructed as the training set's mean image).

    python scripts/face_dataset.py runs/faces          # train/ and test/ face crops
    python bench/vaegan_recon.py --data runs/faces --size 64 --seconds 600
    python scripts/photo_patches.py runs/photo-patches  # the photos: train/, held-out test/ crops
    python bench/vaegan_recon.py --data runs/photo-patches --resize 128 --out ...

Each configuration trains through the studio's own training step (data pipeline, recipe, EMA)
for `--seconds` of wall time; every `--eval-s` seconds the held-out frames go through the
stage's live path (encoder mean → EMA decoder, eval mode) and their MSE is recorded (pixels in
[0, 1]). Figures are printed and saved to bench/results/vaegan-recon.json; `--figure PATH`
writes the picture: a row of real frames, then one row per configuration.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

CONFIGS = {  # name → loss-weight overrides (the recipe's own defaults otherwise)
    "vaegan": {},
    "vae": {"adv": 0.0, "feat": 0.0},
    "before": {},  # the recipe in --before-recipe FILE, with its own defaults
}


def recipe_from(path: Path) -> Any:
    """`VAEGANRecipe` of another version of training/vaegan.py (e.g. `git show
    REV:training/vaegan.py > /tmp/old.py`), to measure a change against what it replaced."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vaegan_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VAEGANRecipe


def load_folder(folder: Path, size: int) -> torch.Tensor:
    """Every image in `folder`, resized to size x size, in the model range [-1, 1]."""
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    imgs = []
    for f in files:
        img = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        imgs.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def mse01(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean squared error with pixels in [0, 1] (inputs in [-1, 1])."""
    return float(((a.float() - b.float()) / 2).square().mean())


@torch.no_grad()
def reconstruct(trainer: Any, x: torch.Tensor) -> torch.Tensor:
    """The stage's live path: the exported encoder → μ → the EMA decoder, both in eval mode."""
    E = trainer.ema["E"].net if "E" in trainer.ema else trainer.recipe.nets["E"]
    G = trainer.ema["G"].net
    was = E.training
    E.eval()
    G.eval()
    try:
        out = torch.cat([G(E(c)[0]) for c in x.split(64)])
    finally:
        E.train(was)
    return out


def train_for(
    data: Path,
    test: torch.Tensor,
    args: argparse.Namespace,
    weights: dict[str, float],
    recipe: Any = None,
) -> dict[str, Any]:
    """Train one configuration for `args.seconds`; the MSE trend and the final reconstructions."""
    import dataclasses

    from training import zoo
    from training.loop import Trainer, TrainOptions

    spec = zoo.MODELS["vaegan"]
    if recipe is not None:
        zoo.MODELS["vaegan"] = dataclasses.replace(spec, recipe=recipe)
    with tempfile.TemporaryDirectory() as tmp:
        run = args.keep / args.current if args.keep else Path(tmp) / "run"
        opts = TrainOptions(
            model="vaegan",
            out=str(run),
            data=str(data),
            size=args.size,
            resize=args.resize,
            width=args.width,
            batch=args.batch,
            lr=args.lr,
            seed=args.seed,
            weights=weights,
            workers=0,
            sample_every=10**9,
            eval_every=10**9,
            ckpt_every=10**9,
        )
        trainer = Trainer(opts)
        trainer._session_t0 = time.perf_counter()  # what save() counts the wall time from
        for n in trainer.recipe.nets.values():
            n.train()
        trend: list[dict[str, float]] = []
        train_s, next_eval = 0.0, args.eval_s
        while train_s < args.seconds:
            t0 = time.perf_counter()
            trainer.train_step()
            train_s += time.perf_counter() - t0
            if train_s >= next_eval or train_s >= args.seconds:
                rec = reconstruct(trainer, test)
                trend.append(
                    {"step": trainer.step, "train_s": round(train_s, 1), "mse": mse01(rec, test)}
                )
                print(f"  step {trainer.step:5d}  {train_s:6.0f} s  mse {trend[-1]['mse']:.4f}")
                next_eval += args.eval_s
        if args.keep:
            trainer.save()  # a run folder `stage analyze` can open
        trainer.close()
    zoo.MODELS["vaegan"] = spec
    return {"weights": weights, "trend": trend, "recon": rec}


def figure(path: Path, real: torch.Tensor, rows: dict[str, torch.Tensor], n: int = 8) -> Path:
    """Rows: `n` real frames spread over the held-out set, then each configuration's
    reconstructions of them, labelled on the left."""
    import cv2

    from training import artifacts

    pick = torch.linspace(0, len(real) - 1, min(n, len(real))).round().long()  # spread over time
    n = len(pick)
    tiles = [real[pick], *(r[pick] for r in rows.values())]
    grid = artifacts.to_uint8(torch.cat(tiles))
    s = grid.shape[1]
    scale = max(1, 96 // s)
    grid = grid.repeat(scale, 1).repeat(scale, 2)
    s *= scale
    label_w = 110
    out = np.full((len(tiles) * s, label_w + n * s, 3), 255, np.uint8)
    names = {"vae": "pixel VAE", "vaegan": "VAE-GAN", "before": "VAE-GAN old"}
    for r, name in enumerate(["real", *(names.get(k, k) for k in rows)]):
        for c in range(n):
            out[r * s : (r + 1) * s, label_w + c * s : label_w + (c + 1) * s] = grid[r * n + c]
        cv2.putText(out, name, (6, r * s + s // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder with train/ and test/")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--resize", type=int, help="training: min side before random patches")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float)
    p.add_argument("--seconds", type=float, default=300.0, help="training wall time per config")
    p.add_argument("--eval-s", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--configs", default="vae,vaegan", help=f"of {', '.join(CONFIGS)}")
    p.add_argument("--before-recipe", type=Path, help="training/vaegan.py as it was (`before`)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--label", default="", help="a name for this measurement in the JSON")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vaegan-recon.json")
    p.add_argument("--figure", type=Path, help="PNG: real | each configuration's reconstruction")
    p.add_argument("--keep", type=Path, help="keep each configuration's run under DIR/NAME")
    p.add_argument("--recon-dir", type=Path, help="save each configuration's reconstructions (.pt)")
    p.add_argument(
        "--extra-row",
        action="append",
        default=[],
        metavar="NAME=FILE.pt",
        help="a row from an earlier run's --recon-dir (e.g. the recipe before a change)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_dir, test_dir = args.data / "train", args.data / "test"
    test = load_folder(test_dir, args.size)
    mean = load_folder(train_dir, args.size).mean(0, keepdim=True)
    baseline = mse01(mean.expand_as(test), test)
    oracle = mse01(test.mean(0, keepdim=True).expand_as(test), test)  # the best constant picture
    print(
        f"{len(test)} held-out frames; mean-image baseline mse {baseline:.4f}"
        f" (the held-out frames' own mean: {oracle:.4f})"
    )
    results: dict[str, Any] = {}
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        print(f"{name}: {args.seconds:.0f} s")
        recipe = None
        if name == "before":
            if args.before_recipe is None:
                p.error("the `before` configuration needs --before-recipe FILE")
            recipe = recipe_from(args.before_recipe)
        args.current = name
        results[name] = train_for(train_dir, test, args, CONFIGS[name], recipe)
    report = {
        "label": args.label,
        "data": str(args.data),
        "size": args.size,
        "resize": args.resize,
        "width": args.width,
        "batch": args.batch,
        "lr": args.lr,
        "seconds_per_config": args.seconds,
        "threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": str(torch.__version__),
        "held_out_frames": len(test),
        "mse_unit": "pixels in [0, 1]",
        "mean_image_mse": baseline,
        "held_out_mean_image_mse": oracle,
        "configs": {
            k: {
                "weights": v["weights"],
                "steps": v["trend"][-1]["step"],
                "mse": v["trend"][-1]["mse"],
                "vs_mean_image": v["trend"][-1]["mse"] / baseline,
                "trend": v["trend"],
            }
            for k, v in results.items()
        },
    }
    for k, v in report["configs"].items():
        print(f"{k:8s} {v['steps']:5d} steps  mse {v['mse']:.4f}  ({v['vs_mean_image']:.2f}x mean)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(args.out)
    if args.recon_dir:
        args.recon_dir.mkdir(parents=True, exist_ok=True)
        for k, v in results.items():
            torch.save(v["recon"], args.recon_dir / f"{k}.pt")
    if args.figure:
        rows = {}
        for spec in args.extra_row:
            name, file = spec.split("=", 1)
            rows[name] = torch.load(file, weights_only=True)
        rows.update({k: v["recon"] for k, v in results.items()})
        print(figure(args.figure, test, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
