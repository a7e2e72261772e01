"""OSC benchmark: the stage's headless real-time loop under OSC from another process.

Phases, one stage: a baseline with no OSC; 1,000 messages/s paced (lost? receive latency?);
a 5,000 messages/s flood (frame time against the baseline); an unpaced blast (the most the
receiver takes); then cue-to-photon for a shader cue (blackout) and a latent cue (scene cut).
Figures are printed and written to bench/results/osc.json; nothing is asserted.

    python bench/osc.py [--seconds 5] [--size 64] [--output 640x360]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import performer  # noqa: E402,F401 - the thread policy, before torch loads
from bench.common import save_results, write_show  # noqa: E402

# The sender: stdlib only. Each message is /stage/latent/<k> <float value> <double sent-at>
# (the stage ignores the extra argument; the benchmark reads it back), paced in 2 ms steps.
SENDER = r"""
import json, socket, struct, sys, time
plan = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
target = ("127.0.0.1", plan["port"])
heads = []
for k in range(1, 9):
    a = f"/stage/latent/{k}".encode() + b"\0"
    heads.append(a + b"\0" * (-len(a) % 4) + b",fd\0")
rate, seconds, n = plan["rate"], plan["seconds"], plan.get("count")
n = n or int(rate * seconds)
t0 = time.perf_counter()
sent = 0
while sent < n:
    due = n if rate <= 0 else min(n, int((time.perf_counter() - t0) * rate) + 1)
    while sent < due:
        v = (sent % 200) / 100.0 - 1.0
        try:
            s.sendto(heads[sent % 8] + struct.pack(">fd", v, time.perf_counter()), target)
        except OSError:
            pass
        sent += 1
    if rate > 0:
        time.sleep(0.002)
print(json.dumps({"sent": sent, "seconds": time.perf_counter() - t0}), flush=True)
"""

CUES = r"""
import json, random, socket, sys, time
plan = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(1)
times = []
for d in plan["datagrams"]:
    time.sleep(plan["gap"] + rng.random() * plan["gap"])  # off the frame grid
    times.append(time.perf_counter())
    s.sendto(bytes.fromhex(d), ("127.0.0.1", plan["port"]))
print(json.dumps(times), flush=True)
"""


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)) * 1000, 3) if xs else 0.0


def make_show(workdir: Path, size: int, output: tuple[int, int]) -> Path:
    return write_show(
        workdir,
        "bench",
        size,
        output,
        """
[[scenes]]
name = "a"
seed = 1
drift = { speed = 0.3, amplitude = 1.0 }
[[scenes]]
name = "b"
seed = 7
[osc]
port = 0
feedback = false
""",
    )


class Probe:
    """Wraps the stage's dispatcher and display to time what arrives and when it shows."""

    def __init__(self, stage) -> None:
        self.stage = stage
        self.received: list[tuple[float, bytes]] = []
        self.presents: list[float] = []  # after each frame, GL finished
        self.shown: list[int] = []  # the engine stamp each frame showed
        self.applied: list[tuple[int, str, tuple]] = []  # (frame, action, args)
        self.record = False
        d, display, engine = stage.osc.dispatcher, stage.display, stage.engine
        feed, present, wait_for, apply = d.feed, display.present, engine.wait_for, stage.apply

        def timed_feed(dgram, sender="127.0.0.1", now=None):
            t = time.perf_counter()
            if self.record:
                self.received.append((t, dgram[-8:]))
            feed(dgram, sender, t)

        def timed_present():
            present()
            if self.record:
                display._ctx.finish()  # what a swap waits for: the frame is drawn
                self.presents.append(time.perf_counter())

        def seen_latest(stamp, until):
            frame = wait_for(stamp, until)
            if self.record:
                self.shown.append(frame.stamp if frame is not None else -1)
            return frame

        def noted_apply(cue, t):
            if self.record and cue.source == "osc":
                self.applied.append((len(self.presents), cue.action, cue.args))
            return apply(cue, t)

        d.feed, display.present, engine.wait_for, stage.apply = (
            timed_feed,
            timed_present,
            seen_latest,
            noted_apply,
        )


def send(script: str, plan: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(plan)], stdout=subprocess.PIPE, text=True
    )


def phase(stage, probe: Probe, seconds: float, plan: dict | None) -> dict:
    from performer.loop import FrameStats

    stage.stats = FrameStats(budget=stage.stats.budget)  # this phase's frames only
    counts0 = dict(stage.osc.dispatcher.counts)
    probe.received.clear()
    proc = send(SENDER, {"port": stage.osc.address[1], **plan}) if plan else None
    stage.opts.seconds = seconds
    summary = stage.run()
    out = {
        k: summary[k]
        for k in ("fps", "work_p50_ms", "work_p99_ms", "interval_p99_ms", "missed", "frames")
    }
    if proc is not None:
        sender = json.loads(proc.communicate(timeout=60)[0])
        time.sleep(0.3)
        got = stage.osc.dispatcher.counts["messages"] - counts0["messages"]
        lat = [t - struct.unpack(">d", tail)[0] for t, tail in probe.received]
        busy = probe.received[-1][0] - probe.received[0][0] if len(probe.received) > 1 else 0
        out.update(
            sent=sender["sent"],
            received=got,
            lost=sender["sent"] - got,
            send_rate=round(sender["sent"] / sender["seconds"]),
            receive_latency_p50_ms=pct(lat, 50),
            receive_latency_p99_ms=pct(lat, 99),
            coalesced=stage.osc.dispatcher.counts["coalesced"] - counts0["coalesced"],
        )
        enqueued = stage.osc.dispatcher.counts["cues"] - counts0["cues"]
        out.update(
            cues_applied_per_frame=round((enqueued - out["coalesced"]) / max(out["frames"], 1), 2),
            received_per_s=round(len(probe.received) / busy) if busy else 0,
        )
    return out


def cue_to_photon(stage, probe: Probe, n: int) -> dict:
    from pythonosc.osc_message_builder import OscMessageBuilder

    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram.hex()

    out = {}
    for name, datagrams in (
        ("shader cue (/stage/blackout x 0)", [msg("/stage/blackout", i % 2, 0) for i in range(n)]),
        ("latent cue (/stage/scene x 0)", [msg("/stage/scene", (i + 1) % 2, 0) for i in range(n)]),
    ):
        probe.presents.clear()
        probe.shown.clear()
        probe.applied.clear()
        proc = send(CUES, {"port": stage.osc.address[1], "datagrams": datagrams, "gap": 0.12})
        stage.opts.seconds = n * 0.19 + 1.0
        stage.run()
        sent = json.loads(proc.communicate(timeout=60)[0])
        applied = [f for f, action, _ in probe.applied if action in ("blackout", "scene")]
        lat = []
        for t_sent, frame in zip(sent, applied, strict=False):
            if name.startswith("shader"):
                shown = frame  # the frame that applied it drew it
            else:  # the first frame showing an image decoded from a latent at or after it
                later = [i for i in range(frame, len(probe.shown)) if probe.shown[i] >= frame]
                if not later:
                    continue
                shown = later[0]
            if shown < len(probe.presents):
                lat.append(probe.presents[shown] - t_sent)
        out[name] = {
            "cues": len(lat),
            "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99),
            "max_ms": pct(lat, 100),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=64, choices=(64, 128))
    ap.add_argument("--output", default="640x360", help="output resolution WxH")
    ap.add_argument("--cues", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    output = tuple(int(v) for v in args.output.lower().split("x"))

    from performer.loop import RunOptions, Stage
    from performer.show import load_show

    results: dict = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "size": args.size,
        "output": args.output,
        "seconds": args.seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        stage = Stage(load_show(make_show(Path(tmp), args.size, output)), RunOptions(headless=True))
        try:
            import moderngl  # noqa: F401

            results["machine"]["gl_renderer"] = stage.display._ctx.info["GL_RENDERER"]
            probe = Probe(stage)
            stage.opts.seconds = 4.0  # warm up, tune the engine's threads under load
            stage.run()
            stage.opts.threads = stage.engine.threads
            probe.record = True
            s = args.seconds
            phases = {
                "baseline": None,
                "paced_1000": {"rate": 1000, "seconds": s},
                "flood_5000": {"rate": 5000, "seconds": s},
                "baseline_again": None,
                "blast": {"rate": 0, "seconds": s, "count": 50_000},
            }
            for name, plan in phases.items():
                results[name] = phase(stage, probe, s, plan)
                print(name, json.dumps(results[name]), flush=True)
            base = [results["baseline"], results["baseline_again"]]
            flood = results["flood_5000"]
            for key in ("work_p50_ms", "work_p99_ms", "interval_p99_ms"):
                ref = sum(b[key] for b in base) / 2
                results.setdefault("flood_vs_baseline_pct", {})[key] = round(
                    100 * (flood[key] - ref) / ref, 1
                )
            results["cue_to_photon"] = cue_to_photon(stage, probe, args.cues)
            results["budget_ms"] = round(1000 / 60, 3)
            results["stage_receive_to_present"] = {
                "p50_ms": pct(list(stage.osc.latency), 50),
                "p99_ms": pct(list(stage.osc.latency), 99),
            }
        finally:
            stage.close()
    print(json.dumps({k: results[k] for k in ("flood_vs_baseline_pct", "cue_to_photon")}, indent=1))
    save_results(args.out, "osc.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
