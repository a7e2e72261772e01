"""The camera source: still images and video files (looping or not), stamps, newest-frame-only,
a camera that is lost, logged once, retried with back-off and picked up again, a capture thread
that fails restarted (with a limit), and health: ok live, degraded on the fallback, failed lost."""

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from performer.inputs.face.camera import RECENT_S, Camera, fit_frame, open_capture, parse_source
from tests.performer.inputs.face.face_frames import base, write_clip


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_parse_source_and_fit():
    assert parse_source("0") == 0 and parse_source(2) == 2
    assert parse_source("clip.mp4") == Path("clip.mp4")
    bgr = np.zeros((960, 1280, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's BGR
    rgb = fit_frame(bgr, 640, 480, mirror=False)
    assert rgb.shape == (480, 640, 3) and rgb[0, 0].tolist() == [0, 0, 255]
    bgr[:, :10] = 0
    assert fit_frame(bgr, 640, 480, mirror=True)[:, -3:].max() == 0  # mirrored: left → right
    assert fit_frame(bgr[:100, :100], 640, 480, False).shape == (100, 100, 3)  # never upscaled


def test_still_image_frames_are_stamped_rgb_and_newest_only(tmp_path):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), cv2.cvtColor(base(), cv2.COLOR_RGB2BGR))
    cam = Camera(path, fps=100).start()
    try:
        first = wait_for(lambda: cam.wait(0, 1.0))
        assert cam.state == "live"
        assert first.image.shape == (480, 640, 3) and first.image.dtype == np.uint8
        assert np.abs(first.image.astype(int) - base()).mean() < 1  # RGB, not BGR
        time.sleep(0.2)
        later = cam.latest()
        assert later.index > first.index + 5 and later.t > first.t
        assert cam.wait(later.index + 1000, 0.05) is None  # nothing newer than that exists
        health = cam.health()
        assert health.state == "ok" and health.figures["frames"] >= later.index
        assert health.figures["fps"] > 0 and health.figures["losses"] == 0
    finally:
        cam.close()
        cam.close()  # safe twice
    assert cam.state == "closed" and cam._thread is None
    assert cam.health().state == "off"


def test_video_file_loops(tmp_path):
    clip = write_clip(tmp_path / "c.avi", [base()] * 5, fps=50)
    cap, pace = open_capture(clip, 640, 480, 30, loop=True)
    cap.release()
    assert pace == pytest.approx(50)  # a file plays at its own rate
    cam = Camera(clip, loop=True).start()
    try:
        wait_for(lambda: (f := cam.latest()) is not None and f.index > 12)  # past its end twice
        assert cam.losses == 0
    finally:
        cam.close()


class Flaky:
    """A capture that raises after `n` frames."""

    def __init__(self, n: int) -> None:
        self.n = n

    def read(self):
        if self.n <= 0:
            raise RuntimeError("driver error")
        self.n -= 1
        time.sleep(0.005)
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self):
        pass


def test_lost_is_logged_once_retried_and_resumed(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stage.camera")
    clip = tmp_path / "later.avi"
    cam = Camera(clip, retry=(0.02, 0.08)).start()  # the file is not there yet
    try:
        wait_for(lambda: cam.state == "lost")
        time.sleep(0.4)  # several retries go by
        lost = [r for r in caplog.records if "lost" in r.getMessage()]
        assert len(lost) == 1 and "no such file" in lost[0].getMessage()
        health = cam.health()  # lost, with no fallback to show: the face has no pictures
        assert health.state == "failed" and "no such file" in health.detail
        assert health.figures["losses"] == 1
        write_clip(clip, [base()] * 3)  # plugged in
        wait_for(lambda: cam.state == "live")
        assert any("is back" in r.getMessage() for r in caplog.records)
    finally:
        cam.close()


def test_a_source_that_raises_or_ends_mid_stream_is_lost_then_reopened():
    opened = []

    def opener(source, w, h, fps, loop):
        opened.append(time.monotonic())
        return Flaky(5), None

    cam = Camera(0, opener=opener, retry=(0.05, 0.2)).start()
    try:
        wait_for(lambda: len(opened) >= 3)  # raised, reopened, raised, reopened ...
        assert cam.losses >= 1 and cam.latest().index >= 10
        assert cam.error is None or "driver error" in cam.error
    finally:
        cam.close()
    assert cam.state == "closed"


def test_file_without_loop_ends_as_lost_until_a_new_file_is_there(tmp_path):
    clip = write_clip(tmp_path / "once.avi", [base()] * 4, fps=100)
    cam = Camera(clip, loop=False, retry=(0.05, 0.1)).start()
    try:
        wait_for(lambda: cam.state == "lost")
        time.sleep(0.3)  # retries go by: the clip does not start again by itself
        assert cam.latest().index == 4 and "ended" in cam.error and cam.state == "lost"
        write_clip(clip, [base()] * 6, fps=100)  # a new take is dropped in
        wait_for(lambda: cam.latest().index > 4)
    finally:
        cam.close()
    cam = Camera(clip, loop=False, retry=(5.0, 5.0)).start()
    wait_for(lambda: cam.state == "lost")
    assert cam.health().state == "degraded"  # played out, as asked: waiting for a new take
    thread = cam._thread
    cam.close()  # closing wakes the back-off's wait: the thread is joined, not left behind
    assert not thread.is_alive() and cam.state == "closed"


def test_no_camera_shows_the_moving_test_source_then_gives_way(tmp_path, caplog):
    from performer.inputs.face.test_source import open_test_source

    caplog.set_level(logging.INFO, logger="stage.camera")
    clip = tmp_path / "webcam.avi"
    cam = Camera(clip, retry=(0.02, 0.3), fallback=open_test_source, fps=60).start()
    try:
        wait_for(lambda: cam.state == "test" and cam.latest() is not None)
        first = cam.latest()
        wait_for(lambda: cam.latest().index > first.index + 10)
        assert np.abs(cam.latest().image.astype(int) - first.image.astype(int)).mean() > 0.5
        warned = [r for r in caplog.records if "test source" in r.getMessage()]
        assert len(warned) == 1 and "no such file" in warned[0].getMessage()
        health = cam.health()
        assert health.state == "degraded" and "showing the test source" in health.detail
        assert "lost: no such file" in health.detail and health.figures["frames"] > 10
        write_clip(clip, [base()] * 3)  # the camera is there now
        wait_for(lambda: cam.state == "live")
        assert any("gives way" in r.getMessage() for r in caplog.records)
        assert cam.health().state == "ok"
    finally:
        cam.close()


class Bad:
    """A capture whose frames have five channels: converting them raises inside the thread."""

    def read(self):
        time.sleep(0.005)
        return True, np.zeros((48, 64, 5), np.uint8)

    def release(self):
        pass


def test_a_capture_thread_that_fails_is_restarted_and_comes_back(caplog):
    caplog.set_level(logging.ERROR, logger="stage.camera")
    opened = []

    def opener(source, w, h, fps, loop):
        opened.append(source)
        return (Bad() if len(opened) == 1 else Flaky(10**6)), None

    cam = Camera(0, opener=opener, thread_backoff=(0.02, 0.05)).start()
    try:
        wait_for(lambda: cam.state == "live" and cam.latest() is not None)
        assert cam.restarts == 1 and "error" in cam.crashed and "camera.py" in cam.crashed
        assert cam._thread.is_alive()
        failed = [
            r.getMessage() for r in caplog.records if "capture thread failed" in r.getMessage()
        ]
        assert len(failed) == 1 and "restarting it in" in failed[0]
        health = cam.health()
        assert health.state == "degraded" and "restarted" in health.detail
        assert health.figures["restarts"] == 1
        assert cam.health(time.perf_counter() + RECENT_S + 1).state == "ok"
    finally:
        cam.close()


def test_a_capture_thread_that_keeps_failing_is_given_up(caplog):
    caplog.set_level(logging.ERROR, logger="stage.camera")
    cam = Camera(
        0,
        opener=lambda *a: (Bad(), None),
        thread_backoff=(0.01, 0.04),
        thread_restarts=(3, 60.0),
    ).start()
    try:
        wait_for(lambda: cam.given_up)
        assert cam.restarts == 3 and cam.state == "failed"
        health = cam.health()
        assert health.state == "failed" and "failed 4 times in 60 s" in health.detail
        assert health.detail.endswith("the show goes on without the camera")
        assert sum("given up" in r.getMessage() for r in caplog.records) == 1
    finally:
        cam.close()


def test_the_test_source_moves_and_holds_a_trackable_face():
    from performer.inputs.face.test_source import TestSource
    from performer.inputs.face.tracker import backend_factory

    src = TestSource(640, 480)
    frames = [src.frame_at(i / 10) for i in range(40)]  # 4 s at 10 frames a second
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert np.abs(frames[0].astype(int) - frames[17].astype(int)).mean() > 3
    backend = backend_factory(None, True)()
    try:
        found = [backend.process(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), 0.0)[0] for f in frames]
    finally:
        backend.close()
    assert all(points is not None for points in found)
    assert np.abs(found[0][:, :2] - found[17][:, :2]).mean() > 0.01  # the face moved
