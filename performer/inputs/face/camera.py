"""The camera: a capture thread over OpenCV for a webcam, a (looping) video file or a still image.

Only the newest frame is kept (RGB, with its capture time); the show never waits on it. A lost
camera is logged once, retried in the background with back-off, and picked up again. A camera
given a `fallback` (the moving test source) shows that while its own source cannot be opened,
trying its own again every few seconds. A capture thread that fails (an exception escaping its
loop) is restarted with back-off and a limit; `Camera.health()` reports it all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from performer.core.health import DEGRADED, FAILED, OFF, OK, PartHealth

log = logging.getLogger("stage.camera")

SOURCE_NICE = 2  # camera and face tracker: below the render loop (0), above the decoder (5)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
THREAD_BACKOFF = (0.5, 10.0)  # a failed capture thread restarts after this, doubling to the most
THREAD_RESTARTS = (5, 300.0)  # at most this many restarts in this many seconds, then give up
RECENT_S = 10.0  # a restart this recent: health degraded
OPENING_S = 5.0  # a source still opening after this long: health degraded


@dataclass(frozen=True)
class CameraFrame:
    """One captured frame: HxWx3 uint8 RGB, row 0 at the top."""

    image: np.ndarray
    t: float  # capture time, time.perf_counter() seconds
    index: int  # 1, 2, 3 ... in the order published


class Capture(Protocol):
    """What the camera thread reads from (cv2.VideoCapture's shape)."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


def parse_source(value: str | int | Path) -> int | Path:
    """`0`, `"1"` → a device index; anything else → a file path (video or still image)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return Path(value).expanduser()


def describe(source: int | Path) -> str:
    return f"device {source}" if isinstance(source, int) else str(source)


class _Still:
    """A still image as a capture: the same picture, paced like a camera."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image

    def read(self) -> tuple[bool, np.ndarray | None]:
        return True, self.image

    def release(self) -> None:
        pass


class _File:
    """A video file as a capture, looping (or ending) at its end."""

    def __init__(self, path: Path, loop: bool) -> None:
        self.path, self.loop = path, loop
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise OSError(f"cannot open video {path}")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else None
        self.read_since_open = 0
        self.ended = False  # it played to its end (and does not loop)

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, frame = self.cap.read()
        if ok:
            self.read_since_open += 1
            return True, frame
        if self.loop and self.read_since_open > 0:  # the end: rewind once
            self.cap.release()
            self.cap = cv2.VideoCapture(str(self.path))
            self.read_since_open = 0
            ok, frame = self.cap.read()
            if ok:
                self.read_since_open = 1
                return True, frame
        self.ended = self.read_since_open > 0
        return False, None

    def release(self) -> None:
        self.cap.release()


def open_capture(
    source: int | Path, width: int, height: int, fps: float, loop: bool
) -> tuple[Capture, float | None]:
    """Open a source; returns the capture and the rate to pace it at (None: the device paces
    itself). Raises OSError when it cannot be opened."""
    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            cap.release()
            raise OSError(f"cannot open camera device {source}")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        with contextlib.suppress(Exception):
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        return cap, None
    if not source.is_file():
        raise OSError(f"no such file {source}")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(source), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read image {source}")
        return _Still(image), fps
    f = _File(source, loop)
    return f, f.fps or fps


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV prints to stderr at every failed open (V4L2, obsensor); a retry loop must not
    flood the log — the camera's own message says what failed."""
    get = getattr(cv2, "getLogLevel", None)
    put = getattr(cv2, "setLogLevel", None)
    if get is None or put is None:
        yield
        return
    level = get()
    put(0)  # silent
    try:
        yield
    finally:
        put(level)


def file_stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


def fit_frame(bgr: np.ndarray, width: int, height: int, mirror: bool) -> np.ndarray:
    """BGR from OpenCV → RGB, scaled down (aspect kept) to fit width x height, mirrored if asked."""
    h, w = bgr.shape[:2]
    scale = min(width / w, height / h, 1.0)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    if mirror:
        bgr = cv2.flip(bgr, 1)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def lower_priority(nice: int) -> None:
    """Lower the calling thread's priority (Linux nice is per thread; threads it starts later,
    MediaPipe's included, inherit it)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


Opener = Callable[[int | Path, int, int, float, bool], tuple[Capture, float | None]]
FallbackOpener = Callable[[int, int, float], tuple[Capture, float | None]]  # (w, h, fps)


class Camera:
    """Captures on its own thread; `latest()` is the newest frame, `wait(after)` blocks a
    consumer (the face tracker) until a newer one arrives. `state` is "starting", "live",
    "test" (showing the fallback), "lost", "restarting" (the capture thread failed), "failed"
    (given up) or "closed"."""

    def __init__(
        self,
        source: int | str | Path,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        loop: bool = True,
        mirror: bool = False,
        retry: tuple[float, float] = (0.5, 5.0),
        opener: Opener = open_capture,
        nice: int = SOURCE_NICE,
        fallback: FallbackOpener | None = None,
        thread_backoff: tuple[float, float] = THREAD_BACKOFF,
        thread_restarts: tuple[int, float] = THREAD_RESTARTS,
    ) -> None:
        self.source = parse_source(source)
        self.width, self.height, self.fps = width, height, fps
        self.loop, self.mirror = loop, mirror
        self.retry = retry
        self.opener = opener
        self.fallback = fallback
        self.on_fallback = False  # showing the fallback now
        self.nice = nice
        self.state = "starting"
        self.error: str | None = None
        self.losses = 0  # times the camera was lost
        self.thread_backoff, self.thread_limit = thread_backoff, thread_restarts
        self.restarts = 0  # times the capture thread failed and was restarted
        self.crashed: str | None = None  # why the capture thread last failed, and where
        self.given_up: str | None = None
        self._stamps: deque[float] = deque(maxlen=32)  # recent capture times (the fps figure)
        self._started_at = 0.0
        self._restarted_at = -1e9
        self._latest: CameraFrame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended: tuple[float, int] | None = None  # a file that played out, as it was then

    @property
    def name(self) -> str:
        return describe(self.source)

    def start(self) -> Camera:
        if self._thread is None and not self._stop.is_set():
            self._started_at = time.perf_counter()
            self._thread = threading.Thread(target=self._main, name="camera", daemon=True)
            self._thread.start()
        return self

    def latest(self) -> CameraFrame | None:
        return self._latest

    def wait(self, after: int, timeout: float) -> CameraFrame | None:
        """The newest frame if its index is above `after`, waiting up to `timeout` seconds."""
        with self._cond:
            if self._latest is None or self._latest.index <= after:
                self._cond.wait(timeout)
            frame = self._latest
        return frame if frame is not None and frame.index > after else None

    # -- the thread
    def _publish(self, bgr: np.ndarray, t: float) -> None:
        image = fit_frame(bgr, self.width, self.height, self.mirror)
        with self._cond:
            index = self._latest.index + 1 if self._latest else 1
            self._latest = CameraFrame(image, t, index)
            self._cond.notify_all()
        self._stamps.append(t)

    def _lost(self, why: str) -> None:
        if self.state != "lost":
            self.losses += 1
            self.state, self.error = "lost", why
            log.warning("camera %s lost: %s; retrying in the background", self.name, why)

    def _main(self) -> None:
        """The capture thread: `_run`, restarted after a back-off when it fails, at most
        `thread_restarts` (count, seconds) times in a rolling window, then given up."""
        lower_priority(self.nice)
        restarts: deque[float] = deque()
        while not self._stop.is_set():
            try:
                self._run()
                return
            except Exception as e:
                self.crashed = f"{type(e).__name__}: {e} at {_where(e)}"
            now = time.perf_counter()
            count, window = self.thread_limit
            while restarts and now - restarts[0] > window:
                restarts.popleft()
            if len(restarts) >= count:
                self.given_up = (
                    f"camera {self.name} given up: the capture thread failed"
                    f" {len(restarts) + 1} times in {window:.0f} s (last: {self.crashed});"
                    " the show goes on without the camera"
                )
                self.state, self.error = "failed", self.given_up
                log.error("%s", self.given_up)
                return
            delay = min(self.thread_backoff[0] * 2 ** len(restarts), self.thread_backoff[1])
            restarts.append(now)
            self.restarts += 1
            self._restarted_at = now
            self.state, self.error = "restarting", f"the capture thread failed: {self.crashed}"
            log.error("camera %s: %s; restarting it in %.1f s", self.name, self.error, delay)
            self._stop.wait(delay)

    def _run(self) -> None:
        delay = self.retry[0]
        lost_at: float | None = None
        while not self._stop.is_set():
            if self._ended is not None and file_stamp(self.source) == self._ended:
                self._stop.wait(delay)  # a clip that ended comes back only as a new file
                delay = min(delay * 2, self.retry[1])
                continue
            self._ended = None
            try:
                with _quiet_opencv():
                    cap, pace = self.opener(
                        self.source, self.width, self.height, self.fps, self.loop
                    )
            except Exception as e:  # an unplugged device, a missing file, a driver error
                lost_at = lost_at or time.perf_counter()
                if self.fallback is not None and self._run_fallback(str(e)):
                    continue
                self._lost(str(e))
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry[1])
                continue
            if self.on_fallback:
                log.info("camera %s opened: the test source gives way to it", self.name)
                self.on_fallback = False
            before = self._latest.index if self._latest else 0
            try:
                why = self._capture(cap, pace, lost_at)
            finally:
                with contextlib.suppress(Exception):
                    cap.release()
            if why is None:  # stopped
                break
            if getattr(cap, "ended", False):
                why = "the file ended (loop = false)"
                self._ended = file_stamp(self.source)
            lost_at = time.perf_counter()
            self._lost(why)
            if (self._latest.index if self._latest else 0) > before:
                delay = self.retry[0]  # it worked for a while: retry soon
            self._stop.wait(delay)
            delay = min(delay * 2, self.retry[1])
        self.state = "closed"

    def _run_fallback(self, why: str) -> bool:
        """Show the fallback for a while (the longest retry delay), then let the caller try the
        camera's own source again. False when the fallback itself cannot be opened."""
        assert self.fallback is not None
        try:
            cap, pace = self.fallback(self.width, self.height, self.fps)
        except Exception as e:
            log.error("camera %s: the fallback cannot be opened either: %s", self.name, e)
            self.fallback = None
            return False
        if not self.on_fallback:
            self.on_fallback = True
            if self.state != "lost":  # a loss `_lost` has not counted (never opened, say)
                self.losses += 1
            log.warning(
                "camera %s: %s; showing the moving test source instead (trying the camera"
                " again every %.0f s)",
                self.name,
                why,
                self.retry[1],
            )
        self.state, self.error = "test", why
        try:
            self._capture(cap, pace, None, until=time.perf_counter() + self.retry[1])
        finally:
            with contextlib.suppress(Exception):
                cap.release()
        return True

    def _capture(
        self, cap: Capture, pace: float | None, lost_at: float | None, until: float | None = None
    ) -> str | None:
        """Read until the source fails (returns why), the camera is closed (None) or, with
        `until`, that time has come (returns "time")."""
        next_at = time.perf_counter()
        while not self._stop.is_set():
            if until is not None and time.perf_counter() >= until:
                return "time"
            try:
                ok, frame = cap.read()
            except Exception as e:
                return f"read failed: {e}"
            t = time.perf_counter()
            if not ok or frame is None or getattr(frame, "size", 0) == 0:
                return "no frame (unplugged, or the file ended)"
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            elif frame.shape[2] == 4:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
            if until is None and self.state != "live":  # (the fallback keeps "test")
                if self.state == "lost" and lost_at is not None:
                    log.info("camera %s is back after %.1f s", self.name, t - lost_at)
                self.state, self.error = "live", None
            self._publish(frame, t)
            if pace:
                next_at = max(next_at + 1.0 / pace, time.perf_counter() - 1.0 / pace)
                self._stop.wait(max(0.0, next_at - time.perf_counter()))
        return None

    # -- health
    def health(self, now: float | None = None) -> PartHealth:
        """ok when live; degraded on the fallback, while retrying, opening or just restarted;
        failed when lost with no fallback, or given up; off once closed."""
        now = time.perf_counter() if now is None else now
        latest = self._latest
        figures = {
            "losses": self.losses,
            "frames": latest.index if latest is not None else 0,
            "fps": self._fps(now),
            "restarts": self.restarts,
        }
        state, why = self.state, self.error
        thread = self._thread
        if state == "closed" or self._stop.is_set():
            return PartHealth(OFF, "closed", figures)
        if self.given_up is not None:
            return PartHealth(FAILED, self.given_up, figures)
        if thread is not None and not thread.is_alive():
            return PartHealth(FAILED, f"camera {self.name}: the capture thread ended", figures)
        lost = f"camera {self.name} lost: {why}"
        if state == "test":
            return PartHealth(DEGRADED, f"{lost}; retrying, showing the test source", figures)
        if state == "restarting":
            return PartHealth(DEGRADED, f"camera {self.name}: {why}; restarting it", figures)
        if state == "lost" and self._ended is not None:
            return PartHealth(DEGRADED, f"{lost}; waiting for a new file", figures)
        if state == "lost" and self.fallback is not None:
            return PartHealth(DEGRADED, f"{lost}; retrying", figures)
        if state == "lost":
            return PartHealth(FAILED, f"{lost}; retrying (no fallback to show)", figures)
        if state == "starting" and now - self._started_at > OPENING_S:
            return PartHealth(
                DEGRADED, f"camera {self.name}: still opening after {OPENING_S:.0f} s", figures
            )
        if now - self._restarted_at < RECENT_S:
            return PartHealth(
                DEGRADED, f"camera {self.name}: restarted (last: {self.crashed})", figures
            )
        return PartHealth(OK, "", figures)

    def _fps(self, now: float) -> float:
        """Frames a second over the recent captures (0 when none came in the last second)."""
        try:
            stamps = list(self._stamps)
        except RuntimeError:  # appended to while copied
            return 0.0
        if len(stamps) < 2 or now - stamps[-1] > 1.0 or stamps[-1] <= stamps[0]:
            return 0.0
        return round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 1)

    def close(self) -> None:
        """Stop capturing and release the device; safe to call twice."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                log.warning("camera %s: the capture thread did not stop in 2 s", self.name)
            self._thread = None
        self.state = "closed"


def _where(e: BaseException) -> str:
    """file:line function of the innermost frame of an exception's traceback."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    return f"{Path(f.filename).name}:{f.lineno} {f.name}"
