"""The output seam: any object with open/present/health/close plugs into a running show; an
output that raises is closed and reported failed while the others go on; the frame worker
never blocks the caller and counts what it drops; `[[outputs]]` in the show file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from performer.core.health import OK, PartHealth
from performer.outputs import FrameWorker, Outputs, OutputUnavailable
from performer.show import ShowError, load_show
from performer.stage import RunOptions, Stage
from tests.performer.test_show_goes_on import write_show


class Counter:
    wants_pixels = True

    def __init__(self, name: str = "counter") -> None:
        self.name = name
        self.frames: list[tuple[float, float]] = []  # (t, mean)
        self.opened: tuple | None = None
        self.closed = 0

    def open(self, size, fps):
        self.opened = (size, fps)

    def present(self, frame):
        assert frame.pixels.dtype == np.uint8 and frame.pixels.ndim == 3
        self.frames.append((frame.t, float(frame.pixels.mean())))

    def health(self):
        return PartHealth(OK, "", {"frames": len(self.frames)})

    def close(self):
        self.closed += 1


class Breaks(Counter):
    def present(self, frame):
        super().present(frame)
        if len(self.frames) == 5:
            raise BrokenPipeError("the receiver hung up")


class Unavailable(Counter):
    def open(self, size, fps):
        raise OutputUnavailable("fake output: no such device; install the fake driver")


def test_outputs_plug_in_and_a_broken_one_is_closed_while_the_others_go_on(tmp_path, caplog):
    stage = Stage(load_show(write_show(tmp_path)), RunOptions(headless=True, offline=True))
    good, broken, missing = Counter("good"), Breaks("broken"), Unavailable("missing")
    stage.outputs = Outputs([good, broken, missing])
    stage.outputs.open(stage.size, 30.0)
    try:
        stage.opts.frames = 40
        summary = stage.run()
    finally:
        stage.close()
    assert good.opened == ((96, 64), 30.0)
    assert len(good.frames) == 40  # every frame, the last ones drained at the end
    assert [t for t, _ in good.frames] == pytest.approx([i / 30 for i in range(40)])
    assert len({m for _, m in good.frames}) > 5  # the show's pictures (it drifts)
    assert len(broken.frames) == 5 and broken.closed == 1
    assert missing.closed == 1 and not missing.frames
    health = summary["health"]
    assert health["good"]["state"] == "ok" and health["good"]["frames"] == 40
    assert health["broken"]["state"] == "failed" and "hung up" in health["broken"]["detail"]
    assert health["missing"]["state"] == "failed"
    assert "install the fake driver" in health["missing"]["detail"]
    assert good.closed == 1
    assert any("output broken failed" in r.getMessage() for r in caplog.records)


def test_the_frame_worker_never_blocks_and_counts_drops():
    gate = threading.Event()
    sent: list[float] = []

    def slow_send(pixels, t):
        gate.wait(5)
        sent.append(t)

    worker = FrameWorker("slow", slow_send)
    frame = np.zeros((4, 4, 3), np.uint8)
    try:
        worker.put(frame, 0.0)
        deadline = time.monotonic() + 5
        while worker._slot is not None and time.monotonic() < deadline:
            time.sleep(0.005)  # the worker took frame 0 and waits in send
        for i in range(1, 11):
            worker.put(frame, float(i))  # returns at once: each replaces the one waiting
        assert worker.dropped == 9
        assert worker.health().state == "degraded"
        gate.set()
        deadline = time.monotonic() + 5
        while len(sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert sent == [0.0, 10.0]  # the newest waiting frame won
    finally:
        gate.set()
        worker.close()
    assert worker.health().state == "off"


def test_outputs_in_the_show_file(tmp_path):
    show = write_show(tmp_path)
    text = show.read_text()
    show.write_text(
        text + '\n[[outputs]]\nkind = "ndi"\nname = "stage A"\nwidth = 640\nheight = 360\n'
        '[[outputs]]\nkind = "virtualcam"\n'
    )
    loaded = load_show(show)
    assert [o.kind for o in loaded.outputs] == ["ndi", "virtualcam"]
    assert loaded.outputs[0].name == "stage A" and loaded.outputs[0].width == 640
    show.write_text(text + '\n[[outputs]]\nkind = "spout"\nwidth = 640\n')
    with pytest.raises(ShowError) as e:
        load_show(show)
    assert "outputs[0].kind" in str(e.value) and "'ndi'" in str(e.value)
    assert "give both width and height" in str(e.value)


def test_window_entries_in_the_show_file(tmp_path):
    show = write_show(tmp_path)
    text = show.read_text()
    show.write_text(
        text + '\n[[outputs]]\nkind = "window"\nrole = "preview"\nmonitor = 1\nwidth = 480\n'
        'height = 320\n[[outputs]]\nkind = "window"\nrole = "program"\nfullscreen = true\n'
    )
    loaded = load_show(show)
    preview, program = loaded.outputs
    assert (preview.role, preview.monitor, preview.width) == ("preview", 1, 480)
    assert program.role == "program" and program.fullscreen is True
    show.write_text(
        text + '\n[[outputs]]\nkind = "ndi"\nmonitor = 1\n'
        '[[outputs]]\nkind = "window"\nrole = "preview"\n'
        '[[outputs]]\nkind = "window"\nrole = "preview"\n'
    )
    with pytest.raises(ShowError) as e:
        load_show(show)
    assert "are for windows, not ndi" in str(e.value) and "more than one preview" in str(e.value)


def test_rehearsal_with_a_preview_keeps_the_program_clean(tmp_path, xvfb):
    show = write_show(tmp_path)
    opts = RunOptions(rehearse=True, preview=True, frames=10, width=480, height=320)
    stage = Stage(load_show(show), opts)
    shots: list = []
    present = stage.display.present

    def read_then_present():  # the windows' back buffers, before the swap
        d = stage.display
        shots[:] = [d.read_pixels(), d.read_screen(), d.read_preview()]
        present()

    stage.display.present = read_then_present
    try:
        assert stage.display.has_preview and stage.hud_on
        stage.run()
    finally:
        stage.close()
    picture, program, preview = (shot.astype(int) for shot in shots)
    assert program.shape == preview.shape == picture.shape == (320, 480, 3)
    assert np.abs(program - picture).mean() < 1.0  # the projector: the picture, nothing else
    hud_box = (slice(0, 120), slice(0, 200))  # the HUD's lines, top left
    assert np.abs(preview[hud_box] - picture[hud_box]).mean() > 20  # the operator's: + HUD


def test_stage_check_opens_every_output(tmp_path, capsys):
    from performer.cli import main as stage_main

    show = write_show(tmp_path)
    show.write_text(show.read_text() + '\n[[outputs]]\nkind = "virtualcam"\n')
    if any(Path("/dev").glob("video*")):
        pytest.skip("this machine has video devices: the virtual camera might open")
    assert stage_main(["check", str(show)]) == 1
    err = capsys.readouterr().err
    assert "outputs[0] (virtualcam): virtual camera" in err and "stage check: 1 problem" in err
