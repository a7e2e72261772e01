"""The capture's preview: the camera, the face square and the take's counter in a window
(the project's glfw/moderngl display, its HUD included), when there is a screen."""

from __future__ import annotations

import os

import cv2
import numpy as np


def wants_preview(asked: bool | None) -> bool:
    if asked is not None:
        return asked
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Preview:
    """A window showing the camera, the face square and the take's counter (the project's
    glfw/moderngl display, HUD included). Esc or q, or closing it, ends the take."""

    def __init__(self, width: int, height: int) -> None:
        from performer.render.display import Display
        from performer.show import DEFAULT_SHADER_DIR

        self.display = Display(
            width=width,
            height=height,
            chain=(),
            shader_dir=DEFAULT_SHADER_DIR,
            headless=False,
            title="stage capture",
            vsync=False,
        )
        self.shown = 0

    def show(self, image: np.ndarray, box: np.ndarray | None, lines: list[str], t: float) -> bool:
        """Draw a frame; False once the operator asked to stop."""
        if box is not None:
            image = image.copy()
            cv2.rectangle(image, tuple(box[:2]), tuple(box[2:]), (80, 255, 120), 2)
        self.display.draw(image, {}, t, hud=lines)
        self.display.present()
        self.shown += 1
        keys = self.display.poll()
        stop = any(k.action == "press" and k.key in ("escape", "q") for k in keys)
        return not (stop or self.display.should_close())

    def close(self) -> None:
        self.display.close()
