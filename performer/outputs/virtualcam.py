"""Virtual camera output: the show's frames as a webcam other programs (OBS, a video call) can
pick, through `pyvirtualcam` (v4l2loopback on Linux, the OBS virtual camera on Windows and
macOS).

`present` only hands the frame to a `FrameWorker`; its thread resizes the frame to the
camera's size if they differ and sends it. Pacing is the show's: the worker never calls
`sleep_until_next_frame`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import cv2
import numpy as np

from performer.core.health import OFF, OK, PartHealth
from performer.outputs import Frame, FrameWorker, OutputUnavailable

log = logging.getLogger("stage.outputs.virtualcam")

INSTALL = (
    "virtual camera output needs the pyvirtualcam package: pip install 'latent-stage[virtualcam]'"
)
GOES_ON = "the show goes on without it"
NO_DEVICE = {  # per platform: what is missing, and how to get it
    "linux": "no v4l2loopback device (sudo apt install v4l2loopback-dkms && "
    "sudo modprobe v4l2loopback exclusive_caps=1)",
    "win32": "no OBS virtual camera (install OBS Studio 26 or newer and start its Virtual "
    "Camera once)",
    "darwin": "no OBS virtual camera (install OBS Studio 30 or newer, start its Virtual Camera "
    "once and allow its system extension)",
}


def unavailable_line(error: str, device: str | None, platform: str = sys.platform) -> str:
    """One line for a camera that would not open: what to install on this platform, or, when
    a device is there but failed, the library's own reason."""
    reason = " ".join(error.split())  # pyvirtualcam joins its backends' errors with newlines
    where = f" at {device}" if device else ""
    if platform.startswith("linux"):
        if "no v4l2 loopback device" in reason.lower() or "does not exist" in reason:
            hint = NO_DEVICE["linux"].replace("device", f"device{where}", 1)
            return f"virtual camera: {hint}; {GOES_ON}"
        return f"virtual camera{where}: {reason}; {GOES_ON}"
    hint = NO_DEVICE.get(platform, "no virtual camera backend on this platform")
    return f"virtual camera: {hint} ({reason}); {GOES_ON}"


class VirtualCamOutput:
    """A virtual camera carrying the show's output at `size` ((width, height); default the
    show's size), on `device` (Linux: e.g. /dev/video2; default the first loopback device)."""

    def __init__(
        self,
        *,
        device: str | None = None,
        size: tuple[int, int] | None = None,
        name: str = "virtualcam",
    ) -> None:
        self.name = name
        self.device = device
        self.size = (int(size[0]), int(size[1])) if size else None
        self._cam: Any = None
        self._worker: FrameWorker | None = None

    def open(self, size: tuple[int, int], fps: float) -> None:
        """Open the camera and start the worker; OutputUnavailable with one line saying what to
        install when the package or the device is missing."""
        self.close()
        try:
            import pyvirtualcam
        except ImportError as e:
            raise OutputUnavailable(f"{INSTALL}; {GOES_ON}") from e
        width, height = self.size or size
        try:
            cam = pyvirtualcam.Camera(
                width, height, fps, device=self.device, fmt=pyvirtualcam.PixelFormat.RGB
            )
        except Exception as e:
            raise OutputUnavailable(unavailable_line(str(e), self.device)) from e
        self._cam = cam
        self._worker = FrameWorker(self.name, self._send)
        log.info("virtual camera: sending %dx%d to %s", width, height, self._device_name())

    def _device_name(self) -> str:
        try:
            return str(self._cam.device)
        except Exception:
            return self.device or "the virtual camera"

    wants_pixels = True

    def present(self, frame: Frame) -> None:
        """Hand the frame to the worker (never waits); its pixels must not change afterwards."""
        if self._worker is not None and frame.pixels is not None:
            self._worker.put(frame.pixels, frame.t)

    def _send(self, pixels: np.ndarray, t: float) -> None:
        """On the worker thread: fit the frame to the camera and send it."""
        cam = self._cam
        if (pixels.shape[1], pixels.shape[0]) != (cam.width, cam.height):
            pixels = cv2.resize(pixels, (cam.width, cam.height), interpolation=cv2.INTER_AREA)
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            pixels = pixels[..., :3]
        cam.send(np.ascontiguousarray(pixels))

    def health(self) -> PartHealth:
        """The worker's health and figures; the device is named when not ok."""
        if self._worker is None:
            return PartHealth(OFF, "not open")
        report = self._worker.health()
        if report.state in (OK, OFF):
            return report
        return PartHealth(report.state, f"{self._device_name()}: {report.detail}", report.figures)

    def close(self) -> None:
        """Stop the worker and close the camera; safe to call twice."""
        worker, cam = self._worker, self._cam
        self._worker = self._cam = None
        if worker is not None:
            worker.close()
        if cam is not None:
            if worker is not None and worker.alive:  # stuck inside a send: leave it be
                log.warning("virtual camera: %r is stuck in a send; left open", self.name)
                return
            cam.close()
