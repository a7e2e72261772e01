"""Audio feature benchmark: the cost of one hop of analysis (µs), and how well onsets and tempo
are found on a generated click track. Printed; nothing is asserted or written.

    python bench/audio.py [--seconds 30] [--bpm 120] [--rate 44100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from performer.inputs.audio.features import Features, config_for  # noqa: E402


def click_track(rate: int, seconds: float, bpm: float) -> tuple[np.ndarray, np.ndarray]:
    x = 0.001 * np.random.default_rng(0).standard_normal(int(rate * seconds)).astype(np.float32)
    times = np.arange(0.25, seconds - 0.05, 60.0 / bpm)
    n = int(0.01 * rate)
    blip = (
        0.5
        * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
        * np.exp(-np.arange(n) / (0.003 * rate))
    )
    for t in times:
        x[int(t * rate) : int(t * rate) + n] += blip
    return x, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--rate", type=int, default=44_100)
    a = ap.parse_args()
    config = config_for(a.rate, (20, 250, 2000, 8000), {})
    x, times = click_track(a.rate, a.seconds, a.bpm)
    f = Features(config)
    hop = config.hop
    costs = []
    for i in range(0, len(x) - hop + 1, hop):
        t0 = time.perf_counter()
        f.push(x[i : i + hop])
        costs.append(time.perf_counter() - t0)
    us = np.array(costs) * 1e6
    onsets = np.array(f.onsets)
    tol = 3 * hop / a.rate
    found = sum(bool(np.any(np.abs(onsets - t) <= tol)) for t in times)
    extra = sum(not np.any(np.abs(times - o) <= tol) for o in onsets)
    late = [float(np.min(np.abs(onsets - t))) * 1000 for t in times if len(onsets)]
    print(f"hop {hop} at {a.rate} Hz ({hop / a.rate * 1000:.1f} ms), {len(us)} hops")
    print(
        f"feature cost per hop: median {np.median(us):.0f} µs, p99 {np.percentile(us, 99):.0f} µs,"
        f" max {us.max():.0f} µs"
    )
    print(
        f"onsets: {found}/{len(times)} clicks found, {extra} extra,"
        f" median offset {np.median(late):.1f} ms"
    )
    print(f"tempo: {f.tempo:.2f} bpm (true {a.bpm:g}), confidence {f.confidence:.2f}")


if __name__ == "__main__":
    main()
