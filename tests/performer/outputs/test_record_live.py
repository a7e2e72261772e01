"""Recorder on a live show: write() never waits for the encoder (a full queue drops and
counts), the recording keeps the show's clock (frames the loop missed are held), close()
drains for a bounded time and can be called from a signal handler."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from performer.outputs.record import Recorder


def square(i: int, w: int = 96, h: int = 64) -> np.ndarray:
    frame = np.full((h, w, 3), 40, np.uint8)
    x = (i * 5) % (w - 16)
    frame[24:40, x : x + 16] = 255
    return frame


class GateSink:
    """A sink that takes each frame only when the test opens the gate (an encoder that is
    as slow as the test wants); it records the indices it was given."""

    name = "gate"

    def __init__(self, path: Path, holds_gaps: bool = True, delay: float = 0.0) -> None:
        path.touch()
        self.holds_gaps = holds_gaps
        self.gate = threading.Event()
        self.busy = threading.Event()
        self.delay = delay
        self.indices: list[int] = []

    def write(self, rgb: np.ndarray, index: int) -> None:
        self.busy.set()
        self.gate.wait(self.delay or None)
        self.indices.append(index)

    def close(self) -> None:
        pass


def gated(tmp_path: Path, queue_frames: int = 4, **kw) -> tuple[Recorder, GateSink]:
    sinks: list[GateSink] = []
    rec = Recorder(
        tmp_path / "slow.mp4",
        30,
        (96, 64),
        queue_frames=queue_frames,
        sink=lambda p, fps, size: sinks.append(GateSink(p, **kw)) or sinks[0],
    )
    return rec, sinks[0]


def in_thread(work) -> list:
    """Run `work` on a thread; a write that blocked would leave it running (test fails)."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "write() blocked the caller"
    return out[0]


def test_a_slow_encoder_never_blocks_the_caller(tmp_path: Path) -> None:
    rec, sink = gated(tmp_path)
    assert rec.write(square(0))
    assert sink.busy.wait(30)  # the writer holds frame 0 in the (closed) sink
    taken = in_thread(lambda: [rec.write(square(i)) for i in range(1, 21)])
    assert taken == [True] * 4 + [False] * 16  # the queue (4) fills; the rest is dropped
    assert rec.dropped == 16
    health = rec.health()
    assert health.state == "degraded" and "dropping frames" in health.detail
    assert health.figures["dropped"] == 16 and health.figures["queue"] == 4
    sink.gate.set()
    rec.close()
    assert sink.indices == [0, 1, 2, 3, 4]
    assert rec.frames_written == 5 and rec.dropped == 16
    # Without t each call is one frame of the show: frames 5..20 were missed.
    assert rec.write(square(21)) is False  # closed


def test_dropped_frames_are_held_to_keep_the_clock(tmp_path: Path) -> None:
    rec, sink = gated(tmp_path)
    rec.write(square(0), t=0.0)
    assert sink.busy.wait(30)
    in_thread(lambda: [rec.write(square(i), t=i / 30) for i in range(1, 21)])
    sink.gate.set()
    for _ in range(1000):  # let the writer catch up (bounded)
        if rec.health().figures["queue"] == 0 and len(sink.indices) == 5:
            break
        threading.Event().wait(0.01)
    assert rec.write(square(21), t=21 / 30)
    rec.close()
    assert sink.indices == [0, 1, 2, 3, 4, 21]
    assert rec.dropped == 16 and rec.repeated == 16
    assert rec.duration == pytest.approx(22 / 30)


def show_clock_writes(rec: Recorder) -> None:
    """The loop presents frames 0, 1, 2, 5, 6, 10 (it missed 3, 4, 7, 8, 9), then two that
    are not after the last one (a clock that stepped back)."""
    for i in (0, 1, 2, 5, 6, 10):
        assert rec.write(square(i), t=i / 30 + 0.004)
    assert not rec.write(square(10), t=10 / 30)
    assert not rec.write(square(4), t=4 / 30)


def test_the_recording_keeps_the_show_clock_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "clock.mp4"
    rec = Recorder(path, 30, (96, 64))
    show_clock_writes(rec)
    rec.close()
    assert rec.frames_written == 6 and rec.repeated == 5
    assert rec.late == 2 and rec.dropped == 2
    assert rec.duration == pytest.approx(11 / 30)
    with av.open(str(path)) as container:  # H.264: each frame at its show time
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert times == pytest.approx([i / 30 for i in (0, 1, 2, 5, 6, 10)], abs=1e-3)
    cap = cv2.VideoCapture(str(path))
    positions = []
    while cap.read()[0]:
        positions.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    assert len(positions) == 6 and positions[-1] == pytest.approx(1000 / 3, abs=1)


def test_the_recording_keeps_the_show_clock_by_repeating(tmp_path: Path) -> None:
    """The OpenCV fallback writes one frame a slot: a missed frame is the last one again."""
    path = tmp_path / "clock.mp4"
    rec = Recorder(path, 30, (96, 64), encoder="opencv")
    show_clock_writes(rec)
    rec.close()
    assert rec.frames_written == 6 and rec.repeated == 5
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1].astype(int))
    assert len(frames) == 11
    shown = [0, 1, 2, 2, 2, 5, 6, 6, 6, 6, 10]  # the frame each slot holds
    for slot, i in enumerate(shown):
        assert np.abs(frames[slot] - square(i)).mean() < 6, slot


def test_jitter_takes_the_next_slot_at_most_one_ahead(tmp_path: Path) -> None:
    """Frames presented a little early or late (in frames of the show) stay in order."""
    rec, sink = gated(tmp_path, queue_frames=20)
    sink.gate.set()
    at = [0, 1, 1.6, 2.4, 4, 5, 5.2, 5.3, 7]
    taken = [rec.write(square(i), t=x / 30) for i, x in enumerate(at)]
    rec.close()
    # 2.4 shares slot 2 with 1.6: next slot; 5.2 one ahead; 5.3 would be two ahead: dropped.
    assert taken == [True] * 7 + [False, True]
    assert sink.indices == [0, 1, 2, 3, 4, 5, 6, 7]
    assert rec.late == 1 and rec.repeated == 0


def test_close_drains_for_a_bounded_time(tmp_path: Path) -> None:
    rec, sink = gated(tmp_path, queue_frames=30, delay=0.05)  # 50 ms a frame
    rec.drain_s = 0.2
    for i in range(30):
        assert rec.write(square(i))
    rec.close()
    rec.close()  # twice is fine
    assert 1 <= len(sink.indices) <= 15  # it stopped draining; the rest is counted
    assert rec.frames_written == len(sink.indices)
    assert rec.frames_written + rec.dropped == 30


def test_an_offline_render_waits_for_room_and_records_every_frame(tmp_path: Path) -> None:
    rec, sink = gated(tmp_path, delay=0.002)
    rec.drop_when_full = False
    for i in range(30):
        assert rec.write(square(i))
    rec.close()
    assert sink.indices == list(range(30)) and rec.dropped == 0


def test_close_from_a_signal_handler(tmp_path: Path) -> None:
    path = tmp_path / "signal.mp4"
    rec = Recorder(path, 30, (96, 64))
    previous = signal.signal(signal.SIGUSR1, lambda *_: rec.close())
    try:
        results = []
        for i in range(30):
            if i == 10:
                os.kill(os.getpid(), signal.SIGUSR1)
            results.append(rec.write(square(i)))
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert path.is_file() and rec.health().state == "off"
    assert results[-1] is False and rec.frames_written + rec.dropped == 30
    assert rec.frames_written >= 10
