"""The Stage's OSC input: receiver and address space, drained once a frame (OSC feedback, the
other direction, is an output: performer/outputs/feedback.py).

As an Input, `poll()` drains the cues right before the latent steps (so a cue shows in the very
next frame); `presented()` after each frame measures how long they took to reach the picture.
`health()` says how OSC in is doing: failed (not listening, or its thread dead), degraded
(input dropped or senders rate-limited in the last HEALTH_WINDOW seconds) or ok.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from performer.core.control import Controller, Cue
from performer.core.health import DEGRADED, FAILED, OK, PartHealth
from performer.inputs.osc.receiver import DROPPED, RESTART_LIMIT, Dispatcher, Inbox, OscReceiver
from performer.inputs.osc.space import AddressSpace
from performer.render.shaders import ParamSpec
from performer.show import Show

log = logging.getLogger("stage.osc")

HEALTH_WINDOW = 5.0  # seconds: drops this recent make OSC "degraded"


class OscLink:
    """Everything OSC for one run of a show. Opening never fails the show: a port in use or a
    bad mapping is logged and the show goes on without it."""

    def __init__(
        self,
        show: Show,
        controller: Controller,
        params: Mapping[str, ParamSpec],
        directions: Sequence[str],
    ) -> None:
        spec = show.osc
        self.spec = spec
        self.space = AddressSpace(
            scenes=lambda: [s.name for s in controller.show.scenes],
            cue_count=lambda: len(controller.show.cues),
            params=params,
            directions=directions,
            maps=spec.maps,
        )
        for problem in self.space.problems:
            log.error("OSC: %s (mapping skipped)", problem)
        self.inbox = Inbox()
        self.dispatcher = Dispatcher(
            self.space, self.inbox, spec.max_packet, rate=spec.rate, burst=spec.burst
        )
        self.receiver: OscReceiver | None = None
        self.error = ""  # why it is not listening
        try:
            self.receiver = OscReceiver(
                self.dispatcher, spec.host, spec.port, spec.allow, spec.network
            )
            log.info("OSC: listening on %s:%d", *self.receiver.address)
        except OSError as e:
            self.error = str(e.strerror or e)
            log.error(
                "OSC: cannot listen on %s:%d (%s); the show goes on without OSC in",
                spec.host,
                spec.port,
                e.strerror or e,
            )
        self._pending: list[float] = []
        self.latency: deque[float] = deque(maxlen=20000)  # receive → presented, seconds
        # drops as health reports see them: (when seen, counter), and who sent them, when seen
        self._drops_seen = dict.fromkeys(DROPPED, 0)  # counters at the last report
        self._drops: deque[tuple[float, str]] = deque()
        self._offenders: dict[str, float] = {}
        self._limited: dict[str, float] = {}
        self._reported = -float("inf")  # when the last report was made

    name = "osc"

    def poll(self, t: float, dt: float) -> tuple[list[Cue], list]:
        """The Input protocol: the cues due now (see `drain`)."""
        return self.drain(), []

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        return {"osc": self.health}

    @property
    def address(self) -> tuple[str, int] | None:
        return self.receiver.address if self.receiver else None

    def drain(self, now: float | None = None) -> list[Cue]:
        """The cues due now (perf_counter clock), latest value per continuous target. Also
        restarts a dead receiver thread (after its back-off)."""
        now = time.perf_counter() if now is None else now
        if self.receiver is not None and not self.receiver.alive:
            self.receiver.revive(now)
        items, coalesced = self.inbox.drain(now)
        self.dispatcher.counts["coalesced"] += coalesced
        self._pending += [received for _, received in items]
        return [cue for cue, _ in items]

    def presented(self, now: float | None = None) -> None:
        """After a frame is presented: the cues drained for it have reached the picture
        (receive → presented latencies, for the HUD and bench/osc.py)."""
        now = time.perf_counter() if now is None else now
        for received in self._pending:
            self.latency.append(now - received)
        self._pending.clear()

    def hud_lines(self, now: float | None = None) -> list[str]:
        """The HUD's OSC block: where it listens, counts, and the last messages."""
        now = time.perf_counter() if now is None else now
        d = self.dispatcher
        where = f"{self.address[0]}:{self.address[1]}" if self.address else "OFF (port in use?)"
        counts = d.counts
        drops = ", ".join(f"{k} {counts[k]}" for k in DROPPED if counts[k])
        lines = [
            f"osc {where}  {counts['messages']} msgs  dropped {d.dropped()}"
            + (f" ({drops})" if drops else "")
        ]
        for t, _sender, address, args in list(d.recent)[::-1][:4]:
            shown = " ".join(_short(a) for a in args[:6]) + (" …" if len(args) > 6 else "")
            lines.append(f"  {now - t:5.1f}s ago  {address} {shown}".rstrip())
        return lines

    def stats(self) -> dict[str, Any]:
        return {**self.dispatcher.counts, "pending": self.inbox.pending}

    def health(self, now: float | None = None) -> PartHealth:
        """failed: not listening (port in use?) or the receiver thread is dead; degraded: input
        dropped, or senders over osc.rate, in the last HEALTH_WINDOW seconds (the counters and
        senders named); else ok. Figures: the counters, restarts, pending cues."""
        now = time.perf_counter() if now is None else now
        d, r = self.dispatcher, self.receiver
        counts = d.counts
        for kind in DROPPED:  # what grew since the last report, and who: noted as of now
            if kind == "unknown":  # addresses the show does not answer: HUD, not health
                continue
            if counts[kind] > self._drops_seen[kind]:
                self._drops.append((now, kind))
                self._drops_seen[kind] = counts[kind]
        for sender, t in list(d.offenders.items()):  # (a copy: the receiver thread writes it)
            if t >= self._reported:
                self._offenders[sender] = now
        for sender in d.limiter.senders(self._reported):
            self._limited[sender] = now
        self._reported = now
        since = now - HEALTH_WINDOW
        while self._drops and self._drops[0][0] < since:
            self._drops.popleft()
        for seen in (self._offenders, self._limited):
            for sender in [s for s, t in seen.items() if t < since]:
                del seen[sender]
        limited = list(self._limited)
        figures = {
            **counts,  # datagrams, messages, cues, coalesced, each kind of drop ...
            "dropped": d.dropped(),
            "limited_senders": len(limited),
            "pending": self.inbox.pending,
            "restarts": r.restarts if r else 0,
        }
        if r is None:
            where = f"{self.spec.host}:{self.spec.port}"
            return PartHealth(FAILED, f"not listening on {where} ({self.error})", figures)
        if not r.alive:
            then = (
                f"gave up after {r.restarts} restarts"
                if r.restarts >= RESTART_LIMIT
                else "restarting"
            )
            return PartHealth(
                FAILED, f"receiver thread died ({r.death or 'stopped'}); {then}", figures
            )
        if not self._drops:
            return PartHealth(OK, "", figures)
        # the detail names what and who, not how many (those are figures): it changes, and is
        # logged, when the kind of trouble changes, not with every dropped datagram
        kinds = [k for k in DROPPED if any(kind == k for _, kind in self._drops)]
        parts = [", ".join(kinds)]
        if self._offenders:
            parts.append("from " + _names(list(self._offenders)))
        if limited:
            parts.append("over osc.rate: " + _names(limited))
        detail = f"dropped in the last {HEALTH_WINDOW:g} s: " + "; ".join(parts)
        return PartHealth(DEGRADED, detail, figures)

    def close(self) -> None:
        """Stop the receiver; safe to call twice."""
        if self.receiver is not None:
            self.receiver.close()


def _names(senders: list[str], most: int = 4) -> str:
    """Senders in a stable order (the health detail changes only when the set does)."""
    ordered = sorted(senders)
    return ", ".join(ordered[:most]) + (", …" if len(ordered) > most else "")


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):  # never repr a sender's nesting
        return f"[{len(value)} values]"
    text = repr(value) if isinstance(value, (str, bytes)) else str(value)
    return text if len(text) <= 24 else text[:21] + "…"


def take_path(record: Path | None, show_path: Path) -> Path:
    """Where a take started by `/stage/record 1` goes: beside --record's file, else out/."""
    folder = record.parent if record else Path("out")
    stem = record.stem if record else show_path.stem
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-take-{datetime.now():%Y%m%d-%H%M%S}"
    path, n = folder / f"{base}.mp4", 2
    while path.exists():
        path, n = folder / f"{base}-{n}.mp4", n + 1
    return path


def direction_addresses(controller: Controller, count: int) -> list[str]:
    """/stage/latent/<direction> names: 1..count, and the checkpoint names every model shares."""
    names = [set(v) for v in controller.direction_names.values()]
    shared = sorted(set.intersection(*names)) if names else []
    return [str(k + 1) for k in range(count)] + shared


def osc_problems(
    show: Show, specs: Mapping[str, ParamSpec], opened: Mapping[str, Any] | None = None
) -> list[str]:
    """`stage check`: every [[osc.map]] target must be an address this show answers.
    `opened`: the show's checkpoints already opened by name (else opened here)."""
    if not show.osc.maps:
        return []
    from performer.engine.worker import open_model

    names: list[set[str]] = []
    for m in show.models:
        if opened is not None:
            names.append(set(opened[m.name].directions) if m.name in opened else set())
            continue
        try:
            names.append(set(open_model(m.checkpoint).directions))
        except Exception:  # noqa: BLE001 - reported by the checkpoint check already
            names.append(set())
    shared = sorted(set.intersection(*names)) if names else []
    dirs = [str(k + 1) for k in range(show.rehearsal.directions)] + shared
    space = AddressSpace(
        lambda: [s.name for s in show.scenes], lambda: len(show.cues), specs, dirs, show.osc.maps
    )
    return space.problems
