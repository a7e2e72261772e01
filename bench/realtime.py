"""Real-time benchmark: the stage's headless loop beside the plain single-threaded loop it replaces.

For 64, 128 and 256 px DCGAN-sized generators (≈3.5 M parameters) it prints fps, frame time
p50/p99 split into inference, upload and draw, and missed frames, with MediaPipe's face mesh
running on a moving face photograph in both loops (in the stage's, its own camera and face
tracker threads), and writes everything to JSON.

    python bench/realtime.py [--seconds 6] [--output 640x360] [--out bench/results]
    python bench/realtime.py --rig [--sizes 128] [--output 1280x720]

`--rig` measures the stage wired into a venue's rig instead: program window + the operator's
preview (under Xvfb when there is no screen) + NDI (a receiver connected by address in another
process) + H.264 recording, all at once — fps, frame-interval p99, missed %, and each output's
drops — beside the program alone; into realtime-rig.json.

    python bench/realtime.py --effects [--sizes 128] [--output 1280x720]

`--effects` measures what the show's effects cost the stage's headless loop: the plain grade →
trails chain, with network bending on (`bend.*` in the scene's params), with a 4-effect chain
(bloom, hue, chroma, grain) on, and both — fps, frame-interval p99, missed %, fresh %; into
realtime-effects.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cpu_shares,
    generator,
    save_results,
    thread_cpu,
    write_show,
)

DISPLAY_HZ = 60  # the benchmark shows' fps: what a projector shows at most, new or not
ROW_KEYS = ("fresh_per_s", "fps", "interval_p99_ms", "missed_pct", "fresh_pct", "frames")


def camera_frames():
    """A synthetic performance: the astronaut photograph moved around, 640x480 like a webcam."""
    import cv2
    import skimage.data

    face = cv2.resize(skimage.data.astronaut(), (480, 480))
    canvas = np.zeros((480, 640, 3), np.uint8)
    i = 0
    while True:
        dx = int(60 * np.sin(i / 20))
        frame = canvas.copy()
        frame[:, 80 + dx : 560 + dx] = face
        i += 1
        yield frame


def make_face_mesh():
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, refine_landmarks=True, max_num_faces=1
    )


def percentiles(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"p50_ms": 0.0, "p99_ms": 0.0}
    return {
        "p50_ms": round(float(np.percentile(xs, 50)) * 1000, 3),
        "p99_ms": round(float(np.percentile(xs, 99)) * 1000, 3),
    }


# ---------------------------------------------------------------------------- the plain loop


def plain_loop(size: int, seconds: float, output: tuple[int, int]) -> dict:
    """capture → face mesh → generator → texture → draw, one thread, library defaults (torch's
    default thread count, OpenMP's default wait policy). Runs as fast as it can."""
    import moderngl
    import torch

    G = generator(size).eval()
    ctx = moderngl.create_standalone_context(backend="egl")
    prog = ctx.program(
        vertex_shader="#version 330\nin vec2 p; out vec2 uv;"
        "void main(){uv=p*0.5+0.5; gl_Position=vec4(p,0,1);}",
        fragment_shader="#version 330\nuniform sampler2D t; in vec2 uv; out vec4 c;"
        "void main(){c=texture(t, vec2(uv.x, 1.0-uv.y));}",
    )
    vbo = ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], "f4").tobytes())
    vao = ctx.vertex_array(prog, [(vbo, "2f", "p")])
    tex = ctx.texture((size, size), 3)
    tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    fbo = ctx.simple_framebuffer(output)
    face = make_face_mesh()
    frames = camera_frames()
    parts: dict[str, list[float]] = {"face": [], "infer": [], "upload": [], "draw": [], "frame": []}
    z = torch.randn(1, G.config.z_dim)
    start = time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            face.process(next(frames))
            t1 = time.perf_counter()
            z = z + 0.01 * torch.randn_like(z)
            img = ((G(z)[0] + 1) * 127.5).clamp(0, 255).byte().permute(1, 2, 0).numpy()
            t2 = time.perf_counter()
            tex.write(np.ascontiguousarray(img).tobytes())
            t3 = time.perf_counter()
            fbo.use()
            tex.use(0)
            vao.render(moderngl.TRIANGLES)
            ctx.finish()
            t4 = time.perf_counter()
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
                parts[k].append(v)
    n = len(parts["frame"])
    return {
        "fps": round(n / (time.perf_counter() - start), 2),
        "frames": n,
        "torch_threads": torch.get_num_threads(),
        **{k: percentiles(v) for k, v in parts.items()},
        "missed_pct_at_60fps": round(100 * sum(f > 1 / 60 for f in parts["frame"]) / max(n, 1), 2),
    }


# ---------------------------------------------------------------------------- the stage's loop


def camera_clip(path: Path, frames: int = 300) -> Path:
    """The performance as a webcam-like MJPG clip: the stage's own camera and face tracker
    threads (the show's [face], performer/inputs/face/rig.py) decode and track it at 30 fps."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for _, frame in zip(range(frames), camera_frames(), strict=False):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def face_show(
    workdir: Path, name: str, size: int, output: tuple[int, int], scene: str = ""
) -> Path:
    """The benchmarks' show: one drifting scene (plus `scene`'s own lines) and the face on the
    camera clip steering direction 1, so every row runs the tracker as a show would."""
    camera = camera_clip(workdir / "camera.avi").name
    body = f""""grade.saturation" = 1.2
[[scenes]]
seed = 1
drift = {{ speed = 0.3, amplitude = 1.0 }}
{scene}[face]
camera = "{camera}"
[[face.mappings.follow]]
feature = "x"
direction = 1
"""
    return write_show(workdir, name, size, output, body)


def settle(stage, seconds: float, limit: float = 40.0) -> None:
    """Play until the stage has chosen its schedule (threads, present divisor), then start the
    figures afresh: the rows measure the show as it plays, not its first comparisons."""
    from performer.core.frame_stats import FrameStats

    stage.opts.seconds = 1.0
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        stage.run()
        schedule = stage._schedule
        if schedule is None or (schedule.chosen is not None and not schedule.comparing):
            break
    stage.opts.seconds = seconds
    stage.stats = FrameStats(budget=stage.stats.budget)


def stage_loop(size: int, seconds: float, output: tuple[int, int], workdir: Path) -> dict:
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    show = face_show(workdir, f"bench{size}", size, output)
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=seconds))
    try:
        settle(stage, seconds)
        before = len(stage.face.tracker.times)
        cpu0 = thread_cpu()
        summary = stage.run()
        cpu = cpu_shares(cpu0, thread_cpu(), summary["seconds"])
        infer = stage.engine.infer_times
        face = list(stage.face.tracker.times)[before:]
        return {
            **summary,
            "cpu_cores": cpu,
            "engine": stage.engine.warmup,
            "infer": percentiles(infer),
            "face": {**percentiles(face), "fps": round(len(face) / summary["seconds"], 1)},
        }
    finally:
        stage.close()


RECEIVER = """
import sys, time
import NDIlib as ndi
ndi.initialize()
settings = ndi.RecvCreateV3()
settings.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
recv = ndi.recv_create_v3(settings)
source = ndi.Source()
source.url_address = sys.argv[1]
ndi.recv_connect(recv, source)
frames, end = 0, time.time() + float(sys.argv[2])
while time.time() < end:
    kind, video, audio, meta = ndi.recv_capture_v2(recv, 100)
    if kind == ndi.FRAME_TYPE_VIDEO:
        frames += 1
        ndi.recv_free_video_v2(recv, video)
    elif kind == ndi.FRAME_TYPE_AUDIO:
        ndi.recv_free_audio_v2(recv, audio)
    elif kind == ndi.FRAME_TYPE_METADATA:
        ndi.recv_free_metadata(recv, meta)
print(frames)
"""


def virtual_screen() -> subprocess.Popen | None:
    """An Xvfb screen big enough for a 1280x720 program and its preview, when there is no
    screen and Xvfb is installed (sets DISPLAY); None otherwise."""
    import shutil

    if os.environ.get("DISPLAY") or shutil.which("Xvfb") is None:
        return None
    number = next(n for n in range(120, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "2560x1440x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{number}"
    return proc


def rig_loop(
    size: int, seconds: float, output: tuple[int, int], workdir: Path, everything: bool
) -> dict:
    """The stage with the program alone, or with preview + NDI (+ a receiver) + recording."""
    from performer.outputs.ndi import listening_address
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    show = face_show(workdir, f"rig{size}", size, output)
    windowed = bool(os.environ.get("DISPLAY"))
    opts = RunOptions(headless=not windowed, seconds=seconds)
    if everything:
        opts.preview = windowed
        opts.ndi = "latent-stage-bench"
        opts.record = workdir / f"rig{size}.mp4"
    stage = Stage(load_show(show), opts)
    receiver = None
    try:
        settle(stage, seconds)
        ndi = next((o for o in stage.outputs.items if o.name == "ndi"), None)
        address = listening_address(ndi) if ndi is not None else None
        if address:
            receiver = subprocess.Popen(
                [sys.executable, "-c", RECEIVER, address, str(seconds + 8)],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(2.0)  # let it connect
        cpu0 = thread_cpu()
        summary = stage.run()
        health = summary["health"]
        row = {key: summary[key] for key in ROW_KEYS}
        row["cpu_cores"] = cpu_shares(cpu0, thread_cpu(), summary["seconds"])
        row["schedule"] = summary.get("schedule")
        row["windows"] = (
            "program + preview"
            if stage.display.has_preview
            else ("program" if windowed else "headless")
        )
        row["outputs"] = {
            name: {k: v for k, v in part.items() if k in ("state", "sent", "dropped", "frames")}
            for name, part in health.items()
            if name in ("recorder", "ndi")
        }
    finally:
        stage.close()
        if receiver is not None:
            receiver.terminate()
            out, _ = receiver.communicate(timeout=20)
            received = out.strip().splitlines()
            row["ndi_received"] = int(received[-1]) if received else None
    return row


def rig(args: argparse.Namespace, output: tuple[int, int]) -> int:
    screen = None if args.headless else virtual_screen()
    results: dict = {"output": args.output, "seconds": args.seconds, "sizes": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in (int(s) for s in args.sizes.split(",")):
                alone = rig_loop(size, args.seconds, output, Path(tmp), everything=False)
                full = rig_loop(size, args.seconds, output, Path(tmp), everything=True)
                results["sizes"][size] = {"program_only": alone, "rig": full}
                for name, row in (("program only", alone), ("rig", full)):
                    got = row.get("ndi_received")
                    print(
                        f"{size:4d} px {name:12s} | {row['windows']}: new images"
                        f" {row['fresh_per_s']:5.1f}/s, {row['fps']:6.2f} fps,"
                        f" interval p99 {row['interval_p99_ms']:.1f} ms, missed"
                        f" {row['missed_pct']:.2f} %, new images {row['fresh_pct']:.0f} %"
                        f" | outputs {row['outputs']}"
                        + (f", NDI received {got}" if got is not None else ""),
                        flush=True,
                    )
    finally:
        if screen is not None:
            screen.terminate()
    name = "realtime-rig-headless.json" if args.headless else "realtime-rig.json"
    save_results(args.out, name, results)
    return 0


EFFECTS_CHAIN = ["grade", "bloom", "hue", "chroma", "grain", "trails"]
BENDING = {"bend.layer": 0.5, "bend.rotate": 20.0, "bend.ablate": 0.2}
EFFECTS = {
    "bloom.amount": 0.8,
    "bloom.threshold": 0.5,
    "bloom.radius": 8.0,
    "hue.speed": 12.0,
    "chroma.amount": 4.0,
    "grain.amount": 0.3,
}
EFFECT_ROWS = {  # name: (network bending, the 4-effect chain)
    "grade_trails": (False, False),
    "bending": (True, False),
    "effects": (False, True),
    "bending_effects": (True, True),
}


def effects_loop(
    size: int, seconds: float, output: tuple[int, int], workdir: Path, bend: bool, fx: bool
) -> dict:
    """The stage's headless loop (as `stage_loop`, face tracking included) with network bending
    and/or bloom, hue, chroma and grain switched on in the scene's params. The effects sit in
    the chain in every row: at their defaults they are skipped, so the plain row is the
    grade → trails chain."""
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    params = {**(BENDING if bend else {}), **(EFFECTS if fx else {})}
    inline = ", ".join(f'"{k}" = {v}' for k, v in params.items())
    chain = ", ".join(f'"{name}"' for name in EFFECTS_CHAIN)
    show = face_show(workdir, f"fx{size}", size, output, f"fade = 0.0\nparams = {{ {inline} }}\n")
    text = show.read_text().replace('chain = ["grade", "trails"]', f"chain = [{chain}]")
    show.write_text(text)
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=seconds))
    try:
        settle(stage, seconds)
        cpu0 = thread_cpu()
        summary = stage.run()
        row = {key: summary[key] for key in ROW_KEYS}
        row["cpu_cores"] = cpu_shares(cpu0, thread_cpu(), summary["seconds"])
        row["schedule"] = summary.get("schedule")
        row["work"] = {k: summary[k] for k in ("work_p50_ms", "work_p99_ms") if k in summary}
        row["draw_p99_ms"] = summary.get("draw_p99_ms")
        row["infer"] = percentiles(stage.engine.infer_times)
        row["params"] = params
    finally:
        stage.close()
    return row


def effects(args: argparse.Namespace, output: tuple[int, int]) -> int:
    results: dict = {
        "output": args.output,
        "seconds": args.seconds,
        "cpu_count": os.cpu_count(),
        "chain": EFFECTS_CHAIN,
        "sizes": {},
    }
    print(
        f"{'size':>4s}  {'row':16s} {'new/s':>6s} {'fps':>7s} {'interval p99':>13s}"
        f" {'missed':>8s} {'fresh':>6s} {'infer p50':>10s}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            rows = {}
            for name, (bend, fx) in EFFECT_ROWS.items():
                row = effects_loop(size, args.seconds, output, Path(tmp), bend, fx)
                rows[name] = row
                print(
                    f"{size:4d}  {name:16s} {row['fresh_per_s']:6.1f} {row['fps']:7.2f}"
                    f" {row['interval_p99_ms']:10.1f} ms"
                    f" {row['missed_pct']:6.2f} % {row['fresh_pct']:4.0f} %"
                    f" {row['infer']['p50_ms']:7.1f} ms",
                    flush=True,
                )
            results["sizes"][size] = rows
    save_results(args.out, "realtime-effects.json", results)
    return 0


def plain_run(size: int, args: argparse.Namespace) -> dict:
    """The plain loop in a clean process: library defaults (no OMP_WAIT_POLICY, torch's and
    llvmpipe's default threads)."""
    stage_only = ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "LP_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in stage_only}
    command = [sys.executable, __file__, "--plain", str(size), "--seconds", str(args.seconds)]
    command += ["--output", args.output]
    child = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def print_row(size: int, stage: dict, plain: dict) -> None:
    sched = (stage.get("schedule") or {}).get("chosen") or {}
    print(
        f"{size:4d} px | stage: new images {stage['fresh_per_s']:5.1f}/s ({stage['fresh_pct']:.0f}"
        f" % of {stage['fps']:.1f} fps), interval p99 {stage['interval_p99_ms']:.1f} ms, missed"
        f" {stage['missed_pct']:.2f} % | threads {sched.get('threads')}, present every"
        f" {sched.get('divisor')} | infer p50 {stage['infer']['p50_ms']:.1f} ms, face"
        f" {stage['face']['fps']} fps | CPU cores {stage['cpu_cores']}"
        f" || plain: {plain['fps']:5.1f} new images/s (infer p50 {plain['infer']['p50_ms']:.1f}"
        f" ms, {plain['torch_threads']} thr; {min(plain['fps'], DISPLAY_HZ):.1f} a {DISPLAY_HZ} Hz"
        f" display can show) || ratio {stage['fresh_per_s'] / min(plain['fps'], DISPLAY_HZ):.2f}",
        flush=True,
    )


def medians(runs: list[dict]) -> dict:
    """The runs' medians of the figures the aims name."""
    med = lambda xs: round(float(np.median(xs)), 2)  # noqa: E731
    stage = [r["stage"] for r in runs]
    out = {k: med([s[k] for s in stage]) for k in ROW_KEYS}
    out["plain_fresh_per_s"] = med([r["plain"]["fps"] for r in runs])
    # the plain loop runs unpaced: past the display's rate its extra images are never seen
    shown = [min(r["plain"]["fps"], DISPLAY_HZ) for r in runs]
    out["plain_shown_per_s"] = med(shown)
    out["ratio"] = med([r["stage"]["fresh_per_s"] / p for r, p in zip(runs, shown, strict=True)])
    parts = {p for s in stage for p in s["cpu_cores"]}
    out["cpu_cores"] = {p: med([s["cpu_cores"].get(p, 0.0) for s in stage]) for p in sorted(parts)}
    return out


def print_median(size: int, m: dict) -> None:
    print(
        f"{size:4d} px | median: stage {m['fresh_per_s']:.1f} new images/s vs plain"
        f" {m['plain_fresh_per_s']:.1f} ({m['plain_shown_per_s']:.1f} shown at {DISPLAY_HZ} Hz;"
        f" ratio {m['ratio']:.2f}), interval p99"
        f" {m['interval_p99_ms']:.1f} ms, missed {m['missed_pct']:.2f} %, CPU {m['cpu_cores']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--output", default="640x360", help="output resolution WxH")
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--runs", type=int, default=1, help="runs per size (medians reported)")
    ap.add_argument("--name", default="realtime.json", help="the JSON file's name in --out")
    ap.add_argument(
        "--gl-threads", type=int, help="Mesa llvmpipe's rasterizer threads (LP_NUM_THREADS)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--plain", type=int, help=argparse.SUPPRESS)  # child process: one plain run
    ap.add_argument("--rig", action="store_true", help="program + preview + NDI + recording")
    ap.add_argument("--headless", action="store_true", help="--rig without windows (EGL)")
    ap.add_argument(
        "--effects", action="store_true", help="network bending and a 4-effect chain, headless"
    )
    args = ap.parse_args(argv)
    output = tuple(int(v) for v in args.output.split("x"))
    if args.gl_threads is not None:  # before any GL context: Mesa reads it once
        os.environ["LP_NUM_THREADS"] = str(args.gl_threads)
    if args.plain:
        print(json.dumps(plain_loop(args.plain, args.seconds, output)))
        return 0

    import performer  # noqa: F401  first, as `stage` does: its thread policy must precede torch

    if args.rig:
        return rig(args, output)
    if args.effects:
        return effects(args, output)

    # isort: split
    import moderngl
    import torch

    ctx = moderngl.create_standalone_context(backend="egl")
    results: dict = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "gl_renderer": ctx.info["GL_RENDERER"],
            "cuda": torch.cuda.is_available(),
        },
        "output": args.output,
        "seconds": args.seconds,
        "lp_num_threads": os.environ.get("LP_NUM_THREADS"),
        "sizes": {},
    }
    ctx.release()
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            runs = []
            for _ in range(args.runs):  # plain and stage side by side, run after run
                plain = plain_run(size, args)
                stage = stage_loop(size, args.seconds, output, Path(tmp))
                runs.append({"stage": stage, "plain": plain})
                print_row(size, stage, plain)
            results["sizes"][size] = {"runs": runs, "median": medians(runs)}
            if args.runs > 1:
                print_median(size, results["sizes"][size]["median"])
    save_results(args.out, args.name, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
