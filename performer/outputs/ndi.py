"""NDI output: the show's frames as an NDI source on the venue's network, through the
`ndi-python` wheel (`import NDIlib`, which bundles the NDI runtime).

`present` only hands the frame to a `FrameWorker`; its thread converts RGB to RGBX (RGBA with
`alpha`), resizes to the output's own size if it has one, and sends (`send_send_video_v2`
copies the frame before it returns, so one buffer is reused). The show time travels as the
frame's NDI timecode (100 ns units). Receivers on other machines find the source by name
(mDNS); `listening_address` gives the TCP address a receiver can connect to directly.
"""

from __future__ import annotations

import logging
import os
import threading
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from performer.core.health import OFF, OK, PartHealth
from performer.outputs import Frame, FrameWorker, OutputUnavailable

log = logging.getLogger("stage.outputs.ndi")

INSTALL = "NDI output needs the ndi-python package: pip install 'latent-stage[ndi]'"
MESSAGING_PORT = 5960  # every NDI process listens here too; a sender's video port is another

_lib_lock = threading.Lock()
_lib_users = 0  # NdiOutputs open in this process: NDI is initialised once, destroyed by the last


def _acquire_ndi() -> Any:
    """The NDIlib module, initialised (reference-counted); OutputUnavailable if it cannot be."""
    global _lib_users
    try:
        import NDIlib as ndi
    except (ImportError, OSError) as e:
        raise OutputUnavailable(f"{INSTALL} ({e})") from e
    with _lib_lock:
        if _lib_users == 0 and not ndi.initialize():
            why = "" if ndi.is_supported_CPU() else " (this CPU lacks the SSE4.2 NDI needs)"
            raise OutputUnavailable(f"NDI output: the NDI runtime did not start{why}")
        _lib_users += 1
    return ndi


def _release_ndi(ndi: Any) -> None:
    global _lib_users
    with _lib_lock:
        _lib_users -= 1
        if _lib_users == 0:
            ndi.destroy()


def _listening_ports() -> set[int]:
    """The TCP ports this process listens on (Linux: /proc; elsewhere an empty set)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports
    except OSError:
        return set()


def frame_rate(fps: float) -> tuple[int, int]:
    """NDI's frame rate as numerator/denominator: 60 → (60, 1), 29.97 → (2997, 100)."""
    f = Fraction(fps).limit_denominator(1001)
    return f.numerator, f.denominator


class NdiOutput:
    """An NDI source named `source_name` carrying the show's output (at `size`, (width,
    height), if given; else the show's size). With `alpha` it sends RGBA: a frame with a fourth
    channel keeps it, an RGB frame is opaque."""

    def __init__(
        self,
        source_name: str,
        *,
        size: tuple[int, int] | None = None,
        alpha: bool = False,
        name: str = "ndi",
    ) -> None:
        self.name = name
        self.source_name = source_name
        self.size = (int(size[0]), int(size[1])) if size else None
        self.alpha = alpha
        self.full_name = ""  # the name receivers see: "HOST (source_name)"
        self.port: int | None = None  # the TCP port the sender listens on, where known
        self._ndi: Any = None
        self._sender: Any = None
        self._worker: FrameWorker | None = None
        self._frame: Any = None  # the NDI video frame (its settings; data set per send)
        self._buf: np.ndarray | None = None  # the converted pixels (kept alive while sent)

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Start NDI, create the sender and its worker thread; OutputUnavailable when NDI
        cannot work here."""
        self.close()
        ndi = _acquire_ndi()
        sender = None
        try:
            settings = ndi.SendCreate()
            settings.ndi_name = self.source_name
            settings.clock_video = False  # the show paces the frames; never wait in the send
            before = _listening_ports()
            sender = ndi.send_create(settings)
            if sender is None:
                why = f"NDI output: cannot create the sender {self.source_name!r}"
                raise OutputUnavailable(why)
            new = _listening_ports() - before
            new = (new - {MESSAGING_PORT}) or new
            self.port = max(new) if new else None
            source = ndi.send_get_source_name(sender)
            self.full_name = getattr(source, "ndi_name", "") or self.source_name
            frame = ndi.VideoFrameV2()
            frame.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBA if self.alpha else ndi.FOURCC_VIDEO_TYPE_RGBX
            frame.frame_rate_N, frame.frame_rate_D = frame_rate(fps)
            frame.frame_format_type = ndi.FRAME_FORMAT_TYPE_PROGRESSIVE
        except BaseException:
            if sender is not None:
                ndi.send_destroy(sender)
            _release_ndi(ndi)
            raise
        self._ndi, self._sender = ndi, sender
        self._frame, self._buf = frame, None
        self._worker = FrameWorker(self.name, self._send)
        address = listening_address(self)
        log.info(
            "NDI: sending %r (receivers on another machine find it by name%s)",
            self.full_name,
            f"; by address: {address}" if address else "",
        )

    wants_pixels = True

    def present(self, frame: Frame) -> None:
        """Hand the frame to the worker (never waits); its pixels must not change afterwards."""
        if self._worker is not None and frame.pixels is not None:
            self._worker.put(frame.pixels, frame.t)

    def _send(self, pixels: np.ndarray, t: float) -> None:
        """On the worker thread: convert, resize, send (the NDI call copies the frame)."""
        if self.size and (pixels.shape[1], pixels.shape[0]) != self.size:
            pixels = cv2.resize(pixels, self.size, interpolation=cv2.INTER_AREA)
        h, w, channels = pixels.shape
        if self._buf is None or self._buf.shape[:2] != (h, w):
            self._buf = np.empty((h, w, 4), np.uint8)
            self._frame.data = self._buf  # the frame keeps a raw pointer: _buf stays alive
        if channels == 4:
            np.copyto(self._buf, pixels)
            if not self.alpha:
                self._buf[..., 3] = 255
        else:
            cv2.cvtColor(pixels, cv2.COLOR_RGB2RGBA, dst=self._buf)  # alpha 255: opaque
        self._frame.timecode = round(t * 1e7)
        self._ndi.send_send_video_v2(self._sender, self._frame)

    def health(self) -> PartHealth:
        """The worker's health and figures, plus `connections` (receivers now)."""
        if self._worker is None:
            return PartHealth(OFF, "not open")
        connections = self._ndi.send_get_no_connections(self._sender, 0)
        report = self._worker.health({"connections": connections})
        if report.state in (OK, OFF):
            return report
        return PartHealth(report.state, f"{self.source_name!r}: {report.detail}", report.figures)

    def close(self) -> None:
        """Stop the worker, destroy the sender, release NDI; safe to call twice."""
        worker, sender, ndi = self._worker, self._sender, self._ndi
        self._worker = self._sender = self._ndi = None
        if worker is not None:
            worker.close()
        if sender is not None:
            if worker is not None and worker.alive:  # stuck inside a send: leak, never crash
                log.warning("NDI: %r is stuck in a send; its sender is left open", self.name)
                return
            ndi.send_destroy(sender)
            _release_ndi(ndi)


def listening_address(output: NdiOutput, host: str = "127.0.0.1") -> str | None:
    """Where a receiver on `host` can connect to `output` directly ("127.0.0.1:5961"), for a
    network without mDNS; None when not open or the port is not known (not Linux)."""
    if output.port is None or output._sender is None:
        return None
    return f"{host}:{output.port}"
