"""The face tracker on a real face: roll, position and size follow the astronaut as she is
rotated, moved and scaled; a covered face or blank frame is no face; the watchdog restarts a
tracker that hangs or dies while samples keep coming."""

import logging
import threading
import time

import numpy as np
import pytest
from face_frames import base, blank, pose

from performer.features import FeaturePipeline, measure
from performer.sources.camera import Camera
from performer.sources.face import FaceTracker, MeshBackend, backend_factory


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
    finally:
        tracker.close()
        tracker.close()
        cam.close()
    assert not tracker.alive


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
