"""Heads-up display text for the performer: lines drawn with OpenCV into an RGBA image.

The image only changes when the lines do, and its size only grows (in steps), so the
display can keep one texture and re-upload it rarely.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
_STEP = 64  # canvas sizes grow in multiples of this, so a changing text rarely resizes it
# OpenCV's Hershey fonts are ASCII only: spell the usual typography out, '?' for the rest.
_ASCII = str.maketrans({"—": "-", "–": "-", "→": "->", "←": "<-", "×": "x", "…": "...", "·": "."})


def _ascii(line: str) -> str:
    return line.translate(_ASCII).encode("ascii", "replace").decode("ascii")


def _round_up(n: int, step: int = _STEP) -> int:
    return max(step, -(-n // step) * step)


class Hud:
    """Renders text lines onto a transparent RGBA canvas (row 0 = top), cached by content."""

    def __init__(
        self,
        *,
        font_scale: float = 0.55,
        thickness: int = 1,
        padding: int = 6,
        box_alpha: int = 170,
        color: tuple[int, int, int] = (255, 255, 255),
    ) -> None:
        self.color = (*color, 255)
        self.font_scale = font_scale
        self.thickness = thickness
        self.padding = padding
        self.box_alpha = box_alpha
        (_, text_h), baseline = cv2.getTextSize("Ag", FONT, font_scale, thickness)
        self._ascent = text_h
        self._line_h = text_h + baseline + 4
        self._lines: tuple[str, ...] | None = None
        self.box = (0, 0)  # (width, height) of the text's box, from the canvas's top left
        self.image = np.zeros((_STEP, _STEP, 4), np.uint8)

    def update(self, lines: Sequence[str]) -> bool:
        """Re-render if the lines changed; returns True when `image` is new."""
        key = tuple(str(line) for line in lines)
        if key == self._lines:
            return False
        self._lines = key
        self.image = self.render(key, min_size=self.image.shape[:2])
        return True

    def render(self, lines: Sequence[str], min_size: tuple[int, int] = (0, 0)) -> np.ndarray:
        """Draw `lines` (white on a dark translucent box) into a new HxWx4 uint8 canvas."""
        lines = [_ascii(line) for line in lines]
        pad = self.padding
        widths = [
            cv2.getTextSize(line, FONT, self.font_scale, self.thickness)[0][0] for line in lines
        ]
        box_w = (max(widths) + 2 * pad) if lines else 0
        box_h = (len(lines) * self._line_h + 2 * pad - 4) if lines else 0
        h = max(_round_up(box_h), min_size[0])
        w = max(_round_up(box_w), min_size[1])
        canvas = np.zeros((h, w, 4), np.uint8)
        self.box = (box_w, box_h)
        if not lines:
            return canvas
        canvas[:box_h, :box_w] = (0, 0, 0, self.box_alpha)
        for i, line in enumerate(lines):
            y = pad + i * self._line_h + self._ascent
            cv2.putText(
                canvas,
                line,
                (pad, y),
                FONT,
                self.font_scale,
                self.color,
                self.thickness,
                cv2.LINE_AA,
            )
        return canvas
