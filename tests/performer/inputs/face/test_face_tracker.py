"""The face tracker on a real face: roll, position and size follow the astronaut as she is
rotated, moved and scaled; a covered face or blank frame is no face; the watchdog restarts a
tracker that hangs or dies while samples keep coming, with back-off and a limit; stalled workers
are joined when they return and capped (then face tracking is given up); health says it all."""

import logging
import threading
import time

import numpy as np
import pytest

from performer.inputs.face.camera import Camera
from performer.inputs.face.features import FeaturePipeline, measure
from performer.inputs.face.tracker import RECENT_S, FaceTracker, MeshBackend, backend_factory
from tests.performer.inputs.face.face_frames import base, blank, pose


def ramp(key: str, start: float, end: float, n: int = 8, hold: int = 3) -> list[dict]:
    """A gradual move then a hold, like a performer (the tracker follows frame to frame)."""
    return [{key: start + (end - start) * i / n} for i in range(1, n + 1)] + [{key: end}] * hold


@pytest.fixture(scope="module")
def mesh():
    backend = MeshBackend()
    yield backend
    backend.close()
    backend.close()  # safe twice


def play(mesh, steps: list[dict]) -> list[dict | None]:
    out = []
    for kw in steps:
        marks, _ = mesh.process(pose(**kw), 0.0)
        out.append(measure(marks, (640, 480)) if marks is not None else None)
    return out


def test_features_follow_rotation_translation_and_scale(mesh):
    pipe = FeaturePipeline()
    for i, raw in enumerate(play(mesh, [{}] * 3)):
        pipe.update(raw, i / 30)
    assert pipe.calibrate()
    n = pipe.neutral
    for angle in (25, -25):
        raw = play(mesh, ramp("angle", 0, angle) + ramp("angle", angle, 0))[10]
        assert raw["roll"] - n["roll"] == pytest.approx(angle, abs=3.0)
    raw = play(mesh, ramp("dx", 0, 160))[-1]
    assert raw["x"] - n["x"] == pytest.approx(160 / 320, abs=0.04)  # half-widths, + right
    raw = play(mesh, ramp("dx", 160, 0) + ramp("dy", 0, 80))[-1]
    assert raw["y"] - n["y"] == pytest.approx(-80 / 240, abs=0.04)  # + up
    raw = play(mesh, ramp("dy", 80, 0) + ramp("scale", 1.0, 0.6))[-1]
    assert np.log2(raw["size"] / n["size"]) == pytest.approx(np.log2(0.6), abs=0.08)
    play(mesh, ramp("scale", 0.6, 1.0))


def test_covered_or_blank_is_no_face_and_it_comes_back(mesh):
    assert play(mesh, [{}])[0] is not None
    assert mesh.process(pose(cover=True), 0.0)[0] is None
    assert mesh.process(blank(), 0.0)[0] is None
    assert play(mesh, [{}])[0] is not None


class FakeCamera(Camera):
    """The still astronaut at 60 fps, without a file."""

    def __init__(self, image: np.ndarray = None) -> None:
        img = base() if image is None else image
        super().__init__(0, opener=lambda *a: (Still(img), 60.0), retry=(0.05, 0.1))


class Still:
    def __init__(self, rgb):
        self.bgr = np.ascontiguousarray(rgb[..., ::-1])

    def read(self):
        return True, self.bgr

    def release(self):
        pass


def wait_for(predicate, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_tracker_thread_publishes_newest_frames():
    cam = FakeCamera().start()
    tracker = FaceTracker(cam).start()
    try:
        first = wait_for(lambda: (s := tracker.latest()) is not None and s.raw is not None and s)
        assert first.landmarks.shape == (478, 3) and first.size == (640, 480)
        time.sleep(0.5)
        last = tracker.latest()
        assert last.index > first.index and last.t > first.t and last.done >= last.t
        assert tracker.restarts == 0 and tracker.alive
        health = tracker.health()
        assert health.state == "ok" and health.figures["frame_p50_ms"] > 0
    finally:
        tracker.close()
        tracker.close()
        cam.close()
    assert not tracker.alive
    assert tracker.health().state == "off"


def test_an_idle_tracker_skips_frames_and_resumes_at_once():
    """While nothing needs the face (`wanted` False) no frame is processed and the health says
    so; wanted again, tracking resumes with the next frame (the graph stayed loaded)."""
    cam = FakeCamera().start()
    tracker = FaceTracker(cam).start()
    try:
        wait_for(lambda: (s := tracker.latest()) is not None and s.raw is not None)
        tracker.wanted = False
        time.sleep(0.2)  # a frame in flight finishes
        idle_from, processed = tracker.latest().index, len(tracker.times)
        time.sleep(0.5)
        assert len(tracker.times) == processed and tracker.latest().index == idle_from
        assert tracker.health().detail.startswith("idle")
        tracker.wanted = True
        wait_for(lambda: tracker.latest().index > idle_from, timeout=2.0)
        assert tracker.restarts == 0
    finally:
        tracker.close()
        cam.close()


class Hanging:
    """Hangs on its third frame (until released), like MediaPipe in a bad threading set-up."""

    made = 0

    def __init__(self, release: threading.Event, die: bool = False) -> None:
        Hanging.made += 1
        self.first = Hanging.made == 1
        self.frames, self.release, self.die = 0, release, die

    def process(self, image, t):
        self.frames += 1
        if self.first and self.frames == 3:
            if self.die:
                raise SystemExit  # a thread that ends silently
            self.release.wait(30)
        return np.zeros((478, 3), np.float32) + 0.5, None

    def close(self):
        pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("die", [False, True])
def test_watchdog_restarts_a_stalled_or_dead_tracker(caplog, die):
    caplog.set_level(logging.WARNING, logger="stage.face")
    Hanging.made = 0
    release = threading.Event()
    cam = FakeCamera().start()
    tracker = FaceTracker(cam, lambda: Hanging(release, die), stall_s=0.3).start()
    try:
        wait_for(lambda: tracker.restarts >= 1)
        before = tracker.latest().index
        wait_for(lambda: tracker.latest().index > before + 5)  # the show's face goes on
        assert Hanging.made == 2 and tracker.restarts == 1
        why = "ended" if die else "stalled"
        assert any(why in r.getMessage() for r in caplog.records)
    finally:
        release.set()
        tracker.close()
        cam.close()


def test_a_missing_task_model_falls_back_to_the_bundled_mesh(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="stage.face")
    backend = backend_factory(tmp_path / "face_landmarker.task")()
    try:
        assert isinstance(backend, MeshBackend)
        assert "bundled" in caplog.text
    finally:
        backend.close()


class Stuck:
    """Hangs on every frame (or, with `once`, only the first backend on its second frame) until
    released; counts what was made and closed."""

    def __init__(self, made: list, release: threading.Event, once: bool = False) -> None:
        made.append(self)
        self.hang = not once or len(made) == 1
        self.once, self.frames, self.release, self.closed = once, 0, release, False

    def process(self, image, t):
        self.frames += 1
        if self.hang and (not self.once or self.frames == 2):
            self.release.wait(60)
        return np.zeros((478, 3), np.float32) + 0.5, None

    def close(self):
        self.closed = True


def close_within(tracker: FaceTracker, seconds: float = 10.0) -> bool:
    """close() on another thread; True when it came back (a hang guard, not a timing check)."""
    closer = threading.Thread(target=tracker.close)
    closer.start()
    closer.join(seconds)
    return not closer.is_alive()


def test_a_tracker_that_hangs_on_every_frame_is_given_up_with_one_clear_line(caplog):
    caplog.set_level(logging.INFO, logger="stage.face")
    made: list[Stuck] = []
    release = threading.Event()
    cam = FakeCamera().start()
    tracker = FaceTracker(
        cam, lambda: Stuck(made, release), stall_s=0.1, backoff=(0.05, 0.2), max_stalled=2
    ).start()
    try:
        wait_for(lambda: tracker.given_up, timeout=15)
        health = tracker.health()
        assert health.state == "failed" and "given up" in health.detail
        assert health.figures["stalls"] == 2 and health.figures["stalled_alive"] == 2
        assert tracker.restarts == 1 and list(tracker.restart_delays) == [0.05]
        time.sleep(0.5)  # watchdog periods go by: nothing more is started once given up
        assert len(made) == 2 and tracker.stalled_alive == 2
        given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
        assert len(given_up) == 1  # one clear line
        assert given_up[0].startswith(
            "face tracking given up: the tracker stalled 2 times (last: stalled for "
        )
        assert given_up[0].endswith("; the show goes on without the face")
        assert close_within(tracker)  # the stuck workers are left behind, not waited for
        assert any("left behind" in r.getMessage() for r in caplog.records)
        assert tracker.health().state == "off"
        assert close_within(tracker)  # safe twice
    finally:
        release.set()
        tracker.close()
        cam.close()


def test_a_stalled_worker_that_returns_is_joined_and_its_backend_closed(caplog):
    caplog.set_level(logging.INFO, logger="stage.face")
    made: list[Stuck] = []
    release = threading.Event()
    cam = FakeCamera().start()
    tracker = FaceTracker(
        cam, lambda: Stuck(made, release, once=True), stall_s=0.5, backoff=(0.05, 0.2)
    ).start()
    try:
        wait_for(lambda: len(made) == 2 and made[1].frames > 3)  # the replacement tracks
        assert tracker.stalls == 1 and tracker.stalled_alive == 1 and not made[0].closed
        health = tracker.health()
        assert health.state == "degraded" and "restarted" in health.detail
        assert "stalled" in health.detail
        release.set()  # MediaPipe comes back after all
        wait_for(lambda: tracker.returned == 1)
        assert tracker.stalled_alive == 0 and made[0].closed and not made[1].closed
        assert any("returned and was joined" in r.getMessage() for r in caplog.records)
        later = tracker.health(time.perf_counter() + RECENT_S + 1)
        assert later.state == "ok" and later.figures["restarts"] == 1
        assert later.figures["stalls"] == 1 and later.figures["stalled_alive"] == 0
    finally:
        release.set()
        tracker.close()
        cam.close()
    assert made[1].closed


class Ends:
    """Its thread ends on the first frame, every time."""

    def process(self, image, t):
        raise SystemExit

    def close(self):
        pass


def test_restarts_back_off_and_stop_at_the_limit(caplog):
    caplog.set_level(logging.WARNING, logger="stage.face")
    cam = FakeCamera().start()
    tracker = FaceTracker(
        cam, Ends, stall_s=0.2, backoff=(0.02, 0.05), restart_limit=(3, 60.0)
    ).start()
    try:
        wait_for(lambda: tracker.given_up)
        assert list(tracker.restart_delays) == [0.02, 0.04, 0.05]  # doubling, up to the most
        assert tracker.restarts == 3 and tracker.stalls == 0
        health = tracker.health()
        assert health.state == "failed" and "4 times in 60 s" in health.detail
        assert "SystemExit" in health.detail
        assert sum("given up" in r.getMessage() for r in caplog.records) == 1
    finally:
        tracker.close()
        cam.close()


class Gated:
    """Loads once `ready` is set; raises on every frame when `fail` is set."""

    def __init__(self, ready: threading.Event, fail: threading.Event) -> None:
        ready.wait(30)
        self.fail = fail

    def process(self, image, t):
        if self.fail.is_set():
            raise ValueError("bad frame")
        return None, None  # no face

    def close(self):
        pass


def test_health_warming_up_then_ok_then_errors_on_frames(caplog):
    caplog.set_level(logging.ERROR, logger="stage.face")
    ready, fail = threading.Event(), threading.Event()
    cam = FakeCamera().start()
    tracker = FaceTracker(cam, lambda: Gated(ready, fail), stall_s=5.0).start()
    try:
        health = tracker.health()
        assert health.state == "ok" and "warming up" in health.detail  # as planned: not news
        ready.set()
        wait_for(lambda: tracker.latest() is not None)
        assert tracker.health().state == "ok"
        fail.set()
        wait_for(lambda: tracker.frame_errors >= 3)
        health = tracker.health()
        assert health.state == "degraded" and "bad frame" in health.detail
        assert health.figures["frame_errors"] >= 3
        assert sum("bad frame" in r.getMessage() for r in caplog.records) == 1  # once a bout
        assert tracker.restarts == 0 and tracker.alive  # a bad frame is not a stall
    finally:
        ready.set()
        tracker.close()
        cam.close()
