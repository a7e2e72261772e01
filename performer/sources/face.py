"""The face tracker: MediaPipe face mesh on its own thread, always on the newest camera frame.

Results go to a latest-wins slot as `FaceSample`s; a watchdog restarts a tracker that stalls or
dies (MediaPipe can hang in some threading set-ups) while the show goes on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from performer.features import measure
from performer.sources.camera import SOURCE_NICE, Camera, lower_priority

WARM_UP_ALLOWANCE = 5  # x stall_s for loading the model and its first frame (on a busy CPU)
log = logging.getLogger("stage.face")


@dataclass(frozen=True)
class FaceSample:
    """The tracker's reading of one camera frame."""

    t: float  # the frame's capture time (time.perf_counter())
    index: int  # the camera frame's index
    size: tuple[int, int]  # the frame's (width, height)
    landmarks: np.ndarray | None  # (N, 3) float32, x/y in [0, 1] of the frame; None: no face
    raw: dict[str, float] | None  # features.measure(...); None: no face
    process_s: float  # seconds the tracker took
    done: float  # when the result was published (time.perf_counter())
    blendshapes: dict[str, float] | None = None  # Tasks-API models only


class Backend(Protocol):
    def process(self, image: np.ndarray, t: float) -> tuple[np.ndarray | None, dict | None]: ...

    def close(self) -> None: ...


class MeshBackend:
    """MediaPipe's bundled face mesh (`solutions.face_mesh`; 478 landmarks when refined)."""

    def __init__(self, refine: bool = True, min_detection: float = 0.5, min_tracking: float = 0.5):
        import mediapipe as mp

        self.mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=refine,
            min_detection_confidence=min_detection,
            min_tracking_confidence=min_tracking,
        )

    def process(self, image: np.ndarray, t: float) -> tuple[np.ndarray | None, dict | None]:
        result = self.mesh.process(image)
        if not result.multi_face_landmarks:
            return None, None
        marks = result.multi_face_landmarks[0].landmark
        return np.array([(m.x, m.y, m.z) for m in marks], np.float32), None

    def close(self) -> None:
        mesh, self.mesh = self.mesh, None
        if mesh is not None:
            mesh.close()


class TaskBackend:
    """A user-supplied Tasks-API `face_landmarker.task` model (adds blendshapes)."""

    def __init__(self, path: Path, min_detection: float = 0.5, min_tracking: float = 0.5):
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            min_face_detection_confidence=min_detection,
            min_tracking_confidence=min_tracking,
            output_face_blendshapes=True,
        )
        self.landmarker = vision.FaceLandmarker.create_from_options(options)
        self.last_ms = -1

    def process(self, image: np.ndarray, t: float) -> tuple[np.ndarray | None, dict | None]:
        import mediapipe as mp

        ms = max(int(t * 1000), self.last_ms + 1)  # the task wants rising timestamps
        self.last_ms = ms
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        result = self.landmarker.detect_for_video(frame, ms)
        if not result.face_landmarks:
            return None, None
        marks = np.array([(m.x, m.y, m.z) for m in result.face_landmarks[0]], np.float32)
        shapes = None
        if result.face_blendshapes:
            shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        return marks, shapes

    def close(self) -> None:
        lm, self.landmarker = self.landmarker, None
        if lm is not None:
            lm.close()


def backend_factory(model: Path | None = None, refine: bool = True) -> Callable[[], Backend]:
    """The bundled face mesh, or the Tasks-API model at `model`; a model that fails to load
    falls back to the bundled mesh (logged), so the show keeps a face."""

    def make() -> Backend:
        if model is not None:
            try:
                return TaskBackend(model)
            except Exception as e:
                log.error("face model %s failed to load (%s): using the bundled mesh", model, e)
        return MeshBackend(refine=refine)

    return make


class FaceTracker:
    """Runs a backend on the camera's newest frames; `latest()` is the newest FaceSample."""

    def __init__(
        self,
        camera: Camera,
        make_backend: Callable[[], Backend] | None = None,
        *,
        stall_s: float = 2.0,
        nice: int = SOURCE_NICE,
    ) -> None:
        self.camera = camera
        self.make_backend = make_backend or backend_factory()
        self.stall_s = stall_s
        self._warming = True
        self.nice = nice
        self.restarts = 0
        self.error: str | None = None
        self.times: deque[float] = deque(maxlen=4096)  # seconds per frame (bench, HUD)
        self._latest: FaceSample | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._busy_since: float | None = None  # set while the backend processes a frame
        self._worker: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    def start(self) -> FaceTracker:
        if self._watchdog is None and not self._stop.is_set():
            self._start_worker()
            self._watchdog = threading.Thread(target=self._watch, name="face-watchdog", daemon=True)
            self._watchdog.start()
        return self

    def latest(self) -> FaceSample | None:
        return self._latest

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    # -- the worker
    def _start_worker(self) -> None:
        with self._lock:
            self._generation += 1
            self._busy_since = None
            generation = self._generation
        self._worker = threading.Thread(
            target=self._run, args=(generation,), name=f"face-{generation}", daemon=True
        )
        self._worker.start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._stop.is_set()

    def _run(self, generation: int) -> None:
        lower_priority(self.nice)  # MediaPipe's own threads, made below, inherit it
        backend = None
        delay = 0.5
        self._warming = True  # loading and the first frame (graph set-up): a longer allowance
        while backend is None and self._current(generation):
            self._busy_since = time.perf_counter()  # a hang while loading counts as a stall
            try:
                backend = self.make_backend()
            except Exception as e:
                self._busy_since = None
                self.error = f"face tracker failed to start: {e}"
                log.error("%s; retrying in %.1f s", self.error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        if self._current(generation):
            self._busy_since = None
        last = 0
        try:
            while backend is not None and self._current(generation):
                frame = self.camera.wait(last, timeout=0.1)
                if frame is None:
                    continue
                last = frame.index
                h, w = frame.image.shape[:2]
                t0 = time.perf_counter()
                self._busy_since = t0
                try:
                    marks, shapes = backend.process(frame.image, frame.t)
                    raw = measure(marks, (w, h)) if marks is not None else None
                except Exception as e:  # a bad frame: report, go on with the next
                    if self.error is None:
                        log.error("face tracker error (carrying on): %s", e)
                    self.error = str(e)
                    marks = shapes = raw = None
                done = time.perf_counter()
                if not self._current(generation):  # a replacement took over while we hung
                    break
                self._busy_since = None
                self._warming = False
                self.times.append(done - t0)
                if raw is None:
                    marks = None
                self._latest = FaceSample(
                    frame.t, frame.index, (w, h), marks, raw, done - t0, done, shapes
                )
        finally:
            if backend is not None:
                with contextlib.suppress(Exception):
                    backend.close()

    # -- the watchdog
    def _watch(self) -> None:
        period = min(0.25, self.stall_s / 4)
        while not self._stop.wait(period):
            busy = self._busy_since
            now = time.perf_counter()
            limit = self.stall_s * (WARM_UP_ALLOWANCE if self._warming else 1)
            if busy is not None and now - busy > limit:
                why = f"stalled for {now - busy:.1f} s on one frame"
            elif not self.alive:
                why = "its thread ended"
            else:
                continue
            self.restarts += 1
            self.error = f"face tracker {why}; restarted ({self.restarts})"
            log.warning("%s", self.error)
            self._start_worker()  # the stuck thread, if it ever returns, sees it is replaced

    def close(self) -> None:
        """Stop the tracker and its watchdog; safe to call twice. A worker stuck inside
        MediaPipe cannot be interrupted: it is a daemon thread and is left behind."""
        self._stop.set()
        for thread in (self._watchdog, self._worker):
            if thread is not None:
                thread.join(timeout=2.0)
        self._watchdog = self._worker = None
