"""The default show's contact sheet and a short clip, rendered by the stage itself.

Renders show.toml offline and headless at 320x180 (the stage's own loop, a fixed time step and
one decode per frame, recorded to H.264 with a frame log), then takes one still per cue — the
show moves on by itself every `follow` seconds, so cue i is on screen from `follow` × i, and
the still is taken `--after` seconds into it, when its fade is over — and writes

    docs/media/default-show-contact-sheet.png   the stills in a row, each scene's name under it
    docs/media/default-show.mp4                 the seconds before each still, back to back
    docs/media/default-show.gif                 the same clip, small, for the README

    python scripts/contact_sheet.py [--after 8] [--clip 1.9] [--out docs/media]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 320, 180
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render(show_path: Path, seconds: float, workdir: Path) -> tuple[Path, Path, int]:
    """The show rendered offline for `seconds`: the recording, the frame log, the show's fps."""
    import performer  # noqa: F401  first, as `stage` does: its thread policy must precede torch
    from performer.show import load_show
    from performer.stage import RunOptions, Stage

    show = load_show(show_path)
    video, log = workdir / "show.mp4", workdir / "frames.csv"
    opts = RunOptions(
        headless=True,
        offline=True,
        width=WIDTH,
        height=HEIGHT,
        seconds=seconds,
        record=video,
        frame_log=log,
    )
    stage = Stage(show, opts)
    try:
        stage.run()
    finally:
        stage.close()
    return video, log, show.output.fps


def frames_at(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The recording's frames (in decode order, one per rendered frame) at the given indices."""
    import av

    got: dict[int, np.ndarray] = {}
    last = max(wanted)
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                got[i] = frame.to_ndarray(format="rgb24")
            if i >= last:
                break
    return got


def contact_sheet(stills: list[tuple[str, np.ndarray]], title: str, path: Path) -> None:
    """The stills in a row, each labelled under it, a title above; a small PNG (256 colours)."""
    from PIL import Image, ImageDraw, ImageFont

    pad, label_h, title_h = 8, 26, 30
    w = len(stills) * WIDTH + (len(stills) + 1) * pad
    h = title_h + HEIGHT + label_h + pad
    sheet = Image.new("RGB", (w, h), (18, 18, 20))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(FONT, 15) if Path(FONT).exists() else ImageFont.load_default()
    small = ImageFont.truetype(FONT, 13) if Path(FONT).exists() else font
    draw.text((pad, 7), title, fill=(235, 235, 235), font=font)
    for i, (label, image) in enumerate(stills):
        x = pad + i * (WIDTH + pad)
        sheet.paste(Image.fromarray(image), (x, title_h))
        tw = draw.textlength(label, font=small)
        draw.text(
            (x + (WIDTH - tw) / 2, title_h + HEIGHT + 5), label, fill=(200, 200, 200), font=small
        )
    sheet = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    sheet.save(path, optimize=True)


def clip(frames: list[np.ndarray], fps: int, path: Path) -> None:
    """The frames as a small H.264 MP4."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "28", "preset": "slow", "movflags": "+faststart"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def gif(frames: list[np.ndarray], fps: int, path: Path, every: int = 3, width: int = 256) -> None:
    """The frames as a looping GIF at fps / `every`, `width` px wide (one shared palette)."""
    from PIL import Image

    picked = frames[::every]
    height = round(HEIGHT * width / WIDTH)
    images = [Image.fromarray(f).resize((width, height), Image.Resampling.LANCZOS) for f in picked]
    palette = images[len(images) // 2].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for im in images]
    quantized[0].save(
        path,
        save_all=True,
        append_images=quantized[1:],
        duration=round(1000 * every / fps),
        loop=0,
        optimize=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", type=Path, default=ROOT / "show.toml")
    ap.add_argument("--after", type=float, default=8.0, help="seconds into each cue")
    ap.add_argument("--clip", type=float, default=1.9, help="seconds of the clip per cue")
    ap.add_argument("--clip-fps", type=int, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "media")
    args = ap.parse_args(argv)

    from performer.show import load_show

    show = load_show(args.show)
    cues = len(show.cue_steps) or len(show.scenes)
    follow = show.follow or 10.0
    times = [i * follow + args.after for i in range(cues)]
    with tempfile.TemporaryDirectory() as tmp:
        video, log, fps = render(args.show, times[-1] + 0.25, Path(tmp))
        with log.open() as f:
            rows = list(csv.DictReader(f))
        # the frame log: which frame is on screen at each still's time, and its scene
        picks = [
            min(range(len(rows)), key=lambda i, t=t: abs(float(rows[i]["t"]) - t)) for t in times
        ]
        step = max(1, round(fps / args.clip_fps))
        spans = [range(max(0, p - round(args.clip * fps)) + 1, p + 1, step) for p in picks]
        wanted = set(picks) | {i for span in spans for i in span}
        got = frames_at(video, wanted)
    seen: dict[str, int] = {}
    stills = []
    for p in picks:
        scene = rows[p]["scene"]
        seen[scene] = seen.get(scene, 0) + 1
        when = f"(t = {float(rows[p]['t']):.0f} s)"
        stills.append((f"{scene} {when}" if seen[scene] == 1 else f"{scene}, home {when}", got[p]))
    args.out.mkdir(parents=True, exist_ok=True)
    title = f"{show.title} — one still per cue, {WIDTH}x{HEIGHT}, rendered offline by the stage"
    sheet = args.out / "default-show-contact-sheet.png"
    contact_sheet(stills, title, sheet)
    movie = args.out / "default-show.mp4"
    frames = [got[i] for span in spans for i in span if i in got]
    clip(frames, round(fps / step), movie)
    small = args.out / "default-show.gif"
    gif(frames, round(fps / step), small)
    for path in (sheet, movie, small):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
