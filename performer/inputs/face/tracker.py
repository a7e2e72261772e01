"""The face tracker: MediaPipe face mesh on its own thread, always on the newest camera frame.

Results go to a latest-wins slot as `FaceSample`s; a watchdog restarts a tracker that stalls or
dies (MediaPipe can hang in some threading set-ups) with back-off and a limit, keeps track of
stalled workers (joined if they return), and gives face tracking up when they pile up — while
the show goes on. `FaceTracker.health()` reports it for the HUD, the log and OSC feedback.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from performer.core.health import DEGRADED, FAILED, OFF, OK, PartHealth
from performer.core.quiet import StderrWindow, native_stderr_filtered
from performer.inputs.face.camera import SOURCE_NICE, Camera, lower_priority
from performer.inputs.face.features import measure

WARM_UP_ALLOWANCE = 5  # x stall_s for loading the model and its first frame (on a busy CPU)
MAX_STALLED = 2  # stalled workers alive at once (each holds a MediaPipe graph): then give up
BACKOFF = (0.5, 10.0)  # seconds before a restart: the first, doubling up to the most
RESTART_LIMIT = (10, 600.0)  # at most this many restarts in this many seconds, then give up
RECENT_S = 10.0  # a restart or a frame error this recent: health degraded
QUIET_FRAMES = 300  # the stderr filter stays on until a face is found, or this many frames
CLOSE_S = 2.0  # close() waits at most this long in all
_FACE_FOUND = threading.Event()  # some tracker found a face: MediaPipe's once-only lines are out
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


@dataclass
class _Worker:
    """One tracker thread and what the watchdog watches of it."""

    generation: int
    thread: threading.Thread | None = None
    busy_since: float | None = None  # set while the backend loads or processes a frame
    warming: bool = True  # loading and the first frame (graph set-up): a longer allowance
    crashed: str | None = None  # why its thread ended, and where
    quiet: StderrWindow = field(default_factory=native_stderr_filtered)


class FaceTracker:
    """Runs a backend on the camera's newest frames; `latest()` is the newest FaceSample.

    A watchdog thread restarts a worker that stalls (one frame over `stall_s`) or ends, after a
    back-off (`backoff`: the first delay, doubling to the most) and at most `restart_limit`
    (count, seconds) times in a rolling window. A stalled worker cannot be interrupted inside
    MediaPipe: it is kept track of, joined (its backend closed) if it ever returns, and once
    `max_stalled` of them are alive at once, face tracking is given up: one log line, health
    `failed`, and the show goes on without the face."""

    def __init__(
        self,
        camera: Camera,
        make_backend: Callable[[], Backend] | None = None,
        *,
        stall_s: float = 2.0,
        nice: int = SOURCE_NICE,
        max_stalled: int = MAX_STALLED,
        backoff: tuple[float, float] = BACKOFF,
        restart_limit: tuple[int, float] = RESTART_LIMIT,
    ) -> None:
        self.camera = camera
        self.make_backend = make_backend or backend_factory()
        self.stall_s = stall_s
        self.nice = nice
        self.max_stalled, self.backoff, self.restart_limit = max_stalled, backoff, restart_limit
        self.restarts = 0  # restarts scheduled (stalls and ended threads)
        self.stalls = 0  # workers found stalled
        self.returned = 0  # stalled workers that came back and were joined
        self.frame_errors = 0  # frames the backend raised on
        self.frame_error: str | None = None  # the latest of them
        self.error: str | None = None  # the latest trouble, in words
        self.given_up: str | None = None  # why face tracking was given up (the one log line)
        self.times: deque[float] = deque(maxlen=4096)  # seconds per frame (bench, HUD)
        self.restart_delays: deque[float] = deque(maxlen=32)  # the back-offs used
        self._latest: FaceSample | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._worker: _Worker | None = None
        self._stalled: list[_Worker] = []  # stalled workers not yet joined
        self._watchdog: threading.Thread | None = None
        self._restart_times: deque[float] = deque()  # when restarts were scheduled (the window)
        self._due: float | None = None  # when the pending restart starts
        self._why = ""  # the last restart's cause
        self._restarted_at = -1e9
        self._frame_error_at = -1e9
        self._start_error: str | None = None  # the backend failed to load (retrying)
        # False while nothing needs the face (no scene's mapping playing): frames are skipped,
        # the graph stays loaded, so tracking resumes with the next frame
        self.wanted = True

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
        w = self._worker
        return w is not None and w.thread is not None and w.thread.is_alive()

    @property
    def stalled_alive(self) -> int:
        """Stalled workers still stuck (each holds a MediaPipe graph)."""
        return sum(1 for w in tuple(self._stalled) if w.thread is not None and w.thread.is_alive())

    # -- the worker
    def _start_worker(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._generation += 1
            w = _Worker(self._generation)
            w.thread = threading.Thread(
                target=self._run, args=(w,), name=f"face-{w.generation}", daemon=True
            )
            self._worker = w
        w.thread.start()

    def _current(self, w: _Worker) -> bool:
        return w.generation == self._generation and not self._stop.is_set()

    def _run(self, w: _Worker) -> None:
        lower_priority(self.nice)  # MediaPipe's own threads, made below, inherit it
        backend = None
        try:
            backend = self._load(w)
            self._track(w, backend)
        except BaseException as e:  # the thread ends: say why and where; the watchdog restarts
            text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            w.crashed = f"{text} at {_where(e)}"
        finally:
            w.busy_since = None
            if backend is not None:  # (a graph closed before its first frame still logs)
                with contextlib.suppress(Exception):
                    backend.close()
            w.quiet.release()

    def _load(self, w: _Worker) -> Backend | None:
        """Make the backend (retrying with back-off while it fails); None when replaced."""
        delay = self.backoff[0]
        while self._current(w):
            w.busy_since = time.perf_counter()  # a hang while loading counts as a stall
            w.quiet.acquire()  # MediaPipe's start-up chatter on fd 2 is filtered out
            try:
                backend = self.make_backend()
            except Exception as e:
                w.busy_since = None
                w.quiet.release()
                self._start_error = f"face tracker failed to start: {e}"
                self.error = self._start_error
                log.error("%s; retrying in %.1f s", self._start_error, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            w.busy_since = None
            self._start_error = None
            return backend
        return None

    def _track(self, w: _Worker, backend: Backend | None) -> None:
        last = frames = 0
        while backend is not None and self._current(w):
            if not self.wanted:  # idle: the CPU goes to the generator and the effects
                self._stop.wait(0.03)
                continue
            frame = self.camera.wait(last, timeout=0.1)
            if frame is None:
                continue
            last = frame.index
            h, wd = frame.image.shape[:2]
            t0 = time.perf_counter()
            w.busy_since = t0
            try:
                marks, shapes = backend.process(frame.image, frame.t)
                raw = measure(marks, (wd, h)) if marks is not None else None
            except Exception as e:  # a bad frame: report, go on with the next
                self._frame_error(e)
                marks = shapes = raw = None
            done = time.perf_counter()
            w.busy_since = None
            if not self._current(w):  # replaced while it hung: its result is stale
                return
            w.warming = False
            frames += 1
            if raw is not None:
                _FACE_FOUND.set()
            if w.quiet.held and (_FACE_FOUND.is_set() or frames >= QUIET_FRAMES):
                w.quiet.release()  # MediaPipe has said its once-only lines by now
            self.times.append(done - t0)
            if raw is None:
                marks = None
            self._latest = FaceSample(
                frame.t, frame.index, (wd, h), marks, raw, done - t0, done, shapes
            )

    def _frame_error(self, e: Exception) -> None:
        now = time.perf_counter()
        self.frame_errors += 1
        self.error = self.frame_error = f"{type(e).__name__}: {e}"
        if now - self._frame_error_at > RECENT_S:  # once per bout of errors
            log.error("face tracker error (carrying on): %s at %s", self.error, _where(e))
        self._frame_error_at = now

    # -- the watchdog
    def _watch(self) -> None:
        period = min(0.25, self.stall_s / 4)
        while not self._stop.wait(period):
            self._reap()
            if self.given_up is not None:
                continue  # (still joining stalled workers that return)
            now = time.perf_counter()
            if self._due is not None:
                if now >= self._due:
                    self._due = None
                    self._restarted_at = now
                    self._start_worker()
                continue
            w = self._worker
            if w is None or w.thread is None:
                continue
            busy = w.busy_since
            limit = self.stall_s * (WARM_UP_ALLOWANCE if w.warming else 1)
            if busy is not None and now - busy > limit:
                what = "loading or its first frame" if w.warming else "one frame"
                self._retire(w, stalled=True)
                self._failed(f"stalled for {now - busy:.1f} s on {what}", now)
            elif not w.thread.is_alive():
                self._retire(w, stalled=False)
                self._failed("ended" + (f" ({w.crashed})" if w.crashed else ""), now)

    def _retire(self, w: _Worker, stalled: bool) -> None:
        """Take a worker out of service: if it ever returns it sees it was replaced."""
        with self._lock:
            self._generation += 1
            self._worker = None
        if stalled:
            self.stalls += 1
            w.quiet.release()  # it may stay stuck: fd 2 is not left behind a filter
            self._stalled.append(w)
        elif w.thread is not None:
            w.thread.join(timeout=0.1)  # it has ended

    def _reap(self) -> None:
        """Join stalled workers that came back (each closed its backend on the way out)."""
        for w in tuple(self._stalled):
            if w.thread is not None and not w.thread.is_alive():
                w.thread.join(timeout=0.1)
                self._stalled.remove(w)
                self.returned += 1
                log.info(
                    "face tracker: the stalled worker %s returned and was joined", w.thread.name
                )

    def _failed(self, why: str, now: float) -> None:
        """A worker stalled or ended: schedule a restart after a back-off, or give up."""
        self._why = why
        if self.stalled_alive >= self.max_stalled:
            self._give_up(f"the tracker stalled {self.stalls} times (last: {why})")
            return
        count, window = self.restart_limit
        while self._restart_times and now - self._restart_times[0] > window:
            self._restart_times.popleft()
        if len(self._restart_times) >= count:
            self._give_up(
                f"the tracker stalled or stopped {len(self._restart_times) + 1} times in"
                f" {window:.0f} s (last: {why})"
            )
            return
        delay = min(self.backoff[0] * 2 ** len(self._restart_times), self.backoff[1])
        self._restart_times.append(now)
        self.restarts += 1
        self.restart_delays.append(delay)
        self._due = now + delay
        self.error = f"face tracker {why}; restarting in {delay:.1f} s ({self.restarts})"
        log.warning("%s", self.error)

    def _give_up(self, reason: str) -> None:
        self.given_up = f"face tracking given up: {reason}; the show goes on without the face"
        self.error = self.given_up
        log.error("%s", self.given_up)

    # -- health
    def health(self, now: float | None = None) -> PartHealth:
        """ok while tracking (or first warming up, as planned); degraded while warming up
        again, after a recent restart or with errors on frames; failed when given up; off once
        closed."""
        now = time.perf_counter() if now is None else now
        figures = {
            "restarts": self.restarts,
            "stalls": self.stalls,
            "stalled_alive": self.stalled_alive,
            "frame_errors": self.frame_errors,
            "frame_p50_ms": _p50_ms(self.times),
        }
        if self._stop.is_set() or self._watchdog is None:
            return PartHealth(OFF, "closed" if self._stop.is_set() else "not started", figures)
        if self.given_up is not None:
            return PartHealth(FAILED, self.given_up, figures)
        w = self._worker
        if self._due is not None or w is None:
            return PartHealth(DEGRADED, f"the tracker {self._why}; restarting", figures)
        if w.warming:
            if self._start_error is not None:
                return PartHealth(DEGRADED, f"{self._start_error}; retrying", figures)
            if self.restarts:
                return PartHealth(
                    DEGRADED, f"restarted (the tracker {self._why}); warming up", figures
                )
            return PartHealth(OK, "warming up (loading the face model)", figures)  # as planned
        if now - self._restarted_at < RECENT_S:
            return PartHealth(
                DEGRADED,
                f"restarted {self.restarts} times (last: the tracker {self._why})",
                figures,
            )
        if now - self._frame_error_at < RECENT_S:
            return PartHealth(
                DEGRADED, f"errors on frames ({self.frame_errors}): {self.frame_error}", figures
            )
        if not self.wanted:
            return PartHealth(OK, "idle (no scene's face mapping is playing)", figures)
        return PartHealth(OK, "", figures)

    def close(self) -> None:
        """Stop the tracker and its watchdog; safe to call twice, and back within CLOSE_S even
        when a worker is stuck inside MediaPipe (it cannot be interrupted: a daemon thread, it
        is left behind, its stderr filter window let go)."""
        self._stop.set()
        deadline = time.perf_counter() + CLOSE_S
        if self._watchdog is not None:  # first: it starts no worker from here on
            self._watchdog.join(timeout=max(0.0, deadline - time.perf_counter()))
        workers = [w for w in (self._worker, *self._stalled) if w is not None]
        for w in workers:
            if w.thread is not None:
                w.thread.join(timeout=max(0.0, deadline - time.perf_counter()))
            w.quiet.release()
        stuck = [w for w in workers if w.thread is not None and w.thread.is_alive()]
        if stuck:
            log.warning(
                "face tracker: %d worker(s) stuck inside the face model left behind", len(stuck)
            )
        self._watchdog = self._worker = None
        self._stalled = []


def _p50_ms(times: deque[float]) -> float:
    """The median of the recent frame times, in ms (0 when there are none)."""
    try:
        recent = sorted(list(times)[-300:])
    except RuntimeError:  # appended to while copied (a report is a few times a second)
        return 0.0
    return round(recent[len(recent) // 2] * 1000, 1) if recent else 0.0


def _where(e: BaseException) -> str:
    """file:line function of the innermost frame of an exception's traceback."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}"
