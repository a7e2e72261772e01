"""The show goes on: a failing generator holds the last good frame and says so (log, OSC
feedback), memory stays flat over thousands of frames, the stall detector names the stuck
thread, and SIGTERM ends a recording show promptly with a readable file."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import torch
from pythonosc.osc_message import OscMessage

from models.checkpoint import save_checkpoint
from models.dcgan import DCGANConfig, Generator
from models.seed import calibrate
from performer.core.watchdog import StallWatch
from performer.show import load_show
from performer.stage import RunOptions, Stage

TINY = DCGANConfig(z_dim=16, widths=(32, 16, 8))  # 32 px
ROOT = Path(__file__).resolve().parents[2]


def write_show(tmp_path: Path, osc: str = "enabled = false", fps: int = 30) -> Path:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.pt", "dcgan", TINY, {"G": calibrate(Generator(TINY))})
    show = tmp_path / "show.toml"
    show.write_text(f"""
[models.tiny]
checkpoint = "tiny.pt"
[output]
width = 96
height = 64
fps = {fps}
[shaders]
chain = []
[osc]
{osc}
[[scenes]]
name = "wander"
seed = 1
drift = {{ speed = 2.0, amplitude = 2.0 }}
""")
    return show


class Flaky(torch.nn.Module):
    """Wraps a generator; raises while `failing` is set."""

    def __init__(self, g: torch.nn.Module) -> None:
        super().__init__()
        self.g, self.z_dim, self.failing = g, g.z_dim, False

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.failing:
            raise RuntimeError("CUDA error: device lost (fake)")
        return self.g(z)


def test_a_failing_generator_holds_the_last_frame_and_says_so(tmp_path, caplog):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    show = write_show(tmp_path, f"port = 0\nfeedback_port = {port}")
    stage = Stage(load_show(show), RunOptions(headless=True, seconds=3.0))
    flaky = Flaky(stage.engine.generators["tiny"])
    stage.engine.generators["tiny"] = flaky
    drawn: list[tuple[float, float, bool]] = []  # (show time, image mean, failing)
    draw = stage.display.draw

    def recording_draw(image, params, t, hud=None, status=None, **kw):
        drawn.append((t, float(image.mean()), flaky.failing))
        return draw(image, params, t, hud, status, **kw)

    stage.display.draw = recording_draw
    timers = [threading.Timer(0.8, setattr, (flaky, "failing", True))]
    timers.append(threading.Timer(1.8, setattr, (flaky, "failing", False)))
    heard: list[tuple] = []

    def listen():
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not done.is_set():
            try:
                data, _ = listener.recvfrom(65535)
            except TimeoutError:
                continue
            if data.startswith(b"/stage/health/engine"):
                heard.append(tuple(OscMessage(data).params))

    done = threading.Event()
    thread = threading.Thread(target=listen)
    thread.start()
    caplog.set_level(logging.INFO)
    try:
        for timer in timers:
            timer.start()
        summary = stage.run()
    finally:
        done.set()
        thread.join()
        stage.close()
        listener.close()
    assert summary["frames"] >= 60  # it kept presenting (3 s at 30 fps on a loaded machine)
    failing = [mean for _, mean, f in drawn if f]
    assert len(failing) > 10
    # while failing, the picture holds: every frame shows the same (last good) image, after
    # at most one in-flight decode that finished as the failure began
    assert len(set(failing[2:])) == 1
    after = [mean for t, mean, f in drawn if not f and t > 2.2]
    assert len(set(after)) > 3  # recovered: new images again (the scene drifts)
    assert stage.engine.errors > 0 and stage.engine.error is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("health: engine failed" in m and "device lost" in m for m in messages)
    assert any("health: engine ok" in m for m in messages)  # the recovery is logged too
    states = [args[0] for args in heard]
    assert "failed" in states and states[-1] == "ok", states
    first_failed = next(args for args in heard if args[0] == "failed")
    assert "errors" in first_failed  # figures as name/value pairs


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_memory_does_not_grow_with_the_frame_count(tmp_path):
    stage = Stage(load_show(write_show(tmp_path)), RunOptions(headless=True, offline=True))
    try:
        stage.opts.frames = 2000
        stage.run()
        before = rss_kb()
        stage.opts.frames = 8000  # 10,000 in all
        stage.run()
        after = rss_kb()
    finally:
        stage.close()
    assert stage.stats.work.count == 10000
    assert after - before < 1024, f"RSS grew {after - before} kB over 8,000 frames"


def test_a_stall_is_reported_once_with_the_stuck_thread(caplog):
    clock = {"now": 0.0}
    watch = StallWatch(threshold=0.25, hard_s=0, clock=lambda: clock["now"])
    caplog.set_level(logging.INFO, logger="stage.watchdog")
    stuck = threading.Event()

    def busy_thread():
        while not stuck.is_set():
            sum(range(1000))

    worker = threading.Thread(target=busy_thread, name="busy-worker")
    worker.start()
    try:
        watch.presented(0.0)
        assert not watch.check(0.1)
        assert watch.check(0.3)  # stalled: reported
        assert not watch.check(0.5)  # the same stall: not again
        assert watch.stalls == 1
        text = " ".join(r.getMessage() for r in caplog.records)
        assert "stall: no frame presented" in text and "busy-worker at" in text
        assert "test_show_goes_on.py" in text  # where it was
        watch.presented(0.6)
        assert not watch.check(0.65)
        assert "stall over" in caplog.records[-1].getMessage()
        assert watch.check(1.0) and watch.stalls == 2  # a new stall is a new report
    finally:
        stuck.set()
        worker.join()


def _start_show(tmp_path: Path, record: Path) -> subprocess.Popen:
    show = write_show(tmp_path, fps=30)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from performer.cli import main; raise SystemExit(main())"]
        + ["run", str(show), "--headless", "--seconds", "120", "--record", str(record)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_ends_a_recording_show_promptly_with_a_readable_file(tmp_path):
    record = tmp_path / "take.mp4"
    proc = _start_show(tmp_path, record)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("playing at" in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the show did not start"
            time.sleep(0.1)
        time.sleep(1.0)  # a second of show
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)  # a hang guard; bench/soak.py measures the time to exit
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=5)
    output = "".join(lines)
    print(f"exit {took:.2f} s after SIGTERM")
    assert "SIGTERM: ending the show" in output
    assert "Traceback" not in output, output
    cap = cv2.VideoCapture(str(record))
    ok, frame = cap.read()
    assert ok and frame.shape == (64, 96, 3)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= 20
    assert not list(tmp_path.glob(".*partial*"))
    assert record.with_suffix(".events.jsonl").read_text().strip().endswith('"kind": "end"}')


def test_sigterm_while_the_show_opens(tmp_path):
    """Right after the engine's warm-up: the camera, tracker and OSC are still opening."""
    proc = _start_show(tmp_path, tmp_path / "early.mp4")
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "engine on cpu" in line:
                proc.send_signal(signal.SIGTERM)
                break
        rest, _ = proc.communicate(timeout=10)  # a hang guard
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "SIGTERM: ending the show" in output and "Traceback" not in output, output


def test_a_show_recording_past_a_file_size_limit_plays_its_whole_length(tmp_path):
    """A disk that fills up, portably: RLIMIT_FSIZE in the show's own process (a tmpfs test of
    the recorder itself is in test_record_disk.py)."""
    show = write_show(tmp_path, fps=30)
    record = tmp_path / "full.mp4"
    limit = 24_000  # bytes: the video reaches it after a few dozen frames at 96x64

    def limit_files():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not death

    proc = subprocess.run(
        [sys.executable, "-c", "from performer.cli import main; raise SystemExit(main())"]
        + ["run", str(show), "--headless", "--offline", "--frames", "600"]
        + ["--record", str(record)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_files,
    )
    assert proc.returncode == 0, proc.stderr
    assert "recording stopped" in proc.stderr and "the show goes on" in proc.stderr
    assert '"frames": 600' in proc.stderr  # the whole length was played
    assert "Traceback" not in proc.stderr
    cap = cv2.VideoCapture(str(record))
    count = 0
    while cap.read()[0]:
        count += 1
    assert 5 <= count < 600, count  # the part before the limit, readable
