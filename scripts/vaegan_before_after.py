"""docs/media/vaegan-before-after.png: two VAE-GAN checkpoints side by side as the stage uses
them — what the encoder and decoder make of real pictures (the mirror scene's live-video path)
and what the decoder draws from the prior (the seeds a scene's anchor and drift are made of).

For each checkpoint, three rows of eight 64 px tiles: the photographs (`stage photos`'s,
centre-cropped), their reconstructions (encoder mean → decoder), and seeds 0…7 (the stage's
seed convention, `models.seeds.seed_vector`). Labels on the left; nearest-neighbour enlarged.

    python scripts/vaegan_before_after.py BEFORE.pt AFTER.pt [--out docs/media/...png]
        [--labels "before" "after"] [--photos runs/shipped/photos]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TILE, SCALE, LABEL_W, GAP = 64, 2, 150, 10


def photos(folder: Path, n: int = 8) -> np.ndarray:
    """The first `n` images of `folder`, centre-cropped square, at TILE px: (n, TILE, TILE, 3)."""
    out = []
    for f in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))[:n]:
        im = Image.open(f).convert("RGB")
        w, h = im.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        out.append(np.asarray(im.crop(box).resize((TILE, TILE), Image.Resampling.BICUBIC)))
    return np.stack(out)


def rows(checkpoint: Path, real: np.ndarray) -> list[np.ndarray]:
    """[real, reconstructions, seeds 0…n-1] as uint8 image rows of the checkpoint."""
    import torch

    from models.seeds import seed_vector
    from performer.engine.worker import open_model

    model = open_model(checkpoint)
    G, E = model.parts["G"], model.parts["E"]
    x = torch.from_numpy(real.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    z = torch.from_numpy(np.stack([seed_vector(s, G.z_dim) for s in range(len(real))]))
    with torch.no_grad():
        rec, prior = G(E(x)[0]), G(z)

    def row(t: torch.Tensor) -> np.ndarray:
        t = t[:, :, :TILE, :TILE] if t.shape[-1] >= TILE else t
        img = ((t.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
        return np.concatenate(list(img), axis=1)

    return [np.concatenate(list(real), axis=1), row(rec), row(prior)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--labels", nargs=2, default=["before", "after"])
    p.add_argument("--photos", type=Path, default=ROOT / "runs" / "shipped" / "photos")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "media" / "vaegan-before-after.png")
    args = p.parse_args(argv)
    real = photos(args.photos)
    names = ["photographs", "reconstructed", "seeds 0-7"]
    blocks = []
    for label, ckpt in zip(args.labels, (args.before, args.after), strict=True):
        block = np.concatenate(rows(ckpt, real), axis=0)
        blocks.append((label, np.kron(block, np.ones((SCALE, SCALE, 1), np.uint8))))
    h = sum(b.shape[0] for _, b in blocks) + GAP * (len(blocks) - 1)
    w = LABEL_W + blocks[0][1].shape[1]
    sheet = Image.new("RGB", (w, h), (18, 18, 20))
    draw = ImageDraw.Draw(sheet)
    y = 0
    for label, block in blocks:
        sheet.paste(Image.fromarray(block), (LABEL_W, y))
        for i, name in enumerate(names):
            draw.text((6, y + i * TILE * SCALE + 6), f"{label}\n{name}", fill=(230, 230, 230))
        y += block.shape[0] + GAP
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT)  # a small PNG
    sheet.save(args.out, optimize=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
