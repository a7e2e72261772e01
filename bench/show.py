"""Default-show benchmark: the shipped show played in real time, headless, its cue list driven by
OSC from another process, timed by the loop's own frame log (`--frame-log`).

Prints and saves (bench/results/show.json) frame intervals per scene (p50/p99/max, missed
frames, each against its own present divisor: the scheduler presents every 2nd refresh on purpose
at times) and, the figure the model-switch target asks for, the frames while two models
crossfade: how many took longer than the frame budget, and longer than twice it.

    python bench/show.py [--hold 5] [--rounds 2] [--output 1280x720] [--out bench/results]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

SENDER = """
import json, sys, time
from pythonosc.udp_client import SimpleUDPClient
c = SimpleUDPClient("127.0.0.1", int(sys.argv[1]))
for wait, address, value in json.loads(sys.argv[2]):
    time.sleep(wait)
    c.send_message(address, value)
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def play(
    show: Path,
    messages: list[tuple[float, str, float | int]],
    workdir: Path,
    size: str,
    record: Path | None = None,
    tail_s: float = 0.0,
) -> tuple[list[dict], str]:
    """Run `show` headless in its own process and send it `messages` — (seconds to wait
    first, OSC address, value) — from another, once it listens; stop it `tail_s` after the
    last one (SIGTERM: a recording is finalized). Returns its frame log rows and its log."""
    port, frames = free_udp_port(), workdir / "frames.csv"
    cmd = [sys.executable, "-m", "performer.cli", "run", str(show), "--headless"]
    cmd += ["--seconds", "3600", "--frame-log", str(frames), "--osc-port", str(port)]
    cmd += ["--size", size, *(["--record", str(record)] if record else [])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stage = subprocess.Popen(cmd, cwd=workdir, stderr=subprocess.PIPE, text=True, env=env)
    log: list[str] = []
    try:
        assert stage.stderr is not None
        listening = False
        for line in stage.stderr:  # ready: warmed up and listening
            log.append(line)
            if listening := "OSC: listening" in line:
                break
        if not listening or stage.poll() is not None:
            raise RuntimeError(f"{show} did not start:\n" + "".join(log))
        sender = [sys.executable, "-c", SENDER, str(port), json.dumps(messages)]
        subprocess.run(sender, check=True, capture_output=True, text=True, timeout=600)
        time.sleep(tail_s)
    finally:
        stage.terminate()
        _, rest = stage.communicate(timeout=60)
        log.append(rest or "")
    if stage.returncode not in (0, -15, 143):
        raise RuntimeError(f"{show} ended with {stage.returncode}:\n" + "".join(log))
    with open(frames, newline="") as f:
        return list(csv.DictReader(f)), "".join(log)


def figures(intervals: list[tuple[float, int]], budget_ms: float) -> dict[str, float]:
    """Interval figures of (interval ms, present divisor) rows: a frame is over budget against
    its own divisor's budget (the scheduler presents every 2nd refresh on purpose at times)."""
    if not intervals:
        return {"frames": 0}
    xs = np.array([x for x, _ in intervals])
    budgets = budget_ms * np.array([every for _, every in intervals])
    return {
        "frames": len(xs),
        "fps": round(1000 * len(xs) / xs.sum(), 2),
        "interval_p50_ms": round(float(np.percentile(xs, 50)), 2),
        "interval_p99_ms": round(float(np.percentile(xs, 99)), 2),
        "interval_max_ms": round(float(xs.max()), 2),
        "over_budget_pct": round(100 * float((xs > 1.5 * budgets).mean()), 2),
        "over_2x_budget": int((xs > 2 * budgets).sum()),
        "not_every_refresh_pct": round(100 * float((budgets > budget_ms).mean()), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", type=Path, default=ROOT / "show.toml")
    ap.add_argument("--hold", type=float, default=5.0, help="seconds between cues")
    ap.add_argument("--rounds", type=int, default=2, help="times through the cue list")
    ap.add_argument("--output", default="1280x720", help="output resolution WxH")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from performer.show import load_show

    show = load_show(args.show)
    fps = show.output.fps
    budget_ms = 1000 / fps
    cues = [*range(1, len(show.cue_steps)), 0] * args.rounds
    messages = [(args.hold, "/stage/cue/go", cue) for cue in cues]
    with tempfile.TemporaryDirectory() as tmp:
        rows, _ = play(args.show, messages, Path(tmp), args.output, tail_s=args.hold)
    rows = [r for r in rows if r["interval_ms"]]
    per_scene: dict[str, list[tuple[float, int]]] = {}

    def x(r: dict) -> tuple[float, int]:
        return float(r["interval_ms"]), int(r.get("every") or 1)

    for r in rows:
        per_scene.setdefault(r["scene"], []).append(x(r))
    switching = [x(r) for r in rows if r["crossfade"] == "1"]
    steady = [x(r) for r in rows if r["crossfade"] == "0"]
    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "show": str(args.show.relative_to(ROOT) if args.show.is_relative_to(ROOT) else args.show),
        "output": args.output,
        "fps_target": fps,
        "hold_s": args.hold,
        "rounds": args.rounds,
        "all": figures(steady + switching, budget_ms),
        "model_switch": figures(switching, budget_ms),
        "steady": figures(steady, budget_ms),
        "scenes": {name: figures(xs, budget_ms) for name, xs in per_scene.items()},
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "show.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
