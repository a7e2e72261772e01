"""Quiet start-up: MediaPipe / TFLite / absl chatter on fd 2 is filtered out inside a window,
every other line (errors above all) comes through in order, and fd 2 is restored on every path;
`--verbose` shows everything. The filter is tested in child processes (it rewires fd 2)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from performer.core import quiet

ROOT = Path(__file__).resolve().parents[3]

# What MediaPipe 0.10.21 printed on this machine (see performer/core/quiet.py)
NOISE = [
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "W0000 00:00:1796070378.435962    4236 inference_feedback_manager.cc:114] Feedback manager"
    " requires a model with a single signature inference. Disabling support for feedback tensors.",
    "W0000 00:00:1796070403.073194    4554 landmark_projection_calculator.cc:186] Using NORM_RECT"
    " without IMAGE_DIMENSIONS is only supported for the square ROI. Provide IMAGE_DIMENSIONS or"
    " use PROJECTION_MATRIX.",
    "I0000 00:00:1796070403.073194    4554 gl_context.cc:357] GL version: 3.2",
]
REAL = [
    "E0000 00:00:1796070378.435962    4236 inference_feedback_manager.cc:114] a real error",
    "F0000 00:00:1796070378.435962    4236 calculator_graph.cc:12] Check failed: graph",
    "W0000 00:00:1796070378.435962    4236 some_other_calculator.cc:5] an unknown warning",
    "ERROR: failed to allocate tensors",
    "Traceback (most recent call last):",
    "20:26:42 stage.camera WARNING: camera device 0: cannot open camera device 0",
    "INFO:root:a python logging line",
]


def run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_noise_list_knows_the_chatter_and_never_an_error():
    for line in NOISE:
        assert quiet.is_noise(line.encode() + b"\n"), line
    for line in REAL:
        assert not quiet.is_noise(line.encode()), line


def test_inside_the_window_only_real_lines_come_out_in_order_and_fd2_is_restored():
    child = run_child(f"""
        import logging, os, sys, threading
        from performer.core.quiet import native_stderr_filtered
        logging.basicConfig(level=logging.INFO)
        noise, real = {NOISE!r}, {REAL!r}
        before = os.fstat(2)
        with native_stderr_filtered():
            for a, b in zip(noise, real):
                os.write(2, (a + "\\n").encode())
                os.write(2, (b + "\\n").encode())
            os.write(2, b"half a ")  # a line in two writes, from another thread
            t = threading.Thread(target=lambda: os.write(2, b"line\\n"))
            t.start(); t.join()
            logging.getLogger("stage").warning("python logging inside")
            os.write(2, (noise[-1] + "\\n" + real[-1] + "\\n").encode())
        try:
            with native_stderr_filtered():
                os.write(2, (noise[0] + "\\n").encode())
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        after = os.fstat(2)
        print((before.st_dev, before.st_ino) == (after.st_dev, after.st_ino))
        os.write(2, b"after the windows\\n")
        os.write(2, b"no newline at the end")
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "True"  # fd 2 is the real stderr again, on both paths
    expected = [*REAL[:5], "half a line", "WARNING:stage:python logging inside", REAL[-1]]
    expected += ["after the windows", "no newline at the end"]
    assert child.stderr.splitlines() == expected


def test_windows_held_by_several_threads_filter_until_the_last_lets_go():
    child = run_child(f"""
        import os, threading
        from performer.core.quiet import native_stderr_filtered
        noise = {NOISE[0]!r} + "\\n"
        a, b = native_stderr_filtered().acquire(), native_stderr_filtered()
        threading.Thread(target=b.acquire).start()
        a.release(); a.release()  # twice: no harm
        os.write(2, noise.encode())
        b.release()
        os.write(2, b"kept\\n")
        c = native_stderr_filtered().acquire()
        os.write(2, noise.encode() + b"kept too\\n")
        # c is never released: at exit fd 2 is given back and the last lines are not lost
    """)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines() == ["kept", "kept too"]


def test_verbose_shows_everything_and_quiet_sets_the_native_log_levels():
    child = run_child(f"""
        import os
        from performer.core.quiet import native_stderr_filtered, quiet_native_logs
        os.environ.pop("GLOG_minloglevel", None)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"  # the user's own choice stays
        quiet_native_logs(False)
        print(os.environ["GLOG_minloglevel"], os.environ["TF_CPP_MIN_LOG_LEVEL"])
        quiet_native_logs(True)
        with native_stderr_filtered():
            os.write(2, ({NOISE[0]!r} + "\\n").encode())
    """)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["2", "1"]
    assert child.stderr.splitlines() == [NOISE[0]]


def test_the_face_tracker_starts_mediapipe_without_its_chatter():
    child = run_child("""
        import logging, sys, time
        from tests.performer.inputs.face.face_frames import base
        from performer.inputs.face.camera import Camera
        from performer.inputs.face.tracker import FaceTracker

        class Still:
            def read(self):
                return True, base()[..., ::-1].copy()
            def release(self):
                pass

        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")
        cam = Camera(0, opener=lambda *a: (Still(), 30.0)).start()
        tracker = FaceTracker(cam).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = tracker.latest()
            if s is not None and s.raw is not None:
                break
            time.sleep(0.02)
        logging.getLogger("stage.test").warning("face found: %s", s is not None)
        tracker.close()
        cam.close()
    """)
    assert child.returncode == 0, child.stderr
    lines = child.stderr.splitlines()
    assert "stage.test WARNING: face found: True" in lines
    chatter = ("TensorFlow Lite", "absl::InitializeLog", "inference_feedback", "NORM_RECT")
    assert not [line for line in lines if any(c in line for c in chatter)], child.stderr


def test_a_log_line_between_the_pieces_of_a_native_message_is_not_dropped():
    """A native library may write its prefix, then (after a log line from another thread)
    the rest: the stage's log goes to its own copy of fd 2, so it is never glued to that
    prefix and filtered out with it."""
    prefix = NOISE[2].split("] ")[0] + "] "
    child = run_child(f"""
        import logging, os
        from performer.core.quiet import log_stream, native_stderr_filtered, quiet_native_logs
        quiet_native_logs(False)
        logging.basicConfig(stream=log_stream(), format="%(levelname)s: %(message)s")
        with native_stderr_filtered():
            os.write(2, {prefix!r}.encode())
            logging.getLogger("stage.camera").warning("showing the moving test source")
            os.write(2, b"Feedback manager requires a model with a single signature\\n")
    """)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines() == ["WARNING: showing the moving test source"]
