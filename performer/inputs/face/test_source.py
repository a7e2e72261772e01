"""The moving test source: what the show sees when its camera cannot be opened.

A face photograph the project ships (scikit-image's public-domain NASA portrait of astronaut
Eileen Collins, `performer/assets/test-face.jpg`), animated by slow, smooth affine motion — a
turn, a tilt, a drift, a lean in — so a face-driven scene moves and the VAE-GAN has a living
picture to reconstruct, with no webcam. It is a `Capture` like a webcam's.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np

TEST_FACE = Path(__file__).resolve().parents[2] / "assets" / "test-face.jpg"
NAME = "test source (animated still)"


class TestSource:
    """Frames of the shipped face photograph in motion; `read()` renders the frame for now."""

    def __init__(self, width: int = 640, height: int = 480, path: Path = TEST_FACE) -> None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read the test source image {path}")
        self.width, self.height = width, height
        # the photograph, fitted inside the frame with room to move
        s = 0.9 * min(width / image.shape[1], height / image.shape[0])
        self.image = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        self.t0 = time.perf_counter()

    def frame_at(self, t: float) -> np.ndarray:
        """The BGR frame `t` seconds into the animation (deterministic)."""
        h, w = self.image.shape[:2]
        turn = 0.16 * math.sin(2 * math.pi * t / 7.0)  # a head turn: squash about the face
        roll = 10.0 * math.sin(2 * math.pi * t / 11.0 + 1.0)  # degrees
        zoom = 1.0 + 0.12 * math.sin(2 * math.pi * t / 13.0 + 2.0)
        dx = 0.06 * self.width * math.sin(2 * math.pi * t / 9.0 + 0.5)
        dy = 0.04 * self.height * math.sin(2 * math.pi * t / 5.0)
        cx, cy = w * 0.42, h * 0.33  # the face in the portrait
        m = cv2.getRotationMatrix2D((cx, cy), roll, zoom)
        m[0, :2] *= 1.0 - abs(turn)  # narrower when turned
        m[0, 2] = cx - (m[0, 0] * cx + m[0, 1] * cy) + turn * w * 0.25
        m[0, 2] += (self.width - w) / 2 + dx
        m[1, 2] += (self.height - h) / 2 + dy
        return cv2.warpAffine(
            self.image,
            m,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(40, 32, 28),
        )

    def read(self) -> tuple[bool, np.ndarray | None]:
        return True, self.frame_at(time.perf_counter() - self.t0)

    def release(self) -> None:
        pass


def open_test_source(width: int, height: int, fps: float) -> tuple[TestSource, float]:
    """The test source as the camera thread opens a capture: (capture, rate to pace it at)."""
    return TestSource(width, height), fps
