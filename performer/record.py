"""Recording a show: the output as a video file, and every input event as a JSON-lines log.

The video is written beside its target and renamed over it on close, so a target is only
ever a finished file. The log is flushed line by line, so a crash leaves readable lines.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


class RecordError(Exception):
    """A recording that cannot be opened or written; the message names the path."""


class Recorder:
    """An OpenCV video writer with an atomic finish: `path` appears only on close()."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))  # (width, height)
        self.frames_written = 0
        self._closed = False
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise RecordError(f"{self.path}: unsupported video type {suffix!r}: use {list(FOURCC)}")
        if self.fps <= 0 or min(self.size) < 1:
            raise RecordError(f"{self.path}: need fps > 0 and a positive size, got {fps}, {size}")
        # Same extension on the temporary file, so OpenCV picks the right container.
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer = cv2.VideoWriter(
            str(self.partial), cv2.VideoWriter_fourcc(*FOURCC[suffix]), self.fps, self.size
        )
        if not self._writer.isOpened():
            self._writer.release()
            self.partial.unlink(missing_ok=True)
            self._closed = True
            raise RecordError(
                f"{self.path}: cannot open a {FOURCC[suffix]} video writer"
                f" (does {self.path.parent} exist and is it writable?)"
            )

    def write(self, frame: np.ndarray) -> None:
        """Append one HxWx3 RGB frame (uint8, or float in [0, 1]); resized to `size` if needed."""
        if self._closed:
            raise RecordError(f"{self.path}: write after close")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be HxWx3 RGB, got shape {frame.shape}")
        if frame.dtype != np.uint8:
            frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and rename it over `path` (nothing at all if no frame was written)."""
        if self._closed:
            return
        self._closed = True
        self._writer.release()
        if self.frames_written == 0:
            self.partial.unlink(missing_ok=True)
            return
        os.replace(self.partial, self.path)
        log.info("recorded %d frames to %s", self.frames_written, self.path)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot log a {type(value).__name__}: {value!r}")


class EventLog:
    """Input events, one JSON object a line: {"t": seconds, "kind": ..., **data}.

    The file is (re)created on open and flushed after every line.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        except OSError as e:
            raise RecordError(f"{self.path}: cannot open the event log: {e}") from e
        self.events_written = 0

    def log(self, t: float, kind: str, **data: Any) -> None:
        """Append one event and flush it to the file."""
        if self._file.closed:
            raise RecordError(f"{self.path}: log after close")
        line = json.dumps({"t": float(t), "kind": kind, **data}, default=_json_default)
        self._file.write(line + "\n")
        self._file.flush()
        self.events_written += 1

    def close(self) -> None:
        """Close the file; safe to call twice."""
        self._file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a log, in order. A cut-off last line (a crash mid-write) is skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    events: list[dict[str, Any]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i == len(lines):
                log.warning("%s:%d: skipping a cut-off last line", path, i)
                break
            raise ValueError(f"{path}:{i}: not a JSON event: {e}") from None
    return events


class FrameLog:
    """The loop's own frame-time log (`--frame-log FILE.csv`): one row a frame, flushed as it
    goes: frame, t (show seconds), work_ms (loop top → presented), interval_ms (present →
    present; empty for the first frame and offline), infer_wait_ms, scene, model (on screen),
    crossfade (1 while models crossfade), recorded (frames written to the recording so far)."""

    COLUMNS = (
        "frame",
        "t",
        "work_ms",
        "interval_ms",
        "infer_wait_ms",
        "scene",
        "model",
        "crossfade",
        "recorded",
    )

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as e:
            raise RecordError(f"{self.path}: cannot open the frame log: {e}") from e
        self._csv = csv.writer(self._file)
        self._csv.writerow(self.COLUMNS)

    def row(
        self,
        frame: int,
        t: float,
        work: float,
        interval: float | None,
        infer: float,
        scene: str,
        model: str,
        crossfade: bool,
        recorded: int | None,
    ) -> None:
        ms = lambda x: "" if x is None else f"{x * 1000:.3f}"  # noqa: E731
        self._csv.writerow(
            (
                frame,
                f"{t:.4f}",
                ms(work),
                ms(interval),
                ms(infer),
                scene,
                model,
                int(crossfade),
                "" if recorded is None else recorded,
            )
        )
        if frame % 60 == 0:
            self._file.flush()

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        if not self._file.closed:
            self._file.close()
