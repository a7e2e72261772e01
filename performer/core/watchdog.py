"""Two guards for a running show: a stall detector that names what the process was doing when
the picture stopped, and a shutdown guard that ends the show within seconds of SIGINT/SIGTERM
in every state, finalizing the recording even when the main thread is stuck.

`StallWatch`: the loop calls `presented()` after each frame; a thread notices when no frame has
been presented for `threshold` seconds and logs, once per stall, every thread's place in the
code (`sys._current_frames()`), the ones not waiting first. A stall that holds the interpreter
lock cannot be seen from Python: faulthandler, re-armed once a second, dumps every thread's
stack to stderr from C when the loop has not come back for `hard_s`.

`ShutdownGuard`: the signal's C-level handler wakes a thread through `signal.set_wakeup_fd`
(which works while the main thread is busy in C); the main thread's Python handler raises
KeyboardInterrupt so the loop ends normally; if the process is still here `grace_s` later, the
thread runs the emergency closers (the recording first) and exits.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("stage.watchdog")

_WAITING = (
    "wait",
    "sleep",
    "select",
    "poll",
    "recv",
    "recvfrom",
    "accept",
    "acquire",
    "join",
    "_wait_for_tstate_lock",
    "read",
    "get",
)


def _short(filename: str) -> str:
    path = Path(filename)
    parts = path.parts
    for root in ("performer", "models", "training", "bench"):
        if root in parts:
            return "/".join(parts[parts.index(root) :])
    return path.name


def thread_places(limit: int = 3) -> list[str]:
    """One line per thread: its name and innermost frames, threads that are not waiting first."""
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    busy, waiting = [], []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        stack = traceback.extract_stack(frame)[-limit:]
        where = " ← ".join(f"{_short(f.filename)}:{f.lineno} {f.name}()" for f in reversed(stack))
        line = f"{names.get(ident, ident)} at {where}"
        (waiting if stack and stack[-1].name in _WAITING else busy).append(line)
    return [*busy, *(f"{w} (waiting)" for w in waiting)]


class StallWatch:
    """Notices when the loop stops presenting; see the module's docstring."""

    def __init__(
        self,
        threshold: float = 0.25,
        hard_s: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
        period: float = 0.05,
    ) -> None:
        self.threshold, self.hard_s, self.clock, self.period = threshold, hard_s, clock, period
        self.stalls = 0  # stalls seen
        self.longest = 0.0  # seconds, the longest stall so far
        self.last_report: list[str] = []
        self.longest_now = 0.0  # seconds, the stall going on now
        self._last = clock()
        self._in_stall = False
        self._armed_at = -1e9
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StallWatch:
        self._last = self.clock()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)
            self._thread.start()
        return self

    def presented(self, now: float | None = None) -> None:
        """The loop presented a frame (cheap: a store, and once a second a re-arm)."""
        now = self.clock() if now is None else now
        self._last = now
        if self.hard_s and now - self._armed_at >= 1.0:
            self._armed_at = now
            with contextlib.suppress(Exception):
                faulthandler.dump_traceback_later(self.hard_s, exit=False)

    def pause(self) -> None:
        """Stop watching (the loop is about to do something long on purpose: closing)."""
        self._stop.set()
        with contextlib.suppress(Exception):
            faulthandler.cancel_dump_traceback_later()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.check()

    def check(self, now: float | None = None) -> bool:
        """Look once; True when a new stall was reported."""
        now = self.clock() if now is None else now
        gap = now - self._last
        if gap < self.threshold:
            if self._in_stall:
                self._in_stall = False
                log.info("stall over: no frame for %.2f s", self.longest_now)
            return False
        self.longest_now = gap
        self.longest = max(self.longest, gap)
        if self._in_stall:
            return False
        self._in_stall = True
        self.stalls += 1
        self.last_report = thread_places()
        log.warning(
            "stall: no frame presented for %.2f s; threads: %s",
            gap,
            "; ".join(self.last_report) or "none",
        )
        return True

    def close(self) -> None:
        self.pause()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None


class ShutdownGuard:
    """SIGINT/SIGTERM end the show within `grace_s`; see the module's docstring."""

    def __init__(self, grace_s: float = 1.5) -> None:
        self.grace_s = grace_s
        self.closers: list[tuple[str, Callable[[], None]]] = []  # emergency, in order
        self.signalled: int | None = None
        self.at = 0.0
        self.closing = False  # set while the show closes: a signal then does not interrupt it
        self._done = threading.Event()  # the normal path finished closing
        self._installed = False
        self._previous: dict[int, object] = {}
        self._old_wakeup = -1
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    def install(self) -> ShutdownGuard:
        """Take over SIGINT/SIGTERM (main thread only; elsewhere this does nothing)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        r, w = socket.socketpair()
        r.setblocking(True)
        w.setblocking(False)
        try:
            self._old_wakeup = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
        except ValueError:
            r.close()
            w.close()
            return self
        self._pair = (r, w)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)
        self._installed = True
        self._thread = threading.Thread(target=self._watch, name="shutdown-guard", daemon=True)
        self._thread.start()
        return self

    def _handler(self, signum: int, frame: object) -> None:
        """The first signal ends the loop (KeyboardInterrupt); later ones, and any while the
        show is already closing, only wait for it (the watching thread has the deadline)."""
        first = self.signalled is None  # (no logging here: the handler runs between any two
        if first:  # bytecodes of the main thread, maybe inside the log stream's own write)
            self.signalled, self.at = signum, time.perf_counter()
        if first and not self.closing:
            raise KeyboardInterrupt

    def _watch(self) -> None:
        assert self._pair is not None
        r = self._pair[0]
        signum = 0
        while signum not in (signal.SIGINT, signal.SIGTERM):
            try:
                data = r.recv(64)
            except OSError:
                return
            if not data:
                return
            signum = next((b for b in data if b in (signal.SIGINT, signal.SIGTERM)), 0)
            if not signum and self._done.is_set():
                return
        log.info("%s: ending the show", signal.Signals(signum).name)
        if self._done.wait(self.grace_s):
            return
        # The main thread did not finish in time (stuck in C, or closing slowly): save what
        # can be saved, then leave.
        log.error(
            "%s: the show did not end within %.1f s; finalizing the recording and exiting"
            " (threads: %s)",
            signal.Signals(signum).name,
            self.grace_s,
            "; ".join(thread_places()),
        )
        for name, close in self.closers:
            try:
                close()
            except Exception as e:  # noqa: BLE001 - the exit must happen
                log.error("closing %s on exit: %s", name, e)
        logging.shutdown()
        os._exit(128 + signum)

    def done(self) -> None:
        """The normal path has closed everything: the emergency exit is not needed."""
        self._done.set()

    def uninstall(self) -> None:
        self._done.set()
        if not self._installed:
            return
        self._installed = False
        for sig, handler in self._previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, handler)  # type: ignore[arg-type]
        with contextlib.suppress(Exception):
            signal.set_wakeup_fd(self._old_wakeup)
        if self._pair is not None:
            r, w = self._pair
            with contextlib.suppress(OSError):
                w.send(b"\0")  # wake the thread; it sees `done` and returns
            if self._thread is not None:
                self._thread.join(timeout=1.0)
            r.close()
            w.close()
            self._pair = None
