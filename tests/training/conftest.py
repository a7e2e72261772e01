"""Tiny training data: scikit-image's sample photographs written as small files, once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six real photographs, short side 48 px, as PNG and JPEG (a nested folder too)."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    (root / "more").mkdir()
    for i, name in enumerate(PHOTOS):
        img = getattr(data, name)()[..., :3]
        h, w = img.shape[:2]
        s = 48 / min(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        folder = root / "more" if i % 2 else root
        ext = ".jpg" if i % 3 == 0 else ".png"
        cv2.imwrite(str(folder / f"{name}{ext}"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def write_video(path: Path, frames: int = 12, size: int = 40, fps: float = 6.0) -> Path:
    """A short MP4 of a moving colour gradient."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    y, x = np.mgrid[:size, :size]
    for t in range(frames):
        img = np.stack([(x * 6 + t * 20) % 256, (y * 6) % 256, np.full_like(x, 40 * (t % 6))], -1)
        writer.write(img.astype(np.uint8))
    writer.release()
    return path
