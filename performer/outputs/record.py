"""Recording a show: the output as a video file, and every input event as a JSON-lines log.

The video is encoded on its own thread (H.264 through PyAV; OpenCV as the fallback) from a
bounded queue, so a write never blocks the render loop; a full or vanishing disk stops the
recording with one clear line and keeps what was written. Files are written beside their
target and renamed over it when finished. The logs stop, warning once, when a write fails.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import errno
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import cv2
import numpy as np

from performer.core.health import DEGRADED, FAILED, OFF, OK, PartHealth

log = logging.getLogger(__name__)

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
ENCODERS = ("auto", "mpeg4", "opencv")  # auto: H.264, else MPEG-4 part 2, else OpenCV
RECORD_NICE = 5  # the writer thread's niceness (and x264's threads): below the render loop
QUEUE_MB = 64  # the queue holds this much picture (4..120 frames)
POLL_S = 0.005  # the writer looks for frames this often when it has none
DRAIN_S = 1.5  # close(): the most time spent encoding what is still queued
FINISH_S = 5.0  # close(): then flushing the encoder and renaming the file
DEGRADED_S = 2.0  # health: degraded for this long after a frame was dropped
LOW_DISK_MB = 500  # health: degraded below this much free space
MAX_HOLD_S = 60.0  # a sink that repeats frames holds a gap for at most this long
# H.264 for live capture (bench/record.py): the fastest preset; zerolatency (no frame
# threads) costs no more CPU here and hands each frame to the file at once. A keyframe every
# 2 s; MP4 fragments of 1 s, so a file cut off by a crash or a full disk stays readable.
X264_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
MP4_OPTIONS = {"movflags": "empty_moov+default_base_moof", "frag_duration": "1000000"}

_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit reached",
    errno.EIO: "I/O error",
    errno.ENOENT: "its folder was removed",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
}


class RecordError(Exception):
    """A recording that cannot be opened; the message names the path."""


def cause(e: BaseException) -> str:
    """A write error in the operator's words ("disk full", "I/O error", ...)."""
    if isinstance(e, OSError) and e.errno in _CAUSES:
        return _CAUSES[e.errno]
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return f"{type(e).__name__}: {e}"


class Sink(Protocol):
    """Where the writer thread puts frames: `write(rgb, index)` takes an HxWx3 uint8 RGB
    frame of the recorder's size at frame `index` (0, 1, ...; gaps are frames the show
    missed). `holds_gaps`: True when the file holds the last frame over a gap by itself
    (timestamps), False when the recorder must repeat it."""

    name: str
    holds_gaps: bool

    def write(self, rgb: np.ndarray, index: int) -> None: ...

    def close(self) -> None: ...


SinkFactory = Callable[[Path, float, tuple[int, int]], Sink]


class PyAVSink:
    """H.264 (or MPEG-4 part 2) in fragmented MP4/MOV through PyAV; frames carry their index
    as the timestamp, so a gap is held by players without encoding anything."""

    holds_gaps = True

    def __init__(
        self, path: Path, fps: float, size: tuple[int, int], codec: str = "libx264"
    ) -> None:
        import av  # optional at import time: the recorder falls back to OpenCV without it

        rate = Fraction(fps).limit_denominator(1001)
        self.width, self.height = size[0] + size[0] % 2, size[1] + size[1] % 2  # yuv420p
        self._pad = (self.height - size[1], self.width - size[0])
        muxer = "mov" if path.suffix.lower() == ".mov" else "mp4"
        self._container = av.open(str(path), "w", format=muxer, options=MP4_OPTIONS)
        try:
            options = dict(X264_OPTIONS) if codec == "libx264" else {}
            stream = self._container.add_stream(codec, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            ctx = stream.codec_context
            ctx.time_base = 1 / rate
            ctx.gop_size = max(1, round(2 * fps))
            ctx.colorspace, ctx.color_range = 6, 1  # BT.601 (cv2's conversion), video range
            if codec != "libx264":
                ctx.bit_rate = 8 * self.width * self.height  # ~8 bits a pixel a second
            # Opens the encoder and the file, writes the header: fails here, not on a frame.
            self._container.start_encoding()
        except BaseException:
            self._container.close()
            raise
        self._stream = stream
        self._av = av
        self.name = ctx.name

    def write(self, rgb: np.ndarray, index: int) -> None:
        if self._pad != (0, 0):
            rgb = np.pad(rgb, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        frame = self._av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = index
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))  # what the encoder still holds
        finally:
            self._container.close()


class OpenCVSink:
    """OpenCV's VideoWriter (mp4v in MP4/MOV, MJPG in AVI): one frame a slot, so the recorder
    repeats frames over a gap. It reports no write errors; a full disk is seen by the free
    space check."""

    holds_gaps = False
    silent_errors = True  # the recorder stops it when the disk is (nearly) full

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        fourcc = FOURCC[path.suffix.lower()]
        self.name = f"{fourcc} (OpenCV)"
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self._writer.isOpened():
            self._writer.release()
            raise OSError(errno.EIO, f"cannot open a {fourcc} video writer")

    def write(self, rgb: np.ndarray, index: int) -> None:
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()


def sink_factories(suffix: str, encoder: str = "auto") -> list[tuple[str, SinkFactory]]:
    """The sinks to try, best first: H.264 (libx264, else FFmpeg's default H.264 encoder),
    MPEG-4 part 2, through PyAV for MP4/MOV; then OpenCV (the only one for AVI)."""
    if encoder not in ENCODERS:
        raise RecordError(f"unknown encoder {encoder!r}: use one of {ENCODERS}")
    out: list[tuple[str, SinkFactory]] = []
    if suffix in (".mp4", ".mov") and encoder != "opencv":
        try:
            import av
        except ImportError:
            av = None
        if av is not None:
            codecs = []
            if encoder == "auto":
                for name in ("libx264", "h264"):  # h264: FFmpeg's default H.264 encoder
                    with contextlib.suppress(Exception):
                        codecs.append(av.codec.Codec(name, "w").name)
            codecs = [*dict.fromkeys(codecs), "mpeg4"]
            for codec in codecs:
                out.append((codec, lambda p, f, s, c=codec: PyAVSink(p, f, s, c)))
    out.append(("opencv", OpenCVSink))
    return out


class Recorder:
    """The show's video: `write()` queues a frame and returns at once; a writer thread
    encodes. `path` appears when the recording is finished (close, or a full disk).

    `write(frame, t)` places the frame at index round(t·fps) of the show's clock (one slot
    later when the loop's jitter put the last frame there): frames the loop missed are held
    (`repeated`), a frame not after the last one is dropped (`late`). A full queue drops
    the frame (`dropped`) unless `drop_when_full` is False (offline renders: wait for room,
    every frame recorded). Frames are kept by reference: do not change one after writing it."""

    def __init__(
        self,
        path: Path,
        fps: float,
        size: tuple[int, int],
        *,
        encoder: str = "auto",
        drop_when_full: bool = True,
        queue_frames: int | None = None,
        drain_s: float = DRAIN_S,
        disk_check_s: float = 1.0,
        verbose: bool = False,
        sink: SinkFactory | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))  # (width, height)
        self.drop_when_full = drop_when_full
        self.drain_s = drain_s
        self.disk_check_s = disk_check_s
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise RecordError(f"{self.path}: unsupported video type {suffix!r}: use {list(FOURCC)}")
        if self.fps <= 0 or min(self.size) < 1:
            raise RecordError(f"{self.path}: need fps > 0 and a positive size, got {fps}, {size}")
        factories = [("custom", sink)] if sink is not None else sink_factories(suffix, encoder)
        with contextlib.suppress(ImportError):
            import av

            av.logging.set_level(av.logging.VERBOSE if verbose else None)
        frame_bytes = self.size[0] * self.size[1] * 3
        self.queue_frames = queue_frames or max(4, min(120, QUEUE_MB * 2**20 // frame_bytes))
        # Same extension on the temporary file, so the writers pick the right container.
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.encoder = ""  # the sink's name once open ("libx264", "mp4v (OpenCV)", ...)
        # Caller side (the render loop) ...
        self._queue: collections.deque[tuple[np.ndarray, int]] = collections.deque()
        self._next_index = 0
        self._last_queued: int | None = None
        self._last_x = float("-inf")
        self._accepted = 0
        self._dropped_caller = 0
        self.late = 0  # frames not after the last one (dropped)
        self._last_drop = -1e9
        self._closed = False
        # ... writer side (the writer thread; the caller only reads these).
        self._sink: Sink | None = None
        self._closing = False
        self._deadline = float("inf")
        self._encoded = 0
        self._dropped_writer = 0
        self.repeated = 0  # frame slots the recording holds because the loop missed them
        self._first: int | None = None
        self._last: int | None = None
        self._previous: np.ndarray | None = None
        self._failure = ""  # why the recording stopped
        self._finished = False
        self._disk_at = -1e9
        self.disk_free_mb: float | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(factories,), name="recorder", daemon=True
        )
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            self._thread.join()
            self._closed = True
            e = self._open_error
            raise RecordError(
                f"{self.path}: cannot open a video writer: {cause(e)}"
                f" (does {self.path.parent} exist and is it writable?)"
            ) from e

    # -- the Output protocol (performer/outputs): the recording is a picture output
    name = "recorder"
    wants_pixels = True

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Opened when made (a take starts at once)."""

    def present(self, frame: Any) -> None:
        self.write(frame.pixels, frame.t)

    # -- the caller's side: never blocks (unless drop_when_full is False), never raises OSError
    def write(self, frame: np.ndarray, t: float | None = None) -> bool:
        """Queue one HxWx3 RGB frame (uint8, or float in [0, 1]; resized to `size` if need
        be) at show time `t` (seconds; None: the next frame). False when it was dropped."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be HxWx3 RGB, got shape {frame.shape}")
        x = float(self._next_index) if t is None else t * self.fps  # in frames of the show
        index = round(x)
        self._next_index = index + 1
        if self._closed or self._failure:
            return self._drop()
        last = self._last_queued
        if last is not None:
            # The loop's jitter may put two frames in one slot: the second takes the next
            # slot, at most one ahead of the clock; a frame not after the last is dropped.
            index = max(index, last + 1)
            if x <= self._last_x or index > round(x) + 1:
                self.late += 1
                return self._drop()
        while len(self._queue) >= self.queue_frames:  # one producer: no lock needed
            if self.drop_when_full or self._closed or self._failure:
                return self._drop()
            time.sleep(0.001)
        self._queue.append((frame, index))
        self._last_queued, self._last_x = index, x
        self._accepted += 1
        return True

    def _drop(self) -> bool:
        self._dropped_caller += 1
        self._last_drop = time.monotonic()
        return False

    @property
    def frames_written(self) -> int:
        """Frames in the recording (written, or queued to be); exact once closed."""
        if self._finished:
            return self._encoded
        return self._accepted - self._dropped_writer

    @property
    def dropped(self) -> int:
        """Frames given to write() that are not in the recording."""
        return self._dropped_caller + self._dropped_writer

    @property
    def duration(self) -> float:
        """Seconds of show the recording spans (held frames included)."""
        if self._first is None or self._last is None:
            return 0.0
        return (self._last - self._first + 1) / self.fps

    @property
    def failure(self) -> str:
        """Why the recording stopped early ("" while it has not)."""
        return self._failure

    def health(self) -> PartHealth:
        """ok while recording; degraded while dropping frames or short of disk; failed once
        a write error stopped it; off once finished."""
        figures: dict[str, float] = {
            "frames": self.frames_written,
            "dropped": self.dropped,
            "repeated": self.repeated,
            "queue": len(self._queue),
            "seconds": round(self.duration, 2),
        }
        if self.disk_free_mb is not None:
            figures["disk_free_mb"] = round(self.disk_free_mb, 1)
        if self._failure:
            return PartHealth(FAILED, self._failure, figures)
        if self._closed:
            return PartHealth(OFF, f"recorded {self.path}", figures)
        if time.monotonic() - self._last_drop < DEGRADED_S:
            detail = "dropping frames: the encoder cannot keep up (counts in the figures)"
            return PartHealth(DEGRADED, detail, figures)
        if self.disk_free_mb is not None and self.disk_free_mb < LOW_DISK_MB:
            detail = f"disk nearly full: {self.disk_free_mb:.0f} MB free for {self.path}"
            return PartHealth(DEGRADED, detail, figures)
        return PartHealth(OK, f"recording {self.encoder} to {self.path}", figures)

    def close(self) -> None:
        """Encode what is queued (for at most `drain_s`; the rest is dropped and counted),
        finish the file and rename it over `path` (nothing at all if no frame was written).
        Safe to call twice, and from a signal handler: it takes no lock the caller holds."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + self.drain_s
        self._closing = True
        self._thread.join(self.drain_s + FINISH_S)
        if self._thread.is_alive():
            log.error("recording: the writer did not finish in time; %s may be cut", self.path)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the writer thread
    def _run(self, factories: list[tuple[str, SinkFactory]]) -> None:
        with contextlib.suppress(OSError, AttributeError):  # x264's threads inherit it
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECORD_NICE)
        try:
            self._sink = self._open_sink(factories)
            self.encoder = self._sink.name
        except BaseException as e:
            self._open_error = e
            self._opened.set()
            return
        self._opened.set()
        while True:
            try:
                frame, index = self._queue.popleft()
            except IndexError:
                if self._closing:
                    break
                time.sleep(POLL_S)  # cheaper for the caller than waking this thread
                self._check_disk()
                continue
            if self._failure or time.monotonic() > self._deadline:
                self._dropped_writer += 1
                continue
            try:
                self._encode(frame, index)
                self._check_disk()
            except Exception as e:  # a write error (or a broken frame): stop, keep the part
                self._stop(e)
        self._dropped_writer += len(self._queue)  # written after close() (a signal handler's)
        self._finish()

    def _open_sink(self, factories: list[tuple[str, SinkFactory]]) -> Sink:
        errors = []
        for name, factory in factories:
            try:
                sink = factory(self.partial, self.fps, self.size)
            except Exception as e:
                self.partial.unlink(missing_ok=True)
                if not self.partial.parent.is_dir():
                    raise  # the folder, not the encoder: no other sink does better
                errors.append(f"{name}: {cause(e)}")
                continue
            if errors:
                log.warning("recording with %s (%s)", sink.name, "; ".join(errors))
            return sink
        raise OSError(errno.EIO, "no encoder opened: " + "; ".join(errors))

    def _encode(self, frame: np.ndarray, index: int) -> None:
        sink = self._sink
        assert sink is not None
        if frame.dtype != np.uint8:
            frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        frame = np.ascontiguousarray(frame)
        first = index if self._first is None else self._first
        last = index - 1 if self._last is None else self._last
        gap = index - last - 1
        if gap > 0 and not sink.holds_gaps and self._previous is not None:
            for k in range(min(gap, round(MAX_HOLD_S * self.fps))):
                sink.write(self._previous, last + 1 - first + k)
        self.repeated += gap
        self._first = first
        sink.write(frame, index - first)
        self._encoded += 1
        self._last = index
        if not sink.holds_gaps:
            self._previous = frame

    def _check_disk(self) -> None:
        now = time.monotonic()
        if self._failure or now - self._disk_at < self.disk_check_s or self._sink is None:
            return
        self._disk_at = now
        try:
            self.disk_free_mb = shutil.disk_usage(self.path.parent).free / 2**20
        except OSError as e:  # ENOENT: the folder was removed (_CAUSES says so)
            self._stop(e)
            return
        if getattr(self._sink, "silent_errors", False) and self.disk_free_mb < 1:
            self._stop(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    def _stop(self, e: BaseException) -> None:
        """Stop at a write error: one line, then keep what was written."""
        self._failure = (
            f"recording stopped: {cause(e)} writing {self.path} after {self._encoded} frames"
            f" ({self.duration:.1f} s)"
        )
        log.error("%s; the show goes on", self._failure)
        self._finish()

    def _finish(self) -> None:
        """Close the sink and rename the file over `path` (once)."""
        if self._finished:
            return
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except Exception as e:
                if not self._failure:  # the file's end did not make it to disk
                    self._failure = f"recording: finishing {self.path} failed: {cause(e)}"
                    log.error("%s", self._failure)
        self._finished = True
        if self._encoded == 0:
            with contextlib.suppress(OSError):
                self.partial.unlink(missing_ok=True)
            return
        try:
            os.replace(self.partial, self.path)
        except OSError as e:
            if not self._failure:
                why = cause(e)
                if e.errno == errno.ENOENT and self.path.parent.is_dir():
                    why = f"{self.partial.name} was removed"
                self._failure = f"recording lost: cannot rename it to {self.path}: {why}"
                log.error("%s", self._failure)
            return
        if self._failure:
            return  # the one line was said when it stopped
        log.info(
            "recorded %d frames (%.1f s; %d held, %d dropped) to %s",
            self._encoded,
            self.duration,
            self.repeated,
            self.dropped,
            self.path,
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot log a {type(value).__name__}: {value!r}")


class _StoppingFile:
    """A text file that stops at the first write error: warns once, then ignores writes."""

    what = "log"

    def _open(self, path: Path, newline: str | None = None) -> None:
        self.path = Path(path)
        self.lost = 0  # lines not written (after a stop, or after close)
        self.failure = ""
        try:
            self._file = open(self.path, "w", encoding="utf-8", newline=newline)  # noqa: SIM115
        except OSError as e:
            raise RecordError(f"{self.path}: cannot open the {self.what}: {e}") from e

    @property
    def written(self) -> int:
        """Lines written."""
        raise NotImplementedError

    def _fail(self, e: OSError) -> None:
        self.failure = (
            f"{self.what} stopped: {cause(e)} writing {self.path} after {self.written} lines"
        )
        log.warning("%s; the show goes on", self.failure)
        with contextlib.suppress(OSError):
            self._file.close()

    def health(self) -> PartHealth:
        """ok while logging; failed once a write error stopped it; off once closed."""
        figures = {"lines": self.written, "lost": self.lost}
        if self.failure:
            return PartHealth(FAILED, self.failure, figures)
        return PartHealth(OFF if self._file.closed else OK, "", figures)

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if not self._file.closed:
            try:
                self._file.close()
            except OSError as e:  # the last lines did not make it to disk
                self._fail(e)


class EventLog(_StoppingFile):
    """Input events, one JSON object a line: {"t": seconds, "kind": ..., **data}.

    The file is (re)created on open and flushed after every line. A write error warns once
    and stops the log; later calls do nothing (counted in `lost`)."""

    what = "event log"

    def __init__(self, path: Path) -> None:
        self._open(path)
        self.events_written = 0

    def log(self, t: float, kind: str, **data: Any) -> None:
        """Append one event and flush it to the file."""
        if self._file.closed:
            self.lost += 1
            return
        line = json.dumps({"t": float(t), "kind": kind, **data}, default=_json_default)
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as e:
            self.lost += 1
            self._fail(e)
            return
        self.events_written += 1

    @property
    def written(self) -> int:
        return self.events_written

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a log, in order. A cut-off last line (a crash mid-write) is skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    events: list[dict[str, Any]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i == len(lines):
                log.warning("%s:%d: skipping a cut-off last line", path, i)
                break
            raise ValueError(f"{path}:{i}: not a JSON event: {e}") from None
    return events


class FrameLog(_StoppingFile):
    """The loop's own frame-time log (`--frame-log FILE.csv`): one row a frame, flushed as it
    goes: frame, t (show seconds), work_ms (loop top → presented), interval_ms (present →
    present; empty for the first frame and offline), infer_wait_ms, scene, model (on screen),
    crossfade (1 while models crossfade), recorded (frames written to the recording so far),
    every (the present divisor then: 2 = every 2nd refresh, as the scheduler chose or tries).
    A write error warns once and stops the log."""

    what = "frame log"
    COLUMNS = (
        "frame",
        "t",
        "work_ms",
        "interval_ms",
        "infer_wait_ms",
        "scene",
        "model",
        "crossfade",
        "recorded",
        "every",
    )

    def __init__(self, path: Path) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RecordError(f"{path}: cannot open the frame log: {e}") from e
        self._open(path, newline="")
        self.rows = 0
        self._csv = csv.writer(self._file)
        self._write(self.COLUMNS, flush=False)

    def row(
        self,
        frame: int,
        t: float,
        work: float,
        interval: float | None,
        infer: float,
        scene: str,
        model: str,
        crossfade: bool,
        recorded: int | None,
        every: int = 1,
    ) -> None:
        """Append one frame's row (flushed every 60 frames)."""
        ms = lambda x: "" if x is None else f"{x * 1000:.3f}"  # noqa: E731
        values = (
            frame,
            f"{t:.4f}",
            ms(work),
            ms(interval),
            ms(infer),
            scene,
            model,
            int(crossfade),
            "" if recorded is None else recorded,
            every,
        )
        if self._write(values, flush=frame % 60 == 0):
            self.rows += 1

    # -- the Output protocol (performer/outputs): a state output, one row per presented frame
    name = "frame_log"
    wants_pixels = False

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Opened when made."""

    def present(self, frame: Any) -> None:
        i = frame.info
        self.row(
            frame.index,
            frame.t,
            i["work"],
            i["interval"],
            i["infer"],
            i["scene_name"],
            i["model"],
            i["crossfade"],
            i["recorded"],
            i.get("every", 1),
        )

    def _write(self, values: tuple, flush: bool) -> bool:
        if self._file.closed:
            self.lost += 1
            return False
        try:
            self._csv.writerow(values)
            if flush:
                self._file.flush()
        except OSError as e:
            self.lost += 1
            self._fail(e)
            return False
        return True

    @property
    def written(self) -> int:
        return self.rows
