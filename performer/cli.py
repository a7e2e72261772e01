"""`stage` — the command line: run, rehearse, replay, check, bench.

`stage run [show.toml]` plays a show (in a window, or headless with --headless; with no
screen at all it renders a video instead); `stage rehearse` adds the HUD and key map;
`stage replay OUT.events.jsonl` renders a recorded performance again; `stage check` validates
a show and opens everything it needs; `stage import NETWORK.pkl OUT.pt` makes a StyleGAN2/3
network pickle a checkpoint, safely (the pickle is read as data, never run); `stage capture DIR`
records the camera into a training folder (performer/capture/); `stage train` trains, exports
and writes a show that plays the model (performer/train_command.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from performer.show import DEFAULT_SHOW, PROJECT_ROOT, Show, ShowError, load_show

log = logging.getLogger("stage")

RUN_EPILOG = """\
with no screen (no $DISPLAY) `stage run` renders headless to a video file instead of a window,
exactly (--offline: nobody waits on the real time), with a progress line: --seconds defaults
to one pass through a cue list that plays on its own (`follow`; at most 120 s), else 10, and
--record to out/<show>.mp4. --headless keeps real time (for a show driven by OSC).
"""


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "show",
        nargs="?",
        type=Path,
        default=DEFAULT_SHOW,
        help="show file (default: the project's show.toml)",
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="render offscreen (EGL), no window; works with no GPU and no display",
    )
    p.add_argument("--seconds", type=float, help="stop after this many seconds of show time")
    p.add_argument("--frames", type=int, help="stop after this many frames")
    p.add_argument(
        "--record",
        type=Path,
        metavar="OUT.mp4",
        help="write the output to a video (and its cues to OUT.events.jsonl)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="fixed time step, one decode per frame, no pacing: an exact render",
    )
    p.add_argument(
        "--frame-log",
        type=Path,
        metavar="FILE.csv",
        help="write the loop's own timings, scene and model of every frame",
    )
    p.add_argument(
        "--osc-port", type=int, metavar="PORT", help="listen for OSC here (over the show's)"
    )
    p.add_argument("--size", metavar="WxH", help="override the show's output resolution")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, help="torch threads (default: measured under load)")
    p.add_argument(
        "--present-every",
        type=int,
        choices=(1, 2, 3, 4),
        metavar="N",
        help="present every Nth refresh (default: chosen by measurement for the most new images"
        " per second; 1 on a GPU)",
    )
    p.add_argument(
        "--ndi",
        metavar="NAME",
        help="also send the output as an NDI source named NAME (pip install 'latent-stage[ndi]')",
    )
    p.add_argument(
        "--virtualcam",
        action="store_true",
        help="also send the output to a virtual camera (v4l2loopback; OBS's on Windows/macOS)",
    )
    p.add_argument(
        "--midi",
        metavar="FILE|PORT",
        help="MIDI in: a .mid file played as if live, a port name (substring) or 'all'",
    )
    p.add_argument(
        "--audio",
        metavar="FILE|DEVICE",
        help="sound in: a WAV file played as if live, or a sound card (name part or index)",
    )
    p.add_argument(
        "--preview",
        action="store_true",
        help="open the operator's preview window (HUD, face, health) even with one monitor",
    )
    p.add_argument(
        "--camera",
        metavar="DEVICE|PATH",
        help="the face camera: a device number or a video/image file (over the show's [face])",
    )


def _capture_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, metavar="DIR", help="the training folder (made if new)")
    p.add_argument(
        "--camera",
        metavar="DEVICE|PATH|test",
        help="a device number, a video file (read to its end) or image, or 'test' (the moving"
        " test face); default: the show's [face] camera, else 0",
    )
    p.add_argument(
        "--show",
        type=Path,
        default=DEFAULT_SHOW,
        metavar="SHOW.toml",
        help="the show whose [face] settings (camera, size, mirror, tracker model) to capture"
        " with (default: the project's show.toml)",
    )
    p.add_argument(
        "--faces", action="store_true", help="also save the face crops (one per frame with a face)"
    )
    p.add_argument(
        "--no-frames", dest="frames", action="store_false", help="save the face crops only"
    )
    p.add_argument("--every", type=int, default=1, metavar="N", help="save every Nth frame (1)")
    p.add_argument(
        "--seconds", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)"
    )
    p.add_argument(
        "--size", type=int, default=128, metavar="PX", help="face crops PX x PX (128; 0: as cut)"
    )
    p.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flip left-right (default: the show's [face] mirror)",
    )
    p.add_argument(
        "--preview",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a window with the camera and the counter (default: when there is a screen)",
    )


TRAINING_COMMANDS = {
    "train": "train a model, export it, write a show that plays it: stage train MODEL --data DIR"
    " [--show SHOW.toml] (see --help)",
    "export": "write a run's stage checkpoint: stage export runs/NAME --out FILE.pt",
    "analyze": "latent analysis of a checkpoint: grids, video, named directions",
    "photos": "write scikit-image's photographs as a training folder: stage photos FOLDER",
}


def build_parser() -> argparse.ArgumentParser:
    from performer.inputs.keyboard import KEY_HELP

    parser = argparse.ArgumentParser(prog="stage", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, and the native libraries' own chatter (MediaPipe, FFmpeg)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="play a show",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_args(run)
    reh = sub.add_parser(
        "rehearse",
        help="play a show with the HUD and rehearsal keys",
        epilog=KEY_HELP + "\n\n" + RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_args(reh)
    rep = sub.add_parser(
        "replay",
        help="render a recorded performance again (its cues and face) to a video",
        description="Replays OUT.events.jsonl (written beside `stage run --record OUT.mp4`)"
        " into the show offline: every frame decoded, at any --size.",
    )
    rep.add_argument("log", type=Path, metavar="OUT.events.jsonl", help="the performance's log")
    rep.add_argument("--show", type=Path, help="show file (default: the one the log names)")
    rep.add_argument(
        "--record", type=Path, metavar="FILE.mp4", help="default: LOG's name + .replay.mp4"
    )
    rep.add_argument("--size", metavar="WxH", help="override the show's output resolution")
    rep.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    rep.add_argument("--threads", type=int, help="torch threads")
    chk = sub.add_parser("check", help="validate a show; open its checkpoints and shaders")
    chk.add_argument("show", nargs="?", type=Path, default=DEFAULT_SHOW)
    imp = sub.add_parser(
        "import",
        help="a StyleGAN2/3 network pickle → a stage checkpoint (read as data, never run)",
    )
    imp.add_argument("network", type=Path, metavar="NETWORK.pkl", help="an NVlabs network pickle")
    imp.add_argument("out", type=Path, metavar="OUT.pt", help="the checkpoint to write")
    imp.add_argument(
        "--truncation", type=float, default=1.0, metavar="PSI", help="default ψ (1: none)"
    )
    imp.add_argument(
        "--class", dest="class_index", type=int, metavar="N", help="a conditional network's class"
    )
    imp.add_argument("--which", choices=("G_ema", "G"), default="G_ema", help="which generator")
    _capture_args(
        sub.add_parser(
            "capture",
            help="record the camera (or a clip) into a training folder: frames, face crops",
            description="Records whole frames into DIR/frames/TAKE/ and, with --faces, the face"
            ' crops the stage\'s video_crop = "face" feeds the VAE encoder into DIR/faces/TAKE/'
            " (same camera settings, tracker, square and resize); DIR/capture.json lists the"
            " takes. Ctrl-C ends a take; more takes append to the same folder.",
        )
    )
    bench = sub.add_parser("bench", help="benchmarks: bench/NAME.py (figures printed + JSON)")
    bench.add_argument("which", help="a benchmark in bench/: " + ", ".join(_benchmarks()))
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    for name, text in TRAINING_COMMANDS.items():  # listed here; run by `python -m training`
        sub.add_parser(name, help=text, add_help=False).add_argument("args", nargs="...")
    return parser


def _benchmarks() -> list[str]:
    return sorted(p.stem for p in (PROJECT_ROOT / "bench").glob("[a-z]*.py"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "train":  # the trainer as a child, then export, analysis, a show
        from performer.train_command import train

        return train(argv[1:])
    if argv and argv[0] in TRAINING_COMMANDS:  # the studio's own process: performer never
        os.execv(sys.executable, [sys.executable, "-m", "training", *argv])  # imports training
    args = build_parser().parse_args(argv)
    from performer.core.quiet import log_stream, quiet_native_logs

    quiet_native_logs(args.verbose)  # MediaPipe/TFLite/absl start-up chatter, unless -v
    logging.basicConfig(
        stream=log_stream(),  # beside fd 2's noise filter, not through it
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.command == "check":
        return check(args.show)
    if args.command == "import":
        return import_pickle(args)
    if args.command == "bench":
        script = PROJECT_ROOT / "bench" / f"{args.which}.py"
        if not script.is_file():
            print(
                f"stage: no benchmark {args.which!r}; have: {', '.join(_benchmarks())}",
                file=sys.stderr,
            )
            return 2
        return subprocess.call([sys.executable, str(script), *args.args])
    if args.command == "replay":
        return replay(args)
    if args.command == "capture":
        from performer.capture.command import run_capture

        return run_capture(args)
    return run(args, rehearse=args.command == "rehearse")


def _size(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"stage: --size expects WxH like 1280x720, got {text!r}") from None
    return w, h


def replay(args: argparse.Namespace) -> int:
    from models.checkpoint import CheckpointError
    from performer.inputs.replay import Performance, ReplayError
    from performer.render.shaders import ShaderError
    from performer.stage import RunOptions, run_show

    try:
        performance = Performance(args.log)
    except ReplayError as e:
        print(f"stage: {e}", file=sys.stderr)
        return 1
    path = args.show or performance.show or DEFAULT_SHOW
    try:
        show = load_show(path)
    except ShowError as e:
        print(f"stage: the show file has problems:\n{e}", file=sys.stderr)
        return 1
    record = args.record or args.log.with_name(
        args.log.name.removesuffix(".events.jsonl") + ".replay.mp4"
    )
    width, height = _size(args.size)
    opts = RunOptions(
        headless=True,
        record=record,
        device=args.device,
        threads=args.threads,
        width=width,
        height=height,
        replay=args.log,
        progress=True,
        verbose=args.verbose,
    )
    record.parent.mkdir(parents=True, exist_ok=True)
    log.info("replaying %s (%.1f s) into %s → %s", args.log, performance.end, show.path, record)
    try:
        summary = run_show(show, opts)
    except (CheckpointError, ShaderError, ReplayError) as e:
        print(f"stage: {e}", file=sys.stderr)
        return 1
    log.info("%s", json.dumps(summary))
    return 0


def run(args: argparse.Namespace, rehearse: bool) -> int:
    from models.checkpoint import CheckpointError
    from performer.render.shaders import ShaderError
    from performer.stage import RunOptions, run_show

    try:
        show = load_show(args.show)
    except ShowError as e:
        print(
            f"stage: the show file has problems (`stage check {args.show}` lists them):\n{e}",
            file=sys.stderr,
        )
        return 1
    opts = RunOptions(
        headless=args.headless,
        seconds=args.seconds,
        frames=args.frames,
        record=args.record,
        offline=args.offline,
        rehearse=rehearse,
        device=args.device,
        threads=args.threads,
        present_every=args.present_every,
        camera=args.camera,
        frame_log=args.frame_log,
        osc_port=args.osc_port,
        verbose=args.verbose,
        ndi=args.ndi,
        virtualcam=args.virtualcam,
        preview=args.preview,
        midi=args.midi,
        audio=args.audio,
    )
    opts.width, opts.height = _size(args.size)
    if not opts.headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        opts.headless = opts.offline = opts.progress = True
        if opts.seconds is None and opts.frames is None:
            opts.seconds = render_seconds(show)
        if opts.record is None:
            opts.record = Path("out") / f"{show.path.stem}.mp4"
        log.warning(
            "no screen ($DISPLAY is not set): rendering headless, exactly, for %s to %s",
            f"{opts.seconds:g} s" if opts.seconds else f"{opts.frames} frames",
            opts.record,
        )
    if opts.record:
        opts.record.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = run_show(show, opts)
    except (CheckpointError, ShaderError) as e:
        print(f"stage: {e}", file=sys.stderr)
        return 1
    log.info("%s", json.dumps(summary))
    return 0


def render_seconds(show: Show) -> float:
    """How long a run with no screen renders by default: once through a cue list that plays
    on its own (`follow`), at most 120 s; else 10 s."""
    cues = len(show.cues)
    return min(120.0, show.follow * cues) if show.follow and cues > 1 else 10.0


def import_pickle(args: argparse.Namespace) -> int:
    """`stage import`: write the pickle's generator as a checkpoint and say what it is; a refused
    pickle is one line and exit 1."""
    from models.checkpoint import CheckpointError, load_checkpoint
    from models.stylegan.convert import import_network
    from models.stylegan.reader import NetworkPickleError

    try:
        out = import_network(
            args.network,
            args.out,
            psi=args.truncation,
            class_index=args.class_index,
            which=args.which,
        )
        loaded = load_checkpoint(out, parts=("G",))
    except (NetworkPickleError, CheckpointError, OSError) as e:
        print(f"stage import: {e}", file=sys.stderr)
        return 1
    G = loaded.generator
    res = int(G.img_resolution)
    cls = "" if args.class_index is None else f", class {args.class_index}"
    print(
        f"wrote {out}: {loaded.kind}, {res}x{res} px, z {G.z_dim}, w {G.w_dim}"
        f" ({G.num_ws} layers), ψ {args.truncation:g}{cls}"
    )
    return 0


def check(path: Path) -> int:
    """Validate the show, open every checkpoint, compile every shader, check every parameter."""
    problems: list[str] = []
    try:
        show = load_show(path, problems)
    except ShowError as e:
        print(f"{e}\nstage check: 1 problem", file=sys.stderr)
        return 1
    from performer.check import check_show

    problems += check_show(show)
    if problems:
        for p in problems:
            print(f"{show.path}: {p}", file=sys.stderr)
        print(f"stage check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"{show.path}: ok — {len(show.models)} model(s), {len(show.scenes)} scene(s), "
        f"{len(show.cues)} cue(s), shaders {' → '.join(('upscale', *show.chain, 'present'))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
