"""Asynchronous read-back of a framebuffer: the pixels go into pixel-buffer objects now and
are collected a frame or two later, so the render loop does not wait for the GPU to finish
(a plain glReadPixels does). The result matches `Display.read_pixels`: HxWx3 uint8 RGB,
row 0 = top.
"""

from __future__ import annotations

import collections
from typing import Any

import moderngl
import numpy as np


class Readback:
    """A ring of `depth` pixel buffers for one framebuffer size.

    Each frame: `request(fbo, tag)` starts a read of the framebuffer as it is now; `collect()`
    returns the oldest read once `depth` reads are under way (None before), with its tag (the
    show time, say). At the end, `drain()` returns the reads still pending. The context must be
    current for every call (the Display's, on the main thread)."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.size = (int(size[0]), int(size[1]))  # (width, height)
        self.depth = depth
        nbytes = self.size[0] * self.size[1] * 3
        self._free = [ctx.buffer(reserve=nbytes) for _ in range(depth)]
        self._pending: collections.deque[tuple[moderngl.Buffer, Any]] = collections.deque()
        self._ready: collections.deque[tuple[np.ndarray, Any]] = collections.deque()
        self.early = 0  # reads collected at request() because all buffers were in use

    def request(self, fbo: moderngl.Framebuffer, tag: Any = None) -> None:
        """Start reading `fbo`'s first colour attachment (RGB, the whole framebuffer)."""
        if fbo.size != self.size:
            raise ValueError(f"framebuffer is {fbo.size}, the read-back is for {self.size}")
        if not self._free:  # every buffer in use: finish the oldest read now
            self._ready.append(self._take())
            self.early += 1
        buffer = self._free.pop()
        fbo.read_into(buffer, viewport=(0, 0, *self.size), components=3, alignment=1)
        self._pending.append((buffer, tag))

    def collect(self) -> tuple[np.ndarray, Any] | None:
        """The oldest finished read as (pixels, tag), once `depth` reads are under way."""
        if self._ready:
            return self._ready.popleft()
        if len(self._pending) < self.depth:
            return None
        return self._take()

    def drain(self) -> list[tuple[np.ndarray, Any]]:
        """Every read not yet collected, oldest first."""
        out = list(self._ready)
        self._ready.clear()
        while self._pending:
            out.append(self._take())
        return out

    @property
    def pending(self) -> int:
        """Reads requested and not yet collected."""
        return len(self._pending) + len(self._ready)

    def release(self) -> None:
        """Free the buffers (pending reads are lost); safe to call twice."""
        for buffer, _ in self._pending:
            buffer.release()
        for buffer in self._free:
            buffer.release()
        self._pending.clear()
        self._ready.clear()
        self._free = []

    def _take(self) -> tuple[np.ndarray, Any]:
        buffer, tag = self._pending.popleft()
        data = buffer.read()  # waits for this read only; it was started a frame ago
        self._free.append(buffer)
        w, h = self.size
        # GL's rows run bottom-up: flip by a view (read-only, no copy on the render thread).
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1], tag
