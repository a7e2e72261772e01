"""Checkerboard energy of generators: transposed vs resize-then-convolve up-sampling.

A stride-2 transposed convolution paints a 2x2-periodic pattern (Odena et al. 2016); its energy
sits at the spectrum's Nyquist bins (H/2, 0), (0, W/2), (H/2, W/2). For a batch of samples this
prints and saves, per generator:

- `nyquist_fraction`: the 2x2-periodic component's share of the non-DC power (mean spectrum);
- `nyquist_peak_db`: those bins against their 8 neighbours (0 dB: no peak, a smooth spectrum);
- `grid_peak_db`: the same over the whole period-8 lattice (bins at multiples of H/8, W/8: the
  grids of the last three x2 layers).

Rows: the shipped checkpoints before and after the retrain (`--before`, `--after`), untrained
generators of each mode on the same z (the architecture alone), and the training data (random
patches, the trainer's way). Each checkpoint also gets the trainer's figures measured here on
the same footing (`bench_swd`: sliced Wasserstein to the data patches, `bench_diversity`,
`bench_dominant_cluster`: the share of near-copies of one picture, a partial collapse), and
its steps/wall time/SWD/diversity as recorded in its NAME.toml. `--runs` adds training runs
(their last.pt's EMA generator, and steps/wall time/figures from summary.json): short runs of
each mode for the same wall time.

    python bench/upsampling.py [--before runs/upsampling/before] [--samples 256]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.common import save_results  # noqa: E402

NAMES = ("dcgan-photos", "vaegan-photos")


def mean_power(images: torch.Tensor) -> torch.Tensor:
    """Mean power spectrum (H, W) of images (N, C, H, W), each channel's mean removed."""
    x = images.double()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return torch.fft.fft2(x).abs().square().mean(dim=(0, 1))


def _peak_db(p: torch.Tensor, bins: list[tuple[int, int]]) -> float:
    """Mean power at `bins` over the mean of their 8 neighbours (wrapping; lattice bins and DC
    left out of the neighbours), in dB."""
    h, w = p.shape
    lattice = set(bins) | {(0, 0)}
    at, around = 0.0, 0.0
    for i, j in bins:
        ring = [
            ((i + di) % h, (j + dj) % w)
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di or dj) and ((i + di) % h, (j + dj) % w) not in lattice
        ]
        at += float(p[i, j])
        around += sum(float(p[a, b]) for a, b in ring) / len(ring)
    return 10.0 * torch.log10(torch.tensor(at / max(around, 1e-30))).item()


def checkerboard(images: torch.Tensor) -> dict[str, float]:
    """The three figures above for images (N, C, H, W), H and W multiples of 8."""
    p = mean_power(images)
    h, w = p.shape
    nyq = [(h // 2, 0), (0, w // 2), (h // 2, w // 2)]
    grid = [
        (a * h // 8, b * w // 8) for a in range(8) for b in range(8) if a or b
    ]  # periods 2, 4, 8
    total = float(p.sum() - p[0, 0])
    return {
        "nyquist_fraction": round(sum(float(p[i, j]) for i, j in nyq) / max(total, 1e-30), 6),
        "nyquist_peak_db": round(_peak_db(p, nyq), 2),
        "grid_peak_db": round(_peak_db(p, grid), 2),
    }


@torch.no_grad()
def samples(G: torch.nn.Module, n: int, seed: int = 0) -> torch.Tensor:
    z = torch.randn(n, int(G.z_dim), generator=torch.Generator().manual_seed(seed))
    return torch.cat([G(chunk) for chunk in z.split(64)])


def record(path: Path) -> dict[str, Any]:
    """Steps, wall time and final figures from a checkpoint's NAME.toml, when beside it."""
    toml = path.with_suffix(".toml")
    if not toml.is_file():
        return {}
    data = tomllib.loads(toml.read_text(encoding="utf-8"))
    keep = {k: data[k] for k in ("steps", "wall_s", "images_per_s") if k in data}
    upsample = next((c for c in data.get("commands", []) if "--upsample" in c), "")
    keep["upsample"] = "resize" if "--upsample resize" in upsample else "transposed"
    return {**keep, **data.get("figures", {})}


def run_generator(run: Path) -> torch.nn.Module:
    """A run folder's EMA generator (its last.pt), in eval mode."""
    from models.checkpoint import read_checkpoint
    from models.registry import config_from_dict, kind_of

    data = read_checkpoint(run / "last.pt")
    config = config_from_dict(data["kind"], data["config"])
    G = kind_of(data["kind"]).parts["G"](config)
    G.load_state_dict(data["state"].get("G_ema", data["state"]["G"]))
    return G.eval()


def run_record(run: Path) -> dict[str, Any]:
    """Steps, wall time and the last evaluated figures of a run (its summary.json)."""
    import json

    summary = json.loads((run / "summary.json").read_text())
    figures = {k.split("/", 1)[1]: v for k, v in summary.get("figures", {}).items()}
    keep = ("swd", "diversity", "dominant_cluster")
    out = {"steps": summary["steps"], "wall_s": summary["wall_s"]}
    return {**out, **{k: round(v, 4) for k, v in figures.items() if k in keep}}


def data_patches(folder: Path, n: int, size: int = 64, resize: int = 128) -> torch.Tensor:
    """Random `size` px patches of the photos resized to a `resize` px short side."""
    import numpy as np
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    rng = np.random.default_rng(0)
    images = []
    for f in files:
        im = Image.open(f).convert("RGB")
        s = resize / min(im.size)
        im = im.resize((max(resize, round(im.width * s)), max(resize, round(im.height * s))))
        images.append(np.asarray(im, dtype=np.float32) / 127.5 - 1.0)
    out = []
    for k in range(n):
        a = images[k % len(images)]
        y = rng.integers(0, a.shape[0] - size + 1)
        x = rng.integers(0, a.shape[1] - size + 1)
        out.append(torch.from_numpy(a[y : y + size, x : x + size]).permute(2, 0, 1))
    return torch.stack(out)


def untrained(kind: str, upsample: str) -> torch.nn.Module:
    """The shipped recipes' shapes (64 px), freshly initialised with seed 0."""
    from models.dcgan import Generator
    from models.vaegan import Decoder
    from training.gan import dcgan_config
    from training.vaegan import vaegan_config

    torch.manual_seed(0)
    if kind == "dcgan":
        return Generator(dcgan_config(64, 0.25, upsample=upsample)).eval()
    return Decoder(vaegan_config(64, 0.5, upsample=upsample)).eval()


def generator_row(G: Any, real: torch.Tensor | None, n: int) -> dict[str, Any]:
    """A generator's row: its up-sampling, the grid of its samples, and (measured alike for
    every row) SWD to the data, diversity and the dominant cluster."""
    from training import metrics

    fake = samples(G, n)
    row: dict[str, Any] = {
        "upsample": getattr(G.config, "upsample", "transposed"),
        **checkerboard(fake),
    }
    if real is not None:
        swd = metrics.sliced_wasserstein_distance(real, fake)
        row["bench_swd"] = round(sum(swd) / len(swd), 2)
    row["bench_diversity"] = round(metrics.batch_diversity(fake), 4)
    row["bench_dominant_cluster"] = round(metrics.dominant_cluster(fake), 4)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, default=ROOT / "runs" / "upsampling" / "before")
    p.add_argument("--after", type=Path, default=ROOT / "models" / "checkpoints")
    p.add_argument("--photos", type=Path, default=ROOT / "runs" / "shipped" / "photos")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--runs", type=Path, nargs="*", default=[], help="run folders to add")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args()
    from models.checkpoint import load_checkpoint
    from training import metrics

    real = data_patches(args.photos, args.samples) if args.photos.is_dir() else None
    rows: dict[str, Any] = {}
    for label, folder in (("before", args.before), ("after", args.after)):
        for name in NAMES:
            path = folder / f"{name}.pt"
            if not path.is_file():
                print(f"{label} {name}: {path} not found; skipped")
                continue
            G = load_checkpoint(path).generator
            rows[f"{label}/{name}"] = {**generator_row(G, real, args.samples), **record(path)}
    for run in args.runs:
        G = run_generator(run)
        rows[f"run/{run.name}"] = {**generator_row(G, real, args.samples), **run_record(run)}
    for kind in ("dcgan", "vaegan"):
        for up in ("transposed", "resize"):
            G = untrained(kind, up)
            rows[f"untrained/{kind}/{up}"] = checkerboard(samples(G, args.samples))
    if real is not None:
        rows["data/photos-64px-patches"] = {
            **checkerboard(real),
            "bench_diversity": round(metrics.batch_diversity(real), 4),
        }
    width = max(len(k) for k in rows)
    print(f"{'':{width}}  nyq_frac  nyq_peak_dB  grid_peak_dB  swd  diversity  (recorded)")
    for key, r in rows.items():
        print(
            f"{key:{width}}  {r['nyquist_fraction']:8.5f}  {r['nyquist_peak_db']:11.1f}"
            f"  {r['grid_peak_db']:12.1f}  {r.get('bench_swd', '')}  {r.get('bench_diversity', '')}"
            f"  ({r.get('swd', '')}, {r.get('diversity', '')})"
        )
    results = {
        "what": "checkerboard energy of samples; see bench/upsampling.py's docstring",
        "samples": args.samples,
        "torch": torch.__version__,
        "rows": rows,
    }
    save_results(args.out, "upsampling.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
