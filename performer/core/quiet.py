"""A quiet operator's log: MediaPipe / TFLite / absl start-up chatter kept out of it.

Two pieces. `quiet_native_logs(verbose)` runs once at start-up, before mediapipe is imported:
it sets the environment the native libraries read (glog, TensorFlow) and absl's Python logging.
MediaPipe's own absl C++ logging and TFLite's "INFO: Created … delegate" lines cannot be
turned down that way: they are written straight to file descriptor 2 while a graph is built
and runs its first frames. `native_stderr_filtered()` covers that window: fd 2 goes through a
pipe and a reader thread writes every line back to the real stderr except known noise. Lines
are filtered, never dropped wholesale: an error (absl `E…`/`F…`, a Python traceback, any line
not on the noise list) always comes through, and fd 2 is restored on every path.

What MediaPipe 0.10.21 prints (the noise list below), per process and per graph:

    INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    W0000 00:00:… inference_feedback_manager.cc:114] Feedback manager requires a model …
    W0000 00:00:… landmark_projection_calculator.cc:186] Using NORM_RECT without … (first face)
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import threading
from types import TracebackType
from typing import TextIO

# Known noise, one line each. Errors are never on it: absl `E`/`F` lines, TFLite `ERROR:`.
NOISE = re.compile(
    r"(?:INFO: Created TensorFlow Lite \w+ delegate for \w+\."
    r"|INFO: Initialized TensorFlow Lite runtime\."
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] "  # absl / glog info: never an error
    r"|W\d{4} \d\d:\d\d:[\d.]+ +\d+ (?:inference_feedback_manager|landmark_projection_calculator"
    r"|gl_context|gl_context_egl|face_landmarker_graph)\.cc:\d+\] )"
)
MAX_LINE = 64 * 1024  # a longer run without a newline is passed on as it is

_enabled = True  # filter fd 2 in the windows (off with --verbose)
_lock = threading.Lock()
_depth = 0  # windows open now (the filter is installed while > 0)
_saved: int | None = None  # the real fd 2, while the filter is installed
_reader: threading.Thread | None = None


def is_noise(line: bytes) -> bool:
    """True for a line of known native start-up chatter (bytes, with or without its newline)."""
    return NOISE.match(line.decode("utf-8", "replace").rstrip("\r\n")) is not None


_log_stream: TextIO | None = None  # the operator's log: the real stderr, never the pipe


def log_stream() -> TextIO:
    """Where the stage's own log goes: a stream on a copy of fd 2 taken before any window
    opens, so a log line never passes through the filter's pipe — where a native library's
    message written in pieces could glue to it and have it dropped as noise."""
    global _log_stream
    if _log_stream is None:
        try:
            _log_stream = os.fdopen(
                os.dup(2), "w", buffering=1, encoding="utf-8", errors="backslashreplace"
            )
        except OSError:
            return sys.stderr
    return _log_stream


def quiet_native_logs(verbose: bool) -> None:
    """Call once at start-up, before mediapipe (or tensorflow) is imported. Not verbose: the
    native libraries' info and warning chatter is turned down where an environment variable
    reaches it, and `native_stderr_filtered` windows filter the rest. Verbose: everything is
    shown. Variables the user has set are left as they are."""
    global _enabled
    _enabled = not verbose
    if verbose:
        return
    os.environ.setdefault("GLOG_minloglevel", "2")  # glog: errors and up
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow: errors and up
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging  # (only if absl-py is installed)

        absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


class StderrWindow:
    """One holder's share of the process-wide fd-2 filter: installed by the first holder,
    removed with the last. `release()` may be called more than once, from any thread (a
    tracker lets go of the window of a worker stuck inside MediaPipe)."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> StderrWindow:
        with _lock:
            if not self._held and _enabled:
                _install()
                self._held = True
        return self

    def release(self) -> None:
        with _lock:
            if self._held:
                self._held = False
                _uninstall()

    @property
    def held(self) -> bool:
        return self._held

    def __enter__(self) -> StderrWindow:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def native_stderr_filtered() -> StderrWindow:
    """A window (a context manager, or `acquire()` / `release()`) during which what is written
    to fd 2 goes through the noise filter. Keep it short: around building a native graph and
    its first frames."""
    return StderrWindow()


def _install() -> None:
    """(With _lock held.) The first window: fd 2 → a pipe read by the filter thread."""
    global _depth, _saved, _reader
    _depth += 1
    if _depth > 1:
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    out = os.dup(2)
    try:
        r, w = os.pipe()
    except OSError:
        os.close(saved)
        os.close(out)
        _depth -= 1
        return
    os.dup2(w, 2)
    os.close(w)
    _saved = saved
    _reader = threading.Thread(target=_pump, args=(r, out), name="stderr-filter", daemon=True)
    _reader.start()


def _uninstall() -> None:
    """(With _lock held.) The last window: fd 2 back to the real stderr; the filter thread
    reads to the pipe's end, passes on what is left, and ends."""
    global _depth, _saved, _reader
    if _depth == 0:
        return
    _depth -= 1
    if _depth > 0 or _saved is None:
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os.dup2(_saved, 2)  # the pipe's last writer is gone: the reader sees its end
    os.close(_saved)
    reader, _saved, _reader = _reader, None, None
    if reader is not None:
        reader.join(timeout=1.0)  # a child process that inherited fd 2 may hold it open


def _pump(r: int, out: int) -> None:
    """Copy lines from the pipe to the real stderr, leaving out known noise."""
    pending = b""
    try:
        while True:
            try:
                chunk = os.read(r, 65536)
            except InterruptedError:
                continue
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
            if len(pending) > MAX_LINE:
                kept, pending = kept + pending, b""
            if kept:
                _write_all(out, kept)
        if pending and not is_noise(pending):
            _write_all(out, pending)
    except OSError:
        pass  # the real stderr is gone: nothing left to write to
    finally:
        os.close(r)
        os.close(out)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


@atexit.register
def _restore_at_exit() -> None:
    """At exit, a window still open (a worker stuck in MediaPipe) gives fd 2 back, so the last
    lines of the run are not lost with the filter thread."""
    global _depth
    with _lock:
        if _depth > 0:
            _depth = 1
            _uninstall()
