"""Training images any machine has offline: the colour photographs scikit-image ships inside its
wheel (an astronaut, a cat, coffee, a rocket, the Hubble deep field, a retina, stained tissue,
a colour wheel, a street scene). `stage photos FOLDER` writes them as PNG files, a dataset for
`stage train ... --data FOLDER` — the shipped checkpoints are trained on random patches of them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# name → a loader in skimage.data that reads a file shipped in the wheel (no download)
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "colorwheel",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
)


def load(name: str) -> np.ndarray:
    """One photograph as RGB uint8 (H, W, 3)."""
    from skimage import data

    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def write_photos(folder: str | os.PathLike, names: tuple[str, ...] = PHOTOS) -> list[Path]:
    """Write the photographs into `folder` as PNG; ones this scikit-image lacks are skipped with
    a warning. Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, missing = [], []
    for name in names:
        try:
            img = load(name)
        except Exception as e:  # a scikit-image without this photo (or its file)
            missing.append(f"{name} ({e.__class__.__name__})")
            continue
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        written.append(path)
    if missing:
        log.warning(
            "skipped %d photo(s) this scikit-image lacks: %s", len(missing), ", ".join(missing)
        )
    return written
