"""Every source of control, through one small protocol: keyboard, OSC, the performer's face, a
replayed performance (and audio, MIDI … the same way).

An `Input` is polled once a frame on the render thread: `poll(t, dt)` returns the cues that
arrived (discrete: applied in order) and its readings (continuous values the Controller keeps
the latest of, e.g. the face's features). It works on its own threads and only publishes;
`poll` takes what is there and returns at once. It reports its parts' health, adds lines to
the rehearsal HUD, may offer a small overlay picture (the face preview), and is closed on every
exit path (safe twice). `Inputs` polls them all: an input that raises is skipped for that frame
(logged once per place); one that raises FAIL_FRAMES times in a row is closed and reported
failed; the others go on.

Adding an input is a module (or folder) here and a show-file section.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from performer.core.health import FAILED, PartHealth, where_raised

if TYPE_CHECKING:  # (the inputs package is imported by the show file's face section)
    from performer.core.control import Cue

log = logging.getLogger("stage.inputs")

FAIL_FRAMES = 60  # an input raising on this many polls in a row is closed


@dataclass(frozen=True)
class Reading:
    """A continuous value from an input, given to `Controller.read` (the latest wins): `kind`
    "face" with the smoothed features (None: the face is lost). `log` is False for a value the
    event log already has (a replay's, say); new readings are logged, repeated ones are not
    produced at all."""

    kind: str
    value: Any
    source: str = ""


class Input(Protocol):
    """A source of cues and readings (see the module's docstring)."""

    name: str

    def poll(self, t: float, dt: float) -> tuple[list[Cue], list[Reading]]: ...

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]: ...

    def hud_lines(self) -> list[str]: ...

    def close(self) -> None: ...


class Inputs:
    """The show's inputs, polled in order once a frame."""

    def __init__(self, inputs: Iterable[Input] = ()) -> None:
        self.items: list[Input] = list(inputs)
        self.failed: dict[str, str] = {}
        self._failing: dict[str, int] = {}  # name → polls in a row that raised
        self._said: set[str] = set()  # where an input raised (logged once each)

    def add(self, item: Input | None) -> None:
        if item is not None:
            self.items.append(item)

    def get(self, name: str) -> Input | None:
        return next((i for i in self.items if i.name == name), None)

    def poll(self, t: float, dt: float) -> tuple[list[Cue], list[Reading]]:
        cues: list[Cue] = []
        readings: list[Reading] = []
        for item in list(self.items):
            try:
                more, read = item.poll(t, dt)
            except Exception as e:
                why = f"{type(e).__name__}: {e} at {where_raised(e)}"
                n = self._failing[item.name] = self._failing.get(item.name, 0) + 1
                if n >= FAIL_FRAMES:
                    self._fail(item, f"{why} ({n} times in a row)")
                elif (item.name, where_raised(e)) not in self._said:
                    self._said.add((item.name, where_raised(e)))
                    log.error("input %s raised %s (skipped this frame)", item.name, why)
                continue
            self._failing[item.name] = 0
            cues += more
            readings += read
        return cues, readings

    def _fail(self, item: Input, why: str) -> None:
        log.error("input %s failed: %s; closed, the show goes on without it", item.name, why)
        self.failed[item.name] = why
        self.items.remove(item)
        try:
            item.close()
        except Exception as e:  # closing a broken input must not break the show
            log.error("closing input %s: %s", item.name, e)

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        sources: dict[str, Callable[[], PartHealth]] = {}
        for item in self.items:
            sources.update(item.health_sources())
        for name, why in self.failed.items():
            sources[name] = lambda why=why: PartHealth(FAILED, f"closed: {why}")
        return sources

    def hud_lines(self) -> list[str]:
        return [line for item in self.items for line in item.hud_lines()]

    def presented(self, now: float) -> None:
        """A frame was presented: inputs that measure cue-to-picture latency note it."""
        for item in self.items:
            presented = getattr(item, "presented", None)
            if presented is not None:
                presented(now)

    def overlay(self) -> np.ndarray | None:
        """The first small picture an input offers for the rehearsal screen (face preview)."""
        for item in self.items:
            picture = getattr(item, "overlay", None)
            if picture is not None and (image := picture()) is not None:
                return image
        return None

    def close(self) -> None:
        for item in self.items:
            try:
                item.close()
            except Exception as e:
                log.error("closing input %s: %s", item.name, e)
        self.items = []
