"""Recording benchmark: how fast each encoder turns show frames into a file on this CPU, and
what `Recorder.write()` costs the render loop.

Encoders: H.264 through PyAV (the recorder's choice, and other presets), H.264 through
imageio-ffmpeg (an ffmpeg process fed by a pipe), MPEG-4 part 2 through PyAV, OpenCV mp4v
(the fallback). Each at 1280x720 and 640x360: frames/s, CPU ms a frame (child processes
included), MB a minute. Then the caller's side: write() µs a call while the loop runs at the
show's rate, against an inline OpenCV encode (the old recorder); and the GPU read-back, plain
against pixel buffers. Figures are printed and written to bench/results/record.json; nothing
is asserted.

    python bench/record.py [--seconds 4] [--fps 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import save_results  # noqa: E402
from performer.outputs import record  # noqa: E402
from performer.outputs.record import OpenCVSink, PyAVSink, Recorder  # noqa: E402

SIZES = {"1280x720": (1280, 720), "640x360": (640, 360)}


def show_frames(size: tuple[int, int], n: int = 48) -> list[np.ndarray]:
    """Frames like the show's: smooth shapes drifting, fine texture, a little grain."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.random((h // 16, w // 16, 3), np.float32), (w, h))
    frames = []
    for i in range(n):
        a = i / n * 2 * np.pi
        r = 0.5 + 0.5 * np.sin(x / 90 + a) * np.cos(y / 70 - a)
        g = 0.5 + 0.5 * np.sin((x + y) / 120 - 2 * a)
        b = 0.5 + 0.5 * np.cos(np.hypot(x - w / 2, y - h / 2) / 50 - a)
        img = np.stack([r, g, b], -1) * 0.8 + 0.2 * np.roll(texture, i * 4, axis=1)
        img += rng.normal(0, 0.01, img.shape).astype(np.float32)
        frames.append((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return frames


class ImageioSink:
    """libx264 in an ffmpeg process (imageio-ffmpeg), raw RGB frames through a pipe."""

    holds_gaps = False
    name = "libx264 (imageio-ffmpeg)"

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import imageio_ffmpeg

        params = ["-preset", "ultrafast", "-crf", "23", "-movflags", "empty_moov+default_base_moof"]
        self._gen = imageio_ffmpeg.write_frames(
            str(path),
            size,
            fps=fps,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=2,
            output_params=params + ["-frag_duration", "1000000"],
        )
        self._gen.send(None)

    def write(self, rgb: np.ndarray, index: int) -> None:
        self._gen.send(rgb)

    def close(self) -> None:
        self._gen.close()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode_rate(make, frames: list[np.ndarray], fps: float, seconds: float, folder: Path) -> dict:
    """Encode `seconds` of video as fast as the sink takes it."""
    n = max(30, round(seconds * fps))
    path = folder / "bench.mp4"
    wall, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
    sink = make(path, fps, (frames[0].shape[1], frames[0].shape[0]))
    for i in range(n):
        sink.write(frames[i % len(frames)], i)
    sink.close()
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu + children_cpu() - child
    size = path.stat().st_size
    path.unlink()
    return {
        "encoder": sink.name,
        "frames_per_s": round(n / wall, 1),
        "cpu_ms_per_frame": round(cpu / n * 1000, 2),
        "mb_per_minute": round(size / 2**20 / (n / fps) * 60, 1),
        "frames": n,
    }


def pyav(options: dict, codec: str = "libx264"):
    def make(path: Path, fps: float, size: tuple[int, int]) -> PyAVSink:
        saved, record.X264_OPTIONS = record.X264_OPTIONS, options
        try:
            return PyAVSink(path, fps, size, codec)
        finally:
            record.X264_OPTIONS = saved

    return make


def caller_cost(frames: list[np.ndarray], fps: float, seconds: float, folder: Path) -> dict:
    """write() at the show's rate (paced like the loop): µs a call, and what was dropped."""
    out: dict = {}
    for name in ("recorder", "inline_opencv"):
        n = round(seconds * fps)
        path = folder / "caller.mp4"
        size = (frames[0].shape[1], frames[0].shape[0])
        rec = Recorder(path, fps, size) if name == "recorder" else None
        inline = OpenCVSink(path, fps, size) if rec is None else None
        times = []
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            if rec is not None:
                rec.write(frames[i % len(frames)], i / fps)
            else:
                inline.write(frames[i % len(frames)], i)  # type: ignore[union-attr]
            times.append(time.perf_counter() - t0)
            delay = start + (i + 1) / fps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter()
        if rec is not None:
            rec.close()
        else:
            inline.close()  # type: ignore[union-attr]
        close_ms = (time.perf_counter() - t0) * 1000
        us = sorted(x * 1e6 for x in times)
        out[name] = {
            "us_per_call_mean": round(statistics.fmean(us), 1),
            "us_per_call_p50": round(us[len(us) // 2], 1),
            "us_per_call_p99": round(us[int(len(us) * 0.99)], 1),
            "us_per_call_max": round(us[-1], 1),
            "close_ms": round(close_ms, 1),
            "frames": n,
        }
        if rec is not None:
            out[name] |= {"encoder": rec.encoder, "written": rec.frames_written}
            out[name] |= {"dropped": rec.dropped, "repeated": rec.repeated}
        path.unlink(missing_ok=True)
    return out


def readback_cost(size: tuple[int, int], n: int = 60) -> dict:
    """A frame's read-back on the render thread: glReadPixels + flip (Display.read_pixels)
    against request() + collect() into pixel buffers. Headless EGL; skipped without it."""
    try:
        import moderngl

        from performer.render.readback import Readback

        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as e:
        return {"skipped": f"no EGL context: {e}"}
    w, h = size
    fbo = ctx.framebuffer([ctx.texture(size, 4)])
    rb = Readback(ctx, size)
    out = {"renderer": ctx.info["GL_RENDERER"]}
    for name in ("read_pixels", "readback"):
        times = []
        for i in range(n):
            fbo.use()
            ctx.clear(i / n, 0.5, 1 - i / n, 1.0)
            t0 = time.perf_counter()
            if name == "read_pixels":
                data = fbo.read(components=3)
                np.frombuffer(data, np.uint8).reshape(h, w, 3)[::-1].copy()
            else:
                rb.request(fbo, i)
                rb.collect()
            times.append(time.perf_counter() - t0)
        rb.drain()
        out[f"{name}_us"] = round(statistics.median(times) * 1e6, 1)
    rb.release()
    ctx.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="video encoded per case")
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    import av

    encoders = {
        "pyav_x264_ultrafast": pyav({"preset": "ultrafast", "crf": "23"}),
        "pyav_x264_ultrafast_zerolatency": pyav(
            {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
        ),
        "pyav_x264_superfast": pyav({"preset": "superfast", "crf": "23"}),
        "imageio_ffmpeg_x264_ultrafast": ImageioSink,
        "pyav_mpeg4": pyav({}, "mpeg4"),
        "opencv_mp4v": OpenCVSink,
    }
    try:
        import imageio_ffmpeg  # noqa: F401 - measured against, not a dependency
    except ImportError:
        del encoders["imageio_ffmpeg_x264_ultrafast"]
    results: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "av": av.__version__,
            "chosen": dict(record.X264_OPTIONS),
        },
        "encode": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, size in SIZES.items():
            frames = show_frames(size)
            results["encode"][label] = {}
            for name, make in encoders.items():
                r = encode_rate(make, frames, args.fps, args.seconds, folder)
                results["encode"][label][name] = r
                print(
                    f"{label} {name:34s} {r['frames_per_s']:7.1f} frames/s"
                    f" {r['cpu_ms_per_frame']:6.2f} CPU ms/frame {r['mb_per_minute']:6.1f} MB/min"
                )
        frames = show_frames(SIZES["1280x720"], 24)
        results["write_1280x720"] = caller_cost(frames, args.fps, args.seconds, folder)
        for name, r in results["write_1280x720"].items():
            print(f"write() 1280x720 {name}: {r}")
    results["readback_1280x720"] = readback_cost(SIZES["1280x720"])
    print(f"readback 1280x720: {results['readback_1280x720']}")
    save_results(ROOT / "bench" / "results", "record.json", results)


if __name__ == "__main__":
    main()
