"""`stage replay`: a recorded performance's cues and face readings drive the show again,
offline; a bad log is refused with the file and line named."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from performer.cli import main as stage_main
from performer.inputs.replay import Performance, ReplayError, ReplayInput
from performer.outputs.record import read_events
from performer.show import load_show
from performer.stage import RunOptions, Stage
from tests.performer.inputs.face.test_face_stage import show_file, tiny_dcgan
from tests.performer.test_stage import tiny_show


def frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f.astype(np.int16))
    cap.release()
    return out


def play(show: Path, **kw) -> dict:
    stage = Stage(load_show(show), RunOptions(headless=True, offline=True, **kw))
    try:
        return stage.run()
    finally:
        stage.close()


def test_a_replay_renders_the_performance_again(tmp_path):
    """The cue list plays on its own (follow) in the performance; the replay (follow off, so
    the cues can only come from the log) shows the same pictures at the same frames."""
    show = tiny_show(tmp_path, extra="[cues]\nfollow = 0.6")
    live = tmp_path / "live.mp4"
    play(show, seconds=1.5, record=live)
    log = live.with_suffix(".events.jsonl")
    kinds = [e["kind"] for e in read_events(log)]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("cue") == 2
    show.write_text(show.read_text().replace("follow = 0.6", ""))
    out = tmp_path / "again.mp4"
    assert stage_main(["replay", str(log), "--record", str(out)]) == 0
    a, b = frames(live), frames(out)
    assert len(b) == len(a)  # through the frame the performance ended on
    assert np.abs(a[0] - a[-1]).mean() > 5  # the scene changed in the performance ...
    assert max(np.abs(x - y).mean() for x, y in zip(a, b, strict=False)) < 0.5  # ... and again
    unreplayed = tmp_path / "none.mp4"
    play(show, seconds=1.5, record=unreplayed)  # without the log the scene never changes
    assert np.abs(frames(unreplayed)[-1] - a[-1]).mean() > 5


def face_log(path: Path, rolls: list[float]) -> Path:
    """A performance: the face found at 0.1 s, rolling through `rolls` (0.1 s apart), lost."""
    lines = [{"t": 0.0, "kind": "start"}]
    for i, roll in enumerate(rolls):
        f = {"yaw": 0, "pitch": 0, "roll": roll, "x": 0, "y": 0, "size": 0, "mouth_open": 0.2}
        lines.append({"t": 0.1 + 0.1 * i, "kind": "face", **f})
    lines += [{"t": 0.1 + 0.1 * len(rolls), "kind": "face", "lost": True}]
    lines += [{"t": 1.5, "kind": "end"}]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    return path


def test_a_replayed_face_steers_without_a_camera(tmp_path):
    show = show_file(tmp_path, tiny_dcgan(tmp_path))  # camera 0: no webcam here, none opened
    still = face_log(tmp_path / "still.events.jsonl", [0.0] * 8)
    tilt = face_log(tmp_path / "tilt.events.jsonl", [5.0 * i for i in range(8)])
    out = {}
    for log in (still, tilt):
        out[log] = tmp_path / f"{log.stem}.mp4"
        stage = Stage(load_show(show), RunOptions(headless=True, replay=log, record=out[log]))
        try:
            assert stage.face is None and stage.inputs.get("replay") is not None  # no camera
            assert stage.run()["frames"] == 46  # 1.5 s at 30
            assert stage.controller.face_features is None  # lost at the end, as in the log
        finally:
            stage.close()
    a, b = frames(out[still]), frames(out[tilt])
    assert np.abs(a[0] - b[0]).mean() < 0.5  # before the face is found: the same
    assert np.abs(a[20] - b[20]).mean() > 2  # the tilt steered the latent


def test_logged_audio_readings_replay_as_readings(tmp_path):
    """Audio readings come back as readings at their time; two due in one frame come as one,
    the newest's values with their onsets added up (none missed)."""
    lines = [{"t": 0.0, "kind": "start"}]
    lines += [{"t": 0.1, "kind": "audio", "level": 0.5, "db": -12.0, "tempo": 120.0}]
    lines += [{"t": 0.12, "kind": "audio", "level": 0.6, "onsets": 1.0, "onset_strength": 0.4}]
    lines += [{"t": 0.14, "kind": "audio", "level": 0.7, "onsets": 2.0, "onset_strength": 0.9}]
    lines += [{"t": 0.2, "kind": "cue", "action": "next", "args": [], "source": "audio"}]
    lines += [{"t": 0.5, "kind": "end"}]
    log = tmp_path / "sound.events.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in lines))
    performance = Performance(log)
    assert len(performance.sounds) == 3 and not performance.has_face
    replay = ReplayInput(performance)
    assert replay.poll(0.05, 0.05) == ([], [])  # nothing due yet
    cues, readings = replay.poll(0.1, 0.05)
    assert cues == [] and [r.kind for r in readings] == ["audio"]
    assert readings[0].value == {"level": 0.5, "db": -12.0, "tempo": 120.0}
    assert replay.hud_lines()[-1] == "audio -12 dB  120 bpm"
    cues, readings = replay.poll(0.15, 0.05)
    assert [r.value for r in readings] == [{"level": 0.7, "onsets": 3.0, "onset_strength": 0.9}]
    cues, readings = replay.poll(0.2, 0.05)
    assert [c.action for c in cues] == ["next"] and readings == []  # no new reading


def test_bad_logs_are_refused_naming_the_file_and_line(tmp_path, capsys):
    empty = tmp_path / "empty.events.jsonl"
    empty.write_text("")
    with pytest.raises(ReplayError, match="empty.events.jsonl: no events"):
        Performance(empty)
    broken = tmp_path / "broken.events.jsonl"
    broken.write_text('{"t": 0, "kind": "start"}\n{"t": oops\n{"t": 1, "kind": "end"}\n')
    with pytest.raises(ReplayError, match=r"broken.events.jsonl.*:2: not a JSON event"):
        Performance(broken)
    odd = tmp_path / "odd.events.jsonl"
    odd.write_text('{"t": 0, "kind": "cue"}\n')
    with pytest.raises(ReplayError, match=r"odd.events.jsonl:1: not a performance's event"):
        Performance(odd)
    show = tiny_show(tmp_path)
    live = tmp_path / "live.mp4"
    play(show, seconds=0.2, record=live)
    log = str(live.with_suffix(".events.jsonl"))
    assert stage_main(["replay", log, "--record", str(live)]) == 1
    assert "the performance's own recording" in capsys.readouterr().err
    assert read_events(Path(log))[-1]["kind"] == "end"  # left as it was
    assert stage_main(["replay", str(broken)]) == 1
    assert ":2: not a JSON event" in capsys.readouterr().err
