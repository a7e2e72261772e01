"""Files an artist looks at during training: image grids (PNG), the loss plot on a symlog
axis (PNG), and MP4 videos of frame sequences.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] → (N, H, W, 3) uint8 RGB."""
    x = ((images.detach().float().cpu() + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: torch.Tensor | np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images (torch in [-1, 1] or uint8 NHWC) into one RGB uint8 image."""
    arr = to_uint8(images) if isinstance(images, torch.Tensor) else np.asarray(images)
    n, h, w = arr.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 16, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = arr[i]
    return out


def write_png(path: str | os.PathLike, rgb: np.ndarray, upscale_to: int = 0) -> Path:
    """Write an RGB image (nearest-neighbour upscaled so its short side is ≥ upscale_to)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = max(1, -(-upscale_to // min(rgb.shape[:2]))) if upscale_to else 1
    if k > 1:
        rgb = cv2.resize(rgb, None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST)
    tmp = path.with_name(f".{path.name}.tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG")
    os.replace(tmp, path)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (a temp file beside it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 24.0) -> Path:
    """RGB uint8 frames → MP4 (mp4v), written to a temp name and renamed when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = None
    try:
        for f in frames:
            if writer is None:
                h, w = f.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                if not writer.isOpened():
                    raise OSError(f"{path}: OpenCV cannot write MP4 here")
            writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"{path}: no frames")
    os.replace(tmp, path)
    return path


def loss_plot(
    path: str | os.PathLike, history: Sequence[dict[str, float]], keys: Sequence[str] | None = None
) -> Path | None:
    """Each loss against the step on a symmetric-log y axis (as in Karavoussanos's figure 3)."""
    rows = [h for h in history if "step" in h]
    if len(rows) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = keys or sorted({k for h in rows for k in h if k.startswith("loss/")})
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for k in keys:
            pts = [(h["step"], h[k]) for h in rows if k in h and math.isfinite(h[k])]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, label=k.removeprefix("loss/"), linewidth=1)
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (symlog)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return path
