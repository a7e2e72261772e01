"""OSC in: a plain UDP socket thread parses datagrams (python-osc's OscBundle and OscMessage)
into cues; the render loop drains them once a frame. Bundles with a future timetag wait in a
heap until their time, checked at frame boundaries: the receiver never sleeps on one.

Bad input never stops a show: malformed, oversize, unknown, denied or badly typed messages
are counted, logged at most once a second per address, and dropped. The work one datagram may
cause is bounded (bundle depth and elements, type tags, pattern matching steps and fan-out,
cues; over a bound: `too_complex`), and each sender is held to `osc.rate` datagrams a second
(`rate_limited`). A receiver thread that dies anyway is restarted, with back-off, a few times.
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

from performer.core.control import Cue
from performer.inputs.osc.space import (
    MAX_DATAGRAM_STEPS,
    Z_MAX_VALUES,
    AddressSpace,
    MatchWork,
    OscInputError,
    OscTooComplex,
    clip,
)
from performer.show.osc import is_loopback

log = logging.getLogger("stage.osc")

SUPPORTED_TAGS = b"ifdsbrmtTFNh[]"  # what python-osc parses; others would misalign arguments
# Bounds on one datagram's work (legitimate Max / Live traffic is far below every one of them)
MAX_BUNDLE_DEPTH = 8  # bundles inside bundles
MAX_BUNDLE_ELEMENTS = 512  # messages and bundles in one datagram, at every depth
MAX_TYPE_TAGS = Z_MAX_VALUES + 16  # arguments of one message: a whole /stage/z and then some
MAX_ARRAY_DEPTH = 4  # `[` inside `[`
MAX_DATAGRAM_CUES = 1024  # cues one datagram may enqueue (wildcards fan out)
NTP_UNIX = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
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
    "too_complex",  # over a bound on the work one datagram may cause
    "rate_limited",  # datagrams over a sender's osc.rate
)
DROPPED = (
    "malformed",
    "unknown",
    "bad_args",
    "denied",
    "oversize",
    "overflow",
    "too_far",
    "too_complex",
    "rate_limited",
)
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


class RateLimiter:
    """A token bucket per sender IP: on average `rate` datagrams a second, `burst` at once
    (rate 0: no limit). At most `max_senders` buckets are kept (full, idle ones go first), and
    the latest few limited senders with when, for health."""

    def __init__(self, rate: float = 0.0, burst: float = 0.0, max_senders: int = 1024) -> None:
        self.rate = rate
        self.burst = burst if burst > 0 else max(rate / 5, 1.0)
        self.max_senders = max_senders
        self._buckets: dict[str, list[float]] = {}  # sender → [tokens, when]
        self.limited: dict[str, float] = {}  # sender → when last limited (the latest 32)

    def allow(self, sender: str, now: float) -> bool:
        """Take a token for one datagram; False when the sender is over its rate."""
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(sender)
        if bucket is None:
            if len(self._buckets) >= self.max_senders:
                self._forget(now)
            bucket = self._buckets[sender] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + max(now - bucket[1], 0.0) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        self.limited.pop(sender, None)
        self.limited[sender] = now
        if len(self.limited) > 32:
            del self.limited[next(iter(self.limited))]
        return False

    def _forget(self, now: float) -> None:
        for sender, (tokens, when) in list(self._buckets.items()):
            if tokens + (now - when) * self.rate >= self.burst:
                del self._buckets[sender]
        if len(self._buckets) >= self.max_senders:  # a spoofed flood: start again
            self._buckets.clear()

    def senders(self, since: float) -> list[str]:
        """Senders limited at or after `since`, latest last (safe from another thread)."""
        return [s for s, t in list(self.limited.items()) if t >= since]


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
    """Datagram bytes → cues in the inbox. No socket: tests feed it bytes directly.

    `rate`/`burst`: the per-sender limit (datagrams a second; 0 = none). The show's default is
    OscSpec's; a bare Dispatcher has none."""

    def __init__(
        self,
        space: AddressSpace,
        inbox: Inbox,
        max_packet: int = 8192,
        max_ahead: float = 600.0,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
        rate: float = 0.0,
        burst: float = 0.0,
    ) -> None:
        self.space, self.inbox = space, inbox
        self.max_packet, self.max_ahead = max_packet, max_ahead
        self.clock, self.wall = clock, wall
        self.limiter = RateLimiter(rate, burst)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.recent: deque[tuple[float, str, str, tuple]] = deque(maxlen=6)  # HUD
        self.offenders: dict[str, float] = {}  # sender → when it last sent something dropped
        self.log = RateLimitedLog(log)
        self._budget = MatchWork(MAX_DATAGRAM_STEPS)
        self._cues = 0  # enqueued from the current datagram

    def drop(self, kind: str, sender: str, key: Any, text: str, now: float | None = None) -> None:
        """Count a dropped datagram or message, note its sender, log (rate-limited)."""
        self.counts[kind] += 1
        self.offenders.pop(sender, None)
        self.offenders[sender] = self.clock() if now is None else now
        if len(self.offenders) > 32:
            del self.offenders[next(iter(self.offenders))]
        self.log.warning(key, text)

    def feed(self, dgram: bytes, sender: str = "127.0.0.1", now: float | None = None) -> None:
        """Parse one datagram and enqueue its cues; never raises for bad input."""
        now = self.clock() if now is None else now
        self.counts["datagrams"] += 1
        if not self.limiter.allow(sender, now):
            self.drop(
                "rate_limited",
                sender,
                ("rate_limited", sender),
                f"OSC from {sender}: over osc.rate ({self.limiter.rate:g} datagrams a second);"
                " dropping",
                now,
            )
            return
        if len(dgram) > self.max_packet:
            self.drop(
                "oversize",
                sender,
                ("oversize", sender),
                f"OSC from {sender}: dropped a {len(dgram)}-byte datagram"
                f" (osc.max_packet is {self.max_packet})",
                now,
            )
            return
        self._budget = MatchWork(MAX_DATAGRAM_STEPS)
        self._cues = 0
        try:
            if OscBundle.dgram_is_bundle(dgram):
                _check_bundle(dgram)
                self._bundle(OscBundle(dgram), sender, now, 0.0)
            elif OscMessage.dgram_is_message(dgram):
                self._message(dgram, None, sender, now, None)
            else:
                raise ValueError("neither an OSC message ('/…') nor a bundle ('#bundle')")
        except OscTooComplex as e:
            self.drop(
                "too_complex", sender, ("too_complex", sender), f"OSC from {sender}: {e}", now
            )
        except Exception as e:  # noqa: BLE001 - python-osc raises many kinds on garbage
            self.drop(
                "malformed",
                sender,
                ("malformed", sender),
                f"OSC from {sender}: malformed datagram: {e}",
                now,
            )

    def _bundle(self, bundle: OscBundle, sender: str, now: float, outer: float) -> None:
        (raw,) = struct.unpack_from(">Q", bundle.dgram, 8)
        # 1 is OSC's "immediately" (0 too, from sloppy senders): the enclosing bundle's time
        tag = outer if raw <= 1 else raw / 2**32 - NTP_UNIX
        due = None
        if tag:
            ahead = tag - self.wall()
            if ahead > self.max_ahead:
                self.drop(
                    "too_far",
                    sender,
                    ("too_far", sender),
                    f"OSC from {sender}: a bundle timetagged {ahead:.0f} s ahead (more than"
                    f" {self.max_ahead:g} s; is the sender's clock right?) was dropped",
                    now,
                )
                return
            if ahead > 0:
                due = now + ahead
        for element in bundle:
            if isinstance(element, OscBundle):
                self._bundle(element, sender, now, tag)
            else:
                self._message(element.dgram, element, sender, now, due)

    def _message(
        self, dgram: bytes, msg: OscMessage | None, sender: str, now: float, due: float | None
    ) -> None:
        counts = self.counts
        counts["messages"] += 1
        problem = _check_tags(dgram)
        if problem:
            kind, address, text = problem
            self.drop(kind, sender, (kind, address), f"OSC from {sender}: {text}", now)
            return
        if msg is None:
            msg = OscMessage(dgram)
        address, args = msg.address, msg.params
        try:
            if self._cues >= MAX_DATAGRAM_CUES:
                raise OscTooComplex(
                    f"{clip(address)}: this datagram already made {self._cues} cues"
                    f" (at most {MAX_DATAGRAM_CUES})"
                )
            cues, clamped = self.space.handle(address, args, self._budget)
        except OscTooComplex as e:
            self.drop(
                "too_complex", sender, ("too_complex", sender), f"OSC from {sender}: {e}", now
            )
            return
        except OscInputError as e:
            self.drop("bad_args", sender, ("bad_args", address), f"OSC from {sender}: {e}", now)
            return
        if not cues and not self.space.match(address):
            self.drop(
                "unknown",
                sender,
                ("unknown", address),
                f"OSC from {sender}: no such address {clip(address, 80)!r}",
                now,
            )
            return
        if clamped:
            counts["clamped"] += clamped
            self.log.warning(("clamped", address), f"OSC {address}: value clamped to its range")
        self.recent.append((now, sender, address, tuple(args)))
        self._cues += len(cues)
        for cue in cues:
            if self.inbox.put(cue, now, due):
                counts["cues"] += 1
                counts["scheduled"] += due is not None
            else:
                self.drop(
                    "overflow",
                    sender,
                    ("overflow",),
                    "OSC inbox full (the show is stalled?): dropping",
                    now,
                )

    def dropped(self) -> int:
        return sum(self.counts[k] for k in DROPPED)


def _check_bundle(dgram: bytes) -> None:
    """Walk a bundle's element sizes before python-osc does: a negative or overlong size would
    send its parser backwards forever (python-osc 1.10.2) or read past the end. Also: depth and
    element count (OscTooComplex), and OSC 1.0's rule that a nested bundle's timetag is not
    earlier than its parent's (ValueError: the whole datagram is refused as malformed)."""
    elements = 0

    def walk(part: bytes, depth: int, parent: int) -> None:
        nonlocal elements
        if depth > MAX_BUNDLE_DEPTH:
            raise OscTooComplex(f"bundles nested more than {MAX_BUNDLE_DEPTH} deep")
        if len(part) < 16 or len(part) % 4:
            raise ValueError(f"a bundle of {len(part)} bytes (needs 16+, a multiple of 4)")
        (raw,) = struct.unpack_from(">Q", part, 8)
        if raw > 1 and parent > 1 and raw < parent:
            raise ValueError(
                "a nested bundle timetagged before the bundle around it (OSC 1.0 forbids it)"
            )
        tag = raw if raw > 1 else parent  # "immediately": the enclosing bundle's time
        index = 16
        while index < len(part):
            elements += 1
            if elements > MAX_BUNDLE_ELEMENTS:
                raise OscTooComplex(f"more than {MAX_BUNDLE_ELEMENTS} elements in one bundle")
            if index + 4 > len(part):
                raise ValueError("a bundle element's size is cut off")
            (size,) = struct.unpack_from(">i", part, index)
            index += 4
            if size <= 0 or size % 4 or index + size > len(part):
                raise ValueError(f"bad bundle element size {size} at byte {index - 4}")
            element = part[index : index + size]
            if element.startswith(b"#bundle\x00"):
                walk(element, depth + 1, tag)
            elif not element.startswith(b"/"):
                raise ValueError(f"a bundle element that is neither message nor bundle at {index}")
            index += size

    walk(dgram, 0, 1)


def _check_tags(dgram: bytes) -> tuple[str, str, str] | None:
    """(counter, address, problem) for type tags python-osc would skip (so that its arguments
    would shift) or cannot read (malformed), or too many or too deep (too_complex); None when
    the message can be parsed. Byte scans: no decoding."""
    end = dgram.find(b"\0")
    if end < 0:
        return "malformed", "?", "an address without its terminating zero byte"
    index = (end + 4) & ~3
    if index >= len(dgram):
        return None  # no type tags: no arguments
    address = clip(dgram[:end].decode("latin-1"), 80)
    if dgram[index : index + 1] != b",":
        return "malformed", address, f"{address}: type tags must start with ','"
    tags_end = dgram.find(b"\0", index)
    if tags_end < 0:
        return "malformed", address, f"{address}: type tags without their terminating zero byte"
    tags = dgram[index + 1 : tags_end]
    odd = tags.translate(None, SUPPORTED_TAGS)
    if odd:
        return (
            "malformed",
            address,
            f"{address}: unsupported OSC type tag(s) {clip(odd.decode('latin-1'))!r}",
        )
    if len(tags) > MAX_TYPE_TAGS:
        return "too_complex", address, f"{address}: {len(tags)} arguments (at most {MAX_TYPE_TAGS})"
    if tags.count(b"[") > MAX_ARRAY_DEPTH:  # (fewer cannot nest too deep)
        depth = deepest = 0
        for tag in tags:
            depth += (tag == 91) - (tag == 93)  # [ and ]
            deepest = max(deepest, depth)
        if deepest > MAX_ARRAY_DEPTH:
            return (
                "too_complex",
                address,
                f"{address}: arrays nested {deepest} deep (at most {MAX_ARRAY_DEPTH})",
            )
    return None


class _QuietPythonOsc(logging.Filter):
    """python-osc logs a warning on the root logger for every odd bundle element: our own
    rate-limited counting replaces that, so a flood of garbage cannot flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


RESTART_LIMIT = 5  # restarts of a dead receiver thread before giving up
RESTART_BACKOFF = 0.5  # seconds before the first restart; doubled each time, at most 30 s


class OscReceiver:
    """The UDP socket and its thread: recv → allow-list → Dispatcher.feed, nothing more.

    The thread catches everything a datagram can cause; should it die all the same, `revive`
    (called once a frame) restarts it after a back-off, at most RESTART_LIMIT times."""

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
        self.restarts = 0
        self.death = ""  # why the thread last died ("" while it never has)
        self._retry_at: float | None = None
        self._thread = self._start()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="osc-receiver", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            self._receive()
        except BaseException as e:  # noqa: BLE001 - noted for revive() and health
            self.death = f"{type(e).__name__}: {e}"
            log.exception("OSC receiver thread died")

    def _receive(self) -> None:
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
                dispatcher.drop(
                    "denied", ip, ("denied", ip), f"OSC from {ip}: not in osc.allow, ignored"
                )
                continue
            try:
                dispatcher.feed(data, ip)
            except Exception as e:  # noqa: BLE001 - the thread must outlive any bug
                dispatcher.log.warning(("bug",), f"OSC: error handling a datagram: {e!r}")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def gave_up(self) -> bool:
        """The thread is dead and will not be restarted again."""
        return not self.alive and self.restarts >= RESTART_LIMIT

    def revive(self, now: float | None = None) -> bool:
        """Restart a dead receiver thread once its back-off has passed (counted in
        `restarts`); True when the thread is running. Cheap when it is: call it every frame."""
        if self._thread.is_alive():
            return True
        if self._stop.is_set() or self.restarts >= RESTART_LIMIT:
            return False
        now = time.perf_counter() if now is None else now
        if self._retry_at is None:  # just found dead: wait before restarting
            self._retry_at = now + min(RESTART_BACKOFF * 2**self.restarts, 30.0)
        if now < self._retry_at:
            return False
        self._retry_at = None
        self.restarts += 1
        log.warning(
            "OSC receiver thread restarted (%d of at most %d; it died of %s)",
            self.restarts,
            RESTART_LIMIT,
            self.death or "?",
        )
        self._thread = self._start()
        return True

    def close(self) -> None:
        """Stop the thread (joined with a timeout) and close the socket; safe to call twice."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                log.error("OSC receiver thread did not stop within 2 s")
        self._sock.close()
        logging.getLogger().removeFilter(self._filter)
