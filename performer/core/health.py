"""One health model for the whole show: every part (engine, face tracker, camera, OSC, recorder,
logs, disk, loop) says how it is; the log, the HUD, the corner mark and OSC feedback read it.

Parts report by a `health() -> PartHealth` method the Stage polls a few times a second on the
main thread (no locks needed: each part builds its report from its own counters). A change of
state is logged once, naming the part and why; figures travel with every report.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("stage.health")

OK, DEGRADED, FAILED, OFF = "ok", "degraded", "failed", "off"
STATES = (OK, DEGRADED, FAILED, OFF)
_RANK = {OFF: 0, OK: 0, DEGRADED: 1, FAILED: 2}  # how bad, for the overall state and the mark


@dataclass(frozen=True)
class PartHealth:
    """One part's state: `ok`, `degraded` (working, but not as asked), `failed` (not working;
    the show goes on without it) or `off` (not used in this show); `detail` says why in the
    operator's words; `figures` are counters and measures (numbers only)."""

    state: str = OK
    detail: str = ""
    figures: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"health state must be one of {STATES}, got {self.state!r}")


class Health:
    """The parts' latest reports; `update` logs each change of state (or of its reason) once."""

    def __init__(
        self,
        logger: logging.Logger = log,
        repeat_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parts: dict[str, PartHealth] = {}
        self.changes = 0  # changes logged (tests, the soak benchmark)
        self.repeat_s = repeat_s  # a new reason in the same state is logged at most this often
        self._log, self._clock = logger, clock
        self._logged: dict[str, float] = {}

    def update(self, part: str, report: PartHealth) -> bool:
        """Take a part's report; True when the change was logged: a new state at once, a new
        reason for the same (not ok) state at most every `repeat_s` seconds."""
        before = self.parts.get(part)
        self.parts[part] = report
        now = self._clock()
        if before is None:
            if report.state in (OK, OFF):
                return False  # a part that starts well is not news
        elif report.state == before.state:
            if report.state in (OK, OFF) or report.detail == before.detail:
                return False  # no change (an ok part's passing remark is not news either)
            if now - self._logged.get(part, -1e9) < self.repeat_s:
                return False  # the same trouble in other words (its figures moved)
        self._logged[part] = now
        self.changes += 1
        level = {OK: logging.INFO, OFF: logging.INFO, DEGRADED: logging.WARNING}.get(
            report.state, logging.ERROR
        )
        text = f"health: {part} {report.state}" + (f": {report.detail}" if report.detail else "")
        self._log.log(level, "%s", text)
        return True

    def poll(self, sources: Mapping[str, Callable[[], PartHealth]]) -> None:
        """Ask every source for its report. A source that raises is reported as failed."""
        for part, source in sources.items():
            try:
                report = source()
            except Exception as e:  # a broken health report must not break the show
                report = PartHealth(FAILED, f"health report raised {type(e).__name__}: {e}")
            self.update(part, report)

    @property
    def overall(self) -> str:
        """The worst state of any part (`ok` when none is degraded or failed)."""
        worst = max((_RANK[p.state] for p in self.parts.values()), default=0)
        return {0: OK, 1: DEGRADED, 2: FAILED}[worst]

    def degraded(self) -> list[tuple[str, PartHealth]]:
        """The parts that are not well, worst first."""
        bad = [(n, p) for n, p in self.parts.items() if _RANK[p.state] > 0]
        return sorted(bad, key=lambda item: -_RANK[item[1].state])

    def hud_lines(self) -> list[str]:
        """One line for the HUD: every part's state, then a line per part that is not well."""
        if not self.parts:
            return []
        summary = "  ".join(f"{n} {p.state}" for n, p in self.parts.items() if p.state != OFF)
        lines = [f"health {self.overall.upper()}: {summary}"]
        lines += [f"  {n}: {p.detail}" for n, p in self.degraded() if p.detail]
        return lines

    def mark(self) -> str | None:
        """The corner mark's short text when something is not well (None: show nothing)."""
        bad = self.degraded()
        if not bad:
            return None
        return " ".join(n.upper() for n, _ in bad[:3]) + ("…" if len(bad) > 3 else "")

    def snapshot(self) -> dict[str, dict]:
        """Plain data (for summary.json and the soak benchmark)."""
        return {
            n: {"state": p.state, "detail": p.detail, **dict(p.figures)}
            for n, p in self.parts.items()
        }

    def osc_messages(self, parts: Iterable[str] | None = None) -> list[tuple[str, tuple]]:
        """(address, args) for OSC feedback: `/stage/health/<part> s STATE` then its figures
        as name/value pairs, and `/stage/health s OVERALL`."""
        out: list[tuple[str, tuple]] = []
        for name in parts if parts is not None else list(self.parts):
            p = self.parts[name]
            args: list[object] = [p.state]
            for key, value in p.figures.items():
                args += [key, float(value)]
            out.append((f"/stage/health/{name}", tuple(args)))
        out.append(("/stage/health", (self.overall,)))
        return out


def where_raised(e: BaseException) -> str:
    """`file.py:LINE function()` of the innermost frame of an exception's traceback."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}()"
