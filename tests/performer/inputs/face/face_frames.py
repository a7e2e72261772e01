"""Synthetic performances from a real face: scikit-image's `astronaut`, moved, rotated, scaled,
covered, at webcam size (640x480 RGB), and written to video files for the camera source."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import skimage.data

W, H = 640, 480


@cache
def base() -> np.ndarray:
    """The astronaut's head and shoulders, filling a 640x480 frame (face ≈ 0.37 of its height)."""
    crop = cv2.resize(skimage.data.astronaut()[0:300, 75:375], (480, 480))
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, 80:560] = crop
    frame.setflags(write=False)
    return frame


FACE_CENTRE = (320.0, 190.0)  # about where the face is in base()


def pose(
    dx: float = 0, dy: float = 0, angle: float = 0, scale: float = 1.0, cover: bool = False
) -> np.ndarray:
    """base() rotated by `angle` degrees (counter-clockwise) and scaled about the face, then
    moved by (dx, dy) pixels; `cover` paints over the face."""
    m = cv2.getRotationMatrix2D(FACE_CENTRE, angle, scale)
    m[:, 2] += (dx, dy)
    frame = cv2.warpAffine(base(), m, (W, H), borderMode=cv2.BORDER_REPLICATE)
    if cover:
        cx, cy = FACE_CENTRE[0] + dx, FACE_CENTRE[1] + dy
        cv2.rectangle(frame, (int(cx - 150), int(cy - 170)), (int(cx + 150), int(cy + 170)), 0, -1)
    return frame


def blank() -> np.ndarray:
    return np.zeros((H, W, 3), np.uint8)


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """RGB frames → an .avi (MJPG: exact frame count, quick to decode)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
