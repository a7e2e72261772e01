"""Datasets from folders of images and video files: aspect-preserving resize, random patches or
pad-to-square, flips. Every file's header is checked before training (a readable image or video,
and its size; nothing is decoded, so 200k images start in seconds); bad ones are skipped with one
summary warning. Data that fits in memory is decoded once up front; the rest in DataLoader
workers.
"""

from __future__ import annotations

import logging
import os
import signal
import statistics
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
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


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None when it is not a readable image. Nothing
    is decoded (PIL reads the header only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return img.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def read_image(path: Path, reduce: int = 1) -> np.ndarray | None:
    """RGB uint8 HxWx3, or None when unreadable. `reduce` (2, 4, 8) decodes a JPEG at reduced
    size (much faster when the target is small)."""
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}.get(reduce)
    flag = cv2.IMREAD_REDUCED_COLOR_8 if reduce >= 8 else (flag or cv2.IMREAD_COLOR)
    data = np.fromfile(str(path), np.uint8) if path.is_file() else None
    img = cv2.imdecode(data, flag) if data is not None and data.size else None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def video_frames(path: Path, fps: float) -> tuple[list[int], int, int]:
    """Indices of the frames to sample at `fps`, and the frame size; ([], 0, 0) if unreadable.
    Reads the container's properties; decodes a frame only when they give no size."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return [], 0, 0
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w <= 0 or h <= 0:
            ok, frame = cap.read()
            if not ok or frame is None:
                return [], 0, 0
            h, w = frame.shape[:2]
        native = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 1
        step = max(1.0, native / max(fps, 1e-6))
        return [int(round(i * step)) for i in range(int(count / step) or 1)], w, h
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


def resized_size(w: int, h: int, opts: DataOptions) -> tuple[int, int]:
    """(width, height) of a w x h image after `resize_for`."""
    side = min(h, w) if opts.mode == "crop" else max(h, w)
    scale = opts.target / side
    if opts.mode == "pad":
        return max(1, round(w * scale)), max(1, round(h * scale))
    return max(opts.size, round(w * scale)), max(opts.size, round(h * scale))


def jpeg_reduce(item: Item, opts: DataOptions) -> int:
    """The largest JPEG decode reduction (1, 2, 4, 8) that still gives ≥ the target size."""
    if item.path.suffix.lower() not in (".jpg", ".jpeg"):
        return 1
    side = min(item.width, item.height) if opts.mode == "crop" else max(item.width, item.height)
    return max([r for r in (1, 2, 4, 8) if side / r >= opts.target] or [1])


def resize_for(img: np.ndarray, opts: DataOptions) -> np.ndarray:
    """Aspect-preserving resize: min side → target (crop mode) or max side → target (pad)."""
    h, w = img.shape[:2]
    scale = opts.target / (min(h, w) if opts.mode == "crop" else max(h, w))
    size = resized_size(w, h, opts)
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
        self.videos = 0
        threads = probe_threads or min(8, 2 * (os.cpu_count() or 1))
        with ThreadPoolExecutor(threads) as pool:  # headers only: I/O bound
            for path, size in zip(images, pool.map(image_size, images), strict=True):
                if size is None:
                    unreadable.append(path)
                elif min(size) < min_side:
                    tiny.append(path)
                else:
                    self.items.append(Item(path, -1, *size))
        for path in videos:
            frames, w, h = video_frames(path, opts.video_fps)
            if not frames:
                unreadable.append(path)
            elif min(w, h) < min_side:
                tiny.append(path)
            else:
                self.videos += 1
                self.items.extend(Item(path, f, w, h) for f in frames)
        self.skipped = unreadable + tiny
        self.files = len(images) + len(videos)
        first = ", ".join(str(p) for p in self.skipped[:5])
        if self.skipped:
            log.warning(
                "%s: skipped %d of %d files (%d unreadable, %d smaller than %d px): %s%s",
                self.root,
                len(self.skipped),
                self.files,
                len(unreadable),
                len(tiny),
                min_side,
                first,
                " ..." if len(self.skipped) > 5 else "",
            )
        if not self.items:
            raise DataError(
                f"{self.root}: no usable images: {len(unreadable)} unreadable and {len(tiny)}"
                f" smaller than {min_side} px of {self.files} files"
                + (f" (first: {first})" if self.skipped else "")
            )
        self.cache: list[np.ndarray] | None = None
        need = sum(
            3 * w * h for w, h in (resized_size(i.width, i.height, opts) for i in self.items)
        )
        if need <= opts.cache_mb * 2**20:
            self.cache = self._decode_all(threads)
        else:
            log.info("%s: %d MB resized; decoding in workers", self.root, need >> 20)

    def _decode_all(self, threads: int) -> list[np.ndarray] | None:
        """Every item decoded and resized, in order (None if one fails: workers decode then)."""
        out: list[np.ndarray | None] = [None] * len(self.items)
        stills = [k for k, it in enumerate(self.items) if it.frame < 0]

        def decode(k: int) -> np.ndarray | None:
            item = self.items[k]
            img = read_image(item.path, jpeg_reduce(item, self.opts))
            return None if img is None else np.ascontiguousarray(resize_for(img, self.opts))

        with ThreadPoolExecutor(threads) as pool:
            for k, img in zip(stills, pool.map(decode, stills), strict=True):
                out[k] = img
        by_video: dict[Path, list[int]] = {}
        for k, it in enumerate(self.items):
            if it.frame >= 0:
                by_video.setdefault(it.path, []).append(k)
        for path, ks in by_video.items():
            decoded = read_frames(path, [self.items[k].frame for k in ks])
            for k in ks:
                img = decoded.get(self.items[k].frame)
                out[k] = None if img is None else np.ascontiguousarray(resize_for(img, self.opts))
        missing = [k for k, img in enumerate(out) if img is None]
        if missing:  # frames past a stream's real end, or a file that fails to decode after all
            gone = {k for k in missing if self.items[k].frame >= 0}
            if len(gone) == len(missing):
                self.items = [it for k, it in enumerate(self.items) if k not in gone]
                return [img for img in out if img is not None]
            log.info("%s: %d files fail to decode; decoding in workers", self.root, len(missing))
            return None
        return out  # type: ignore[return-value]

    def describe(self) -> str:
        """One line for the opening of a run: the folder, how many images and frames, sizes."""
        stills = [it for it in self.items if it.frame < 0]
        frames = len(self.items) - len(stills)
        parts = [f"{len(stills)} images"] if stills else []
        if frames:
            parts.append(f"{frames} frames of {self.videos} videos")
        sides = [min(it.width, it.height) for it in self.items]
        lo, mid, hi = min(sides), int(statistics.median(sides)), max(sides)
        size = f"short side {lo} px" if lo == hi else f"short side {lo}-{hi} px, median {mid}"
        where = "decoded into memory" if self.cache is not None else "decoded by workers"
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        small = ""
        if mid < self.opts.size:
            small = f"; most are smaller than --size {self.opts.size}: they are upscaled"
        return f"data {self.root}: {' + '.join(parts)} ({size}{skipped}), {where}{small}"

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
            img = read_image(item.path, jpeg_reduce(item, self.opts))
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
