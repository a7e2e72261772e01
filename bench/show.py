"""Default-show benchmark: the shipped show played in real time, headless, its cue list driven by
OSC from another process, timed by the loop's own frame log (`--frame-log`).

Prints and saves (bench/results/show.json) frame intervals per scene (p50/p99/max, missed
frames) and, the figure the model-switch target asks for, the frames while two models
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
import sys, time
from pythonosc.udp_client import SimpleUDPClient
port, hold, cues, rounds = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = SimpleUDPClient("127.0.0.1", port)
for _ in range(rounds):
    for cue in list(range(1, cues)) + [0]:
        time.sleep(hold)
        c.send_message("/stage/cue/go", cue)
time.sleep(hold)
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figures(intervals: list[float], budget_ms: float) -> dict[str, float]:
    if not intervals:
        return {"frames": 0}
    xs = np.array(intervals)
    return {
        "frames": len(xs),
        "fps": round(1000 * len(xs) / xs.sum(), 2),
        "interval_p50_ms": round(float(np.percentile(xs, 50)), 2),
        "interval_p99_ms": round(float(np.percentile(xs, 99)), 2),
        "interval_max_ms": round(float(xs.max()), 2),
        "over_budget_pct": round(100 * float((xs > 1.5 * budget_ms).mean()), 2),
        "over_2x_budget": int((xs > 2 * budget_ms).sum()),
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
    port = free_udp_port()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "frames.csv"
        cmd = [sys.executable, "-m", "performer.cli", "run", str(args.show), "--headless"]
        cmd += ["--seconds", "3600", "--frame-log", str(log_path), "--osc-port", str(port)]
        cmd += ["--size", args.output]
        stage = subprocess.Popen(cmd, cwd=tmp, stderr=subprocess.PIPE, text=True)
        try:
            assert stage.stderr is not None
            for line in stage.stderr:
                if "OSC: listening" in line:
                    break
            else:
                print("the show did not start", file=sys.stderr)
                return 1
            n_cues = len(show.cue_steps)
            sender = [sys.executable, "-c", SENDER, str(port), str(args.hold)]
            subprocess.run([*sender, str(n_cues), str(args.rounds)], check=True)
        finally:
            stage.terminate()
            stage.communicate(timeout=60)
        with open(log_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["interval_ms"]]
    per_scene: dict[str, list[float]] = {}
    for r in rows:
        per_scene.setdefault(r["scene"], []).append(float(r["interval_ms"]))
    switching = [float(r["interval_ms"]) for r in rows if r["crossfade"] == "1"]
    steady = [float(r["interval_ms"]) for r in rows if r["crossfade"] == "0"]
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
