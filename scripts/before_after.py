"""docs/media/upsampling-before-after.png: the shipped checkpoints' sample grids before and
after the retrain with resize-then-convolve up-sampling, side by side, with a zoomed detail.

Each row is one checkpoint: a crop of its old sample grid (8 tiles) | the same crop of the new
grid (the trainer's fixed z, so tile k is the same z in both) | a detail of the tile whose old
picture has the most 2x2-periodic (checkerboard) energy, old | new, enlarged with nearest-
neighbour pixels so the grid shows. Grids are the trainer's (8 columns, 2 px padding).

    python scripts/before_after.py [--before runs/upsampling/before] [--names dcgan-photos ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
PAD, COLS = 2, 8  # training/artifacts.grid
CROP = (4, 2)  # tiles across, down
DETAIL = 24  # px of a tile, shown at SCALE * CROP[1] tiles' height
SCALE = 2


def tiles(grid: np.ndarray) -> tuple[int, list[np.ndarray]]:
    """(tile size, the tiles of the first CROP rows/columns) of a sample grid."""
    size = (grid.shape[1] - PAD * (COLS + 1)) // COLS
    out = []
    for r in range(CROP[1]):
        for c in range(CROP[0]):
            y, x = PAD + r * (size + PAD), PAD + c * (size + PAD)
            out.append(grid[y : y + size, x : x + size])
    return size, out


def nyquist_energy(tile: np.ndarray) -> float:
    """Power at the 2x2 period's frequencies (absolute, per pixel: a bright grid wins)."""
    x = tile.astype(np.float64) - tile.mean(axis=(0, 1))
    p = (np.abs(np.fft.fft2(x, axes=(0, 1))) ** 2).sum(axis=2)
    h, w = p.shape
    return float((p[h // 2, 0] + p[0, w // 2] + p[h // 2, w // 2]) / (h * w))


def crop(grid: np.ndarray, size: int) -> Image.Image:
    w = CROP[0] * (size + PAD) + PAD
    h = CROP[1] * (size + PAD) + PAD
    im = Image.fromarray(grid[:h, :w])
    return im.resize((w * SCALE, h * SCALE), Image.NEAREST)


def detail(tile: np.ndarray, height: int) -> Image.Image:
    s = tile.shape[0]
    y = x = (s - DETAIL) // 2
    return Image.fromarray(tile[y : y + DETAIL, x : x + DETAIL]).resize(
        (height, height), Image.NEAREST
    )


def row(name: str, old: np.ndarray, new: np.ndarray) -> Image.Image:
    size, old_tiles = tiles(old)
    _, new_tiles = tiles(new)
    k = int(np.argmax([nyquist_energy(t) for t in old_tiles]))
    a, b = crop(old, size), crop(new, size)
    height = a.height
    parts = [a, b, detail(old_tiles[k], height), detail(new_tiles[k], height)]
    labels = [
        f"{name}: before (transposed)",
        "after (resize + conv)",
        f"tile {k}, before (x{height // DETAIL})",
        f"tile {k}, after",
    ]
    gap, head = 8, 18
    out = Image.new("RGB", (sum(p.width for p in parts) + gap * 3, height + head), "white")
    draw = ImageDraw.Draw(out)
    x = 0
    for part, label in zip(parts, labels, strict=True):
        out.paste(part, (x, head))
        draw.text((x + 2, 3), label, fill="black")
        x += part.width + gap
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, default=ROOT / "runs" / "upsampling" / "before")
    p.add_argument("--after", type=Path, default=ROOT / "models" / "checkpoints")
    p.add_argument("--names", nargs="+", default=["dcgan-photos", "vaegan-photos"])
    p.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "media" / "upsampling-before-after.png"
    )
    args = p.parse_args()
    rows = []
    for name in args.names:
        old_path, new_path = args.before / f"{name}.png", args.after / f"{name}.png"
        if not (old_path.is_file() and new_path.is_file()):
            print(f"{name}: no before/after grid ({old_path}, {new_path}); skipped")
            continue
        old = np.asarray(Image.open(old_path).convert("RGB"))
        new = np.asarray(Image.open(new_path).convert("RGB"))
        if np.array_equal(old, new):
            print(f"{name}: not retrained (the grids are the same); skipped")
            continue
        rows.append(row(name, old, new))
    if not rows:
        print("nothing to compare", file=sys.stderr)
        return 1
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 6 for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 6
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
