"""`stage capture`: a synthetic performance (the astronaut's face moved, then gone, then back)
recorded into a training folder — crops only where there is a face, each the stage's own
`video_crop = "face"` crop of that frame; takes append; a missing camera is one line; SIGTERM
ends a take cleanly; the preview window under Xvfb."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from performer import capture as cap
from performer.cli import main
from performer.inputs.face.crop import crop, encoder_view
from performer.inputs.face.mapping import FaceControl
from performer.inputs.face.rig import FaceRig
from performer.show.face import FaceSpec
from tests.performer.inputs.face.face_frames import blank, pose, write_clip

ROOT = Path(__file__).resolve().parents[2]


def read_png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


class FixedBackend:
    """A tracker that finds the same landmarks in every frame (the stage's own, below)."""

    def __init__(self, marks: np.ndarray) -> None:
        self.marks = marks

    def process(self, image, t):
        return self.marks, None

    def close(self) -> None:
        pass


def test_a_capture_crop_is_the_stage_crop_of_the_same_frame(tmp_path, monkeypatch):
    # a camera bigger than the show's capture size, mirrored: the camera's scaling and flip,
    # the tracker, the square and the encoder's resize must all agree
    big = cv2.resize(pose(dx=40, angle=10), (800, 600), interpolation=cv2.INTER_CUBIC)
    still = tmp_path / "face.png"
    cv2.imwrite(str(still), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    spec = FaceSpec(camera=still, mirror=True, refine=False)
    rig = FaceRig(spec, FaceControl({}, None, lambda m, model: None), camera=str(still))
    try:
        wait = time.monotonic() + 30
        while (s := rig.tracker.latest()) is None or s.landmarks is None:
            assert time.monotonic() < wait, "the stage's tracker found no face"
            time.sleep(0.02)
        rig.poll(0.0, 0.0)
        frame = rig.camera.latest()
        sample = rig.sample
        stage_crop, _ = rig.video({"video.mix": 1.0})  # what the stage hands the encoder
    finally:
        rig.close()
    opts = cap.CaptureOptions(
        tmp_path / "data", camera=still, faces=True, size=64, mirror=True, refine=False
    )
    opts.preview = False
    # the stage's own landmarks for this frame: the crops must be equal, pixel for pixel
    take = cap.capture(opts, make_backend=lambda: FixedBackend(sample.landmarks))
    assert take.counts.faces_found == 1 and take.stopped == "a still image: one frame"
    (png,) = (tmp_path / "data" / take.faces_dir).glob("*.png")
    np.testing.assert_array_equal(read_png(png), encoder_view(stage_crop, 64))
    (whole,) = (tmp_path / "data" / take.frames_dir).glob("*.jpg")
    assert np.abs(read_png(whole) - frame.image.astype(float)).mean() < 2  # the frame, as seen

    # and with the real tracker (MediaPipe, as the stage runs it): the same square, near enough
    # (one frame is a detection; the stage's tracker had settled on the still over frames:
    # a few pixels apart at 640x480)
    take = cap.capture(opts)
    (png,) = (tmp_path / "data" / take.faces_dir).glob("*.png")
    want = encoder_view(stage_crop, 64).astype(float)
    diff = np.abs(read_png(png) - want).mean()
    other = np.abs(encoder_view(crop(frame.image, None), 64) - want).mean()  # the centre square
    assert diff < 12 and diff < other / 3, (diff, other)


def test_a_clip_gives_crops_only_where_there_is_a_face_and_takes_append(tmp_path):
    fps = 10
    frames = [pose(dx=3 * i, angle=i) for i in range(12)]  # 0.0 … 1.1 s: a face
    frames += [blank()] * 5 + [pose(cover=True)] * 5  # 1.2 … 2.1 s: none
    frames += [pose(dy=-2 * i, scale=0.9) for i in range(8)]  # 2.2 … 2.9 s: back
    clip = write_clip(tmp_path / "performance.avi", frames, fps)
    data = tmp_path / "data"
    rc = main(["capture", str(data), "--camera", str(clip), "--faces", "--size", "48"])
    assert rc == 0
    record = json.loads((data / "capture.json").read_text())
    (take,) = record["takes"]
    c = take["counts"]
    assert c["frames_seen"] == c["frames_saved"] == 30
    assert c["faces_found"] + c["faces_missed"] == 30
    assert c["faces_missed"] >= 10 and c["faces_found"] >= 17  # the tracker sees all 20 faces
    crops = sorted((data / take["faces_dir"]).glob("*.png"))
    assert len(crops) == c["faces_found"]
    times = [float(p.stem) for p in crops]
    assert not [t for t in times if 1.15 < t < 2.15], times  # no crop where there is no face
    assert read_png(crops[0]).shape == (48, 48, 3)
    assert len(list((data / take["frames_dir"]).glob("*.jpg"))) == 30
    assert take["stopped"] == "end of the clip" and take["source"] == str(clip)
    assert take["settings"]["crop"]["margin"] == 1.6 and take["settings"]["size"] == 48
    from training.data import scan  # the trainer reads the take folders as they are

    assert scan(data / "faces") == (crops, []) and len(scan(data)[0]) == len(crops) + 30

    # a second take, every 3rd frame and 1.5 s of it, appends to the same folder
    assert (
        main(["capture", str(data), "--camera", str(clip), "--every", "3", "--seconds", "1.5"]) == 0
    )
    takes = json.loads((data / "capture.json").read_text())["takes"]
    assert [t["take"] for t in takes][0] == take["take"] and len(takes) == 2
    second = takes[1]
    assert second["counts"]["frames_seen"] == 15 and second["counts"]["frames_saved"] == 5
    assert second["faces_dir"] is None and second["take"] != take["take"]
    assert second["stopped"] == "--seconds 1.5"


def test_a_missing_camera_is_one_line_and_a_failure(tmp_path, capsys):
    rc = main(["capture", str(tmp_path / "d"), "--camera", str(tmp_path / "no-such.mp4")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and err == [f"stage capture: no such file {tmp_path / 'no-such.mp4'}"]
    assert not (tmp_path / "d").exists()


def test_sigterm_ends_a_take_cleanly_with_its_record(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "performer.cli", "capture", str(data), "--camera", "test"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            try:
                seen = json.loads((data / "capture.json").read_text())["takes"][0]["counts"]
                if seen["frames_saved"] >= 3:
                    break
            except (OSError, ValueError, IndexError, KeyError):
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    (take,) = json.loads((data / "capture.json").read_text())["takes"]
    assert take["stopped"] == "SIGTERM" and take["ended"]
    assert take["source"] == "test source (moving face)"
    files = list((data / take["frames_dir"]).glob("*.jpg"))
    assert len(files) == take["counts"]["frames_saved"] >= 3  # every frame counted is on disk
    assert "SIGTERM" in out and not list(data.glob(".*.tmp"))


def test_the_preview_window_under_xvfb(tmp_path, xvfb, monkeypatch):
    import glfw

    shown: list[list[str]] = []
    original = cap.Preview.show

    def show(self, image, box, lines, t):
        shown.append(lines)
        if len(shown) == 4:  # the operator presses q in the window
            self.display._on_key(None, glfw.KEY_Q, 0, glfw.PRESS, 0)
        return original(self, image, box, lines, t)

    monkeypatch.setattr(cap.Preview, "show", show)
    opts = cap.CaptureOptions(tmp_path / "d", camera="test", width=160, height=120)
    take = cap.capture(opts)  # (no --seconds: it ends in the window)
    assert take.stopped == "ended in the preview" and len(shown) == take.counts.frames_seen == 4
    assert shown[-1][0].startswith(take.take) and "saved 4" in shown[-1][0]
