"""The NDI output: frames reach a receiver (connected by address: no mDNS here) with their
pixels; a slow send drops and counts frames and never holds up `present`; a missing package is
one clear line."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from performer.core.health import DEGRADED, FAILED, OFF, OK
from performer.outputs import Frame, OutputUnavailable
from performer.outputs import ndi as ndi_output
from performer.outputs.ndi import NdiOutput, frame_rate, listening_address

W, H, FPS = 320, 180, 30


@pytest.fixture
def ndi():
    """The real NDIlib, initialised for the test's receiver (skips when it cannot be)."""
    try:
        import NDIlib
    except (ImportError, OSError) as e:
        pytest.skip(f"NDIlib cannot be imported here: {e}")
    if not NDIlib.initialize():
        pytest.skip("the NDI runtime cannot be initialised on this machine")
    yield NDIlib
    NDIlib.destroy()


def picture(k: int) -> np.ndarray:
    """Frame k of a smooth, changing test picture (smooth: NDI's codec is lossy at edges)."""
    x = np.arange(W)[None, :] / W
    y = np.arange(H)[:, None] / H
    img = np.empty((H, W, 3), np.float32)
    img[..., 0] = 128 + 100 * np.sin(2 * np.pi * (x + k / 12))
    img[..., 1] = 128 + 100 * np.sin(2 * np.pi * (y - k / 20))
    img[..., 2] = 40 + (k * 5) % 180
    return img.astype(np.uint8)


def until(condition, timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds (a guard against hanging, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Receiver:
    """An NDI receiver on a thread, connected by address; keeps (timecode, RGB, info) of
    every video frame."""

    def __init__(self, ndi, address: str) -> None:
        self.ndi = ndi
        settings = ndi.RecvCreateV3()
        settings.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
        self.recv = ndi.recv_create_v3(settings)
        assert self.recv is not None
        source = ndi.Source()
        source.url_address = address
        ndi.recv_connect(self.recv, source)
        self.frames: list[tuple[int, np.ndarray, tuple]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ndi = self.ndi
        while not self._stop:
            kind, video, audio, meta = ndi.recv_capture_v2(self.recv, 50)
            if kind == ndi.FRAME_TYPE_VIDEO:
                info = (video.xres, video.yres, video.frame_rate_N, video.frame_rate_D)
                rgb = np.array(video.data[..., :3])  # copied before the frame is freed
                self.frames.append((video.timecode, rgb, info))
                ndi.recv_free_video_v2(self.recv, video)
            elif kind == ndi.FRAME_TYPE_AUDIO:
                ndi.recv_free_audio_v2(self.recv, audio)
            elif kind == ndi.FRAME_TYPE_METADATA:
                ndi.recv_free_metadata(self.recv, meta)

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.ndi.recv_destroy(self.recv)


def test_frames_reach_a_receiver_connected_by_address(ndi) -> None:
    out = NdiOutput("latent-stage-test", name="ndi")
    out.open((W, H), FPS)
    receiver = None
    try:
        address = listening_address(out)
        if address is None:
            pytest.skip("the sender's TCP port is not known on this platform")
        assert address.startswith("127.0.0.1:")
        receiver = Receiver(ndi, address)
        # the receiver connects asynchronously: offer frames until it is there
        warm = picture(0)
        assert until(
            lambda: out.present(Frame(0, -1.0, warm)) or out.health().figures["connections"] >= 1
        )
        assert until(lambda: receiver.frames)
        receiver.frames.clear()

        for k in range(120):
            # like the render loop's read-back: a bottom-up view, flipped (negative strides)
            out.present(Frame(0, k / FPS, picture(k)[::-1].copy()[::-1]))
            tc = round(k / FPS * 1e7)
            until(lambda tc=tc: bool(receiver.frames) and receiver.frames[-1][0] >= tc, 2.0)
        report = out.health()
    finally:
        if receiver is not None:
            receiver.close()
        out.close()

    frames = [f for f in receiver.frames if f[0] >= 0]  # (not a late warm-up frame)
    assert len(frames) >= 100, f"only {len(frames)} of 120 frames arrived"
    errors = []
    for timecode, rgb, info in frames:
        assert info == (W, H, FPS, 1)
        k = round(timecode * FPS / 1e7)  # the show time travels as the NDI timecode
        assert 0 <= k < 120
        error = np.abs(rgb.astype(int) - picture(k).astype(int)).mean()
        for other in (k - 1, k + 1):  # it is frame k's picture, not a neighbour's
            assert error < np.abs(rgb.astype(int) - picture(other).astype(int)).mean()
        errors.append(error)
    # NDI's codec (4:2:2 YUV) and its colour conversion shift colours a little (blue by up to
    # ~7 levels in this picture): a tolerance, not exact pixels
    assert max(errors) < 5.0, f"pixels differ by {max(errors):.1f} on average"
    assert report.state == OK, report
    assert report.figures["sent"] >= 100 and report.figures["connections"] >= 1
    assert out.health().state == OFF


def test_a_slow_send_drops_and_counts_and_never_blocks(ndi, monkeypatch) -> None:
    gate, entered = threading.Event(), threading.Event()
    sent: list[int] = []
    real_send = ndi.send_send_video_v2

    def slow_send(sender, frame) -> None:
        entered.set()
        gate.wait()
        sent.append(frame.timecode)
        real_send(sender, frame)

    monkeypatch.setattr(ndi, "send_send_video_v2", slow_send)
    out = NdiOutput("latent-stage-slow", size=(160, 90), name="ndi-2")
    out.open((W, H), FPS)
    try:
        out.present(Frame(0, 0.0, picture(0)))
        assert entered.wait(10)  # the worker is inside the send, held there

        def present_more() -> None:
            for k in range(1, 11):
                out.present(Frame(0, k / FPS, picture(k)))

        presenter = threading.Thread(target=present_more, daemon=True)
        presenter.start()
        presenter.join(10)
        assert not presenter.is_alive(), "present() waited on the send"
        report = out.health()
        assert report.state == DEGRADED
        assert "latent-stage-slow" in report.detail  # the source is named when not ok
        assert report.figures["dropped"] == 9  # 1..9 replaced by the next; 10 waits

        gate.set()
        assert until(lambda: out.health().figures["sent"] == 2)
        assert sent == [0, round(10 / FPS * 1e7)]  # the newest frame won
        assert out._buf is not None and out._buf.shape == (90, 160, 4)  # resized to its size
    finally:
        gate.set()
        out.close()
    out.close()  # safe twice
    assert out.health().state == OFF


def test_a_failing_send_is_failed_then_recovers(ndi, monkeypatch) -> None:
    real_send = ndi.send_send_video_v2
    broken = [True]

    def send(sender, frame) -> None:
        if broken[0]:
            raise RuntimeError("network gone")
        real_send(sender, frame)

    monkeypatch.setattr(ndi, "send_send_video_v2", send)
    out = NdiOutput("latent-stage-flaky")
    out.open((W, H), FPS)
    try:
        out.present(Frame(0, 0.0, picture(0)))
        assert until(lambda: out.health().state == FAILED)
        report = out.health()
        assert "network gone" in report.detail and report.figures["errors"] == 1
        broken[0] = False
        out.present(Frame(0, 1 / FPS, picture(1)))
        assert until(lambda: out.health().figures["sent"] == 1)
        assert out.health().state == OK
    finally:
        out.close()


def test_two_senders_share_one_runtime(ndi) -> None:
    a, b = NdiOutput("latent-stage-a"), NdiOutput("latent-stage-b", alpha=True)
    a.open((W, H), FPS)
    b.open((W, H), 60)
    try:
        assert ndi_output._lib_users == 2
        if listening_address(a) is not None:
            assert listening_address(a) != listening_address(b)
        a.close()
        assert ndi_output._lib_users == 1  # NDI stays up for b
        b.present(Frame(0, 0.0, np.dstack([picture(0), np.full((H, W), 128, np.uint8)])))
        assert until(lambda: b.health().figures["sent"] == 1)
        assert b.health().state == OK
        assert b._buf is not None and b._buf[0, 0, 3] == 128  # alpha kept
    finally:
        a.close()
        b.close()
    assert ndi_output._lib_users == 0


def test_missing_package_is_one_clear_line(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # import NDIlib raises ImportError
    out = NdiOutput("latent-stage")
    with pytest.raises(OutputUnavailable) as e:
        out.open((W, H), FPS)
    assert "pip install 'latent-stage[ndi]'" in str(e.value)
    assert "\n" not in str(e.value)
    assert out.health().state == OFF
    out.close()


def test_frame_rate() -> None:
    assert frame_rate(60) == (60, 1)
    assert frame_rate(30.0) == (30, 1)
    assert frame_rate(29.97) == (2997, 100)


def test_a_headless_show_with_ndi_is_received_with_the_picture_of_its_recording(
    ndi, tmp_path
) -> None:
    """`stage run --ndi NAME` as a Stage: a receiver connected by address gets ≥ 100 frames,
    and each is the picture the recording has at the same show time."""
    import cv2

    from performer.show import load_show
    from performer.stage import RunOptions, Stage
    from tests.performer.test_show_goes_on import write_show

    show = load_show(write_show(tmp_path, fps=30))
    record = tmp_path / "take.mp4"
    opts = RunOptions(headless=True, offline=True, frames=150, record=record, ndi="stage-test")
    stage = Stage(show, opts)
    receiver = None
    try:
        (out,) = [o for o in stage.outputs.items if o.name == "ndi"]
        receiver = Receiver(ndi, listening_address(out))
        assert until(lambda: out.health().figures["connections"] >= 1)
        # an offline render runs as fast as it can: pace it so NDI's newest-wins sender and the
        # receiver see every frame (the show's own clock is untouched: offline)
        present = stage.display.present

        def paced():
            present()
            time.sleep(1 / 60)

        stage.display.present = paced
        stage.run()
        assert until(lambda: len(receiver.frames) >= 100)
    finally:
        stage.close()
        if receiver is not None:
            receiver.close()
    cap = cv2.VideoCapture(str(record))
    video = []
    while (got := cap.read())[0]:
        video.append(got[1][..., ::-1].astype(int))  # BGR → RGB
    assert len(video) == 150
    matched = 0
    for timecode, rgb, (w, h, *_rate) in receiver.frames:
        index = round(timecode / 1e7 * 30)  # NDI timecodes are in 100 ns units: the show time
        assert (w, h) == (96, 64) and 0 <= index < 150
        diff = np.abs(rgb.astype(int) - video[index]).mean()
        others = [
            np.abs(rgb.astype(int) - video[j]).mean()
            for j in (index - 5, index + 5)
            if 0 <= j < 150
        ]
        # near its own frame of the recording, far from those 5 frames away (both sides went
        # through lossy coding: H.264 at crf 23 and NDI's own, on a noisy 96x64 picture)
        matched += diff < 20 and all(diff < 0.6 * o for o in others)
    assert matched >= 0.9 * len(receiver.frames)
