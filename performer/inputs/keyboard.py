"""Rehearsal keys → cues. Lives on the main thread (glfw delivers key events there).

Discrete keys become cues when pressed; nudge keys move the latent for as long as they are
held, at `nudge` latent units per second, so motion is smooth whatever the key-repeat rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from performer.core.control import Cue
from performer.core.health import PartHealth
from performer.render.display import KeyEvent

NUDGE_UP = "qwertyui"  # + along directions 1..8
NUDGE_DOWN = "asdfghjk"  # − along directions 1..8

PRESS_KEYS: dict[str, tuple[str, tuple]] = {
    "right": ("next", ()),
    "page_down": ("next", ()),
    "left": ("prev", ()),
    "page_up": ("prev", ()),
    "n": ("random", ()),
    "space": ("freeze", ()),
    "o": ("follow", ()),  # the show's auto-advance (`follow`) on / off
    "l": ("learn", ()),  # MIDI learn: the next knob moved maps to what was last nudged
    "p": ("save", ()),
    "c": ("calibrate", ()),  # the performer's neutral face (performer/inputs/face/rig.py)
    "v": ("face", ()),  # face control on / off
    "f11": ("fullscreen", ()),
    "f1": ("hud", ()),
    "f5": ("reload", ()),
    "escape": ("quit", ()),
    **{str(d): ("scene", ((d - 1) % 10,)) for d in range(10)},
}

KEY_HELP = """\
rehearsal keys
  right / page down     next cue          left / page up     previous cue
  1 ... 9, 0            scene 1 ... 9, 10    n                  jump to a new random point
  q w e r t y u i       hold: move + along latent directions 1 ... 8
  a s d f g h j k       hold: move - along latent directions 1 ... 8
  space                 freeze / unfreeze drift   o   auto-advance on / off
  l                     MIDI learn: the next knob moved steers what was last nudged
  p                     save the current point as a scene in the presets file
  c                     calibrate the neutral face   v   face control on / off
  f1  HUD   f5  reload shaders   f11  fullscreen   escape  quit"""


class Keyboard:
    """Turns key events into cues; `frame(dt)` also emits nudges for keys held down."""

    def __init__(self, nudge_rate: float, directions: int = 8) -> None:
        self.nudge_rate = nudge_rate
        self.directions = directions
        self.held: set[str] = set()

    def events(self, events: Iterable[KeyEvent]) -> list[Cue]:
        cues = []
        for e in events:
            if e.key in NUDGE_UP or e.key in NUDGE_DOWN:
                if e.action == "press":
                    self.held.add(e.key)
                elif e.action == "release":
                    self.held.discard(e.key)
            elif e.action == "press" and e.key in PRESS_KEYS:
                action, args = PRESS_KEYS[e.key]
                cues.append(Cue(action, args, "key"))
        return cues

    def frame(self, dt: float) -> list[Cue]:
        cues = []
        for key in sorted(self.held):
            sign, row = (1.0, NUDGE_UP) if key in NUDGE_UP else (-1.0, NUDGE_DOWN)
            k = row.index(key)
            if k < self.directions:
                cues.append(Cue("nudge", (k, sign * self.nudge_rate * dt), "key"))
        return cues


class KeyboardInput:
    """The keyboard as a show input: the display's key events (glfw delivers them on the main
    thread) and held nudge keys, once a frame; the key map in the rehearsal HUD."""

    name = "keyboard"

    def __init__(self, display: Any, keyboard: Keyboard, help_lines: bool = False) -> None:
        self.display, self.keyboard, self.help_lines = display, keyboard, help_lines

    def poll(self, t: float, dt: float) -> tuple[list[Cue], list]:
        return self.keyboard.events(self.display.poll()) + self.keyboard.frame(dt), []

    def health_sources(self) -> dict[str, Callable[[], PartHealth]]:
        return {}

    def hud_lines(self) -> list[str]:
        return KEY_HELP.splitlines() if self.help_lines else []

    def close(self) -> None:
        pass
