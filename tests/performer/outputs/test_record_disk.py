"""A full or vanishing disk never ends the show: the recording stops with one clear line and
keeps a readable video of what came before; the logs warn once and stop; nothing raises.

The full disk is a 2 MB tmpfs (root, where mount works), a file size limit (RLIMIT_FSIZE, in
a subprocess) and /dev/full."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from performer.outputs.record import EventLog, FrameLog, Recorder

ROOT = Path(__file__).resolve().parents[3]


def noise(n: int = 8, size: tuple[int, int] = (320, 180)) -> list[np.ndarray]:
    """Frames that do not compress: a small disk fills in a few dozen frames."""
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size[1], size[0], 3), np.uint8) for _ in range(n)]


def readable_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened() and cap.read()[0]:
        n += 1
    cap.release()
    return n


def stop_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "recording stopped" in r.getMessage()]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB file system (tmpfs), or a skip where it cannot be mounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_recording_to_a_full_disk_stops_and_keeps_the_part(small_disk, caplog) -> None:
    path = small_disk / "show.mp4"
    rec = Recorder(path, 30, (320, 180), drop_when_full=False)
    frames = noise()
    for i in range(2000):  # far more than 2 MB
        if not rec.write(frames[i % len(frames)]) and rec.failure:
            break
    rec.close()  # no raise
    rec.close()
    (line,) = stop_lines(caplog)
    assert f"recording stopped: disk full writing {path} after " in line
    assert line.endswith("the show goes on")
    assert path.is_file() and not rec.partial.exists()
    assert 1 <= readable_frames(path) <= rec.frames_written
    health = rec.health()
    assert health.state == "failed" and "disk full" in health.detail
    assert health.figures["dropped"] >= 1
    assert not rec.write(frames[0])  # quietly dropped
    # The event log on the same full disk warns once and stops; the show goes on.
    with EventLog(small_disk / "show.events.jsonl") as events:
        for i in range(10):
            events.log(i, "cue", action="next", padding="x" * 1000)
    assert events.health().state == "failed" and events.lost == 10 - events.events_written
    assert sum("event log stopped: disk full" in r.getMessage() for r in caplog.records) == 1


FSIZE_SCRIPT = """
import json, logging, resource, signal, sys
import numpy as np
from performer.outputs.record import Recorder
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a killed process
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, resource.RLIM_INFINITY))
rng = np.random.default_rng(0)
frames = [rng.integers(0, 256, (180, 320, 3), np.uint8) for _ in range(8)]
rec = Recorder(sys.argv[1], 30, (320, 180), drop_when_full=False)
for i in range(2000):
    if not rec.write(frames[i % 8]) and rec.failure:
        break
rec.close()
h = rec.health()
print(json.dumps({"state": h.state, "detail": h.detail, "written": rec.frames_written}))
"""


def test_recording_past_a_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "show.mp4"
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["state"] == "failed"
    lines = [s for s in done.stderr.splitlines() if "recording stopped" in s]
    assert len(lines) == 1 and f"file size limit reached writing {path}" in lines[0], lines
    assert 1 <= readable_frames(path) <= report["written"]


def test_the_folder_removed_mid_recording(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "takes"
    folder.mkdir()
    path = folder / "show.mp4"
    rec = Recorder(path, 30, (96, 64), drop_when_full=False, disk_check_s=0.0)
    for frame in noise(10, (96, 64)):
        rec.write(frame)
    for _ in range(1000):  # let the writer take them (bounded)
        if rec.health().figures["queue"] == 0:
            break
        time.sleep(0.01)
    shutil.rmtree(folder)
    frames = noise(4, (96, 64))
    for i in range(2000):
        if not rec.write(frames[i % 4]) and rec.failure:
            break
    rec.close()  # no raise
    (line,) = stop_lines(caplog)
    assert f"its folder was removed writing {path} after " in line
    assert " after 0 frames" not in line
    assert rec.health().state == "failed" and not folder.exists()


def test_the_folder_removed_just_before_close(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "takes"
    folder.mkdir()
    rec = Recorder(folder / "show.mp4", 30, (96, 64), drop_when_full=False)
    for frame in noise(10, (96, 64)):
        rec.write(frame)
    shutil.rmtree(folder)
    rec.close()  # the rename fails: said once, not raised
    assert rec.health().state == "failed"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(folder / "show.mp4") in errors[0]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_event_log_on_a_full_disk_warns_once_and_stops(caplog) -> None:
    events = EventLog(Path("/dev/full"))
    for i in range(5):
        events.log(i, "cue", action="next")  # never raises
    events.close()
    events.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "event log stopped: disk full writing /dev/full after 0 lines; the show goes on"
    ]
    assert events.lost == 5 and events.events_written == 0
    health = events.health()
    assert health.state == "failed" and health.figures == {"lines": 0, "lost": 5}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_frame_log_on_a_full_disk_warns_once_and_stops(caplog) -> None:
    frames = FrameLog(Path("/dev/full"))
    for i in range(130):
        frames.row(i, i / 30, 0.01, 0.033, 0.0, "intro", "m", False, i)
    frames.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "frame log stopped: disk full writing /dev/full" in warnings[0]
    assert frames.health().state == "failed" and frames.rows + frames.lost == 130
