"""OSC in: a plain UDP socket thread parses datagrams (python-osc's OscBundle and OscMessage)
into cues; the render loop drains them once a frame. Bundles with a future timetag wait in a
heap until their time, checked at frame boundaries: the receiver never sleeps on one.

Bad input never stops a show: malformed, oversize, unknown, denied or badly typed messages
are counted, logged at most once a second per address, and dropped.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from performer.control import Cue
from performer.osc_space import AddressSpace, OscInputError
from performer.show_osc import is_loopback

log = logging.getLogger("stage.osc")

SUPPORTED_TAGS = b"ifdsbrmtTFNh[]"  # what python-osc parses; others would misalign arguments
COUNTERS = (
    "datagrams",  # received (after the allow-list)
    "messages",  # OSC messages in them
    "cues",  # cues enqueued
    "scheduled",  # of which held for a future timetag
    "coalesced",  # continuous values superseded within one frame (latest wins)
    "malformed",  # not OSC, or not parseable
    "unknown",  # no such address
    "bad_args",  # wrong argument types, counts or values
    "clamped",  # values clamped to their range (still applied)
    "denied",  # senders outside the allow-list
    "oversize",  # datagrams over max_packet
    "overflow",  # dropped because the inbox was full (the loop stalled)
    "too_far",  # timetags too far in the future
)
DROPPED = ("malformed", "unknown", "bad_args", "denied", "oversize", "overflow", "too_far")
_COALESCE = {"param": 1, "offset": 1, "z": 0, "tempo": 0}  # action → key arguments


class RateLimitedLog:
    """Warnings at most once per `interval` per key (with a count of those held back), and at
    most `max_lines` per interval in all: a flood of distinct addresses cannot flood the log."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 1.0,
        max_lines: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.interval, self.max_lines, self.clock = logger, interval, max_lines, clock
        self._last: dict[Any, list] = {}
        self._window = -float("inf")
        self._lines = self._over = 0

    def warning(self, key: Any, message: str) -> None:
        now = self.clock()
        if now - self._window >= self.interval:
            if self._over:
                self.logger.warning(
                    "%d more warnings held back in the last %.1f s (a flood?)",
                    self._over,
                    now - self._window,
                )
            self._window, self._lines, self._over = now, 0, 0
            keep = 10 * self.interval  # long enough to report what was held back
            self._last = {k: e for k, e in self._last.items() if now - e[0] < keep}
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return
        if self._lines >= self.max_lines:
            self._over += 1
            return
        held = f" (+{entry[1]} more like it since)" if entry is not None and entry[1] else ""
        self.logger.warning("%s%s", message, held)
        self._lines += 1
        self._last[key] = [now, 0]


class Inbox:
    """Cues from the receiver thread to the render loop: a FIFO for now, a heap for later."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._now: deque[tuple[float, Cue]] = deque()
        self._later: list[tuple[float, int, float, Cue]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()

    def put(self, cue: Cue, received: float, due: float | None = None) -> bool:
        """Enqueue; False when full (the loop has stalled: the cue is dropped)."""
        if due is None:
            if len(self._now) >= self.capacity:
                return False
            self._now.append((received, cue))
            return True
        with self._lock:
            if len(self._later) >= self.capacity:
                return False
            heapq.heappush(self._later, (due, next(self._seq), received, cue))
        return True

    def drain(self, now: float) -> tuple[list[tuple[Cue, float]], int]:
        """The cues due by `now`, in time order, as (cue, received); continuous values
        superseded by a later one for the same target are left out (their count is returned)."""
        ready: list[tuple[float, float, Cue]] = []
        while self._now:
            received, cue = self._now.popleft()
            ready.append((received, received, cue))
        if self._later and self._later[0][0] <= now:
            due_now = []
            with self._lock:
                while self._later and self._later[0][0] <= now:
                    due, _, received, cue = heapq.heappop(self._later)
                    due_now.append((due, received, cue))
            ready = list(heapq.merge(ready, due_now, key=lambda item: item[0]))
        out: list[tuple[Cue, float]] = []
        seen: set[tuple] = set()
        for _, received, cue in reversed(ready):
            n = _COALESCE.get(cue.action)
            if n is not None:
                key = (cue.action, *cue.args[:n])
                if key in seen:
                    continue
                seen.add(key)
            out.append((cue, received))
        out.reverse()
        return out, len(ready) - len(out)

    @property
    def pending(self) -> int:
        return len(self._now) + len(self._later)


class Dispatcher:
    """Datagram bytes → cues in the inbox. No socket: tests feed it bytes directly."""

    def __init__(
        self,
        space: AddressSpace,
        inbox: Inbox,
        max_packet: int = 8192,
        max_ahead: float = 600.0,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.space, self.inbox = space, inbox
        self.max_packet, self.max_ahead = max_packet, max_ahead
        self.clock, self.wall = clock, wall
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.recent: deque[tuple[float, str, str, tuple]] = deque(maxlen=6)  # HUD
        self.log = RateLimitedLog(log)

    def feed(self, dgram: bytes, sender: str = "127.0.0.1", now: float | None = None) -> None:
        """Parse one datagram and enqueue its cues; never raises for bad input."""
        now = self.clock() if now is None else now
        counts = self.counts
        counts["datagrams"] += 1
        if len(dgram) > self.max_packet:
            counts["oversize"] += 1
            self.log.warning(
                ("oversize", sender),
                f"OSC from {sender}: dropped a {len(dgram)}-byte datagram"
                f" (osc.max_packet is {self.max_packet})",
            )
            return
        try:
            if OscBundle.dgram_is_bundle(dgram):
                _check_bundle(dgram)
                self._bundle(OscBundle(dgram), sender, now, 0.0, 0)
            elif OscMessage.dgram_is_message(dgram):
                self._message(dgram, None, sender, now, None)
            else:
                raise ValueError("neither an OSC message ('/…') nor a bundle ('#bundle')")
        except Exception as e:  # noqa: BLE001 - python-osc raises many kinds on garbage
            counts["malformed"] += 1
            self.log.warning(("malformed", sender), f"OSC from {sender}: malformed datagram: {e}")

    def _bundle(self, bundle: OscBundle, sender: str, now: float, outer: float, depth: int) -> None:
        if depth > 8:
            raise ValueError("bundles nested more than 8 deep")
        tag = bundle.timestamp or outer  # 0 = "immediately": the enclosing bundle's time
        due = None
        if tag:
            ahead = tag - self.wall()
            if ahead > self.max_ahead:
                self.counts["too_far"] += 1
                self.log.warning(
                    ("too_far", sender),
                    f"OSC from {sender}: a bundle timetagged {ahead:.0f} s ahead (more than"
                    f" {self.max_ahead:g} s; is the sender's clock right?) was dropped",
                )
                return
            if ahead > 0:
                due = now + ahead
        for element in bundle:
            if isinstance(element, OscBundle):
                self._bundle(element, sender, now, tag, depth + 1)
            else:
                self._message(element.dgram, element, sender, now, due)

    def _message(
        self, dgram: bytes, msg: OscMessage | None, sender: str, now: float, due: float | None
    ) -> None:
        counts = self.counts
        counts["messages"] += 1
        problem = _check_tags(dgram)
        if problem:
            counts["malformed"] += 1
            self.log.warning(("malformed", problem[0]), f"OSC from {sender}: {problem[1]}")
            return
        if msg is None:
            msg = OscMessage(dgram)
        address, args = msg.address, msg.params
        try:
            cues, clamped = self.space.handle(address, args)
        except OscInputError as e:
            counts["bad_args"] += 1
            self.log.warning(("bad_args", address), f"OSC from {sender}: {e}")
            return
        if not cues and not self.space.match(address):
            counts["unknown"] += 1
            self.log.warning(
                ("unknown", address), f"OSC from {sender}: no such address {address!r}"
            )
            return
        if clamped:
            counts["clamped"] += clamped
            self.log.warning(("clamped", address), f"OSC {address}: value clamped to its range")
        self.recent.append((now, sender, address, tuple(args)))
        for cue in cues:
            if self.inbox.put(cue, now, due):
                counts["cues"] += 1
                counts["scheduled"] += due is not None
            else:
                counts["overflow"] += 1
                self.log.warning(("overflow",), "OSC inbox full (the show is stalled?): dropping")

    def dropped(self) -> int:
        return sum(self.counts[k] for k in DROPPED)


def _check_bundle(dgram: bytes, depth: int = 0) -> None:
    """Walk a bundle's element sizes before python-osc does: a negative or overlong size would
    send its parser backwards forever (python-osc 1.10.2) or read past the end."""
    if depth > 8:
        raise ValueError("bundles nested more than 8 deep")
    if len(dgram) < 16 or len(dgram) % 4:
        raise ValueError(f"a bundle of {len(dgram)} bytes (needs 16+, a multiple of 4)")
    index = 16
    while index < len(dgram):
        if index + 4 > len(dgram):
            raise ValueError("a bundle element's size is cut off")
        (size,) = struct.unpack_from(">i", dgram, index)
        index += 4
        if size <= 0 or size % 4 or index + size > len(dgram):
            raise ValueError(f"bad bundle element size {size} at byte {index - 4}")
        element = dgram[index : index + size]
        if element.startswith(b"#bundle\x00"):
            _check_bundle(element, depth + 1)
        elif not element.startswith(b"/"):
            raise ValueError(f"a bundle element that is neither message nor bundle at {index}")
        index += size


def _check_tags(dgram: bytes) -> tuple[str, str] | None:
    """(address, problem) for type tags python-osc would skip (so that its arguments would
    shift) or cannot read; None when the message can be parsed. Byte scans: no decoding."""
    end = dgram.find(b"\0")
    if end < 0:
        return "?", "an address without its terminating zero byte"
    index = (end + 4) & ~3
    if index >= len(dgram):
        return None  # no type tags: no arguments
    address = dgram[:end].decode("latin-1")
    if dgram[index : index + 1] != b",":
        return address, f"{address}: type tags must start with ','"
    tags_end = dgram.find(b"\0", index)
    if tags_end < 0:
        return address, f"{address}: type tags without their terminating zero byte"
    odd = dgram[index + 1 : tags_end].translate(None, SUPPORTED_TAGS)
    if odd:
        return address, f"{address}: unsupported OSC type tag(s) {odd.decode('latin-1')!r}"
    return None


class _QuietPythonOsc(logging.Filter):
    """python-osc logs a warning on the root logger for every odd bundle element: our own
    rate-limited counting replaces that, so a flood of garbage cannot flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


class OscReceiver:
    """The UDP socket and its thread: recv → allow-list → Dispatcher.feed, nothing more."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        host: str = "127.0.0.1",
        port: int = 9000,
        allow: Iterable[str] = (),
        network: bool = False,
    ) -> None:
        if not is_loopback(host) and not network:
            raise OSError(
                f"OSC: {host} listens beyond this machine; set osc.network = true to allow it"
            )
        self.dispatcher = dispatcher
        self.allow = frozenset(allow)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(0.1)  # how often the thread looks at its stop flag
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._filter = _QuietPythonOsc()
        logging.getLogger().addFilter(self._filter)
        self._thread = threading.Thread(target=self._run, name="osc-receiver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sock, dispatcher, allow = self._sock, self.dispatcher, self.allow
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError as e:
                if self._stop.is_set():
                    break
                dispatcher.log.warning(("socket",), f"OSC receive error: {e}")
                time.sleep(0.05)
                continue
            ip = sender[0].removeprefix("::ffff:")
            if allow and ip not in allow:
                dispatcher.counts["denied"] += 1
                dispatcher.log.warning(("denied", ip), f"OSC from {ip}: not in osc.allow, ignored")
                continue
            try:
                dispatcher.feed(data, ip)
            except Exception as e:  # noqa: BLE001 - the thread must outlive any bug
                dispatcher.log.warning(("bug",), f"OSC: error handling a datagram: {e!r}")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread (joined with a timeout) and close the socket; safe to call twice."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                log.error("OSC receiver thread did not stop within 2 s")
        self._sock.close()
        logging.getLogger().removeFilter(self._filter)
