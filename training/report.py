"""What `stage train` says to the person at the terminal: the opening line (model, parameters,
device, run folder), the pace once measured, and the closing summary (figures, a collapse
verdict, the next command). Pure text from plain values; the loop prints it.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from typing import Any


def count(n: float) -> str:
    """1234567 → "1.2 M", 45300 → "45.3 k"."""
    for scale, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def duration(seconds: float) -> str:
    """3725 → "1 h 2 min", 95 → "1 min 35 s", 8.2 → "8.2 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    if m < 60:
        return f"{m} min {s} s"
    h, m = divmod(m, 60)
    return f"{h} h {m} min"


def opening(
    opts: Any, device: str, threads: int, world: int, params: Mapping[str, int], step: int
) -> str:
    """The run's first line: what trains, how big, on what, and where it goes."""
    nets = " + ".join(f"{name} {count(n)}" for name, n in params.items())
    where = (
        f"{device} ({threads} thread{'s' if threads != 1 else ''})" if device == "cpu" else device
    )
    if world > 1:
        where += f" x {world} processes"
    start = f"resuming at step {step}, " if step else ""
    steps = f"steps to fit --minutes {opts.minutes:g}" if opts.minutes else f"{opts.steps} steps"
    return (
        f"stage train {opts.model}: {opts.size} px, width {opts.width:g} ({nets} parameters),"
        f" batch {opts.batch}, {start}{steps} on {where} → {opts.out}"
    )


def pace(
    images_per_s: float, s_per_step: float, steps: int, step: int, minutes: float | None
) -> str:
    """The pace line, once the first steps are timed: speed, and how long the run will take."""
    left = (steps - step) * s_per_step
    end = time.strftime("%H:%M", time.localtime(time.time() + left))
    budget = f" (to fit --minutes {minutes:g})" if minutes else ""
    return (
        f"pace {images_per_s:.1f} img/s, {s_per_step:.3g} s a step: {steps} steps{budget},"
        f" about {duration(left)} more (ends about {end})"
    )


def verdict(
    figures: Mapping[str, float], collapse_ratio: float = 0.3, early: bool = False
) -> tuple[str, bool]:
    """(a line on mode collapse, whether it is one) from a run's last figures. `early`: the
    samples were never diverse in this run (an untrained generator looks collapsed too)."""
    if "metrics/distinct" not in figures:
        return "collapse: not measured (no evaluation ran)", False
    n = int(figures.get("metrics/samples", 0)) or "the"
    distinct, near = int(figures["metrics/distinct"]), figures["metrics/near_copies"]
    data_distinct = figures.get("metrics/data_distinct")
    data = f"; {int(data_distinct)} in as many real images" if data_distinct else ""
    pictures = "picture" if distinct == 1 else "pictures"
    seen = f"{n} samples hold {distinct} distinct {pictures}, {near:.0%} have a near-copy{data}"
    if near >= 0.5 and (not data_distinct or distinct < 0.5 * data_distinct):
        why = " (never diverse in this run: not learnt yet, or collapsed from the start)"
        return f"collapse: YES: {seen}{why if early else ''}", True
    if figures.get("metrics/dominant_cluster", 0.0) > 0.5:
        share = figures["metrics/dominant_cluster"]
        return f"collapse: PARTIAL: {share:.0%} of the samples are one picture ({seen})", True
    div, data_div = figures.get("metrics/diversity"), figures.get("metrics/data_diversity")
    if div is not None and data_div and div < collapse_ratio * data_div:
        return f"collapse: LIKELY: diversity {div:.3f} against the data's {data_div:.3f}", True
    return f"collapse: none seen ({seen})", False


def next_commands(
    opts: Any,
    argv: list[str],
    collapsed: bool,
    interrupted: bool,
    lr: float,
    early: bool = False,
    export_follows: bool = False,
) -> list[str]:
    """What to run next: resume a stopped run, train an unlearnt one longer, retrain a collapsed
    one, else export it (nothing when `export_follows`: `stage train` exports and says how to
    play it)."""
    out = str(opts.out).rstrip("/")
    name = out.rsplit("/", 1)[-1] or "model"
    resume = f"stage train {opts.model} --out {shlex.quote(out)} --resume"
    if interrupted:
        return [f"{resume}   (to go on)"]
    if collapsed and early:
        more = f"{resume} --steps {max(2 * int(opts.steps), 1000)}"
        return [f"{more}   (train longer; if the samples stay alike, a lower --lr)"]
    if collapsed:
        if not argv or argv[0] != "train":  # not from the command line: the essentials
            argv = ["train", opts.model, *(["--data", str(opts.data)] if opts.data else [])]
        again = [a for a in argv if a != "--resume"]
        for flag in ("--lr", "--seed", "--out"):
            while flag in again[:-1]:
                i = again.index(flag)
                del again[i : i + 2]
        again += ["--lr", f"{lr / 2:g}", "--seed", str(opts.seed + 1), "--out", f"{out}-2"]
        return [f"stage {shlex.join(again)}   (half the learning rate, another seed)"]
    if export_follows:
        return []
    ckpt = f"models/checkpoints/{name}.pt"
    return [
        f"stage export {shlex.quote(out)} --out {ckpt}",
        f"stage analyze {ckpt} --sheet 16   (seeds and directions worth a scene)",
        f'then in a show: [models.{name}] checkpoint = "{ckpt}"; stage rehearse SHOW.toml',
    ]


def closing(summary: Mapping[str, Any], verdict_line: str, commands: list[str]) -> str:
    """The summary printed at the end of a run."""
    f = summary.get("figures", {})
    parts = [f"{summary['steps']} steps in {duration(summary['wall_s'])}"]
    if summary.get("images_per_s"):
        parts.append(f"{summary['images_per_s']} img/s")
    if "metrics/diversity" in f:
        data = f.get("metrics/data_diversity")
        parts.append(
            f"diversity {f['metrics/diversity']:.3f}" + (f" (data {data:.3f})" if data else "")
        )
    if "metrics/swd" in f:
        parts.append(f"SWD {f['metrics/swd']:.1f}")
    lines = ["done: " + ", ".join(parts), verdict_line]
    lines += [("next: " if i == 0 else "      ") + c for i, c in enumerate(commands)]
    return "\n".join(lines)
