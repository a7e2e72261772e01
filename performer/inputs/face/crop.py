"""The picture the VAE encoder sees in video mode, made in one place for the stage and for
`stage capture --faces`: a square around the face (or the centre square), then the encoder's
own resize. Training data captured with it looks exactly like the live input."""

from __future__ import annotations

import numpy as np

FACE_MARGIN = 1.6  # the square's side, in face heights (the landmarks' extent)
MIN_SIDE = 8


def crop_box(width: int, height: int, landmarks: np.ndarray | None) -> tuple[int, int, int]:
    """(left, top, side) of the square in a width x height frame: around the face (FACE_MARGIN
    × its height), or the centre square when there are no landmarks."""
    w, h = width, height
    if landmarks is not None:
        xy = landmarks[:, :2] * (w, h)
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        side = int(max(x1 - x0, y1 - y0) * FACE_MARGIN)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    else:
        side, cx, cy = min(w, h), w / 2, h / 2
    side = max(MIN_SIDE, min(side, w, h))
    left = int(min(max(cx - side / 2, 0), w - side))
    top = int(min(max(cy - side / 2, 0), h - side))
    return left, top, side


def crop(image: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
    """The square of `crop_box` in `image` (a view, no copy)."""
    left, top, side = crop_box(image.shape[1], image.shape[0], landmarks)
    return image[top : top + side, left : left + side]


def video_crop(image: np.ndarray, landmarks: np.ndarray | None, mode: str) -> np.ndarray:
    """The show's `[face] video_crop`: "face" crops around the landmarks (the centre square
    while there is no face), "frame" always the centre square."""
    return crop(image, landmarks if mode == "face" else None)


def encoder_view(square: np.ndarray, size: int) -> np.ndarray:
    """`square` resized as the encoder resizes it (performer.engine.encoder_mix.to_input:
    area down, bilinear up), back to HxWx3 uint8 RGB: a training picture of the live input."""
    import torch

    from performer.engine.encoder_mix import to_input

    with torch.inference_mode():
        x = to_input(square, size, torch.device("cpu"), torch.float32)
        x = ((x[0] + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())
