"""Datasets from folders of images and video files: aspect-preserving resize, random patches or
pad-to-square, flips. Every file is checked before training; bad ones are skipped with one
summary warning, and decoding of uncached images happens in DataLoader workers.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

log = logging.getLogger("training.data")

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
VIDEO_EXT = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}


class DataError(Exception):
    """A dataset that cannot train anything; the message names the folder and why."""


@dataclass(frozen=True)
class DataOptions:
    size: int  # side of the square training images
    mode: str = "crop"  # "crop": random patches of the resized image; "pad": whole, padded
    resize: int | None = None  # min side before cropping (default: size); max side for "pad"
    flip: bool = True  # random horizontal flips
    video_fps: float = 2.0  # frames sampled per second of video
    min_side: int | None = None  # smaller files are skipped (default: size // 2)
    cache_mb: int = 2048  # keep resized images in memory when they fit

    def __post_init__(self) -> None:
        if self.mode not in ("crop", "pad"):
            raise ValueError(f"data mode must be 'crop' or 'pad', got {self.mode!r}")
        if self.size < 4 or (self.resize is not None and self.resize < self.size):
            raise ValueError(f"bad size/resize: {self.size}/{self.resize} (resize ≥ size)")

    @property
    def target(self) -> int:
        return self.resize or self.size


@dataclass(frozen=True)
class Item:
    path: Path
    frame: int = -1  # video frame index; -1 for a still image
    width: int = 0
    height: int = 0


def scan(root: Path) -> tuple[list[Path], list[Path]]:
    """Image files and video files under `root` (recursive, sorted, hidden files ignored)."""
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        raise DataError(f"{root}: no such file or folder")
    images = [p for p in files if p.suffix.lower() in IMAGE_EXT]
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXT]
    return images, videos


def read_image(path: Path, reduce: int = 1) -> np.ndarray | None:
    """RGB uint8 HxWx3, or None when unreadable. `reduce` (2, 4, 8) decodes a JPEG at reduced
    size (much faster when the target is small)."""
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}.get(reduce)
    flag = cv2.IMREAD_REDUCED_COLOR_8 if reduce >= 8 else (flag or cv2.IMREAD_COLOR)
    data = np.fromfile(str(path), np.uint8) if path.is_file() else None
    img = cv2.imdecode(data, flag) if data is not None and data.size else None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def video_frames(path: Path, fps: float) -> tuple[list[int], int, int]:
    """Indices of the frames to sample at `fps`, and the frame size; ([], 0, 0) if unreadable."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return [], 0, 0
        ok, frame = cap.read()
        if not ok or frame is None:
            return [], 0, 0
        native = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
        step = max(1.0, native / max(fps, 1e-6))
        return [int(round(i * step)) for i in range(int(count / step) or 1)], *frame.shape[1::-1]
    finally:
        cap.release()


def read_frames(path: Path, frames: list[int]) -> dict[int, np.ndarray]:
    """The listed frames of a video, read sequentially (RGB); missing ones are left out."""
    wanted, out = set(frames), {}
    cap = cv2.VideoCapture(str(path))
    try:
        for i in range(max(frames) + 1 if frames else 0):
            if i in wanted:
                ok, f = cap.read()
                if ok and f is not None:
                    out[i] = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
            elif not cap.grab():
                break
    finally:
        cap.release()
    return out


def read_frame(path: Path, index: int) -> np.ndarray | None:
    """One frame of a video by seeking (RGB), or None."""
    cap = cv2.VideoCapture(str(path))
    try:
        if index:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, f = cap.read()
        return cv2.cvtColor(f, cv2.COLOR_BGR2RGB) if ok and f is not None else None
    finally:
        cap.release()


def resize_for(img: np.ndarray, opts: DataOptions) -> np.ndarray:
    """Aspect-preserving resize: min side → target (crop mode) or max side → target (pad)."""
    h, w = img.shape[:2]
    side = min(h, w) if opts.mode == "crop" else max(h, w)
    scale = opts.target / side
    size = (max(opts.size, round(w * scale)), max(opts.size, round(h * scale)))
    if opts.mode == "pad":
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return img
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


def augment(img: np.ndarray, opts: DataOptions, rng: np.random.Generator) -> np.ndarray:
    """A size x size RGB uint8 image: a random patch (or the padded whole), maybe flipped."""
    h, w = img.shape[:2]
    s = opts.size
    if opts.mode == "crop":
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        out = img[y : y + s, x : x + s]
    else:
        t = opts.target
        out = np.zeros((t, t, 3), np.uint8)
        y, x = (t - h) // 2, (t - w) // 2
        out[y : y + h, x : x + w] = img
        if t != s:
            out = cv2.resize(out, (s, s), interpolation=cv2.INTER_AREA)
    if opts.flip and rng.random() < 0.5:
        out = out[:, ::-1]
    return out


class ImageFolder(Dataset):
    """Images and sampled video frames under a folder. Indexed by (index, seed) keys from
    `BatchOrder` so crops and flips are the same whatever worker decodes them."""

    def __init__(self, root: str | os.PathLike, opts: DataOptions, probe_threads: int = 0) -> None:
        self.root, self.opts = Path(root), opts
        # OpenCV's own thread pool does not survive fork(): a worker that touches it hangs.
        # One thread per decode, here and in the workers (the probe runs its own pool).
        cv2.setNumThreads(1)
        images, videos = scan(self.root)
        if not images and not videos:
            raise DataError(
                f"{self.root}: no images ({', '.join(sorted(IMAGE_EXT))}) or videos"
                f" ({', '.join(sorted(VIDEO_EXT))}) found"
            )
        min_side = opts.min_side if opts.min_side is not None else opts.size // 2
        unreadable: list[Path] = []
        tiny: list[Path] = []
        self.items: list[Item] = []
        self.cache: list[np.ndarray] | None = []
        budget = opts.cache_mb * 2**20

        def probe(path: Path) -> tuple[Path, np.ndarray | None]:
            return path, read_image(path)

        threads = probe_threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(threads) as pool:
            for path, img in pool.map(probe, images):
                if img is None:
                    unreadable.append(path)
                elif min(img.shape[:2]) < min_side:
                    tiny.append(path)
                else:
                    self._add(Item(path, -1, img.shape[1], img.shape[0]), img, budget)
        for path in videos:
            frames, w, h = video_frames(path, opts.video_fps)
            if not frames:
                unreadable.append(path)
            elif min(w, h) < min_side:
                tiny.append(path)
            else:
                decoded = read_frames(path, frames) if self.cache is not None else {}
                for f in frames:
                    if self.cache is not None and f not in decoded:
                        continue  # past the real end of the stream
                    self._add(Item(path, f, w, h), decoded.get(f), budget)
        self.skipped = unreadable + tiny
        if self.skipped:
            first = ", ".join(str(p) for p in self.skipped[:5])
            log.warning(
                "%s: skipped %d of %d files (%d unreadable, %d smaller than %d px): %s%s",
                self.root,
                len(self.skipped),
                len(images) + len(videos),
                len(unreadable),
                len(tiny),
                min_side,
                first,
                " ..." if len(self.skipped) > 5 else "",
            )
        if not self.items:
            raise DataError(
                f"{self.root}: no usable images: {len(unreadable)} unreadable and {len(tiny)}"
                f" smaller than {min_side} px of {len(images) + len(videos)} files"
                + (f" (first: {first})" if self.skipped else "")
            )

    def _add(self, item: Item, img: np.ndarray | None, budget: int) -> None:
        self.items.append(item)
        if self.cache is None:
            return
        if img is None:
            self.cache = None
            return
        small = resize_for(img, self.opts)
        self.cache.append(np.ascontiguousarray(small))
        self._cached = getattr(self, "_cached", 0) + small.nbytes
        if self._cached > budget:
            log.info("%s: more than %d MB resized; decoding in workers", self.root, budget >> 20)
            self.cache = None

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> np.ndarray | None:
        """The resized RGB image of item `index` (from the cache, or decoded now)."""
        if self.cache is not None:
            return self.cache[index]
        item = self.items[index]
        if item.frame >= 0:
            img = read_frame(item.path, item.frame)
        else:
            side = (
                min(item.width, item.height)
                if self.opts.mode == "crop"
                else max(item.width, item.height)
            )
            reduce = max([r for r in (1, 2, 4, 8) if side / r >= self.opts.target] or [1])
            img = read_image(
                item.path, reduce if item.path.suffix.lower() in (".jpg", ".jpeg") else 1
            )
        return None if img is None else resize_for(img, self.opts)

    def __getitem__(self, key: int | tuple[int, int]) -> torch.Tensor:
        index, seed = key if isinstance(key, tuple) else (key, key)
        rng = np.random.default_rng(seed)
        img = self.load(index)
        tries = 0
        while img is None and tries < 10:  # a file changed after the check: use another one
            log.warning("%s: unreadable now; using another image", self.items[index].path)
            index = int(rng.integers(len(self.items)))
            img, tries = self.load(index), tries + 1
        if img is None:
            raise DataError(f"{self.root}: images keep failing to decode")
        out = augment(img, self.opts, rng)
        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def to_model_range(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) → float in [-1, 1]."""
    return batch.float().mul_(2.0 / 255.0).sub_(1.0)


class BatchOrder(Sampler):
    """An endless, reproducible batch order: epoch e is a permutation seeded by (seed, e); rank
    r of `world` takes every world-th batch. `start` skips batches already trained on (resume).
    Each key carries a per-sample seed for the random crop and flip."""

    def __init__(
        self, n: int, batch: int, seed: int = 0, start: int = 0, rank: int = 0, world: int = 1
    ) -> None:
        self.n, self.batch, self.seed, self.start = n, batch, seed, start
        self.rank, self.world = rank, world
        self.per_epoch = max(1, n // (batch * world))  # batches per rank per epoch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        pos = self.start
        while True:
            epoch, b = divmod(pos, self.per_epoch)
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            if len(perm) < self.batch * self.world:  # tiny dataset: repeat it to fill a batch
                perm = np.resize(perm, self.batch * self.world)
            j = (b * self.world + self.rank) * self.batch
            keys = [
                (int(perm[j + k]), (self.seed * 1_000_003 + epoch) * 65_536 + j + k)
                for k in range(self.batch)
            ]
            yield [(i, s % 2**63) for i, s in keys]
            pos += 1

    def __len__(self) -> int:  # DataLoader asks; the order is endless
        return 2**31


def _worker_init(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the training loop's to handle
    torch.set_num_threads(1)


def loader(dataset: ImageFolder, order: BatchOrder, workers: int, pin: bool = False) -> DataLoader:
    """Batches of uint8 images, decoded and augmented in `workers` processes."""
    return DataLoader(
        dataset,
        batch_sampler=order,
        num_workers=workers,
        pin_memory=pin,
        worker_init_fn=_worker_init if workers else None,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers else None,
        # its own generator: creating the iterator must not draw from the global RNG (resume)
        generator=torch.Generator().manual_seed(order.seed),
    )
