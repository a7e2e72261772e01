"""The photos data set (`stage photos`) for a reconstruction check: train/ holds the
photographs (training takes random patches of them), test/ fixed random square patches of them
at another seed — places and framings the training patches rarely match exactly.

    python scripts/photo_patches.py runs/photo-patches [--resize 128 --size 64 --count 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from training.photos import write_photos

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--resize", type=int, default=128, help="min side, as `stage train --resize`")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--count", type=int, default=64)
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args(argv)
    files = write_photos(a.out / "train")
    rng = np.random.default_rng(a.seed)
    (a.out / "test").mkdir(parents=True, exist_ok=True)
    for i in range(a.count):
        img = cv2.imread(str(files[i % len(files)]))
        h, w = img.shape[:2]
        s = a.resize / min(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        y = rng.integers(0, img.shape[0] - a.size + 1)
        x = rng.integers(0, img.shape[1] - a.size + 1)
        cv2.imwrite(str(a.out / "test" / f"{i:03d}.png"), img[y : y + a.size, x : x + a.size])
    print(f"{len(files)} photographs in {a.out / 'train'}, {a.count} patches in {a.out / 'test'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
