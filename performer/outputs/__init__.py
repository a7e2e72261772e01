"""Where the show's frames go besides the screen: one small protocol for every output.

An `Output` is opened with the show's size and rate and gets every frame (`present`, called on
the render thread: it must return at once — an output that needs time does its work on its own
thread and drops what it cannot take). A picture output (`wants_pixels = True`: recorder, NDI,
virtual camera) gets the frame's pixels, read back a frame or two after the present; a state
output (frame log, OSC feedback) gets every frame's facts right after the present. It reports
its `health()` and is closed on every exit path (safe to call twice). `Outputs` fans the frames
out: an output that raises is closed and reported failed; the others go on.

Adding an output is a module in this folder and a show-file section (`[[outputs]]`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from performer.core.health import DEGRADED, FAILED, OFF, OK, PartHealth, where_raised

log = logging.getLogger("stage.outputs")


class OutputUnavailable(RuntimeError):
    """An output that cannot work on this machine (a library or device missing); the message
    is one line saying what to install or do. The show goes on with its other outputs."""


@dataclass(frozen=True)
class Frame:
    """One presented frame: its number and show time; `pixels` (HxWx3 uint8 RGB, row 0 = top)
    for picture outputs, None for state outputs; `info` the loop's facts about it (scene,
    model, cue, timings …: see `Stage._frame_info`)."""

    index: int
    t: float
    pixels: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


class Output(Protocol):
    """A place the show's frames go (see the module's docstring)."""

    name: str
    wants_pixels: bool

    def open(self, size: tuple[int, int], fps: float) -> None: ...

    def present(self, frame: Frame) -> None: ...

    def health(self) -> PartHealth: ...

    def close(self) -> None: ...


def build_outputs(entries: Iterable[Any]) -> list[Output]:
    """Outputs for show-file entries (performer/show_outputs.OutputEntry) other than windows,
    each named for health by its kind (ndi, ndi-2 …). A kind's library is imported only when
    a show uses it."""
    outputs: list[Output] = []
    seen: dict[str, int] = {}
    for e in entries:
        seen[e.kind] = seen.get(e.kind, 0) + 1
        part = e.kind if seen[e.kind] == 1 else f"{e.kind}-{seen[e.kind]}"
        size = (e.width, e.height) if e.width and e.height else None
        if e.kind == "ndi":
            from performer.outputs.ndi import NdiOutput

            outputs.append(NdiOutput(e.name, size=size, alpha=e.alpha, name=part))
        elif e.kind == "virtualcam":
            from performer.outputs.virtualcam import VirtualCamOutput

            outputs.append(VirtualCamOutput(device=e.device, size=size, name=part))
        else:
            raise ValueError(f"no output of kind {e.kind!r}")
    return outputs


def check_outputs(entries: Iterable[Any], size: tuple[int, int], fps: float) -> list[str]:
    """`stage check`: every output opens (and is closed again at once)."""
    problems = []
    for i, entry in enumerate(entries):
        if entry.kind == "window":
            continue
        (output,) = build_outputs([entry])
        try:
            output.open(size, fps)
        except Exception as e:
            problems.append(f"outputs[{i}] ({entry.kind}): {e}")
        finally:
            output.close()
    return problems


class Outputs:
    """The show's outputs; `present` gives each the frame, isolating their failures."""

    def __init__(self, outputs: Iterable[Output] = ()) -> None:
        self.items: list[Output] = list(outputs)
        self.failed: dict[str, str] = {}  # name → why it was closed

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Open every output; one that cannot open is reported failed, the show goes on."""
        for output in list(self.items):
            try:
                output.open(size, fps)
            except OutputUnavailable as e:
                self._fail(output, str(e))
            except Exception as e:
                self._fail(output, f"cannot open: {e}")

    def open_one(self, output: Output, size: tuple[int, int], fps: float) -> None:
        """Open an output added to a running show (one that cannot is reported failed)."""
        try:
            output.open(size, fps)
        except OutputUnavailable as e:
            self._fail(output, str(e))
        except Exception as e:
            self._fail(output, f"cannot open: {e}")

    def add(self, output: Output) -> None:
        """An output that joins a running show (already open), e.g. a recording take."""
        self.failed.pop(output.name, None)
        self.items.append(output)

    def remove(self, output: Output) -> None:
        """Take an output out (its owner closes it)."""
        if output in self.items:
            self.items.remove(output)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def wants_pixels(self) -> bool:
        """Whether any output takes pixels (the loop reads the picture back only then)."""
        return any(getattr(o, "wants_pixels", False) for o in self.items)

    def present(self, frame: Frame) -> None:
        """To the picture outputs when `frame` has pixels, else to the state outputs."""
        pixels = frame.pixels is not None
        for output in list(self.items):
            if getattr(output, "wants_pixels", False) != pixels:
                continue
            try:
                output.present(frame)
            except Exception as e:
                self._fail(output, f"{type(e).__name__}: {e} at {where_raised(e)}")

    def _fail(self, output: Output, why: str) -> None:
        log.error("output %s failed: %s", output.name, why)
        self.failed[output.name] = why
        self.items.remove(output)
        try:
            output.close()
        except Exception as e:  # closing a broken output must not break the show
            log.error("closing output %s: %s", output.name, e)

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        sources: dict[str, Callable[[], PartHealth]] = {o.name: o.health for o in self.items}
        for name, why in self.failed.items():
            sources[name] = lambda why=why: PartHealth(FAILED, f"closed: {why}")
        return sources

    def close(self) -> None:
        for output in self.items:
            try:
                output.close()
            except Exception as e:
                log.error("closing output %s: %s", output.name, e)
        self.items = []


class FrameWorker:
    """A thread that takes frames one at a time (the newest waiting wins: a slow sink drops
    the ones it could not take, counted) and hands them to `send`. For outputs whose sending
    costs time (encoding, a network, a device): `present` never waits on them."""

    def __init__(self, name: str, send: Callable[[np.ndarray, float], None]) -> None:
        self.name, self._send = name, send
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self.error: str | None = None
        self.send_s = 0.0  # the last send's seconds
        self._slot: tuple[np.ndarray, float] | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"output-{name}", daemon=True)
        self._thread.start()

    def put(self, pixels: np.ndarray, t: float) -> None:
        """Offer a frame (never blocks); one still waiting is replaced and counted dropped."""
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = (pixels, t)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                pixels, t = self._slot
                self._slot = None
            t0 = time.perf_counter()
            try:
                self._send(pixels, t)
                self.sent += 1
                if self.error is not None:
                    log.info("output %s works again", self.name)
                    self.error = None
            except Exception as e:  # a frame that could not go: counted, the next may
                first = self.error is None
                self.error = str(e)  # (before the count: health never sees one without it)
                self.errors += 1
                if first:
                    log.error("output %s: %s (at %s)", self.name, e, where_raised(e))
            self.send_s = time.perf_counter() - t0

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def health(self, extra: dict[str, float] | None = None) -> PartHealth:
        """failed while sends fail or the thread is gone; degraded while it drops frames;
        figures: sent, dropped, errors, send_ms."""
        figures = {
            "sent": self.sent,
            "dropped": self.dropped,
            "errors": self.errors,
            "send_ms": round(self.send_s * 1000, 2),
            **(extra or {}),
        }
        if self._stop:
            return PartHealth(OFF, "closed", figures)
        if not self.alive:
            return PartHealth(FAILED, "its thread ended", figures)
        if self.error is not None:
            return PartHealth(FAILED, self.error, figures)
        if self.dropped > 0.1 * max(self.sent, 1):
            return PartHealth(DEGRADED, "dropping frames (cannot keep up)", figures)
        return PartHealth(OK, "", figures)

    def close(self, timeout: float = 1.0) -> None:
        """Stop after the frame being sent; safe to call twice."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)
