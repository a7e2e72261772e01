"""Where MIDI messages come from: a live port (mido + python-rtmidi, re-scanned for hot-plug) or
a Standard MIDI File played as if live. Each works on its own thread and only publishes
`(t, message)` through the `publish` callable it is given; the input drains them per frame.

With no MIDI system (no ALSA sequencer, no rtmidi), a port source says so in ONE line and
reports failed; it never raises into the show.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from performer.core.health import DEGRADED, FAILED, OK, PartHealth

log = logging.getLogger("stage.midi")

RESCAN = 2.0  # seconds between looks for controllers plugged in (or out)
IGNORED = ("Midi Through", "RtMidi")  # not controllers: skipped by port = "all"
Publish = Callable[[float, Any], None]


def no_system_line(why: str) -> str:
    return (
        f"MIDI: no MIDI system here ({why}): the show goes on without MIDI in;"
        " a .mid file works: --midi FILE"
    )


def _default_io() -> Any:
    """mido with the rtmidi backend, or a reason it cannot be had (a str)."""
    if sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
        return "ALSA sequencer not available"  # asked before libasound prints its own error
    try:
        import mido
        import rtmidi  # noqa: F401 - mido's backend; its absence is the reason
    except ImportError:
        return "mido / python-rtmidi not installed: pip install -e '.[midi]'"
    return mido


class MidiPortSource:
    """Live MIDI in: every input whose name contains `port` (or all, for "all"), opened with a
    callback; re-scanned every RESCAN seconds, so a controller unplugged and plugged back in
    is found again. `io` is mido (or a stand-in with `get_input_names` and `open_input`)."""

    def __init__(
        self,
        port: str,
        publish: Publish,
        *,
        io: Any = None,
        rescan: float = RESCAN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pattern = port
        self.publish = publish
        self.rescan = rescan
        self.clock = clock
        self.io = _default_io() if io is None else io
        self.ports: dict[str, Any] = {}
        self.seen: list[str] = []  # every input name on the latest scan
        self.error = ""  # no MIDI system: why (the source does nothing more)
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if isinstance(self.io, str):
            self._no_system(self.io)

    def _no_system(self, why: str) -> None:
        self.error = why
        log.error(no_system_line(why))

    def start(self) -> None:
        if self.error or self._thread is not None:
            return
        self.scan()
        self._thread = threading.Thread(target=self._run, name="midi-ports", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.rescan) and not self.error:
            self.scan()

    def wanted(self, name: str) -> bool:
        if self.pattern.lower() == "all":
            return not any(word in name for word in IGNORED)
        return self.pattern.lower() in name.lower()

    def scan(self) -> None:
        """Open the inputs that appeared, close those that went away (one look)."""
        if self.error:
            return
        try:
            names = list(self.io.get_input_names())
        except Exception as e:  # rtmidi raises when the system has no MIDI at all
            text = str(e)
            why = "ALSA sequencer not available" if "ALSA" in text else text[:120]
            self._no_system(why or type(e).__name__)
            return
        with self._lock:
            self.seen = names
            for name in [n for n in self.ports if n not in names]:
                log.warning("MIDI: %s went away (waiting for it to come back)", name)
                self._close(self.ports.pop(name))
            for name in names:
                if name in self.ports or not self.wanted(name):
                    continue
                try:
                    self.ports[name] = self.io.open_input(name, callback=self._message)
                except Exception as e:
                    if name not in self._said:
                        self._said.add(name)
                        log.error("MIDI: cannot open %s: %s (trying again)", name, e)
                    continue
                self._said.discard(name)
                log.info("MIDI: listening to %s", name)

    def _message(self, message: Any) -> None:
        self.publish(self.clock(), message)

    @staticmethod
    def _close(port: Any) -> None:
        try:
            port.close()
        except Exception as e:  # a vanished device may not close cleanly
            log.debug("MIDI: closing a port: %s", e)

    def health(self) -> PartHealth:
        with self._lock:
            open_names = sorted(self.ports)
            seen = list(self.seen)
        figures = {"ports": float(len(open_names))}
        if self.error:
            return PartHealth(FAILED, f"no MIDI system ({self.error})", figures)
        if not open_names:
            which = "any MIDI input" if self.pattern.lower() == "all" else f"'{self.pattern}'"
            have = f" (have: {', '.join(seen)})" if seen else ""
            return PartHealth(DEGRADED, f"waiting for {which}{have}", figures)
        return PartHealth(OK, ", ".join(open_names), figures)

    def describe(self) -> str:
        if self.error:
            return "no MIDI system"
        with self._lock:
            return ", ".join(sorted(self.ports)) or f"waiting for {self.pattern}"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            for port in self.ports.values():
                self._close(port)
            self.ports.clear()


class MidiFileSource:
    """A Standard MIDI File played as if live: its messages published at their times (by the
    file's tempo map), optionally looping. `pump(now)` publishes what is due `now` seconds
    after the start; the thread calls it against `clock`, tests call it themselves
    (`thread=False`)."""

    def __init__(
        self,
        path: str | Path,
        publish: Publish,
        *,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
    ) -> None:
        import mido  # the file is read by mido alone: no MIDI system needed

        self.path = Path(path)
        self.publish = publish
        self.loop = loop
        self.clock = clock
        self.threaded = thread
        self.events: list[tuple[float, Any]] = []
        at = 0.0
        for message in mido.MidiFile(str(self.path)):  # .time: seconds since the previous
            at += message.time
            if not message.is_meta and message.type != "sysex":
                self.events.append((at, message))
        self.length = max(at, 1e-3)
        self.played = 0  # messages published, all told
        self.laps = 0
        self._next = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0

    def start(self) -> None:
        if not self.threaded or self._thread is not None:
            return
        self._start = self.clock()
        self._thread = threading.Thread(target=self._run, name="midi-file", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self.pump(self.clock() - self._start)
            if due is None:
                return
            self._stop.wait(min(max(due - (self.clock() - self._start), 0.0), 0.05))

    def pump(self, now: float) -> float | None:
        """Publish every message due by `now` (seconds since the start, across loops); the time
        the next one is due, or None when the file is over."""
        while True:
            if self._next >= len(self.events):
                if not self.loop or not self.events:
                    return None
                self._next = 0
                self.laps += 1
            at, message = self.events[self._next]
            at += self.laps * self.length
            if at > now:
                return at
            self.publish(at, message)
            self._next += 1
            self.played += 1

    def health(self) -> PartHealth:
        over = self._next >= len(self.events) and not self.loop
        detail = f"{self.path.name}: {'over' if over else 'playing'} ({self.played} messages)"
        return PartHealth(OK, detail, {"played": float(self.played)})

    def describe(self) -> str:
        return f"file {self.path.name}"

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None


class Unavailable:
    """A source that could not be opened (said once, in the log): failed, publishes nothing."""

    def __init__(self, why: str) -> None:
        self.why = why
        log.error("MIDI: %s: the show goes on without MIDI in", why)

    def start(self) -> None: ...

    def health(self) -> PartHealth:
        return PartHealth(FAILED, self.why)

    def describe(self) -> str:
        return "unavailable"

    def close(self) -> None: ...
