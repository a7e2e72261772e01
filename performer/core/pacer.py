"""When the stage presents, and how it splits the machine between pictures and presents.

`Pacer` is the loop's one clock: it presents every `divisor`-th tick of the display rate. Where
the window's buffer swap is measured to wait for the display (`vsync_paces`), the swap is the
clock (the swap interval set to the divisor) and the loop never sleeps on its own deadline as
well — two clocks at 60 and 59.94 Hz beat; elsewhere (headless, a virtual screen, vsync off)
the loop sleeps to its deadline.

`Scheduler` chooses, by measurement under the show's real load, the engine's thread count and
the present divisor: on a machine where drawing the same image again costs the CPU that the
generator needs (software GL, a busy laptop), presenting every second or third refresh buys
new images; where the GPU draws for free, every refresh is presented. Candidates are compared
in alternating slices (A B C A B C …) once the show has settled — the first fade over, the face
tracker running — and the median of each candidate's slices counts, so a slow moment does not
decide. It compares again when the model on screen changes or new images per second drift far
from what the choice gave.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("stage.pacer")

MIN_PRESENT_FPS = 20.0  # a divisor never presents slower than this
EQUAL = 0.9  # plans within 10 % of the most new images per second count as equal (and then
# fewer threads win: a slice is short, and more OpenMP threads stall when a core is taken)
MISSED = 0.1  # a plan that misses more than 1 in 10 presents loses its tie (a slice is short:
# one missed frame, e.g. while the thread count changes, must not decide)
CEILING = 0.9  # new images on ≥ 90 % of presents: presenting less often cannot buy more
DRIFT = 0.35  # new images per second this far below what the choice gives (for DRIFT_S) →
# compare again (a heavier model, a busier machine); more images than that needs no new choice
DRIFT_S = 5.0
LATE = 0.1  # presents late this share above what the choice missed when measured (for
# LATE_S) → compare again: the load moved (a heavier scene's effects) and the plan no longer fits
LATE_S = 2.0


class Pacer:
    """Presents every `divisor`-th tick of `fps`; sleeps to the deadline unless vsync paces."""

    def __init__(
        self,
        fps: float,
        *,
        vsync_paces: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fps = fps
        self.divisor = 1
        self.vsync_paces = vsync_paces
        self.deadline = 0.0
        self._sleep = sleep

    @property
    def interval(self) -> float:
        """Seconds between presents."""
        return self.divisor / self.fps

    def start(self, now: float) -> None:
        self.deadline = now

    def wait(self, now: float) -> None:
        """After a present: the next deadline, slept to where the loop is the clock. A loop
        that fell more than a present behind starts counting from now (no burst to catch up)."""
        self.deadline += self.interval
        if self.deadline < now - self.interval:
            self.deadline = now
        elif self.vsync_paces:
            self.deadline = max(self.deadline, now)  # the swap waited: that was the clock
        elif self.deadline > now:
            self._sleep(self.deadline - now)


@dataclass(frozen=True, order=True)
class Plan:
    """How the loop spends the machine: torch threads for the generator, present divisor."""

    threads: int
    divisor: int

    def __str__(self) -> str:
        every = "every refresh" if self.divisor == 1 else f"every {self.divisor} refreshes"
        return f"{self.threads} thread{'s' * (self.threads != 1)}, present {every}"


def plans(threads: Sequence[int], fps: float, gpu: bool) -> list[Plan]:
    """The candidates: each thread count × each divisor that keeps ≥ MIN_PRESENT_FPS; on a
    GPU drawing is nearly free, so only every refresh."""
    divisors = [1] if gpu else [d for d in (1, 2, 3) if fps / d >= MIN_PRESENT_FPS] or [1]
    return [Plan(n, d) for n in dict.fromkeys(threads) for d in divisors]


@dataclass
class Slice:
    fresh_per_s: float  # new images shown per second
    presents_per_s: float
    missed_per_s: float


@dataclass
class Scheduler:
    """Compares `candidates` in alternating slices and applies the best (`apply`), in two
    stages: the thread counts at the smallest divisor (every refresh) first; only where the
    best of them leaves presents without a new image (below CEILING) does it compare the
    larger divisors at that thread count — so a show that already gets a new image nearly
    every refresh is never made to stutter at 20 or 30 fps while it is measured."""

    candidates: list[Plan]
    apply: Callable[[Plan], None]
    slice_s: float = 0.5
    rounds: int = 3
    chosen: Plan | None = None
    results: dict[Plan, list[Slice]] = field(default_factory=dict)
    choices: int = 0  # how many times it has chosen (1 after warm-up; more on re-comparing)
    _queue: list[Plan] = field(default_factory=list)
    _stage: int = 1
    _current: Plan | None = None
    _started: float = 0.0
    _base: tuple[int, int, int] = (0, 0, 0)  # fresh, presents, missed at the slice's start
    _chosen_rate: float = 0.0
    _chosen_late: float = 0.0  # the share of presents the choice missed when measured
    _drift_since: float | None = None
    _late_since: float | None = None
    # (since, fresh, presents, missed then): the last second, for the drift and late watch
    _window: tuple[float, int, int, int] = (0.0, 0, 0, 0)

    def __post_init__(self) -> None:
        self.restart()

    @property
    def comparing(self) -> bool:
        return self._current is not None or bool(self._queue)

    def restart(self) -> None:
        """Compare again from the next settled moment (the model changed, the load moved)."""
        if len(self.candidates) < 2:
            if self.candidates and self.chosen is None:
                self.chosen = self.candidates[0]
                self.apply(self.chosen)
            return
        self.results = {p: [] for p in self.candidates}
        first = min(p.divisor for p in self.candidates)
        self._queue = self._rounds([p for p in self.candidates if p.divisor == first])
        self._stage, self._current, self._drift_since, self._late_since = 1, None, None, None

    def _rounds(self, plans: list[Plan]) -> list[Plan]:
        return [p for _ in range(self.rounds) for p in plans] if len(plans) > 1 else plans * 2

    def update(self, now: float, fresh: int, presents: int, missed: int, settled: bool) -> None:
        """Once a frame, with the loop's running counts; `settled`: fades over, tracker up.
        Counts that went back (the figures were started afresh) start the slice again."""
        if fresh < self._base[0] or presents < self._base[1] or fresh < self._window[1]:
            self._started, self._base = now, (fresh, presents, missed)
            self._window = (now, fresh, presents, missed)
            return
        if not self.comparing:
            self._watch(now, fresh, presents, missed)
            return
        if self._current is None:
            if settled:
                self._next(now, fresh, presents, missed)
            return
        span = now - self._started
        if span < self.slice_s:
            return
        f0, p0, m0 = self._base
        self.results[self._current].append(
            Slice((fresh - f0) / span, (presents - p0) / span, (missed - m0) / span)
        )
        if self._queue:
            self._next(now, fresh, presents, missed)
        else:
            self._choose(now, fresh, presents, missed)

    def _next(self, now: float, fresh: int, presents: int, missed: int) -> None:
        self._current = self._queue.pop(0)
        self.apply(self._current)
        self._started, self._base = now, (fresh, presents, missed)
        self._window = (now, fresh, presents, missed)

    def medians(self, plan: Plan) -> Slice:
        got = self.results.get(plan) or [Slice(0.0, 0.0, 0.0)]
        return Slice(
            statistics.median(s.fresh_per_s for s in got),
            statistics.median(s.presents_per_s for s in got),
            statistics.median(s.missed_per_s for s in got),
        )

    def _choose(self, now: float, fresh: int, presents: int, missed: int) -> None:
        measured = [p for p in self.candidates if self.results.get(p)]
        score = {p: self.medians(p) for p in measured}
        most = max(s.fresh_per_s for s in score.values())
        equal = [p for p in measured if score[p].fresh_per_s >= EQUAL * most]
        # as many new images as the best; then the fewest missed presents, the most presents
        # (time-driven effects move smoothly), the fewest threads
        best = min(
            equal,
            key=lambda p: (
                score[p].missed_per_s > MISSED * score[p].presents_per_s,
                -round(score[p].presents_per_s),
                p,
            ),
        )
        slower = [q for q in self.candidates if q.threads == best.threads and q != best]
        below_ceiling = score[best].fresh_per_s < CEILING * score[best].presents_per_s
        if self._stage == 1 and slower and below_ceiling:
            self._stage = 2  # presents go without new images: try presenting less often
            self._queue = self._rounds([best, *slower])
            self.results[best] = []  # measured again beside them, in the same moments
            self._current = None
            self._next(now, fresh, presents, missed)
            return
        self._current, self.chosen, self.choices = None, best, self.choices + 1
        self._base = (fresh, 0, 0)
        self._chosen_rate = score[best].fresh_per_s
        self._chosen_late = score[best].missed_per_s / max(score[best].presents_per_s, 1e-9)
        self._window = (now, fresh, presents, missed)
        self._drift_since = self._late_since = None
        self.apply(best)
        log.info(
            "schedule: %s — %.1f new images/s (%s)",
            best,
            self._chosen_rate,
            ", ".join(f"{p}: {score[p].fresh_per_s:.1f}/s" for p in measured),
        )

    def _watch(self, now: float, fresh: int, presents: int, missed: int) -> None:
        """New images per second over the last second, against what the choice gives: the
        best second seen since (slices, cut short by switching, read low); and the share of
        presents that were late, against what the choice missed when it was measured."""
        since, fresh0, presents0, missed0 = self._window
        if now - since < 1.0 or self._chosen_rate <= 0:
            return
        rate = (fresh - fresh0) / (now - since)
        self._window = (now, fresh, presents, missed)
        late = (missed - missed0) / max(presents - presents0, 1)
        if late <= self._chosen_late + LATE:
            self._late_since = None
        elif self._late_since is None:
            self._late_since = now
        elif now - self._late_since >= LATE_S:
            log.info(
                "schedule: %.0f %% of presents late for %.0f s (chosen at %.0f %%): comparing"
                " again",
                100 * late,
                now - self._late_since,
                100 * self._chosen_late,
            )
            self.restart()
            return
        self._chosen_rate = max(self._chosen_rate, rate)
        if rate >= (1 - DRIFT) * self._chosen_rate:
            self._drift_since = None
        elif self._drift_since is None:
            self._drift_since = now
        elif now - self._drift_since >= DRIFT_S:
            log.info(
                "schedule: %.1f new images/s for %.0f s (chosen at %.1f): comparing again",
                rate,
                now - self._drift_since,
                self._chosen_rate,
            )
            self.restart()

    def summary(self) -> dict:
        return {
            "chosen": None
            if self.chosen is None
            else {"threads": self.chosen.threads, "divisor": self.chosen.divisor},
            "choices": self.choices,
            "plans": {
                str(p): {
                    "fresh_per_s": round(m.fresh_per_s, 1),
                    "presents_per_s": round(m.presents_per_s, 1),
                    "missed_per_s": round(m.missed_per_s, 2),
                }
                for p in self.candidates
                if self.results.get(p)
                for m in [self.medians(p)]
            },
        }
