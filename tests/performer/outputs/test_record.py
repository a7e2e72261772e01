"""Recorder and EventLog: real video files read back with OpenCV (H.264 through PyAV, and the
OpenCV fallback), odd sizes, JSON-lines round trips."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from performer.outputs.record import EventLog, Recorder, RecordError, read_events


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
    rec = Recorder(path, 30.0, (96, 64), drop_when_full=False)
    assert rec.partial.parent == tmp_path and rec.partial.suffix == suffix
    assert rec.encoder == ("libx264" if suffix == ".mp4" else "MJPG (OpenCV)")
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
    assert rec.write(moving_square(0)) is False  # after close: dropped, counted, no raise
    assert rec.dropped == 1 and rec.frames_written == 60


def test_frames_of_another_size_are_resized(tmp_path: Path) -> None:
    path = tmp_path / "resized.avi"
    with Recorder(path, 25, (48, 32), drop_when_full=False) as rec:
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
    events.log(2.0, "late")  # after close: nothing, counted
    assert events.lost == 1 and events.events_written == 3
    assert events.health().state == "off"


def test_read_events_skips_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "crashed.jsonl"
    good = json.dumps({"t": 1.0, "kind": "cue"})
    path.write_text(good + "\n" + '{"t": 2.0, "ki')
    assert read_events(path) == [{"t": 1.0, "kind": "cue"}]
    path.write_text('{"t": 2.0, "ki\n' + good + "\n")
    with pytest.raises(ValueError, match=":1:"):
        read_events(path)


def test_mp4_is_h264_fragmented_with_the_show_rate(tmp_path: Path) -> None:
    path = tmp_path / "show.mp4"
    with Recorder(path, 30, (96, 64), drop_when_full=False) as rec:
        for i in range(45):
            rec.write(moving_square(i))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 30
        assert sum(1 for _ in container.decode(stream)) == 45
    head = path.read_bytes()[:4096]
    assert b"moof" in path.read_bytes() and b"mvex" in head  # fragments: readable if cut off
    assert rec.duration == pytest.approx(1.5)


def test_a_cut_off_file_still_plays(tmp_path: Path) -> None:
    """What a crash or a full disk leaves: the file cut mid-fragment still decodes."""
    path = tmp_path / "show.mp4"
    rng = np.random.default_rng(0)
    with Recorder(path, 30, (96, 64), drop_when_full=False) as rec:
        for i in range(90):
            frame = moving_square(i)
            frame[40:] = rng.integers(0, 255, (24, 96, 3), np.uint8)  # a file of some size
            rec.write(frame)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    assert 30 <= len(read_video(cut)) < 90


@pytest.mark.parametrize("encoder", ["mpeg4", "opencv"])
def test_fallback_encoders(tmp_path: Path, encoder: str) -> None:
    path = tmp_path / "show.mp4"
    with Recorder(path, 30, (96, 64), encoder=encoder, drop_when_full=False) as rec:
        assert rec.encoder == {"mpeg4": "mpeg4", "opencv": "mp4v (OpenCV)"}[encoder]
        for i in range(20):
            rec.write(moving_square(i))
    frames = read_video(path)
    assert len(frames) == 20
    assert np.abs(frames[7].astype(int) - moving_square(7)).mean() < 8


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    """yuv420p needs even sides: a 95x63 show is kept whole, with one edge pixel repeated."""
    path = tmp_path / "odd.mp4"
    with Recorder(path, 30, (95, 63), drop_when_full=False) as rec:
        for i in range(5):
            rec.write(moving_square(i, 95, 63))
    frames = read_video(path)
    assert len(frames) == 5 and frames[0].shape == (64, 96, 3)
    assert np.abs(frames[4][:63, :95].astype(int) - moving_square(4, 95, 63)).mean() < 6


def test_unknown_encoder(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="unknown encoder"):
        Recorder(tmp_path / "x.mp4", 30, (96, 64), encoder="vp9")
