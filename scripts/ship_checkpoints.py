"""Train, export and record the checkpoints the default show ships (models/checkpoints/).

Each is trained on this machine's CPU by the project's own `stage train`, exported with
`stage export`, given named latent directions by `stage analyze`, and recorded beside it in
NAME.toml (the exact commands, data, steps, wall time, final SWD and diversity) with its last
sample grid as NAME.png. Usage:

    python scripts/ship_checkpoints.py [dual dcgan vaegan] [--scale 0.01]

`--scale` multiplies every step count (a quick rehearsal of the whole pipeline). `--steps N`
(and `--every N`, the sample/eval/checkpoint interval, default N/10) override one recipe's:
with `--reuse`, a run stopped at a grid (Ctrl-C right after step N) is exported as trained for
N steps, which is what `stage train --steps N --sample-every E ...` reproduces.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "shipped"
PHOTOS = RUNS / "photos"
OUT = ROOT / "models" / "checkpoints"

# name → (model, steps, extra `stage train` arguments, data description)
RECIPES: dict[str, tuple[str, int, list[str], str]] = {
    "dual-equilibrium": (
        "dual",
        2000,
        ["--width", "0.5", "--size", "64"],
        "none (data-free)",
    ),
    "dcgan-photos": (
        "dcgan",
        3000,
        ["--width", "0.25", "--batch", "64", "--lr", "2e-4", "--resize", "128"]
        + ["--upsample", "resize"],
        "random 64 px patches of scikit-image's colour photographs (stage photos)",
    ),
    "vaegan-photos": (
        "vaegan",
        1800,
        ["--width", "0.5", "--size", "64", "--resize", "128", "--upsample", "resize"],
        "random 64 px patches of scikit-image's colour photographs (stage photos)",
    ),
}
ALIASES = {"dual": "dual-equilibrium", "dcgan": "dcgan-photos", "vaegan": "vaegan-photos"}


def stage(*args: str) -> None:
    cmd = [sys.executable, "-m", "training", *args]
    print("$ stage " + " ".join(args), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(round(v, 6) if isinstance(v, float) else v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string


def finished(run: Path, steps: int) -> bool:
    """The run folder holds a finished run of `steps` steps (its summary says so)."""
    try:
        return json.loads((run / "summary.json").read_text())["steps"] >= steps
    except (OSError, ValueError, KeyError):
        return False


def ship(
    name: str,
    scale: float,
    reuse: bool = False,
    steps_override: int | None = None,
    every_override: int | None = None,
) -> Path:
    model, steps, extra, data = RECIPES[name]
    steps = steps_override or max(2, round(steps * scale))
    run = RUNS / name
    train = ["train", model, "--out", str(run.relative_to(ROOT)), "--steps", str(steps)]
    if model != "dual":
        train += ["--data", str(PHOTOS.relative_to(ROOT))]
    every = str(every_override or max(1, steps // 10))
    train += [*extra, "--sample-every", every, "--eval-every", every, "--ckpt-every", every]
    if reuse and finished(run, steps):
        print(f"{run}: trained already ({steps} steps); exporting it", flush=True)
    else:
        shutil.rmtree(run, ignore_errors=True)
        stage(*train)
    ckpt = OUT / f"{name}.pt"
    export = ["export", str(run.relative_to(ROOT)), "--out", str(ckpt.relative_to(ROOT))]
    stage(*export)
    figures_dir = str((run / "analysis").relative_to(ROOT))
    analyze = ["analyze", str(ckpt.relative_to(ROOT)), "--out", figures_dir]
    analyze += ["--samples", "512", "--directions", "8"]
    stage(*analyze)
    summary = json.loads((run / "summary.json").read_text())
    train_s = float(summary["wall_s"])  # the trainer's own clock
    grids = sorted((run / "samples").glob("step_*.png"))
    if grids:
        shutil.copyfile(grids[-1], OUT / f"{name}.png")
    figures = {
        k.split("/", 1)[1]: v
        for k, v in summary["figures"].items()
        if k in ("metrics/swd", "metrics/diversity", "metrics/data_diversity")
    }
    lines = [
        f"# {name}.pt — trained by the project's own commands on this machine's CPU;",
        "# written by scripts/ship_checkpoints.py (run it again to reproduce).",
        f"model = {toml_value(model)}",
        f"data = {toml_value(data)}",
        f"steps = {summary['steps']}",
        f"wall_s = {toml_value(round(train_s, 1))}",
        f"images_per_s = {toml_value(summary['images_per_s'])}",
        f"device = {toml_value(summary['device'])}",
        f"torch = {toml_value(summary['torch'])}",
        f"size_mb = {toml_value(round(ckpt.stat().st_size / 2**20, 2))}",
        "commands = [",
        *(f"  {toml_value('stage ' + ' '.join(c))}," for c in (train, export, analyze)),
        "]",
        "",
        "[figures]  # at the last step; swd: sliced Wasserstein on Laplacian patches (lower is",
        "           # closer to the data); diversity: mean pairwise distance of a batch",
        *(f"{k} = {toml_value(v)}" for k, v in figures.items()),
        "",
    ]
    record = OUT / f"{name}.toml"
    record.write_text("\n".join(lines), encoding="utf-8")
    print(f"{ckpt} ({ckpt.stat().st_size / 2**20:.1f} MB, {train_s / 60:.1f} min); {record}")
    return ckpt


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=list(RECIPES))
    p.add_argument("--scale", type=float, default=1.0, help="multiply every step count")
    p.add_argument("--reuse", action="store_true", help="export runs that finished already")
    p.add_argument("--steps", type=int, help="one recipe's step count (instead of its own)")
    p.add_argument("--every", type=int, help="sample/eval/checkpoint interval (default steps/10)")
    args = p.parse_args()
    names = [ALIASES.get(n, n) for n in args.names]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        p.error(f"unknown: {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    if any(RECIPES[n][0] != "dual" for n in names):
        stage("photos", str(PHOTOS.relative_to(ROOT)))
    if (args.steps or args.every) and len(names) != 1:
        p.error("--steps/--every apply to one recipe: name exactly one")
    for name in names:
        ship(name, args.scale, args.reuse, args.steps, args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
