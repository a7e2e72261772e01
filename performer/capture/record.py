"""A capture folder's bookkeeping: capture.json (every take: source, settings, counts;
written atomically), take names, and the picture writer thread."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger("stage.capture")

RECORD = "capture.json"
FRAMES, FACES = "frames", "faces"
QUEUE = 64  # frames waiting for the writer thread before the capture waits for it


class CaptureError(Exception):
    """A capture that cannot start or go on (no camera, unreadable file, full disk): one line."""


@dataclass
class Counts:
    frames_seen: int = 0
    frames_saved: int = 0
    faces_found: int = 0
    faces_missed: int = 0


@dataclass
class Take:
    """One take's entry in capture.json."""

    take: str
    source: str
    started: str
    settings: dict[str, Any]
    counts: Counts = field(default_factory=Counts)
    ended: str | None = None
    stopped: str = "recording"  # why it ended: "end of the clip", "--seconds", "Ctrl-C" ...
    seconds: float = 0.0  # the take's length (clip time for a file)
    wall_s: float = 0.0
    fps: float = 0.0  # frames seen a second of wall time
    frames_dir: str | None = None
    faces_dir: str | None = None

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"], d["wall_s"], d["fps"] = (round(d[k], 3) for k in ("seconds", "wall_s", "fps"))
        return d


def write_json_atomic(path: Path, data: Any) -> None:
    """Temp file, fsync, rename: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def read_record(folder: Path) -> dict[str, Any]:
    """capture.json of `folder` ({"format": 1, "takes": []} when there is none yet); an
    unreadable one is kept as capture.json.bad and a new list started (logged)."""
    path = folder / RECORD
    if not path.is_file():
        return {"format": 1, "takes": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("takes"), list):
            raise ValueError("no list of takes")
        return data
    except (OSError, ValueError) as e:
        bad = path.with_name(RECORD + ".bad")
        path.replace(bad)
        log.warning("%s unreadable (%s): kept as %s, starting a new list", path, e, bad.name)
        return {"format": 1, "takes": []}


def save_take(folder: Path, take: Take) -> None:
    """Put `take` into capture.json (replacing its earlier entry), atomically."""
    data = read_record(folder)
    takes = [t for t in data["takes"] if not (isinstance(t, dict) and t.get("take") == take.take)]
    data["takes"] = [*takes, take.record()]
    write_json_atomic(folder / RECORD, data)


def new_take_name(folder: Path, now: datetime) -> str:
    base = now.strftime("take-%Y%m%d-%H%M%S")
    name, n = base, 1
    while any((folder / sub / name).exists() for sub in (FRAMES, FACES)):
        n += 1
        name = f"{base}-{n}"
    return name


class Writer:
    """Pictures (PNG, JPEG) written on a thread; the capture waits only with QUEUE pending."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[Path, np.ndarray] | None] = queue.Queue(QUEUE)
        self.error: str | None = None
        self.written = 0
        self.thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self.thread.start()

    def put(self, path: Path, rgb: np.ndarray) -> None:
        if self.error is not None:
            raise CaptureError(self.error)
        self.jobs.put((path, rgb))

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            path, rgb = job
            if self.error is not None:
                continue
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            jpeg = path.suffix.lower() in (".jpg", ".jpeg")
            params = [cv2.IMWRITE_JPEG_QUALITY, 95] if jpeg else [cv2.IMWRITE_PNG_COMPRESSION, 1]
            if cv2.imwrite(str(path), bgr, params):
                self.written += 1
            else:
                self.error = f"cannot write {path} (disk full, or no permission?)"

    def close(self) -> None:
        """Write what is pending, then stop; safe to call twice."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()
