"""`stage capture DIR`: the camera (or a clip) recorded into a training folder.

Whole frames go to DIR/frames/TAKE/, and with `--faces` the face crops the stage's
`video_crop = "face"` feeds the VAE encoder (same camera scaling and mirror, same MediaPipe
tracker, same square, same resize: performer/inputs/face/crop.py) to DIR/faces/TAKE/, one per
sampled frame where a face is found. Files are named by their time in the take: frames
000012.345.jpg (JPEG 95: a camera's 30 fps keeps up), crops 000012.345.png (lossless).
DIR/capture.json lists every take: source, settings, counts; it is rewritten atomically while
recording and at the end (Ctrl-C and SIGTERM end a take cleanly). `stage train MODEL --data DIR`
trains on DIR/faces (or DIR/frames when there are no faces).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from performer.capture.preview import Preview, wants_preview
from performer.capture.record import (
    FACES,
    FRAMES,
    CaptureError,
    Counts,
    Take,
    Writer,
    new_take_name,
    save_take,
)
from performer.core.quiet import StderrWindow, native_stderr_filtered
from performer.inputs.face.camera import (
    IMAGE_SUFFIXES,
    Capture,
    _quiet_opencv,
    describe,
    fit_frame,
    open_capture,
    parse_source,
)
from performer.inputs.face.crop import FACE_MARGIN, crop, crop_box, encoder_view
from performer.inputs.face.features import measure
from performer.inputs.face.test_source import TestSource
from performer.inputs.face.tracker import QUIET_FRAMES

log = logging.getLogger("stage.capture")

TEST = "test"  # --camera test: the moving test face (performer/inputs/face/test_source.py)
SAVE_EVERY_S = 1.0  # capture.json is rewritten this often while recording
FRAME_EXT = ".jpg"  # whole frames: JPEG 95 (~5 ms a 640x480 frame; PNG takes 20-35 ms here)
FACE_EXT = ".png"  # face crops, the training pictures: lossless


class Stop(threading.Event):
    """Set to end a take; `reason` says why (for capture.json)."""

    reason = "stopped"


@dataclass
class CaptureOptions:
    folder: Path
    camera: int | Path | str = 0  # a device, a video / image file, or "test"
    faces: bool = False  # also save the face crops
    frames: bool = True  # save the whole frames
    every: int = 1  # save every Nth frame
    seconds: float | None = None  # stop after this long (the clip's own time for a file)
    size: int = 128  # face crops are size x size (0: as cropped, no resize)
    width: int = 640  # the camera frame is scaled down to fit, as the stage's camera does
    height: int = 480
    fps: float = 30.0  # a device's asked-for rate; the test source's pace
    mirror: bool = False
    model: Path | None = None  # a Tasks-API face model (else MediaPipe's bundled mesh)
    refine: bool = True
    preview: bool | None = None  # a window with a counter; None: when there is a screen


# -- the source -----------------------------------------------------------------------------


def source_name(camera: int | Path | str) -> str:
    if isinstance(camera, str) and camera.strip().lower() == TEST:
        return "test source (moving face)"
    return describe(parse_source(camera))


def open_source(opts: CaptureOptions) -> tuple[Capture, float | None, str]:
    """(capture, frames a second of a file's own time or None for live, kind) — kind is
    "device", "test", "clip" or "still". Raises CaptureError with one line."""
    camera = opts.camera
    if isinstance(camera, str) and camera.strip().lower() == TEST:
        return TestSource(opts.width, opts.height), None, "test"
    source = parse_source(camera)
    try:
        with _quiet_opencv():  # (OpenCV's own lines for a missing device; ours says it)
            cap, pace = open_capture(source, opts.width, opts.height, opts.fps, False)
    except OSError as e:
        hint = " (--camera N: another device; a video file; 'test': the moving test face)"
        hint = hint if isinstance(source, int) else ""
        raise CaptureError(f"{e}{hint}") from None
    if isinstance(source, int):
        return cap, None, "device"
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return cap, 1.0, "still"
    return cap, pace or opts.fps, "clip"


def face_landmarks(backend: Any, image: np.ndarray, t: float) -> np.ndarray | None:
    """The landmarks of the face in `image`, as the stage's FaceTracker counts a face (the
    backend found one and its measures are sound); None: no face."""
    marks, _ = backend.process(image, t)
    if marks is None or measure(marks, (image.shape[1], image.shape[0])) is None:
        return None
    return marks


def face_tile(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """The stage's `video_crop = "face"` square of `image`, as the encoder sees it at `size`
    (0: the square as cropped)."""
    square = crop(image, landmarks)
    return np.ascontiguousarray(square) if size <= 0 else encoder_view(square, size)


# -- the take -------------------------------------------------------------------------------


@contextlib.contextmanager
def stop_on_signals(stop: Stop) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set `stop` (the take ends after its current frame); a second
    Ctrl-C raises KeyboardInterrupt. Only on the main thread (elsewhere: nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    why = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.reason = why.get(signum, f"signal {signum}")
        stop.set()

    old = {s: signal.signal(s, handler) for s in why}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def settings_of(opts: CaptureOptions) -> dict[str, Any]:
    return {
        "faces": opts.faces,
        "frames": opts.frames,
        "every": opts.every,
        "seconds": opts.seconds,
        "size": opts.size,
        "camera": {
            "width": opts.width,
            "height": opts.height,
            "fps": opts.fps,
            "mirror": opts.mirror,
        },
        "tracker": {
            "model": str(opts.model) if opts.model else "mediapipe face mesh",
            "refine": opts.refine,
        },
        "crop": {
            "video_crop": "face",
            "margin": FACE_MARGIN,
            "resize": "the encoder's (area down, bilinear up)" if opts.size else "none",
        },
    }


def capture(
    opts: CaptureOptions,
    *,
    stop: threading.Event | None = None,
    make_backend: Callable[[], Any] | None = None,
    progress: Callable[[Take], None] | None = None,
) -> Take:
    """Record one take into `opts.folder`; returns its capture.json entry. Ends at the clip's
    end, after `opts.seconds`, on `stop` (set by Ctrl-C / SIGTERM too) or the preview's Esc.
    Raises CaptureError when the source cannot be opened."""
    if opts.every < 1:
        raise CaptureError(f"--every must be ≥ 1, got {opts.every}")
    if not (opts.frames or opts.faces):
        raise CaptureError("nothing to save: --no-frames needs --faces")
    stop = stop or Stop()
    cap, clip_fps, kind = open_source(opts)
    backend = None
    quiet = native_stderr_filtered()
    try:
        if opts.faces:
            from performer.inputs.face.tracker import backend_factory

            quiet.acquire()  # MediaPipe's chatter on fd 2, until its first face (as the stage)
            backend = (make_backend or backend_factory(opts.model, opts.refine))()
        return _record(opts, cap, clip_fps, kind, backend, stop, progress, quiet)
    finally:
        quiet.release()
        with contextlib.suppress(Exception):
            cap.release()
        if backend is not None:
            with contextlib.suppress(Exception):
                backend.close()


def _record(
    opts: CaptureOptions,
    cap: Capture,
    clip_fps: float | None,
    kind: str,
    backend: Any,
    stop: threading.Event,
    progress: Callable[[Take], None] | None,
    quiet: StderrWindow,
) -> Take:
    folder = opts.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CaptureError(f"cannot make the folder {folder}: {e.strerror or e}") from None
    now = datetime.now()
    name = new_take_name(folder, now)
    take = Take(
        name, source_name(opts.camera), now.isoformat(timespec="seconds"), settings_of(opts)
    )
    dirs: dict[str, Path] = {}
    if opts.frames:
        dirs[FRAMES] = folder / FRAMES / name
        take.frames_dir = f"{FRAMES}/{name}"
    if opts.faces:
        dirs[FACES] = folder / FACES / name
        take.faces_dir = f"{FACES}/{name}"
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    preview = None
    if wants_preview(opts.preview):
        try:
            preview = Preview(opts.width, opts.height)
        except Exception as e:  # no GL, no window system: record without it
            log.warning("no preview window (%s): recording without it", e)
    writer = Writer()
    c = take.counts
    wall0 = time.perf_counter()
    saved_at = wall0
    pace = opts.fps if kind == "test" else None
    next_at = wall0
    box: np.ndarray | None = None
    save_take(folder, take)
    log.info("recording %s from %s into %s", name, take.source, folder)
    try:
        while not stop.is_set():
            ok, bgr = cap.read()
            wall = time.perf_counter() - wall0
            if not ok or bgr is None or getattr(bgr, "size", 0) == 0:
                take.stopped = "end of the clip" if kind == "clip" else "the camera gave no frame"
                break
            t = c.frames_seen / clip_fps if clip_fps else wall
            if opts.seconds is not None and t >= opts.seconds:
                take.stopped = f"--seconds {opts.seconds:g}"
                break
            c.frames_seen += 1
            take.seconds = t
            if bgr.ndim == 2:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
            elif bgr.shape[2] == 4:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_BGRA2BGR)
            image = fit_frame(bgr, opts.width, opts.height, opts.mirror)
            stem = f"{t:010.3f}"
            if (c.frames_seen - 1) % opts.every == 0:
                if opts.frames:
                    writer.put(dirs[FRAMES] / f"{stem}{FRAME_EXT}", image)
                    c.frames_saved += 1
                if backend is not None:
                    marks = face_landmarks(backend, image, t)
                    if marks is None:
                        c.faces_missed += 1
                        box = None
                    else:
                        tile = face_tile(image, marks, opts.size)
                        writer.put(dirs[FACES] / f"{stem}{FACE_EXT}", tile)
                        c.faces_found += 1
                    if quiet.held and (c.faces_found or c.frames_seen >= QUIET_FRAMES):
                        quiet.release()  # MediaPipe has said its once-only lines by now
                        left, top, side = crop_box(image.shape[1], image.shape[0], marks)
                        box = np.array([left, top, left + side - 1, top + side - 1])
            if preview is not None:
                lines = [
                    f"{name}  {t:6.1f} s  frames {c.frames_seen}  saved {c.frames_saved}"
                    + (f"  faces {c.faces_found} (missed {c.faces_missed})" if opts.faces else ""),
                    "Esc / q: end the take",
                ]
                if not preview.show(image, box, lines, t):
                    take.stopped = "ended in the preview"
                    break
            if kind == "still":
                take.stopped = "a still image: one frame"
                break
            now_s = time.perf_counter()
            if c.frames_seen == 1:
                saved_at = now_s  # (the first frame includes the tracker's start-up)
            elif now_s - saved_at >= SAVE_EVERY_S:
                _finish_counts(take, now_s - wall0)
                save_take(folder, take)
                saved_at = now_s
                if progress is not None:
                    progress(take)
            if pace:
                next_at = max(next_at + 1.0 / pace, time.perf_counter() - 1.0 / pace)
                stop.wait(max(0.0, next_at - time.perf_counter()))
        else:
            take.stopped = getattr(stop, "reason", "stopped")
    finally:
        if take.stopped == "recording":  # an exception on the way out
            take.stopped = "interrupted"
        writer.close()
        if preview is not None:
            with contextlib.suppress(Exception):
                preview.close()
        _finish_counts(take, time.perf_counter() - wall0)
        take.ended = datetime.now().isoformat(timespec="seconds")
        save_take(folder, take)
    if writer.error:
        raise CaptureError(writer.error)
    return take


def _finish_counts(take: Take, wall_s: float) -> None:
    take.wall_s = wall_s
    take.fps = take.counts.frames_seen / wall_s if wall_s > 0 else 0.0


__all__ = ["CaptureError", "CaptureOptions", "Counts", "Preview", "Stop", "Take", "capture"]
