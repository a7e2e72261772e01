"""The render loop's own per-frame timings, in fixed-size ring buffers: memory stays flat over a
day-long installation. Quantiles come from the window (the last RING frames, about 18 minutes
at 60 fps); counts, totals and maxima cover the whole run.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

RING = 1 << 16  # frames kept for quantiles


class Ring:
    """The last `capacity` values in a preallocated array, plus whole-run count/sum/max."""

    def __init__(self, capacity: int = RING) -> None:
        self._data = np.zeros(capacity, np.float64)
        self._next = 0
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def append(self, value: float) -> None:
        self._data[self._next] = value
        self._next = (self._next + 1) % len(self._data)
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    def values(self) -> np.ndarray:
        """The window's values, oldest first (a copy)."""
        if self.count < len(self._data):
            return self._data[: self.count].copy()
        return np.roll(self._data, -self._next)

    def last(self, n: int) -> np.ndarray:
        """The newest `n` values (fewer when fewer were added), oldest first."""
        n = min(n, self.count, len(self._data))
        idx = (self._next - n + np.arange(n)) % len(self._data)
        return self._data[idx]

    def percentile(self, q: float) -> float:
        n = min(self.count, len(self._data))
        return float(np.percentile(self._data[:n], q)) if n else 0.0

    def __len__(self) -> int:
        return min(self.count, len(self._data))


@dataclass
class FrameStats:
    """Per-frame timings measured by the loop itself (seconds)."""

    budget: float
    work: Ring = field(default_factory=Ring)  # loop top → presented, without pacing
    interval: Ring = field(default_factory=Ring)  # present → present
    upload: Ring = field(default_factory=Ring)
    draw: Ring = field(default_factory=Ring)
    infer: Ring = field(default_factory=Ring)  # waited on the generator in this loop
    busy: Ring = field(default_factory=Ring)  # work less the wait for this frame's decode
    fresh: int = 0  # frames that showed an image decoded since the previous frame
    missed: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=120))
    rest: deque = field(default_factory=lambda: deque(maxlen=120))  # frame work but the wait

    def rest_estimate(self) -> float:
        """What a frame needs besides waiting on the generator (p90 of recent frames)."""
        if len(self.rest) < 5:
            return self.budget / 2
        return float(np.percentile(self.rest, 90))

    def add(
        self, work: float, interval: float | None, upload: float, draw: float, infer: float
    ) -> None:
        self.work.append(work)
        self.upload.append(upload)
        self.draw.append(draw)
        self.infer.append(infer)
        self.busy.append(work - infer)
        self.recent.append(work - infer)
        if interval is not None:
            self.interval.append(interval)
            if interval > 1.5 * self.budget:
                self.missed += int(interval / self.budget - 0.5)

    def recent_fps(self, frames: int = 60) -> float:
        last = self.interval.last(frames)
        span = float(last.sum())
        return len(last) / span if span > 0 else 0.0

    def summary(self) -> dict[str, float]:
        def pct(ring: Ring, q: float) -> float:
            return round(ring.percentile(q) * 1000, 3)

        n = self.work.count
        return {
            "frames": n,
            "fps": round(self.interval.count / self.interval.total, 2)
            if self.interval.total > 0
            else 0.0,
            "work_p50_ms": pct(self.work, 50),
            "work_p99_ms": pct(self.work, 99),
            "busy_p50_ms": pct(self.busy, 50),
            "busy_p99_ms": pct(self.busy, 99),
            "interval_p50_ms": pct(self.interval, 50),
            "interval_p99_ms": pct(self.interval, 99),
            "interval_max_ms": round(self.interval.max * 1000, 3),
            "upload_p50_ms": pct(self.upload, 50),
            "upload_p99_ms": pct(self.upload, 99),
            "draw_p50_ms": pct(self.draw, 50),
            "draw_p99_ms": pct(self.draw, 99),
            "infer_wait_p50_ms": pct(self.infer, 50),
            "infer_wait_p99_ms": pct(self.infer, 99),
            "missed": self.missed,
            "missed_pct": round(100 * self.missed / max(n + self.missed, 1), 3),
            "over_75pct_budget": int((self.busy.values() > 0.75 * self.budget).sum()),
            "fresh_pct": round(100 * self.fresh / max(n, 1), 1),
            # new images shown per second: what the audience sees move (fps counts presents)
            "fresh_per_s": round(self.fresh / self.interval.total, 2)
            if self.interval.total > 0
            else 0.0,
        }
