"""Datasets: images and video frames in, patches or padded squares out; bad folders give one
clear error or one summary warning; workers decode; the batch order resumes exactly."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from tests.training.conftest import write_video
from training.data import BatchOrder, DataError, DataOptions, ImageFolder, loader, to_model_range


def test_images_and_video_frames(photos: Path, tmp_path: Path):
    root = tmp_path / "mixed"
    shutil.copytree(photos, root)
    write_video(root / "clip.mp4", frames=12, fps=6.0)
    ds = ImageFolder(root, DataOptions(32, video_fps=3.0))
    # 6 photos + 12 frames at 6 fps sampled at 3 fps = 6 frames
    assert len(ds) == 12
    assert sum(i.frame >= 0 for i in ds.items) == 6
    x = ds[(0, 1)]
    assert x.shape == (3, 32, 32) and x.dtype == torch.uint8
    y = to_model_range(x[None])
    assert -1.0 <= float(y.min()) < float(y.max()) <= 1.0
    assert torch.equal(ds[(3, 7)], ds[(3, 7)])  # the key's seed fixes crop and flip
    assert not all(torch.equal(ds[(0, s)], ds[(0, 1)]) for s in range(2, 8))  # patches vary
    uncached = ImageFolder(root, DataOptions(32, video_fps=3.0, cache_mb=0))
    assert uncached.cache is None and len(uncached) == 12
    last = len(ds) - 1  # a late video frame: the worker path seeks to it
    assert ds.items[last].frame > 0
    diff = (ds[(last, 3)].float() - uncached[(last, 3)].float()).abs().mean()
    assert float(diff) < 2.0


def test_pad_mode_keeps_the_whole_image(photos: Path):
    ds = ImageFolder(photos, DataOptions(32, mode="pad", flip=False))
    x = ds[(0, 0)]  # astronaut is square; coffee (index 1) is wide: bars top and bottom
    wide = next(i for i, it in enumerate(ds.items) if it.width > it.height)
    padded = ds[(wide, 0)]
    assert x.shape == padded.shape == (3, 32, 32)
    assert int(padded[:, 0].max()) == 0 and int(padded[:, 16].max()) > 0


def test_empty_folder_is_a_clear_error(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no images .* or videos .* found"):
        ImageFolder(tmp_path, DataOptions(32))
    with pytest.raises(DataError, match="no such file or folder"):
        ImageFolder(tmp_path / "missing", DataOptions(32))


def test_all_corrupt_is_a_clear_error(tmp_path: Path):
    for i in range(3):
        (tmp_path / f"bad{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg" * i)
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"no usable images: 4 unreadable and 0 smaller"):
        ImageFolder(tmp_path, DataOptions(32))


def test_mixed_folder_skips_with_one_warning(photos: Path, tmp_path: Path, caplog):
    root = tmp_path / "mixed"
    shutil.copytree(photos, root)
    (root / "broken.png").write_bytes(b"\x89PNG truncated")
    import cv2
    import numpy as np

    cv2.imwrite(str(root / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    with caplog.at_level(logging.WARNING, logger="training.data"):
        ds = ImageFolder(root, DataOptions(32))
    assert len(ds) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipped 2 of 8 files (1 unreadable, 1 smaller than 16 px)" in warnings[0]
    assert "broken.png" in warnings[0] and "tiny.png" in warnings[0]


def test_workers_decode_uncached(photos: Path):
    ds = ImageFolder(photos, DataOptions(32, cache_mb=0))  # nothing cached: workers decode
    assert ds.cache is None
    batches = loader(ds, BatchOrder(len(ds), 4, seed=1), workers=1)
    it = iter(batches)
    a, b = next(it), next(it)
    assert a.shape == (4, 3, 32, 32) and not torch.equal(a, b)
    same = [ds[k] for k in next(iter(BatchOrder(len(ds), 4, seed=1)))]
    assert torch.equal(a, torch.stack(same))  # worker output = the order's keys, decoded here


def test_batch_order_resumes_and_shards():
    full = iter(BatchOrder(10, 3, seed=5))
    batches = [next(full) for _ in range(7)]
    resumed = iter(BatchOrder(10, 3, seed=5, start=4))
    assert [next(resumed) for _ in range(3)] == batches[4:]
    r0 = next(iter(BatchOrder(12, 3, seed=1, rank=0, world=2)))
    r1 = next(iter(BatchOrder(12, 3, seed=1, rank=1, world=2)))
    assert not {i for i, _ in r0} & {i for i, _ in r1}


def test_the_check_reads_headers_only(photos: Path, monkeypatch):
    """Data too big for memory is not decoded before training: each file's header says it is a
    readable image and its size. Data that fits is decoded once, up front."""
    import cv2

    import training.data as data

    decoded = []
    read = data.read_image
    monkeypatch.setattr(data, "read_image", lambda *a: decoded.append(a[0]) or read(*a))
    ds = ImageFolder(photos, DataOptions(32, cache_mb=0))
    assert decoded == [] and ds.cache is None and len(ds) == 6
    for item in ds.items:
        h, w = cv2.imread(str(item.path)).shape[:2]
        assert (item.width, item.height) == (w, h)
    cached = ImageFolder(photos, DataOptions(32))
    assert cached.cache is not None and sorted(decoded) == sorted(i.path for i in ds.items)
    assert "6 images (short side 48 px)" in cached.describe()
