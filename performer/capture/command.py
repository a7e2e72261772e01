"""`stage capture`'s command line: options from the arguments and the show's [face] section,
one take, a summary line; a source that cannot be opened is one line and exit code 1."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from performer.capture import CaptureOptions, Stop, Take, capture, stop_on_signals
from performer.capture.record import FACES, FRAMES, RECORD, CaptureError, read_record

log = logging.getLogger("stage.capture")


def options_from(args: Any) -> CaptureOptions:
    """CaptureOptions from `stage capture`'s arguments and the show's [face] section (camera,
    size, mirror, tracker model), which --camera overrides."""
    from performer.show import load_show

    spec = None
    if args.show is not None:
        spec = load_show(args.show).face  # (ShowError: the caller reports it)
    camera: int | Path | str = args.camera if args.camera is not None else 0
    if args.camera is None and spec is not None:
        camera = spec.camera
    opts = CaptureOptions(
        folder=args.folder,
        camera=camera,
        faces=args.faces,
        frames=args.frames,
        every=args.every,
        seconds=args.seconds,
        size=args.size,
        preview=args.preview,
    )
    if spec is not None:
        opts.width, opts.height, opts.fps = spec.width, spec.height, spec.fps
        opts.mirror, opts.model, opts.refine = spec.mirror, spec.model, spec.refine
        if spec.video_crop != "face" and opts.faces:
            log.warning(
                "%s has video_crop = %r: its video scenes see the whole frame, not these faces",
                args.show,
                spec.video_crop,
            )
    if args.mirror is not None:
        opts.mirror = args.mirror
    return opts


def run_capture(args: Any) -> int:
    """`stage capture`: one take; a summary line; 1 with one line when it cannot start."""
    from performer.show import ShowError

    try:
        opts = options_from(args)
    except ShowError as e:
        print(f"stage capture: the show file has problems:\n{e}", file=sys.stderr)
        return 1
    stop = Stop()

    def progress(take: Take) -> None:
        c = take.counts
        faces = f", faces {c.faces_found} (missed {c.faces_missed})" if opts.faces else ""
        log.info(
            "%.1f s: frames %d seen, %d saved%s", take.seconds, c.frames_seen, c.frames_saved, faces
        )

    try:
        with stop_on_signals(stop):
            take = capture(opts, stop=stop, progress=progress)
    except CaptureError as e:
        print(f"stage capture: {e}", file=sys.stderr)
        return 1
    c = take.counts
    faces = ""
    if opts.faces:
        faces = f", {c.faces_found} face crops (no face in {c.faces_missed})"
    print(
        f"{take.take}: {c.frames_seen} frames seen in {take.seconds:.1f} s ({take.stopped}),"
        f" {c.frames_saved} saved{faces} → {opts.folder} ({RECORD}: "
        f"{len(read_record(opts.folder)['takes'])} take(s))"
    )
    data = opts.folder / (FACES if opts.faces else FRAMES)
    print(f"train on it: stage train vaegan --data {opts.folder}   (reads {data})")
    return 0
