"""The generator worker: device, dtype, thread budget, warm-up, latest-request-wins decoding.

The main loop `submit`s the newest latent each frame and shows `latest()`, the newest
finished image; a slow frame never blocks the window. Errors come back as values.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import CheckpointError, Loaded, load_checkpoint
from models.seed import is_seed, make_seed_checkpoint
from models.stylegan import stylegan2
from performer.core.health import DEGRADED, FAILED, OK, PartHealth, where_raised
from performer.engine.bending import Bender, active_ops
from performer.engine.encoder_mix import mix_video

log = logging.getLogger("stage.engine")

WORKER_NICE = 5  # the decode thread's niceness, relative to the render loop
RESTARTS = 10  # a worker that dies is restarted this many times, then given up
BACKOFF = (0.25, 8.0)  # seconds before a restart: first, longest (doubling between)
STALE_S = 2.0  # no new image for this long while latents are being asked for: degraded


@dataclass(frozen=True)
class Frame:
    """A decoded image: HxWx3 uint8 RGB, row 0 at the top, with the request's stamp."""

    image: np.ndarray
    stamp: int
    model: str
    infer_s: float


STYLEGAN_KINDS = ("stylegan2", "stylegan3")  # generators with mapping + synthesis (ψ, mixing)
CACHE_DIR = Path.home() / ".cache" / "latent-stage"  # imports beside a read-only pickle


def open_model(
    path: Path, *, class_index: int | None = None, truncation: float | None = None
) -> Loaded:
    """Load a show's checkpoint (the generator and, where present, the encoder). A missing seed
    checkpoint is made on first use. A StyleGAN network pickle (`.pkl`) is imported once into a
    checkpoint beside it (`NAME.stage.pt`), with its class and default ψ; a refused pickle is a
    CheckpointError with the importer's one line."""
    path = Path(path)
    if path.suffix == ".pkl":
        path = imported_checkpoint(path, class_index, truncation)
    elif not path.exists() and is_seed(path):
        log.info("making seed checkpoint %s (untrained; first run only)", path)
        make_seed_checkpoint(path)
    loaded = load_checkpoint(path, parts=("G", "E", "G0", "G1"))
    if not hasattr(loaded.generator, "z_dim"):
        raise CheckpointError(f"{path}: its generator has no z_dim")
    return loaded


def cached_import_path(pkl: Path) -> Path:
    """Where a pickle's imported checkpoint lives: beside it, or (folder not writable) under
    ~/.cache/latent-stage/, named by the pickle's full path."""
    beside = pkl.with_name(f"{pkl.stem}.stage.pt")
    if os.access(pkl.parent, os.W_OK):
        return beside
    tag = hashlib.sha256(str(pkl.resolve()).encode()).hexdigest()[:10]
    return CACHE_DIR / f"{pkl.stem}-{tag}.stage.pt"


def imported_checkpoint(
    pkl: Path, class_index: int | None = None, truncation: float | None = None
) -> Path:
    """The checkpoint for network pickle `pkl`, imported when missing, older than the pickle,
    or made with another class or ψ."""
    from models.checkpoint import read_checkpoint
    from models.stylegan.convert import import_network
    from models.stylegan.reader import NetworkPickleError

    if not pkl.is_file():
        raise CheckpointError(f"{pkl}: no such network pickle")
    out = cached_import_path(pkl)
    psi = 1.0 if truncation is None else float(truncation)
    if out.is_file() and out.stat().st_mtime >= pkl.stat().st_mtime:
        try:
            train = read_checkpoint(out).get("train") or {}
        except CheckpointError:
            train = {}
        if train.get("truncation_psi") == psi and train.get("class_index") == class_index:
            return out
    log.info("importing %s (once) → %s", pkl.name, out.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return import_network(pkl, out, psi=psi, class_index=class_index)
    except NetworkPickleError as e:
        raise CheckpointError(str(e)) from None


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(n: int) -> None:
    """The engine owns torch's share of the process's cores."""
    torch.set_num_threads(max(1, n))
    # only settable before the first parallel work; after that it stays as first set
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


class Engine:
    """Decodes latents with one or more generators on a worker thread."""

    def __init__(
        self,
        models: Mapping[str, Loaded],
        device: str = "auto",
        threads: int | None = None,
        layouts: Mapping[str, str] | None = None,
    ) -> None:
        self.device = pick_device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.threads = threads
        self.generators: dict[str, torch.nn.Module] = {}
        for name, loaded in models.items():
            self.generators[name] = self._place(loaded.generator)
        # dual-generator checkpoints: both generators decode the same z, laid out together
        self.pairs = {
            name: tuple(self._place(m.parts[k]) for k in ("G0", "G1"))
            for name, m in models.items()
            if "G0" in m.parts and "G1" in m.parts
        }
        self.layouts = {name: (layouts or {}).get(name, "side_by_side") for name in self.pairs}
        self.encoders = {  # VAE-GAN encoders: live video through the model (encoder_mix.py)
            name: m.parts["E"].to(self.device, self.dtype)
            for name, m in models.items()
            if "E" in m.parts
        }
        self._sizes: dict[str, int] = {}  # each generator's output size: its encoder's input
        self.z_dims = {name: int(m.generator.z_dim) for name, m in models.items()}
        self._cond = threading.Condition()
        self._request: tuple[str, np.ndarray, int, tuple | None, Mapping | None] | None = None
        self.stylegans = {name for name, m in models.items() if m.kind in STYLEGAN_KINDS}
        self.benders: dict[str, Bender] = {}  # network bending, per model once first used
        self._host_buffer: torch.Tensor | None = None  # CUDA: pinned, for the decoded frame
        self._host_lock = threading.Lock()
        self._latest: Frame | None = None
        self._done = threading.Condition()  # notified when a frame is published
        self._stop = False
        self._thread: threading.Thread | None = None
        self._apply_threads: int | None = (
            None  # applied by the worker: OpenMP's count is per thread
        )
        self.infer_times: deque[float] = deque(maxlen=600)  # the recent decodes (HUD, bench)
        self.warmup: dict[str, object] = {}
        # health: decode errors (as values), the worker's deaths and restarts
        self.error: str | None = None  # the failure now (None once a decode succeeds again)
        self.errors = 0  # decodes that failed
        self._failing = 0  # failed decodes in a row
        self.video_error: str | None = None
        self.crashed: str | None = None  # why the worker thread last died, and where
        self.restarts = 0
        self.given_up = False
        self._restart_at = 0.0
        self._backoff = BACKOFF[0]
        self._restarted_at = -1e9
        self.last_fresh = time.perf_counter()  # when an image was last decoded
        self._last_submit = 0.0

    def _place(self, g: torch.nn.Module) -> torch.nn.Module:
        # CUDA: half precision for the whole generator (StyleGAN's conv clamp keeps it in range)
        return g.to(self.device, self.dtype).to(memory_format=torch.channels_last)

    def _bend(self, model: str, style: Mapping | None) -> None:
        """Network bending for this decode (engine/bending.py): style["bend"] (op → value, and
        "layer"), noise seeded by style["bend_seed"]. Every op off: no hook is left registered."""
        bend = None if style is None else style.get("bend")
        bender = self.benders.get(model)
        if bender is None:
            if not active_ops(bend):
                return  # never bent: no dry run, no hook
            pair = self.pairs.get(model)
            bender = Bender(*pair) if pair is not None else Bender(self.generators[model])
            self.benders[model] = bender
        bender.set(bend, int((style or {}).get("bend_seed") or 0))

    def _decode(self, model: str, zt: torch.Tensor, style: Mapping | None = None) -> torch.Tensor:
        """One image (3, H, W) for z: a pair's two images laid out as the show says; a StyleGAN
        generator plays `style` (Controller.style(): ψ and mixing); every kind bends its feature
        maps as style["bend"] says."""
        self._bend(model, style)
        if style is not None and model in self.stylegans:
            return self._style_decode(self.generators[model], zt, style)
        pair = self.pairs.get(model)
        if pair is None:
            return self.generators[model](zt)[0]
        layout = self.layouts[model]
        if layout in ("first", "second"):
            return pair[layout == "second"](zt)[0]
        a, b = pair[0](zt)[0], pair[1](zt)[0]
        return torch.cat((a, b), dim=-1 if layout == "side_by_side" else -2)

    def _style_decode(self, G: torch.nn.Module, zt: torch.Tensor, style: Mapping) -> torch.Tensor:
        """Map z at ψ (None: the checkpoint's), blend the layers from `crossover` on toward the
        mix latent's by `mix`, synthesize."""
        psi = style.get("psi")
        psi = None if psi is None else float(psi)
        ws = G.mapping(zt, None, truncation_psi=psi)
        mix_z, amount = style.get("mix_z"), float(style.get("mix") or 0.0)
        if mix_z is not None and amount > 0.0:
            zb = torch.from_numpy(np.ascontiguousarray(mix_z, np.float32))
            zb = zb.to(self.device, self.dtype).view(1, -1)
            ws_b = G.mapping(zb, None, truncation_psi=psi)
            crossover = style.get("crossover")
            num_ws = int(G.num_ws)
            crossover = num_ws // 2 if crossover is None else min(max(int(crossover), 0), num_ws)
            mixed = stylegan2.mix(ws, ws_b, crossover)
            ws = mixed if amount >= 1.0 else torch.lerp(ws, mixed, min(amount, 1.0))
        return G.synthesis(ws)[0]

    def _to_host(self, img: torch.Tensor) -> np.ndarray:
        """An HxWx3 uint8 image to a numpy array; on CUDA through a pinned buffer reused while
        the shape stays (one DMA, then a host copy the caller may keep)."""
        if self.device.type != "cuda":
            return img.contiguous().cpu().numpy()
        with self._host_lock:
            buf = self._host_buffer
            if buf is None or tuple(buf.shape) != tuple(img.shape):
                buf = torch.empty(tuple(img.shape), dtype=torch.uint8, pin_memory=True)
                self._host_buffer = buf
            buf.copy_(img, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
            return buf.numpy().copy()

    # -- synchronous decoding
    @torch.inference_mode()
    def generate(
        self,
        model: str,
        z: np.ndarray,
        video: tuple[np.ndarray, float] | None = None,
        style: Mapping | None = None,
    ) -> np.ndarray:
        """Decode z; with `video` (an RGB picture, mix 0 … 1) and an encoder, z is first moved
        toward the picture's code; `style` (ψ, mixing) for StyleGAN generators."""
        zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(self.device, self.dtype)
        zt = zt.view(1, -1)
        if video is not None and model in self.encoders and model in self._sizes:
            try:
                zt = mix_video(self.encoders[model], zt, video, self._sizes[model])
                if self.video_error is not None:
                    log.info("video through %s works again", model)
                    self.video_error = None
            except Exception as e:  # the show goes on without video
                if self.video_error is None:
                    log.error("video through %s failed: %s (decoding without it)", model, e)
                self.video_error = f"{model} video: {e}"
        x = self._decode(model, zt, style)
        if model not in self.pairs:
            self._sizes[model] = int(x.shape[-1])
        img = ((x.float() + 1.0) * 127.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
        return self._to_host(img)

    def decode(
        self,
        model: str,
        z: np.ndarray,
        video: tuple[np.ndarray, float] | None = None,
        style: Mapping | None = None,
    ) -> np.ndarray | None:
        """`generate`, with a failure returned as None and counted (the caller keeps its last
        good image): the first failure of a run of them is logged, and the recovery."""
        try:
            image = self.generate(model, z, video, style)
        except Exception as e:  # an error is a value: the show keeps the last frame
            self.errors += 1
            self._failing += 1
            if self.error is None:
                log.error(
                    "generator %s failed: %s (at %s; showing the last good frame)",
                    model,
                    e,
                    where_raised(e),
                )
            self.error = f"{model}: {type(e).__name__}: {e}"
            return None
        if self.error is not None:
            log.info("generator %s works again after %d failed decodes", model, self._failing)
            self.error = None
        self._failing = 0
        self.last_fresh = time.perf_counter()
        return image

    def warm_up(self, frames: int = 8) -> dict[str, object]:
        """Run every generator a few times (allocations, kernels) and, on the CPU, pick the
        thread count that decodes fastest on this machine."""
        z = {m: np.zeros(d, np.float32) for m, d in self.z_dims.items()}
        cores = os.cpu_count() or 1
        candidates = [self.threads] if self.threads else sorted({1, 2, max(1, cores // 2), cores})
        if self.device.type != "cpu":
            candidates = [self.threads or 1]
        timings: dict[int, float] = {}
        for n in candidates:
            set_threads(n)
            for m in self.generators:
                self.generate(m, z[m])
            t0 = time.perf_counter()
            for _ in range(frames):
                for m in self.generators:
                    self.generate(m, z[m])
            timings[n] = (time.perf_counter() - t0) / (frames * len(self.generators))
        best = min(timings.values())
        # fewest threads within 10 % of the best: the display and sources need cores too
        chosen = min(n for n, t in timings.items() if t <= best * 1.1)
        set_threads(chosen)
        self.threads = chosen
        self.warmup = {
            "device": str(self.device),
            "threads": chosen,
            "candidates": sorted(timings, key=timings.get),
            "ms_per_frame": {n: round(t * 1000, 2) for n, t in timings.items()},
        }
        log.info(
            "engine on %s: %d thread(s), %.1f ms/frame (tried %s)",
            self.device,
            chosen,
            timings[chosen] * 1000,
            self.warmup["ms_per_frame"],
        )
        return self.warmup

    def use_threads(self, n: int) -> None:
        """Change torch's thread count for the worker's next decode (from any thread)."""
        self.threads = n
        if self._thread is None:
            set_threads(n)
        else:
            self._apply_threads = n

    # -- the worker
    def start(self) -> None:
        if self._thread is None:
            self._spawn()

    def _spawn(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    def supervise(self, now: float | None = None) -> None:
        """Restart a worker that died, after a back-off, up to RESTARTS times (called by
        `submit`, i.e. once a frame, on the main thread)."""
        thread = self._thread
        if thread is None or thread.is_alive() or self._stop or self.given_up:
            return
        now = time.perf_counter() if now is None else now
        if self._restart_at == 0.0:
            self._restart_at = now + self._backoff
            return
        if now < self._restart_at:
            return
        if self.restarts >= RESTARTS:
            self.given_up = True
            log.error(
                "engine: the decode worker died %d times (last: %s); given up — the picture"
                " holds the last good frame",
                self.restarts + 1,
                self.crashed,
            )
            return
        self.restarts += 1
        self._restarted_at = now
        self._restart_at = 0.0
        self._backoff = min(self._backoff * 2, BACKOFF[1])
        log.warning("engine: restarting the decode worker (restart %d)", self.restarts)
        self._spawn()

    def submit(
        self,
        model: str,
        z: np.ndarray,
        stamp: int,
        video: tuple[np.ndarray, float] | None = None,
        style: Mapping | None = None,
    ) -> None:
        """Ask for z to be decoded; replaces any request not yet started (latest wins)."""
        if style is not None:  # the worker decodes later: its own copy of the mix latent
            mix_z = style.get("mix_z")
            style = {**style, "mix_z": None if mix_z is None else np.array(mix_z, np.float32)}
        with self._cond:
            self._request = (model, np.array(z, np.float32), stamp, video, style)
            self._cond.notify()
        self._last_submit = time.perf_counter()
        self.supervise(self._last_submit)

    def latest(self) -> Frame | None:
        return self._latest

    def wait_for(self, stamp: int, until: float) -> Frame | None:
        """The newest frame, waiting (at most until perf_counter() reaches `until`) for one
        decoded from a request stamped `stamp` or later."""
        with self._done:
            while self._latest is None or self._latest.stamp < stamp:
                remaining = until - time.perf_counter()
                if remaining <= 0 or self._stop:
                    break
                self._done.wait(remaining)
        return self._latest

    def _next_request(self) -> tuple[str, np.ndarray, int, tuple | None, Mapping | None] | None:
        """Wait for a request (None: stop)."""
        with self._cond:
            while self._request is None and not self._stop:
                self._cond.wait()
            if self._stop:
                return None
            request, self._request = self._request, None
        return request

    def _run(self) -> None:
        # Below the render loop: when the cores are contended, the frame on screen comes
        # first and a decode waits. (Linux nice is per thread; OpenMP workers this thread
        # starts inherit it.)
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        try:
            self._work()
        except BaseException as e:  # the worker died: say where; `supervise` restarts it
            self.crashed = f"{type(e).__name__}: {e} at {where_raised(e)}"
            log.error("engine: the decode worker died: %s", self.crashed)

    def _work(self) -> None:
        while True:
            request = self._next_request()
            if request is None:
                return
            model, z, stamp, video, style = request
            if self._apply_threads is not None:
                set_threads(self._apply_threads)
                self._apply_threads = None
            t0 = time.perf_counter()
            image = self.decode(model, z, video, style)
            if image is None:
                continue
            dt = time.perf_counter() - t0
            self.infer_times.append(dt)
            with self._done:
                self._latest = Frame(image, stamp, model, dt)
                self._done.notify_all()

    def health(self, now: float | None = None) -> PartHealth:
        """ok; degraded (recently restarted, video failing, no new image for a while);
        failed (decodes failing, the worker dead or given up)."""
        now = time.perf_counter() if now is None else now
        since = max(0.0, now - self.last_fresh)
        times = sorted(self.infer_times)
        figures = {
            "errors": self.errors,
            "restarts": self.restarts,
            "since_fresh_s": round(since, 2),
            "infer_p50_ms": round(times[len(times) // 2] * 1000, 1) if times else 0.0,
        }
        hold = "; the picture holds the last good frame"
        if self.given_up:
            return PartHealth(FAILED, f"decode worker given up ({self.crashed}){hold}", figures)
        if self.error is not None:
            return PartHealth(FAILED, f"{self.error}{hold}", figures)
        thread = self._thread
        if thread is not None and not thread.is_alive() and not self._stop:
            return PartHealth(FAILED, f"decode worker died ({self.crashed}); restarting", figures)
        if self._last_submit - self.last_fresh > STALE_S:
            return PartHealth(DEGRADED, f"no new image for {since:.1f} s", figures)
        if self.video_error is not None:
            return PartHealth(DEGRADED, f"{self.video_error} (decoding without it)", figures)
        if now - self._restarted_at < 10.0:
            return PartHealth(DEGRADED, f"decode worker restarted ({self.crashed})", figures)
        return PartHealth(OK, "", figures)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
