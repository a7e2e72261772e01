"""The virtual camera output: without a device (or the package) `open` is one clear line; with
a fake camera, frames reach `send` through the worker (fitted to the camera's size), and a
failing send is reported failed, then recovers."""

from __future__ import annotations

import glob
import sys
import threading
import time
import types
from enum import Enum

import numpy as np
import pytest

from performer.core.health import FAILED, OFF, OK
from performer.outputs import Frame, OutputUnavailable
from performer.outputs.virtualcam import VirtualCamOutput, unavailable_line

W, H, FPS = 320, 180, 30


def until(condition, timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds (a guard against hanging, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class FakeCamera:
    """pyvirtualcam.Camera's shape: records what it is sent; `fail` makes `send` raise."""

    made: list[FakeCamera] = []

    def __init__(self, width, height, fps, *, fmt=None, device=None, **kw) -> None:
        self.width, self.height, self.fps, self.fmt = width, height, fps, fmt
        self.device = device or "/dev/video-fake"
        self.frames: list[np.ndarray] = []
        self.fail = False
        self.closed = 0
        FakeCamera.made.append(self)

    def send(self, frame: np.ndarray) -> None:
        if self.fail:
            raise RuntimeError("device went away")
        assert frame.shape == (self.height, self.width, 3) and frame.flags.c_contiguous
        self.frames.append(frame.copy())

    def sleep_until_next_frame(self) -> None:
        raise AssertionError("the output must not pace itself")

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_pyvirtualcam(monkeypatch):
    module = types.ModuleType("pyvirtualcam")
    module.Camera = FakeCamera
    module.PixelFormat = Enum("PixelFormat", "RGB BGR RGBA")
    monkeypatch.setitem(sys.modules, "pyvirtualcam", module)
    FakeCamera.made = []
    return module


def test_no_device_is_one_clear_line() -> None:
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        expected = "pip install 'latent-stage[virtualcam]'"
    else:
        if sys.platform.startswith("linux") and glob.glob("/dev/video*"):
            pytest.skip("this machine has video devices (maybe a v4l2loopback)")
        expected = "v4l2loopback" if sys.platform.startswith("linux") else "OBS"
    out = VirtualCamOutput()
    with pytest.raises(OutputUnavailable) as e:
        out.open((W, H), FPS)
    line = str(e.value)
    assert expected in line and "\n" not in line
    assert "the show goes on without it" in line
    assert out.health().state == OFF
    out.close()


def test_missing_package_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import pyvirtualcam raises
    with pytest.raises(OutputUnavailable, match=r"pip install 'latent-stage\[virtualcam\]'"):
        VirtualCamOutput().open((W, H), FPS)


def test_unavailable_lines_per_platform() -> None:
    missing = "'v4l2loopback' backend: No v4l2 loopback device found at /dev/video[0-99]."
    assert unavailable_line(missing, None, "linux") == (
        "virtual camera: no v4l2loopback device (sudo apt install v4l2loopback-dkms && "
        "sudo modprobe v4l2loopback exclusive_caps=1); the show goes on without it"
    )
    gone = "'v4l2loopback' backend: Device /dev/video9 does not exist."
    assert "no v4l2loopback device at /dev/video9 (sudo apt" in unavailable_line(
        gone, "/dev/video9", "linux"
    )
    busy = "'v4l2loopback' backend: Device /dev/video2 is busy.\nsecond line"
    assert unavailable_line(busy, "/dev/video2", "linux") == (
        "virtual camera at /dev/video2: 'v4l2loopback' backend: Device /dev/video2 is busy. "
        "second line; the show goes on without it"
    )
    assert "OBS Studio" in unavailable_line("'obs' backend: not installed", None, "win32")
    assert "OBS Studio" in unavailable_line("'obs' backend: not installed", None, "darwin")


def test_frames_reach_send_through_the_worker(fake_pyvirtualcam) -> None:
    out = VirtualCamOutput(size=(160, 90), device="/dev/video5")
    out.open((W, H), FPS)
    try:
        (cam,) = FakeCamera.made
        assert (cam.width, cam.height, cam.fps, cam.device) == (160, 90, FPS, "/dev/video5")
        assert cam.fmt == fake_pyvirtualcam.PixelFormat.RGB
        for k in range(5):
            frame = np.full((H, W, 3), 40 * k, np.uint8)
            out.present(Frame(0, k / FPS, frame[::-1]))  # a flipped view, as the read-back gives
            assert until(lambda k=k: len(cam.frames) == k + 1)
        assert [int(f[0, 0, 0]) for f in cam.frames] == [0, 40, 80, 120, 160]
        report = out.health()
        assert report.state == OK and report.figures["sent"] == 5
    finally:
        out.close()
    out.close()  # safe twice
    assert cam.closed == 1
    assert out.health().state == OFF


def test_a_failing_send_is_failed_then_recovers(fake_pyvirtualcam) -> None:
    out = VirtualCamOutput()
    out.open((W, H), FPS)
    try:
        (cam,) = FakeCamera.made
        cam.fail = True
        out.present(Frame(0, 0.0, np.zeros((H, W, 3), np.uint8)))
        assert until(lambda: out.health().state == FAILED)
        report = out.health()
        assert "device went away" in report.detail and "/dev/video-fake" in report.detail
        cam.fail = False
        out.present(Frame(0, 1 / FPS, np.zeros((H, W, 3), np.uint8)))
        assert until(lambda: out.health().figures["sent"] == 1)
        assert out.health().state == OK
    finally:
        out.close()


def test_present_never_waits_on_a_slow_camera(fake_pyvirtualcam, monkeypatch) -> None:
    gate, entered = threading.Event(), threading.Event()
    out = VirtualCamOutput()
    out.open((W, H), FPS)
    (cam,) = FakeCamera.made
    real_send = cam.send

    def slow_send(frame: np.ndarray) -> None:
        entered.set()
        gate.wait()
        real_send(frame)

    monkeypatch.setattr(cam, "send", slow_send)
    try:
        out.present(Frame(0, 0.0, np.zeros((H, W, 3), np.uint8)))
        assert entered.wait(10)
        presenter = threading.Thread(
            target=lambda: [
                out.present(Frame(0, k, np.zeros((H, W, 3), np.uint8))) for k in range(5)
            ],
            daemon=True,
        )
        presenter.start()
        presenter.join(10)
        assert not presenter.is_alive(), "present() waited on the camera"
        assert out.health().figures["dropped"] == 4
        gate.set()
        assert until(lambda: out.health().figures["sent"] == 2)
    finally:
        gate.set()
        out.close()
