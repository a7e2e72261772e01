"""OSC benchmark: the stage's headless real-time loop under OSC from another process.

Phases, one stage: a baseline with no OSC; 1,000 messages/s paced (lost? receive latency?);
a 5,000 messages/s flood (frame time against the baseline); an unpaced blast (the most the
receiver takes; the show's default osc.rate limits it: `rate_limited`); 1,000 hostile address
patterns a second, each new (frame time against the baseline); then cue-to-photon for a shader
cue (blackout) and a latent cue (scene cut). Before the phases, `hostile_patterns`: the time to
answer each hostile pattern (matched or refused), new each time, in the stage's own address
space and in a 120-parameter one (each should take under 5 ms).
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


# Hostile senders: address patterns that sent the old regex matcher into exponential
# backtracking (or that go over a bound), each made new with a random tail (no cache hits).
HOSTILE = {
    "star20_z": "/stage/param/" + "*" * 20 + "z",
    "star24_one_segment": "/stage/param/" + "*" * 24 + "a",
    "star_a_x24": "/stage/param/" + "*a" * 24,
    "star_q_x16": "/stage/param/" + "*?" * 16,
    "two_star30_segments": "/stage/" + "*" * 30 + "q/" + "*" * 30 + "q",
    "alternatives40": "/stage/param/{" + ",".join(["a*"] * 40) + "}",
    "alternatives40_distinct": "/stage/param/*{" + ",".join(f"e_{i}" for i in range(40)) + "}*",
    "sets_x16": "/stage/param/" + "*[a-z]" * 16,
    "over_wildcards": "/stage/" + "*p" * 30 + "/" + "*r" * 30,
    "over_length": "/stage/param/" + "*a" * 200,
}

HOSTILE_SENDER = r"""
import json, random, socket, struct, sys, time
plan = json.loads(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target = ("127.0.0.1", plan["port"])
rng = random.Random(2)
patterns = plan["patterns"]
def message(address):
    a = address.encode() + b"\0"
    return a + b"\0" * (-len(a) % 4) + b",f\0\0" + struct.pack(">f", 0.0)
rate, n = plan["rate"], int(plan["rate"] * plan["seconds"])
t0 = time.perf_counter()
sent = 0
while sent < n:
    due = min(n, int((time.perf_counter() - t0) * rate) + 1)
    while sent < due:
        tail = "".join(rng.choice("abcxyz") for _ in range(5))
        s.sendto(message(patterns[sent % len(patterns)] + tail), target)
        sent += 1
    time.sleep(0.002)
print(json.dumps({"sent": sent, "seconds": time.perf_counter() - t0}), flush=True)
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
    from performer.stage import FrameStats

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
            rate_limited=stage.osc.dispatcher.counts["rate_limited"] - counts0["rate_limited"],
        )
        enqueued = stage.osc.dispatcher.counts["cues"] - counts0["cues"]
        out.update(
            cues_applied_per_frame=round((enqueued - out["coalesced"]) / max(out["frames"], 1), 2),
            received_per_s=round(len(probe.received) / busy) if busy else 0,
        )
    return out


def hostile_patterns(stage, repeats: int = 30) -> dict:
    """Each hostile pattern answered through a dispatcher (parse, match or refuse, count), new
    each time (the pattern cache cleared): p50 and max over `repeats`, the matcher's steps."""
    import logging

    from performer.inputs.osc.receiver import Dispatcher, Inbox
    from performer.inputs.osc.space import AddressSpace, OscInputError
    from performer.render.shaders import ParamSpec

    big = {f"prog{i}.param_{j}": ParamSpec(1.0, 0.0, 3.0) for i in range(8) for j in range(15)}
    spaces = {
        "stage": stage.osc.space,  # its own inbox below: nothing reaches the show
        "params_120": AddressSpace(lambda: ["a", "b"], lambda: 2, big, [str(k) for k in range(9)]),
    }
    out: dict = {"repeats": repeats, "criterion": "p50 under 5 ms"}
    quiet = logging.getLogger("stage.osc")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for space_name, space in spaces.items():
            d = Dispatcher(space, Inbox())
            rows = {}
            for name, pattern in HOSTILE.items():
                dgram = _message(pattern)
                times = []
                for _ in range(repeats):
                    space._patterns.clear()
                    t0 = time.perf_counter()
                    d.feed(dgram)
                    times.append(time.perf_counter() - t0)
                try:
                    space._patterns.clear()
                    answer = f"names {len(space.match(pattern))}"
                except OscInputError as e:
                    answer = f"refused ({type(e).__name__})"
                rows[name] = {
                    "chars": len(pattern),
                    "answer": answer,
                    "steps": space.last_steps,
                    "p50_ms": pct(times, 50),
                    "max_ms": pct(times, 100),
                }
            out[space_name] = rows
    finally:
        quiet.setLevel(level)
    p50s = [r["p50_ms"] for k in spaces for r in out[k].values()]
    out["worst_p50_ms"] = max(p50s)
    out["all_under_5ms"] = max(p50s) < 5.0
    return out


def _message(address: str) -> bytes:
    a = address.encode() + b"\0"
    return a + b"\0" * (-len(a) % 4) + b",f\0\0" + struct.pack(">f", 0.0)


def hostile_phase(stage, probe: Probe, seconds: float, rate: int) -> dict:
    """The show while `rate` new hostile patterns a second arrive: frames, and what the
    receiver made of them."""
    from performer.stage import FrameStats

    stage.stats = FrameStats(budget=stage.stats.budget)
    counts0 = dict(stage.osc.dispatcher.counts)
    recording, probe.record = probe.record, False
    plan = {"port": stage.osc.address[1], "patterns": list(HOSTILE.values()), "rate": rate}
    proc = send(HOSTILE_SENDER, {**plan, "seconds": seconds})
    stage.opts.seconds = seconds
    summary = stage.run()
    sender = json.loads(proc.communicate(timeout=60)[0])
    time.sleep(0.3)
    probe.record = recording
    counts = stage.osc.dispatcher.counts
    out = {
        k: summary[k]
        for k in ("fps", "work_p50_ms", "work_p99_ms", "interval_p99_ms", "missed", "frames")
    }
    if "interval_max_ms" in summary:
        out["interval_max_ms"] = summary["interval_max_ms"]
    out["sent"] = sender["sent"]
    out.update({k: counts[k] - counts0[k] for k in ("messages", "unknown", "too_complex")})
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

    from performer.show import load_show
    from performer.stage import RunOptions, Stage

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
            results["hostile_patterns"] = hostile_patterns(stage)
            print("hostile_patterns", json.dumps(results["hostile_patterns"]), flush=True)
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
            results["hostile_1000"] = hostile_phase(stage, probe, s, 1000)
            print("hostile_1000", json.dumps(results["hostile_1000"]), flush=True)
            base = [results["baseline"], results["baseline_again"]]
            for row, label in (("flood_5000", "flood"), ("hostile_1000", "hostile")):
                for key in ("work_p50_ms", "work_p99_ms", "interval_p99_ms"):
                    ref = sum(b[key] for b in base) / 2
                    results.setdefault(f"{label}_vs_baseline_pct", {})[key] = round(
                        100 * (results[row][key] - ref) / ref, 1
                    )
            results["cue_to_photon"] = cue_to_photon(stage, probe, args.cues)
            results["budget_ms"] = round(1000 / 60, 3)
            results["stage_receive_to_present"] = {
                "p50_ms": pct(list(stage.osc.latency), 50),
                "p99_ms": pct(list(stage.osc.latency), 99),
            }
        finally:
            stage.close()
    keys = ("flood_vs_baseline_pct", "hostile_vs_baseline_pct", "cue_to_photon")
    print(json.dumps({k: results[k] for k in keys}, indent=1))
    save_results(args.out, "osc.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
