"""Audio feature benchmark: the cost of one hop of analysis (µs), and how well onsets and tempo
are found on a generated click track; then audio-to-photon in the headless show (128 px, the
click track as `[audio]` source, each onset → `/stage/cue/next` between two scenes): for each
click, its time in the file against the first frame (`--frame-log`) whose scene changed after
it, presented (p50/p99, ms and frames); and the loop's fps with audio + face + OSC (feedback
with audio features) all on. Printed and written to bench/results/audio.json; nothing asserted.

    python bench/audio.py [--seconds 30] [--bpm 120] [--rate 44100] [--show-seconds 5]
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import performer  # noqa: E402,F401 - the thread policy, before torch loads
from bench.common import save_results, write_show  # noqa: E402
from performer.inputs.audio.features import Features, config_for  # noqa: E402

SCENES = """
[[scenes]]
name = "a"
seed = 1
drift = { speed = 0.3, amplitude = 1.0 }
[[scenes]]
name = "b"
seed = 7
[audio]
source = "clicks.wav"
[[audio.map]]
feature = "onset"
target = "/stage/cue/next"
"""
OSC = """
[osc]
port = 0
feedback_port = 9
audio_features = true
"""
FACE = """
[face]
camera = "performance.avi"
[[face.mappings.play]]
feature = "roll"
direction = 1
"""


def click_track(rate: int, seconds: float, bpm: float) -> tuple[np.ndarray, np.ndarray]:
    x = 0.001 * np.random.default_rng(0).standard_normal(int(rate * seconds)).astype(np.float32)
    times = click_times(seconds, bpm)
    n = int(0.01 * rate)
    blip = (
        0.5
        * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
        * np.exp(-np.arange(n) / (0.003 * rate))
    )
    for t in times:
        x[int(t * rate) : int(t * rate) + n] += blip
    return x, times


def pct(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {k: round(float(np.percentile(xs, q)), 2) for k, q in (("p50", 50), ("p99", 99))} | {
        "max": round(float(max(xs)), 2)
    }


def write_camera(work: Path, seconds: float) -> None:
    """bench/face.py's moving astronaut as the show's camera clip."""
    import cv2

    from bench.face import H, W, performance

    writer = cv2.VideoWriter(
        str(work / "performance.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H)
    )
    for f in performance(int(30 * min(seconds + 2, 8))):
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def stage_run(work: Path, seconds: float, size: int, everything: bool) -> dict:
    """The headless show at 60 fps, the click track as its sound; each click's audio-to-photon
    from the frame log (show time of the frame + its work = presented)."""
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    body = SCENES + (OSC + FACE if everything else "\n[osc]\nenabled = false\n")
    show = write_show(work, "bench_audio", size, (640, 360), body)
    frame_log = work / "frames.csv"
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=seconds, frame_log=frame_log))
    try:
        source = stage.inputs.get("audio").source
        summary = stage.run()
        start = stage._run_state.start  # perf_counter at show time 0
    finally:
        stage.close()
    offset = time.monotonic() - time.perf_counter()  # (both monotonic: a constant apart)
    with frame_log.open(newline="") as f:
        rows = [(float(r["t"]), float(r["work_ms"]) / 1000, r["scene"]) for r in csv.DictReader(f)]
    changes = [i for i in range(1, len(rows)) if rows[i][2] != rows[i - 1][2]]
    rate = source.sample_rate
    clicks = [t for t in click_times(len(source.samples) / rate)]
    ms, frames, missed = [], [], 0
    for c in clicks:
        at = source.t0 + c - offset - start  # the click's show time
        if at < 0.1 or at > rows[-1][0] - 0.2:  # before the loop ran, or too near its end
            continue
        first = next((i for i, row in enumerate(rows) if row[0] >= at), None)
        change = next((i for i in changes if rows[i][0] >= at), None)
        if first is None or change is None or rows[change][0] - at > 0.3:
            missed += 1
            continue
        ms.append((rows[change][0] + rows[change][1] - at) * 1000)
        frames.append(float(change - first + 1))  # 1: the first frame after the click shows it
    keys = ("fps", "work_p50_ms", "work_p99_ms", "interval_p99_ms", "missed_pct")
    out = {k: summary[k] for k in keys if k in summary}
    out |= {"clicks": len(ms) + missed, "clicks_unseen": missed}
    out |= {"audio_to_photon_ms": pct(ms), "audio_to_photon_frames": pct(frames)}
    return out


def click_times(seconds: float, bpm: float = 120.0) -> np.ndarray:
    return np.arange(0.25, seconds - 0.05, 60.0 / bpm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--bpm", type=float, default=120.0)
    ap.add_argument("--rate", type=int, default=44_100)
    ap.add_argument("--show-seconds", type=float, default=5.0, help="each show run (0: none)")
    ap.add_argument("--size", type=int, default=128, choices=(64, 128, 256))
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
    results: dict = {"machine": platform.platform(), "hop": hop, "rate": a.rate}
    results["feature_us"] = {"p50": round(float(np.median(us)), 1)}
    results["feature_us"]["p99"] = round(float(np.percentile(us, 99)), 1)
    results["onsets_found"] = f"{found}/{len(times)}"
    results["tempo_bpm"] = round(float(f.tempo), 2)
    if a.show_seconds > 0:
        from scipy.io import wavfile

        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            x, _ = click_track(a.rate, a.show_seconds + 3.0, 120.0)
            wavfile.write(str(work / "clicks.wav"), a.rate, x)
            write_camera(work, a.show_seconds)
            for everything in (False, True):
                r = stage_run(work, a.show_seconds, a.size, everything)
                name = "show_audio_face_osc" if everything else "show_audio"
                results[name] = r
                ms, fr = r["audio_to_photon_ms"], r["audio_to_photon_frames"]
                print(
                    f"{name} at {a.size} px: {r['fps']:.1f} fps; audio-to-photon p50"
                    f" {ms['p50']:.1f} ms, p99 {ms['p99']:.1f} ms ({fr['p50']:g} / {fr['p99']:g}"
                    f" frames), {r['clicks_unseen']} of {r['clicks']} clicks unseen",
                    flush=True,
                )
    save_results(ROOT / "bench" / "results", "audio.json", results)


if __name__ == "__main__":
    main()
