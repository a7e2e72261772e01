"""Recorder and EventLog: real video files read back with OpenCV, JSON-lines round trips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from performer.record import EventLog, Recorder, RecordError, read_events


def moving_square(i: int, w: int = 96, h: int = 64) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    frame[..., 2] = 60  # a blue background, so RGB -> BGR is checked too
    x = (i * 3) % (w - 16)
    frame[24:40, x : x + 16] = (255, 255, 255)
    return frame


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_sixty_frames_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"show{suffix}"
    rec = Recorder(path, 30.0, (96, 64))
    assert rec.partial.parent == tmp_path and rec.partial.suffix == suffix
    for i in range(60):
        rec.write(moving_square(i))
        assert not path.exists()  # the target appears only when finished
    assert rec.frames_written == 60
    rec.close()
    rec.close()  # twice is fine
    assert path.is_file() and not rec.partial.exists()
    assert list(tmp_path.iterdir()) == [path]
    frames = read_video(path)
    assert len(frames) == 60
    assert frames[0].shape == (64, 96, 3)
    assert not all(np.array_equal(frames[0], f) for f in frames[1:])
    # Colours survive the codec (within compression error): blue background, not red.
    assert abs(int(frames[10][5, 5, 2]) - 60) < 12 and frames[10][5, 5, 0] < 20
    with pytest.raises(RecordError):
        rec.write(moving_square(0))


def test_frames_of_another_size_are_resized(tmp_path: Path) -> None:
    path = tmp_path / "resized.avi"
    with Recorder(path, 25, (48, 32)) as rec:
        for i in range(5):
            rec.write(moving_square(i, 160, 120))
        rec.write(np.full((32, 48, 3), 0.5, np.float32))  # float frames in [0, 1] too
    frames = read_video(path)
    assert len(frames) == 6 and frames[0].shape == (32, 48, 3)
    assert abs(int(frames[-1].mean()) - 128) < 6


def test_exception_inside_with_still_finalizes(tmp_path: Path) -> None:
    path = tmp_path / "crash.mp4"
    with pytest.raises(RuntimeError, match="boom"), Recorder(path, 30, (96, 64)) as rec:
        for i in range(10):
            rec.write(moving_square(i))
        raise RuntimeError("boom")
    assert len(read_video(path)) == 10
    assert list(tmp_path.iterdir()) == [path]


def test_no_frames_leaves_nothing(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "empty.mp4", 30, (96, 64))
    rec.close()
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_raise_record_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "out.mp4"
    with pytest.raises(RecordError, match="out.mp4"):
        Recorder(missing, 30, (96, 64))
    with pytest.raises(RecordError, match="unsupported"):
        Recorder(tmp_path / "out.gif", 30, (96, 64))


def test_event_log_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "show.events.jsonl"
    with EventLog(path) as events:
        events.log(0.0, "cue", action="scene", args=[2], source="osc")
        events.log(0.5, "face", mouth=np.float32(0.25), z=np.arange(3))
        # Flushed line by line: another reader sees it before close (a crash keeps it).
        assert len(read_events(path)) == 2
        events.log(1.25, "key", mods=frozenset({"shift"}))
    events.close()  # twice is fine
    assert read_events(path) == [
        {"t": 0.0, "kind": "cue", "action": "scene", "args": [2], "source": "osc"},
        {"t": 0.5, "kind": "face", "mouth": 0.25, "z": [0, 1, 2]},
        {"t": 1.25, "kind": "key", "mods": ["shift"]},
    ]
    with pytest.raises(RecordError):
        events.log(2.0, "late")


def test_read_events_skips_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "crashed.jsonl"
    good = json.dumps({"t": 1.0, "kind": "cue"})
    path.write_text(good + "\n" + '{"t": 2.0, "ki')
    assert read_events(path) == [{"t": 1.0, "kind": "cue"}]
    path.write_text('{"t": 2.0, "ki\n' + good + "\n")
    with pytest.raises(ValueError, match=":1:"):
        read_events(path)
