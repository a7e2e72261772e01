"""`stage train MODEL ...`: one command from a folder of pictures to a model the stage plays.

Training runs as its own process (`python -m training train`, every option passed through
unchanged; performer never imports training), then `python -m training export` writes
RUN/NAME.pt and `python -m training analyze` its principal directions. A show is written that
plays it — with `--show SHOW.toml` a new file beside it, SHOW.NAME.toml (the show plus the
model, a "mirror" scene — live video through a VAE-GAN — and a "face" scene the performer's
face steers, first in the cue list), else RUN/show.toml — checked as `stage check` checks,
and the `stage rehearse` command to try it is printed. The show file given is never written.
A `stage capture` folder as --data trains on its face crops (or its frames when it has none).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
FLAGS = ("--no-directions",)
HELP = """
stage's own options (around the training):
  --show SHOW.toml   add the model, a "mirror" scene (live video through a VAE-GAN) and a
                     "face" scene to a new show beside SHOW.toml (SHOW.NAME.toml; the show
                     file itself is never written); without it: RUN/show.toml
  --name NAME        the model's name in the show and its file RUN/NAME.pt (default: the run's)
  --no-directions    skip the latent analysis (principal directions for the face to steer)
  --train-only       train only, as before: no export, no analysis, no show
  --out              default: runs/<data folder>-<model> (-2, -3 … when taken)
  --data DIR         a `stage capture` folder trains on DIR/faces (else DIR/frames)
"""

Runner = Callable[[list[str]], int]


class TrainCommandError(Exception):
    """A problem with the command line or the files (one line)."""


@dataclass
class Plan:
    model: str
    args: list[str]  # for `python -m training train MODEL ...`
    out: Path
    name: str
    show: Path | None
    directions: bool
    resume: bool
    capture: dict[str, Any] | None  # the capture folder's record, when --data is one
    data_note: str | None


# -- the command line -------------------------------------------------------------------------


def _take(args: list[str], option: str) -> str | None:
    """Remove `option VALUE` / `option=VALUE` from `args`; its value (the last given)."""
    value = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == option:
            if i + 1 >= len(args):
                raise TrainCommandError(f"{option} needs a value")
            value = args[i + 1]
            del args[i : i + 2]
        elif a.startswith(option + "="):
            value = a.split("=", 1)[1]
            del args[i]
        else:
            i += 1
    return value


def _peek(args: Sequence[str], option: str) -> str | None:
    """The value of `option` in `args`, left in place."""
    value = None
    for i, a in enumerate(args):
        if a == option and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(option + "="):
            value = a.split("=", 1)[1]
    return value


def _replace(args: list[str], option: str, value: str) -> None:
    """Set `option`'s value in `args` (appended when absent)."""
    for i, a in enumerate(args):
        if a == option and i + 1 < len(args):
            args[i + 1] = value
            return
        if a.startswith(option + "="):
            args[i] = f"{option}={value}"
            return
    args += [option, value]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "model"


def captured_data(folder: Path) -> tuple[Path, dict[str, Any], str] | None:
    """For a `stage capture` folder: (what to train on, its record, a line saying so)."""
    record_path = folder / "capture.json"
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {"takes": []}
    takes = record.get("takes", []) if isinstance(record, dict) else []
    for sub, what in (("faces", "face crops"), ("frames", "frames")):
        files = [p for p in (folder / sub).rglob("*") if p.suffix.lower() in IMAGE_EXT]
        if files:
            line = f"captured data: {len(files)} {what} from {len(takes)} take(s) in {folder / sub}"
            return folder / sub, record, line
    return None


def plan(argv: Sequence[str], runs: Path = Path("runs")) -> Plan:
    """What `stage train ARGV` will do: the trainer's arguments (ours taken out, --data and
    --out filled in) and the export and show that follow."""
    args = list(argv)
    if not args or args[0].startswith("-"):
        raise TrainCommandError("usage: stage train MODEL --data DIR [options] (see --help)")
    model = args.pop(0)
    show = _take(args, "--show")
    name = _take(args, "--name")
    directions = "--no-directions" not in args
    args = [a for a in args if a not in FLAGS]
    resume = "--resume" in args
    capture = note = None
    data = _peek(args, "--data")
    if data is not None:
        found = captured_data(Path(data))
        if found is not None:
            train_on, capture, note = found
            _replace(args, "--data", str(train_on))
    out_text = _peek(args, "--out")
    if out_text is None:
        base = slug(f"{Path(data).name}-{model}" if data else model)
        out, n = runs / base, 1
        while out.exists() and any(out.iterdir()) and not resume:
            n += 1
            out = runs / f"{base}-{n}"
        args += ["--out", str(out)]
    else:
        out = Path(out_text)
    if show is not None and not Path(show).is_file():
        raise TrainCommandError(f"--show {show}: no such file")
    return Plan(
        model,
        [model, *args],
        out,
        slug(name or out.name),
        Path(show) if show else None,
        directions,
        resume,
        capture,
        note,
    )


# -- the processes ----------------------------------------------------------------------------


def run_training(argv: list[str]) -> int:
    """`python -m training ARGV` as a child in its own process group: each Ctrl-C and SIGTERM
    this process gets is passed on once (the trainer saves and stops on the first, stops at
    once on a second), and we wait for it to end."""
    env = {**os.environ, "STAGE_TRAIN_EXPORT_FOLLOWS": "1"}  # its summary: no export advice
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", *argv], start_new_session=True, env=env
    )

    def forward(signum: int, frame: Any) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def train(argv: Sequence[str], runner: Runner = run_training) -> int:
    """`stage train ...`: train, export, analyse, write the show, check it, say how to play it."""
    if "--train-only" in argv:  # the trainer alone, as this process (no export, no show)
        args = [a for a in argv if a != "--train-only"]
        os.execv(sys.executable, [sys.executable, "-m", "training", "train", *args])
    if any(a in ("-h", "--help") for a in argv):
        rc = runner(["train", "--help"])
        print(HELP)
        return rc
    try:
        p = plan(argv)
    except TrainCommandError as e:
        print(f"stage train: {e}", file=sys.stderr)
        return 2
    if p.data_note:
        print(p.data_note, flush=True)
    rc = runner(["train", *p.args])
    if rc == 130:
        print(
            f"stage train: stopped; `stage export {p.out} --out FILE.pt` exports what it has"
            " learnt (the line above says how to go on)",
            file=sys.stderr,
        )
    if rc != 0:
        return rc
    checkpoint = p.out / f"{p.name}.pt"
    if runner(["export", str(p.out), "--out", str(checkpoint)]) != 0:
        print(f"stage train: the export of {p.out} failed (see above)", file=sys.stderr)
        return 1
    if p.directions:
        analysis = ["analyze", str(checkpoint), "--directions", "8", "--samples", "512"]
        if runner(analysis) != 0:
            print(
                "stage train: the latent analysis failed: the face steers along random"
                " directions (run `stage analyze` on the checkpoint to name them)",
                file=sys.stderr,
            )
    from performer.train_show import write_show

    try:
        show = write_show(p, checkpoint)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        print(f"stage train: the show could not be written: {e}", file=sys.stderr)
        return 1
    problems = check_written(show)
    for line in problems:
        print(f"{show}: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"\n{checkpoint}: the model; {show}: a show that plays it (stage check: ok)")
    if p.show is not None:
        print(f"{p.show} is unchanged; the new show is it plus the model and two scenes")
    print(f"try it:\n  stage rehearse {shlex.quote(_shown(show))}")
    print("  (first the mirror — you, through the model —, then → for the face scene)")
    return 0


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def check_written(show: Path) -> list[str]:
    """`stage check` on the written show: its problems (none: it plays)."""
    from performer.check import check_show
    from performer.show import ShowError, load_show

    problems: list[str] = []
    try:
        loaded = load_show(show, problems)
    except ShowError as e:
        return [str(e)]
    return problems + check_show(loaded)
