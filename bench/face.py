"""Face benchmark: the tracker's time per 640x480 frame, face-to-photon latency in the headless
stage, and the render loop's frame times while the face is tracked — printed, and saved to JSON.

The "camera" is a clip of scikit-image's astronaut moving and tilting (MJPG, decoded on the
camera thread like a webcam's MJPG stream). Face-to-photon runs from a frame's capture time to
the present of the first frame whose latent was stepped with that capture's features.

    python bench/face.py [--seconds 8] [--out bench/results]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import performer  # noqa: E402,F401  first: its thread policy must precede torch
from bench.common import save_results, write_show  # noqa: E402

W, H = 640, 480


def performance(n: int) -> list[np.ndarray]:
    """n frames of the astronaut drifting across the frame and tilting her head."""
    import cv2
    import skimage.data

    face = cv2.resize(skimage.data.astronaut()[0:300, 75:375], (480, 480))
    base = np.zeros((H, W, 3), np.uint8)
    base[:, 80:560] = face
    frames = []
    for i in range(n):
        a = 2 * np.pi * i / 150
        m = cv2.getRotationMatrix2D((320, 190), 20 * np.sin(a), 1.0 + 0.15 * np.sin(0.7 * a))
        m[:, 2] += (80 * np.sin(0.5 * a), 20 * np.cos(a))
        frames.append(cv2.warpAffine(base, m, (W, H), borderMode=cv2.BORDER_REPLICATE))
    return frames


def pct(xs, scale: float = 1000.0) -> dict[str, float]:
    if len(xs) == 0:
        return {"p50": 0.0, "p99": 0.0, "n": 0}
    return {
        "p50": round(float(np.percentile(xs, 50)) * scale, 2),
        "p99": round(float(np.percentile(xs, 99)) * scale, 2),
        "n": len(xs),
    }


def tracker_alone(frames: list[np.ndarray], refine: bool) -> dict:
    """The bundled face mesh, one thread, nothing else running: ms per frame, + features."""
    from performer.inputs.face.features import measure
    from performer.inputs.face.tracker import MeshBackend

    mesh = MeshBackend(refine=refine)
    track, feats = [], []
    try:
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            marks, _ = mesh.process(frame, i / 30)
            t1 = time.perf_counter()
            if marks is not None:
                measure(marks, (W, H))
            t2 = time.perf_counter()
            if i >= 10:  # past the first detection and warm-up
                track.append(t1 - t0)
                feats.append(t2 - t1)
    finally:
        mesh.close()
    return {"tracker_ms": pct(track), "features_ms": pct(feats)}


SCENES = """
[[scenes]]
seed = 1
drift = { speed = 0.3, amplitude = 1.0 }
"""
FACE = """
[face]
camera = "performance.avi"
[[face.mappings.play]]
feature = "roll"
direction = 1
gain = 2.0
[[face.mappings.play]]
feature = "x"
direction = 2
[[face.mappings.play]]
feature = "mouth_open"
param = "grade.saturation"
"""


def stage_run(workdir: Path, seconds: float, face: bool, size: int) -> dict:
    """The headless stage at 60 fps, with or without the face; latency instrumented."""
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    path = write_show(workdir, "bench_face", size, (640, 360), SCENES + (FACE if face else ""))
    stage = Stage(load_show(path), RunOptions(headless=True, seconds=seconds))
    consumed: dict[int, tuple[float, float, float]] = {}  # loop frame → (captured, tracked, used)
    shown: list[tuple[float, int]] = []  # (present time, stamp of the image on screen)
    loop = {"frame": 0, "stamp": -1}
    rig = stage.face
    if rig is not None:
        frame_fn = rig.frame

        def frame(t, *a, **k):
            before = rig.sample
            frame_fn(t, *a, **k)
            if rig.sample is not before and rig.sample is not None and rig.sample.raw:
                consumed[loop["frame"]] = (rig.sample.t, rig.sample.done, time.perf_counter())

        rig.frame = frame
    engine, present_fn = stage.engine, stage.display.present

    def watched(fn):  # the loop takes the frame to show from latest() or wait_for(...)
        def call(*a, **k):
            f = fn(*a, **k)
            if f is not None:
                loop["stamp"] = f.stamp
            return f

        return call

    def present():
        present_fn()
        shown.append((time.perf_counter(), loop["stamp"]))
        loop["frame"] += 1

    engine.latest = watched(engine.latest)
    if hasattr(engine, "wait_for"):
        engine.wait_for = watched(engine.wait_for)
    stage.display.present = present
    try:
        if rig is not None:  # the tracker's first detection, before the clock starts
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (rig.tracker.latest() or None):
                time.sleep(0.02)
        summary = stage.run()
        tracker = list(rig.tracker.times) if rig else []
        restarts = rig.tracker.restarts if rig else 0
    finally:
        stage.close()
    latency, tracked, waited, shown_after = [], [], [], []
    for k, (t_capture, t_done, t_used) in consumed.items():
        for present_t, stamp in shown[k:]:
            if stamp >= k:
                latency.append(present_t - t_capture)
                tracked.append(t_done - t_capture)  # camera slot → tracker result
                waited.append(t_used - t_done)  # result waits for the loop's next frame
                shown_after.append(present_t - t_used)  # step, decode, the next present
                break
    keys = ("fps", "work_p50_ms", "work_p99_ms", "busy_p50_ms", "busy_p99_ms")
    keys += ("interval_p50_ms", "interval_p99_ms", "missed", "missed_pct", "fresh_pct")
    out = {k: summary[k] for k in keys if k in summary}  # busy: work less the decode wait
    if face:
        out["tracker_in_show_ms"] = pct(tracker[10:])
        out["face_samples_per_s"] = round(len(consumed) / seconds, 1)
        out["face_to_photon_ms"] = pct(latency)
        out["of_which_ms"] = {
            "capture_to_tracked": pct(tracked),
            "tracked_to_used_by_loop": pct(waited),
            "used_to_photon": pct(shown_after),
        }
        out["tracker_restarts"] = restarts
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--size", type=int, default=128, choices=(64, 128, 256))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)

    import cv2
    import torch

    frames = performance(300)
    results: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "frame": f"{W}x{H}",
        "seconds": args.seconds,
        "generator_px": args.size,
    }
    for refine in (True, False):
        r = tracker_alone(frames, refine)
        results[f"alone_refine_{str(refine).lower()}"] = r
        print(
            f"face mesh alone, refine_landmarks={refine}: {r['tracker_ms']['p50']:.1f} ms p50,"
            f" {r['tracker_ms']['p99']:.1f} ms p99 per 640x480 frame;"
            f" features {r['features_ms']['p50']:.2f} ms p50",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        writer = cv2.VideoWriter(
            str(work / "performance.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H)
        )
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        for face in (False, True):
            r = stage_run(work, args.seconds, face, args.size)
            results["stage_with_face" if face else "stage_without_face"] = r
            line = (
                f"stage {args.size} px at 60 fps {'with' if face else 'without'} face:"
                f" {r['fps']:.1f} fps, frame work p50 {r['work_p50_ms']:.1f} p99"
                f" {r['work_p99_ms']:.1f} ms (busy p99 {r.get('busy_p99_ms', 0):.1f}),"
                f" interval p99 {r['interval_p99_ms']:.1f} ms,"
                f" missed {r['missed_pct']:.2f} %"
            )
            if face:
                t, lat = r["tracker_in_show_ms"], r["face_to_photon_ms"]
                line += (
                    f" | tracker {t['p50']:.1f} / {t['p99']:.1f} ms,"
                    f" {r['face_samples_per_s']} samples/s,"
                    f" face-to-photon p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} ms ("
                    + ", ".join(f"{k} {v['p50']:.1f}" for k, v in r["of_which_ms"].items())
                    + " ms p50)"
                )
            print(line, flush=True)
    save_results(args.out, "face.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
